package tuple

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Type codes of design/tuple.md that this package writes or reads.
const (
	codeNil          = 0x00
	codeBytes        = 0x01
	codeString       = 0x02
	codeNested       = 0x05
	codeNegBig       = 0x0b
	codeIntZero      = 0x14
	codePosBig       = 0x1d
	codeFloat        = 0x20
	codeDouble       = 0x21
	codeFalse        = 0x26
	codeTrue         = 0x27
	codeUUID         = 0x30
	codeVersionstamp = 0x33
)

// maxBigLen is the largest integer magnitude, in bytes, that the one-byte length of the big
// integer codes can describe.
const maxBigLen = 255

// Pack returns the packed bytes of t in a new slice sized exactly: one allocation when the
// result is at most 256 bytes, two beyond.
//
// Pack panics when t cannot be encoded: an element of a Go type no tuple type can hold, a string
// that is not valid UTF-8, an integer of more than 255 bytes, or an incomplete versionstamp. The
// panic value is the error AppendPack would return; use AppendPack to handle it.
func (t Tuple) Pack() []byte {
	// Encode into a buffer on the stack, then copy out exactly: one allocation, and one pass
	// over the elements (a sizing pass costs as much as encoding). The encoder does not
	// recurse, which is what lets escape analysis keep buf on the stack. A longer tuple grows
	// out of buf; it is then sized and packed again so the result still has no slack.
	var buf [256]byte
	b, err := appendTuple(buf[:0], t, nil)
	if err != nil {
		panic(err)
	}
	if len(b) > len(buf) {
		return t.packSized()
	}
	out := make([]byte, len(b))
	copy(out, b)
	return out
}

func (t Tuple) packSized() []byte {
	b, err := appendTuple(make([]byte, 0, packedLen(t, false)), t, nil)
	if err != nil {
		panic(err)
	}
	return b
}

