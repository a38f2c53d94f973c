package tuple

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"strings"
	"unicode/utf8"
)

// Unpack decodes a packed tuple. It never panics: bytes that are not exactly a sequence of
// well-formed elements (truncated, unterminated, an unknown or reserved type code, a string that
// is not valid UTF-8) return a nil Tuple and an error wrapping ErrMalformed that gives the byte
// offset. Decoded []byte values are fresh copies. The empty input is the empty tuple.
func Unpack(b []byte) (Tuple, error) {
	t, _, err := decodeTuple(b, 0, 0)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// decodeError is a decoding failure at an offset of the input. It matches ErrMalformed and, for
// a string that is not UTF-8, ErrInvalidUTF8.
type decodeError struct {
	pos  int
	msg  string
	kind error
}

func (e *decodeError) Error() string {
	return fmt.Sprintf("tuple: malformed packed tuple at byte %d: %s", e.pos, e.msg)
}

func (e *decodeError) Is(target error) bool {
	return target == ErrMalformed || (e.kind != nil && target == e.kind)
}

func malformed(pos int, format string, args ...any) error {
	return &decodeError{pos: pos, msg: fmt.Sprintf(format, args...)}
}

// MaxDepth is how deeply Unpack lets tuples nest. Decoding recurses once per level, and a limit
// keeps hostile input (a run of 05 bytes) from growing a goroutine's stack without bound. No key
// can come near it: FoundationDB keys are at most 10,000 bytes and each level costs two.
const MaxDepth = 10000

// decodeTuple decodes elements from b[pos:] up to the end of b (depth 0, the top level) or up to
// the 00 that ends a nested tuple, and returns the offset after what it read.
func decodeTuple(b []byte, pos int, depth int) (Tuple, int, error) {
	if depth > MaxDepth {
		return nil, pos, malformed(pos-1, "tuples nested more than %d deep", MaxDepth)
	}
	nested := depth > 0
	// Decode into a small array on the stack and copy once, so a short tuple costs one
	// allocation for its slice rather than a series of appends.
	var stack [8]Element
	elems := stack[:0]
	start := pos
	for {
		if pos >= len(b) {
			if nested {
				return nil, pos, malformed(start-1, "nested tuple has no terminating 00")
			}
			break
		}
		if nested && b[pos] == codeNil {
			if pos+1 < len(b) && b[pos+1] == 0xff {
				elems = append(elems, nil)
				pos += 2
				continue
			}
			pos++
			break
		}
		e, next, err := decodeElem(b, pos, depth)
		if err != nil {
			return nil, pos, err
		}
		elems = append(elems, e)
		pos = next
	}
	t := make(Tuple, len(elems))
	copy(t, elems)
	return t, pos, nil
}

// decodeElem decodes the element whose type code is at b[pos] (a top-level null included).
func decodeElem(b []byte, pos, depth int) (Element, int, error) {
	code := b[pos]
	switch {
	case code == codeNil:
		return nil, pos + 1, nil
	case code == codeBytes:
		return decodeBytes(b, pos)
	case code == codeString:
		return decodeString(b, pos)
	case code == codeNested:
		return decodeTuple(b, pos+1, depth+1)
	case code > codeNegBig && code < codePosBig:
		return decodeInt(b, pos)
	case code == codePosBig || code == codeNegBig:
		return decodeBig(b, pos)
	case code == codeFloat:
		if len(b)-pos < 5 {
			return nil, pos, malformed(pos, "float needs 4 bytes, have %d", len(b)-pos-1)
		}
		u := binary.BigEndian.Uint32(b[pos+1:])
		if u&(1<<31) != 0 {
			u ^= 1 << 31
		} else {
			u = ^u
		}
		return math.Float32frombits(u), pos + 5, nil
	case code == codeDouble:
		if len(b)-pos < 9 {
			return nil, pos, malformed(pos, "double needs 8 bytes, have %d", len(b)-pos-1)
		}
		u := binary.BigEndian.Uint64(b[pos+1:])
		if u&(1<<63) != 0 {
			u ^= 1 << 63
		} else {
			u = ^u
		}
		return math.Float64frombits(u), pos + 9, nil
	case code == codeFalse:
		return false, pos + 1, nil
	case code == codeTrue:
		return true, pos + 1, nil
	case code == codeUUID:
		if len(b)-pos < 17 {
			return nil, pos, malformed(pos, "UUID needs 16 bytes, have %d", len(b)-pos-1)
		}
		var u UUID
		copy(u[:], b[pos+1:])
		return u, pos + 17, nil
	case code == codeVersionstamp:
		if len(b)-pos < 13 {
			return nil, pos, malformed(pos, "versionstamp needs 12 bytes, have %d", len(b)-pos-1)
		}
		var v Versionstamp
		copy(v.TransactionVersion[:], b[pos+1:])
		v.UserVersion = binary.BigEndian.Uint16(b[pos+11:])
		return v, pos + 13, nil
	default:
		return nil, pos, malformed(pos, "unknown or unsupported type code 0x%02x", code)
	}
}

// findEnd returns the offset of the 00 that ends the escaped payload starting at b[pos], and the
// number of 00 ff escapes before it, or -1 when there is no terminator.
func findEnd(b []byte, pos int) (end, escapes int) {
	for {
		i := bytes.IndexByte(b[pos:], 0)
		if i < 0 {
			return -1, 0
		}
		pos += i
		if pos+1 < len(b) && b[pos+1] == 0xff {
			escapes++
			pos += 2
			continue
		}
		return pos, escapes
	}
}

func decodeBytes(b []byte, pos int) (Element, int, error) {
	end, escapes := findEnd(b, pos+1)
	if end < 0 {
		return nil, pos, malformed(pos, "byte string has no terminating 00")
	}
	out := make([]byte, 0, end-pos-1-escapes)
	for s := b[pos+1 : end]; ; {
		i := bytes.IndexByte(s, 0)
		if i < 0 {
			out = append(out, s...)
			break
		}
		out = append(out, s[:i+1]...)
		s = s[i+2:] // skip the ff of the escape
	}
	return out, end + 1, nil
}

func decodeString(b []byte, pos int) (Element, int, error) {
	// Short ASCII strings without NUL, the usual key component: one loop finds the end and
	// proves the string valid UTF-8.
	for i := pos + 1; i < len(b) && i <= pos+1+shortPayload; i++ {
		c := b[i]
		if c == 0 {
			if i+1 < len(b) && b[i+1] == 0xff {
				break
			}
			return string(b[pos+1 : i]), i + 1, nil
		}
		if c >= utf8.RuneSelf {
			break
		}
	}
	end, escapes := findEnd(b, pos+1)
	if end < 0 {
		return nil, pos, malformed(pos, "string has no terminating 00")
	}
	raw := b[pos+1 : end]
	var s string
	if escapes == 0 {
		if !utf8.Valid(raw) {
			return nil, pos, &decodeError{pos: pos, msg: "string is not valid UTF-8", kind: ErrInvalidUTF8}
		}
		s = string(raw)
	} else {
		var sb strings.Builder
		sb.Grow(len(raw) - escapes)
		for {
			i := bytes.IndexByte(raw, 0)
			if i < 0 {
				sb.Write(raw)
				break
			}
			sb.Write(raw[:i+1])
			raw = raw[i+2:]
		}
		s = sb.String()
		if !utf8.ValidString(s) {
			return nil, pos, &decodeError{pos: pos, msg: "string is not valid UTF-8", kind: ErrInvalidUTF8}
		}
	}
	return s, end + 1, nil
}

// decodeInt decodes codes 0x0c to 0x1c: an integer of up to 8 bytes. It returns int64 when the
// value fits, uint64 for larger positive values and *big.Int for negative ones below MinInt64.
func decodeInt(b []byte, pos int) (Element, int, error) {
	code := int(b[pos])
	if code == codeIntZero {
		return int64(0), pos + 1, nil
	}
	n := code - codeIntZero
	if n < 0 {
		n = -n
	}
	if len(b)-pos-1 < n {
		return nil, pos, malformed(pos, "integer needs %d bytes, have %d", n, len(b)-pos-1)
	}
	var u uint64
	for _, c := range b[pos+1 : pos+1+n] {
		u = u<<8 | uint64(c)
	}
	if code > codeIntZero {
		if u <= math.MaxInt64 {
			return int64(u), pos + 1 + n, nil
		}
		return u, pos + 1 + n, nil
	}
	// The n bytes are the one's complement of the magnitude within n bytes.
	m := u ^ (math.MaxUint64 >> (64 - 8*n))
	if m <= 1<<63 {
		return -int64(m), pos + 1 + n, nil // m == 2^63 converts to MinInt64, its own negation
	}
	return new(big.Int).Neg(new(big.Int).SetUint64(m)), pos + 1 + n, nil
}

// decodeBig decodes codes 0x1d and 0x0b: a length byte (complemented for negatives), then the
// magnitude (complemented for negatives). The result has the type its value calls for, so the
// Python binding's 1d 08 ff… form of 2^64-1 reads as the same uint64 as 1c ff….
func decodeBig(b []byte, pos int) (Element, int, error) {
	if len(b)-pos < 2 {
		return nil, pos, malformed(pos, "big integer has no length byte")
	}
	neg := b[pos] == codeNegBig
	n := int(b[pos+1])
	if neg {
		n ^= 0xff
	}
	if len(b)-pos-2 < n {
		return nil, pos, malformed(pos, "big integer needs %d bytes, have %d", n, len(b)-pos-2)
	}
	mag := b[pos+2 : pos+2+n]
	v := new(big.Int)
	if neg {
		c := make([]byte, n)
		for i, x := range mag {
			c[i] = ^x
		}
		v.SetBytes(c)
		v.Neg(v)
	} else {
		v.SetBytes(mag)
	}
	next := pos + 2 + n
	switch {
	case v.IsInt64():
		return v.Int64(), next, nil
	case v.IsUint64():
		return v.Uint64(), next, nil
	}
	return v, next, nil
}