// AppendPack appends the packed bytes of t to dst and returns the extended slice. It allocates
// only when dst lacks the room. On error it returns dst unchanged (same length; bytes past it
// may have been written) and an error naming the element: see the Err variables.
func (t Tuple) AppendPack(dst []byte) ([]byte, error) {
	out, err := appendTuple(dst, t, nil)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// PackWithVersionstamp returns prefix + pack(t) + the position of t's incomplete versionstamp as
// 4 little-endian bytes (FoundationDB API version 520 and later), the key format of a
// versionstamped-key mutation. The position counts from the start of the key, prefix included.
// t must hold exactly one incomplete versionstamp, at any depth; otherwise the error wraps
// ErrVersionstampCount.
func (t Tuple) PackWithVersionstamp(prefix []byte) ([]byte, error) {
	out := make([]byte, 0, len(prefix)+packedLen(t, false)+4)
	out = append(out, prefix...)
	pos := -1
	out, err := appendTuple(out, t, &pos)
	if err != nil {
		return nil, err
	}
	if pos < 0 {
		return nil, &packError{msg: "tuple has no incomplete versionstamp", kind: ErrVersionstampCount}
	}
	if uint64(pos) > math.MaxUint32 {
		return nil, &packError{msg: "versionstamp position does not fit 4 bytes", kind: ErrVersionstampCount}
	}
	return binary.LittleEndian.AppendUint32(out, uint32(pos)), nil
}

// HasIncompleteVersionstamp reports whether t holds an incomplete versionstamp at any depth. The
// error (wrapping ErrVersionstampCount) means it holds more than one, which no key can use.
func (t Tuple) HasIncompleteVersionstamp() (bool, error) {
	n := countIncomplete(t)
	if n > 1 {
		return true, &packError{msg: fmt.Sprintf("tuple holds %d incomplete versionstamps", n), kind: ErrVersionstampCount}
	}
	return n == 1, nil
}

func countIncomplete(t []Element) int {
	n := 0
	for _, e := range t {
		switch e := e.(type) {
		case Versionstamp:
			if !e.IsComplete() {
				n++
			}
		case Tuple:
			n += countIncomplete(e)
		case []any:
			n += countIncomplete(e)
		}
	}
	return n
}

// packError is an encoding failure: which element (a path through nested tuples), what was
// wrong, and the Err variable it matches.
type packError struct {
	path []int
	msg  string
	kind error
}

func (e *packError) Error() string {
	if len(e.path) == 0 {
		return "tuple: " + e.msg
	}
	var sb strings.Builder
	sb.WriteString("tuple: element ")
	for i := len(e.path) - 1; i >= 0; i-- {
		sb.WriteString(strconv.Itoa(e.path[i]))
		if i > 0 {
			sb.WriteByte('.')
		}
	}
	sb.WriteString(": ")
	sb.WriteString(e.msg)
	return sb.String()
}

func (e *packError) Unwrap() error { return e.kind }

// appendTuple appends the elements of a tuple. vs is nil for a plain pack; otherwise it receives
// the offset of the one incomplete versionstamp (-1 until found).
func appendTuple(dst []byte, t []Element, vs *int) ([]byte, error) {
	for i, e := range t {
		var err error
		dst, err = appendScalar(dst, e, false, vs)
		if err == nil {
			continue
		}
		if err == errNested {
			dst, err = appendNested(dst, e, vs)
		}
		if err != nil {
			if pe, ok := err.(*packError); ok {
				pe.path = append(pe.path, i) // innermost index first; Error prints it reversed
			}
			return dst, err
		}
	}
	return dst, nil
}

// appendNested appends the nested tuple e (a Tuple or []any). It walks deeper nesting with an
// explicit stack rather than by recursion, so that dst does not escape (see Pack).
func appendNested(dst []byte, e Element, vs *int) ([]byte, error) {
	type frame struct {
		t []Element
		i int
	}
	var frames [4]frame
	stack := frames[:0]
	cur, i := asSlice(e), 0
	dst = append(dst, codeNested)
	for {
		if i == len(cur) {
			dst = append(dst, 0x00) // end of the nested tuple
			if len(stack) == 0 {
				return dst, nil
			}
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			cur, i = top.t, top.i
			continue
		}
		e := cur[i]
		i++
		var err error
		dst, err = appendScalar(dst, e, true, vs)
		if err == nil {
			continue
		}
		if err == errNested {
			stack = append(stack, frame{cur, i})
			dst = append(dst, codeNested)
			cur, i = asSlice(e), 0
			continue
		}
		if pe, ok := err.(*packError); ok {
			pe.path = append(pe.path, i-1)
			for k := len(stack) - 1; k >= 0; k-- {
				pe.path = append(pe.path, stack[k].i-1)
			}
		}
		return dst, err
	}
}

// errNested is appendScalar's answer for a nested tuple, which it leaves to appendTuple; it
// never reaches a caller.
var errNested = errors.New("tuple: nested tuple")

// appendScalar appends every element but a nested tuple. nested selects how nil is written
// (00 ff inside a nested tuple, 00 at the top level).
func appendScalar(dst []byte, e Element, nested bool, vs *int) ([]byte, error) {
	// Strings and ints make up most keys: a type assertion is one comparison, cheaper than
	// the type switch's search over every case.
	if s, ok := e.(string); ok {
		return appendString(dst, s)
	}
	if i, ok := e.(int); ok {
		return appendInt(dst, int64(i)), nil
	}
	switch v := e.(type) {
	case nil:
		if nested {
			return append(dst, codeNil, 0xff), nil
		}
		return append(dst, codeNil), nil
	case string:
		return appendString(dst, v)
	case []byte:
		return appendBytes(dst, v), nil
	case int:
		return appendInt(dst, int64(v)), nil
	case int64:
		return appendInt(dst, v), nil
	case int32:
		return appendInt(dst, int64(v)), nil
	case int16:
		return appendInt(dst, int64(v)), nil
	case int8:
		return appendInt(dst, int64(v)), nil
	case uint:
		return appendUint(dst, uint64(v)), nil
	case uint64:
		return appendUint(dst, v), nil
	case uint32:
		return appendUint(dst, uint64(v)), nil
	case uint16:
		return appendUint(dst, uint64(v)), nil
	case uint8:
		return appendUint(dst, uint64(v)), nil
	case uintptr:
		return appendUint(dst, uint64(v)), nil
	case bool:
		if v {
			return append(dst, codeTrue), nil
		}
		return append(dst, codeFalse), nil
	case float64:
		return appendFloat64(dst, v), nil
	case float32:
		return appendFloat32(dst, v), nil
	case UUID:
		dst = append(dst, codeUUID)
		return append(dst, v[:]...), nil
	case uuid.UUID:
		dst = append(dst, codeUUID)
		return append(dst, v[:]...), nil
	case Versionstamp:
		return appendVersionstamp(dst, v, vs)
	case *big.Int:
		if v == nil {
			return dst, &packError{msg: "nil *big.Int", kind: ErrUnsupportedType}
		}
		return appendBig(dst, v)
	case big.Int:
		return appendBig(dst, &v)
	case Tuple, []any:
		return dst, errNested
	default:
		switch b := basic(e).(type) {
		case string:
			return appendString(dst, b)
		case []byte:
			return appendBytes(dst, b), nil
		case int64:
			return appendInt(dst, b), nil
		case uint64:
			return appendUint(dst, b), nil
		case float32:
			return appendFloat32(dst, b), nil
		case float64:
			return appendFloat64(dst, b), nil
		case bool:
			if b {
				return append(dst, codeTrue), nil
			}
			return append(dst, codeFalse), nil
		}
		return dst, &packError{msg: fmt.Sprintf("%T cannot be packed (value %v)", e, e), kind: ErrUnsupportedType}
	}
}

// basic returns a value of a named Go type whose kind a tuple type holds (type Name string, type
// ID int32, type Key []byte …) as the basic type appendScalar writes: string, []byte, int64,
// uint64, float32, float64 or bool. It returns nil for anything else. Reflection is confined to
// this slow path; the basic types themselves never get here.
func basic(e Element) any {
	v := reflect.ValueOf(e)
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint()
	case reflect.Float32:
		return v.Convert(reflect.TypeFor[float32]()).Interface().(float32)
	case reflect.Float64:
		return v.Float()
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return v.Bytes()
		}
	}
	return nil
}

// shortPayload is the length up to which strings and byte strings are scanned and escaped by a
// byte loop, rather than by IndexByte calls and copies, which cost more per call than they save
// on short payloads.
const shortPayload = 32

// appendString writes code 0x02, s with every 00 byte escaped as 00 ff, and the 00 terminator,
// or fails if s is not UTF-8.
func appendString(dst []byte, s string) ([]byte, error) {
	if len(s) > shortPayload {
		if !utf8.ValidString(s) {
			return dst, invalidUTF8(s)
		}
		dst = append(dst, codeString)
		for {
			i := strings.IndexByte(s, 0)
			if i < 0 {
				break
			}
			dst = append(dst, s[:i+1]...)
			dst = append(dst, 0xff)
			s = s[i+1:]
		}
		dst = append(dst, s...)
		return append(dst, 0x00), nil
	}
	zeros, ascii := 0, true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == 0 {
			zeros++
		} else if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	if !ascii && !utf8.ValidString(s) {
		return dst, invalidUTF8(s)
	}
	l, need := len(dst), len(s)+2+zeros
	if cap(dst)-l < need {
		dst = slices.Grow(dst, need)
	}
	b := dst[l : l+need]
	b[0] = codeString
	if zeros == 0 {
		copy(b[1:], s)
	} else {
		j := 1
		for i := 0; i < len(s); i++ {
			b[j] = s[i]
			j++
			if s[i] == 0 {
				b[j] = 0xff
				j++
			}
		}
	}
	b[need-1] = 0x00
	return dst[:l+need], nil
}

func invalidUTF8(s string) error {
	return &packError{msg: fmt.Sprintf("string %q is not valid UTF-8", s), kind: ErrInvalidUTF8}
}

// appendBytes is appendString for code 0x01, without the UTF-8 check.
func appendBytes(dst []byte, s []byte) []byte {
	if len(s) > shortPayload {
		dst = append(dst, codeBytes)
		for {
			i := bytes.IndexByte(s, 0)
			if i < 0 {
				break
			}
			dst = append(dst, s[:i+1]...)
			dst = append(dst, 0xff)
			s = s[i+1:]
		}
		dst = append(dst, s...)
		return append(dst, 0x00)
	}
	zeros := 0
	for _, c := range s {
		if c == 0 {
			zeros++
		}
	}
	l, need := len(dst), len(s)+2+zeros
	if cap(dst)-l < need {
		dst = slices.Grow(dst, need)
	}
	b := dst[l : l+need]
	b[0] = codeBytes
	if zeros == 0 {
		copy(b[1:], s)
	} else {
		j := 1
		for _, c := range s {
			b[j] = c
			j++
			if c == 0 {
				b[j] = 0xff
				j++
			}
		}
	}
	b[need-1] = 0x00
	return dst[:l+need]
}

// appendInt writes an integer of up to 8 bytes: code 0x14±n, then n big-endian bytes of the
// value (positive) or of its one's complement (negative).
func appendInt(dst []byte, v int64) []byte {
	if uint64(v)-1 < 0xff { // 1 to 255, the commonest integers in keys: two bytes
		return append(dst, codeIntZero+1, byte(v))
	}
	if v >= 0 {
		return appendUint(dst, uint64(v))
	}
	return appendNegative(dst, uint64(-v)) // -MinInt64 wraps to itself, and uint64 of it is 2^63
}

func appendUint(dst []byte, v uint64) []byte {
	if v-1 < 0xff {
		return append(dst, codeIntZero+1, byte(v))
	}
	if v == 0 {
		return append(dst, codeIntZero)
	}
	return appendIntBytes(dst, codeIntZero+(bits.Len64(v)+7)/8, v)
}

// appendNegative writes −m for 0 < m < 2^64.
func appendNegative(dst []byte, m uint64) []byte {
	n := (bits.Len64(m) + 7) / 8
	return appendIntBytes(dst, codeIntZero-n, ^m) // the low n bytes of ^m are (2^(8n)-1) - m
}

// appendIntBytes writes code and the low n bytes of v big-endian, where n is how far code is
// from 0x14, with one 8-byte store instead of a copy.
func appendIntBytes(dst []byte, code int, v uint64) []byte {
	n := code - codeIntZero
	if n < 0 {
		n = -n
	}
	l := len(dst)
	if cap(dst)-l < 9 {
		// Too little room for the 8-byte store: append byte by byte rather than grow a
		// buffer that was sized exactly.
		dst = append(dst, byte(code))
		for i := n - 1; i >= 0; i-- {
			dst = append(dst, byte(v>>(8*i)))
		}
		return dst
	}
	dst = dst[:l+9]
	dst[l] = byte(code)
	binary.BigEndian.PutUint64(dst[l+1:], v<<(64-8*n))
	return dst[:l+1+n]
}

// appendBig writes an arbitrary-precision integer: in the 8-byte codes while |v| < 2^64 (as the
// Java and Go bindings do, so 2^64-1 is 1c ff…), else 1d len magnitude or 0b ^len ^magnitude.
func appendBig(dst []byte, v *big.Int) ([]byte, error) {
	n := (v.BitLen() + 7) / 8
	if n > maxBigLen {
		return dst, &packError{msg: fmt.Sprintf("integer of %d bytes", n), kind: ErrIntegerTooLarge}
	}
	if v.Sign() >= 0 {
		if n <= 8 {
			return appendUint(dst, v.Uint64()), nil
		}
		dst = append(dst, codePosBig, byte(n))
		dst = append(dst, make([]byte, n)...)
		v.FillBytes(dst[len(dst)-n:])
		return dst, nil
	}
	if n <= 8 {
		var m uint64
		for i, w := range v.Bits() { // Bits is the magnitude, least significant word first
			m |= uint64(w) << (i * bits.UintSize)
		}
		return appendNegative(dst, m), nil
	}
	dst = append(dst, codeNegBig, byte(n)^0xff)
	dst = append(dst, make([]byte, n)...)
	mag := dst[len(dst)-n:]
	v.FillBytes(mag) // FillBytes writes |v|
	for i := range mag {
		mag[i] = ^mag[i]
	}
	return dst, nil
}

// Floats are written as their big-endian IEEE bits with the sign bit flipped (positive) or
// every bit flipped (negative), so that the unsigned byte order is the IEEE total order.
func appendFloat32(dst []byte, f float32) []byte {
	u := math.Float32bits(f)
	if u&(1<<31) != 0 {
		u = ^u
	} else {
		u ^= 1 << 31
	}
	dst = append(dst, codeFloat)
	return binary.BigEndian.AppendUint32(dst, u)
}

func appendFloat64(dst []byte, f float64) []byte {
	u := math.Float64bits(f)
	if u&(1<<63) != 0 {
		u = ^u
	} else {
		u ^= 1 << 63
	}
	dst = append(dst, codeDouble)
	return binary.BigEndian.AppendUint64(dst, u)
}

func appendVersionstamp(dst []byte, v Versionstamp, vs *int) ([]byte, error) {
	if !v.IsComplete() {
		if vs == nil {
			return dst, &packError{msg: "incomplete versionstamp (use PackWithVersionstamp)", kind: ErrIncompleteVersionstamp}
		}
		if *vs >= 0 {
			return dst, &packError{msg: "second incomplete versionstamp", kind: ErrVersionstampCount}
		}
		*vs = len(dst) + 1
	}
	dst = append(dst, codeVersionstamp)
	dst = append(dst, v.TransactionVersion[:]...)
	return binary.BigEndian.AppendUint16(dst, v.UserVersion), nil
}

// PackedSize returns len(t.Pack()) without packing, for a tuple that packs. It is meant for sizing
// buffers: for a tuple that fails to pack the answer is meaningless.
func (t Tuple) PackedSize() int { return packedLen(t, false) }

// packedLen returns the packed size of t, so that Pack allocates once. It returns a best guess
// (0) for elements that will fail to encode; the encoder reports those.
func packedLen(t []Element, nested bool) int {
	n := 0
	for _, e := range t {
		switch v := e.(type) {
		case nil:
			n++
			if nested {
				n++
			}
		case string:
			n += 2 + len(v) + countZeros(v)
		case []byte:
			n += 2 + len(v) + countZeroBytes(v)
		case int:
			n += intLen(int64(v))
		case int64:
			n += intLen(v)
		case int32:
			n += intLen(int64(v))
		case int16:
			n += intLen(int64(v))
		case int8:
			n += intLen(int64(v))
		case uint:
			n += uintLen(uint64(v))
		case uint64:
			n += uintLen(v)
		case uint32:
			n += uintLen(uint64(v))
		case uint16:
			n += uintLen(uint64(v))
		case uint8:
			n += uintLen(uint64(v))
		case uintptr:
			n += uintLen(uint64(v))
		case bool:
			n++
		case float32:
			n += 5
		case float64:
			n += 9
		case Tuple:
			n += 2 + packedLen(v, true)
		case []any:
			n += 2 + packedLen(v, true)
		case UUID, uuid.UUID:
			n += 17
		case Versionstamp:
			n += 13
		case *big.Int:
			if v != nil {
				n += bigLen(v)
			}
		case big.Int:
			n += bigLen(&v)
		default:
			if b := basic(e); b != nil {
				n += packedLen([]Element{b}, nested)
			}
		}
	}
	return n
}

// countZeros counts the 00 bytes of s: by a loop for short payloads, where a call to the
// vectorised strings.Count costs more than it saves.
func countZeros(s string) int {
	if len(s) > shortPayload {
		return strings.Count(s, "\x00")
	}
	z := 0
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			z++
		}
	}
	return z
}

func countZeroBytes(s []byte) int {
	if len(s) > shortPayload {
		return bytes.Count(s, []byte{0})
	}
	z := 0
	for _, c := range s {
		if c == 0 {
			z++
		}
	}
	return z
}

func intLen(v int64) int {
	if v < 0 {
		return 1 + (bits.Len64(uint64(-v))+7)/8
	}
	return uintLen(uint64(v))
}

func bigLen(v *big.Int) int {
	m := (v.BitLen() + 7) / 8
	if m <= 8 {
		return 1 + m
	}
	return 2 + m
}

func uintLen(v uint64) int { return 1 + (bits.Len64(v)+7)/8 }
