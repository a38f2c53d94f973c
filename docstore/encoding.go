package docstore

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/layerkit/layerkit/kv"
)

// Stored values. Each key of a document holds one value whose first byte says what it is:
//
//	'o'                          object marker: the object's fields are keys below this one
//	                             (the document root is one)
//	'a' uvarint(length)          array marker: the elements are keys below this one, by index
//	'A' uvarint(length) elem…    a packed array: the whole array in this value (see below)
//	'n' 't' 'f'                  null, true, false
//	'i' varint                   int64 (zig-zag)
//	'd' 8 bytes                  float64 bits, big-endian
//	's' bytes                    string, UTF-8
//	'b' subtype bytes            binary (subtype 0, or 4 for a UUID)
//	'D' varint                   date, milliseconds since 1970 (zig-zag)
//	'x' uvarint(n) uvarint(size) a scalar too large for one value: its encoding (one of the
//	                             above, size bytes) is in n chunks at the key + (nil, i)
//
// An array whose packed encoding takes at most packLimit bytes is packed; a larger one has a
// marker and a key per element. Objects are always stored field by field, so that updates of
// different fields of one object never touch the same key. Inside a packed array, each element
// is a tag and a payload that says its own length:
//
//	'n' 't' 'f'                  null, true, false
//	'i' varint, 'd' 8 bytes,     as above
//	'D' varint
//	's' uvarint(len) bytes       string
//	'b' uvarint(len) subtype     binary data (len bytes after the subtype)
//	    bytes
//	'o' uvarint(n) (uvarint(len) an object: n fields in strictly increasing name order
//	    name elem)…
//	'a' uvarint(n) elem…         an array of n elements
const (
	valObject = 'o'
	valArray  = 'a'
	valPacked = 'A'
	valNull   = 'n'
	valTrue   = 't'
	valFalse  = 'f'
	valInt    = 'i'
	valFloat  = 'd'
	valString = 's'
	valBinary = 'b'
	valDate   = 'D'
	valSplit  = 'x'
)

// chunkSize is the most bytes of one value; larger scalars are split into chunks of this size.
const chunkSize = kv.MaxValueSize

// packLimit is the most bytes a packed array's value may take. Packing costs nothing in
// conflicts (an update of an array element reads the whole array either way) and saves a key
// per element; past this size an update of one element would rewrite too much.
const packLimit = 2048

// appendScalar appends the encoding of a normalised scalar as a key's whole value.
func appendScalar(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, valNull)
	case bool:
		if x {
			return append(b, valTrue)
		}
		return append(b, valFalse)
	case int64:
		return binary.AppendVarint(append(b, valInt), x)
	case float64:
		return binary.BigEndian.AppendUint64(append(b, valFloat), math.Float64bits(x))
	case string:
		return append(append(b, valString), x...)
	case []byte:
		return append(append(b, valBinary, 0), x...)
	case uuid.UUID:
		return append(append(b, valBinary, binarySubtypeUUID), x[:]...)
	case time.Time:
		return binary.AppendVarint(append(b, valDate), x.UnixMilli())
	}
	panic(fmt.Sprintf("docstore: appendScalar of %T", v)) // normalised values only
}

// appendPackedArray appends arr as a packed array value ('A', length, elements). ok is false
// when the value would pass packLimit bytes; b then holds a partial encoding past its old
// length, which the caller drops.
func appendPackedArray(b []byte, arr []any) ([]byte, bool) {
	end := len(b) + packLimit
	b = binary.AppendUvarint(append(b, valPacked), uint64(len(arr)))
	for _, e := range arr {
		var ok bool
		if b, ok = appendElem(b, e, end); !ok {
			return b, false
		}
	}
	return b, len(b) <= end
}

// packs reports whether arr is stored packed.
func packs(arr []any) bool {
	_, ok := appendPackedArray(make([]byte, 0, 64), arr)
	return ok
}

// appendElem appends v in the element encoding of packed arrays; ok is false once b passes
// end bytes.
func appendElem(b []byte, v any, end int) ([]byte, bool) {
	if len(b) >= end {
		return b, false
	}
	switch x := v.(type) {
	case string:
		if len(b)+len(x) > end {
			return b, false
		}
		b = binary.AppendUvarint(append(b, valString), uint64(len(x)))
		b = append(b, x...)
	case []byte:
		if len(b)+len(x) > end {
			return b, false
		}
		b = binary.AppendUvarint(append(b, valBinary), uint64(len(x)))
		b = append(append(b, 0), x...)
	case uuid.UUID:
		b = binary.AppendUvarint(append(b, valBinary), uint64(len(x)))
		b = append(append(b, binarySubtypeUUID), x[:]...)
	case map[string]any:
		b = binary.AppendUvarint(append(b, valObject), uint64(len(x)))
		for _, k := range sortedKeys(x) {
			if len(b)+len(k) > end {
				return b, false
			}
			b = append(binary.AppendUvarint(b, uint64(len(k))), k...)
			var ok bool
			if b, ok = appendElem(b, x[k], end); !ok {
				return b, false
			}
		}
	case []any:
		b = binary.AppendUvarint(append(b, valArray), uint64(len(x)))
		for _, e := range x {
			var ok bool
			if b, ok = appendElem(b, e, end); !ok {
				return b, false
			}
		}
	default:
		b = appendScalar(b, v) // the other scalars say their own length
	}
	return b, len(b) <= end
}

// corrupt is the error of a stored value that does not decode.
func corrupt(what string, v string) error {
	return fmt.Errorf("docstore: %s %s does not decode: %w", what, kv.Printable([]byte(truncateString(v, 40))), ErrCorrupt)
}

func truncateString(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func truncateBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// decodeScalar reads a scalar written by appendScalar (a key's whole value). Strings share the
// memory of v.
func decodeScalar(v string) (any, error) {
	if len(v) == 0 {
		return nil, fmt.Errorf("docstore: empty field value: %w", ErrCorrupt)
	}
	rest := v[1:]
	switch v[0] {
	case valNull:
		if len(rest) == 0 {
			return nil, nil
		}
	case valTrue, valFalse:
		if len(rest) == 0 {
			return v[0] == valTrue, nil
		}
	case valInt:
		if i, n := varint(rest); n > 0 && n == len(rest) {
			return i, nil
		}
	case valFloat:
		if len(rest) == 8 {
			if f, ok := float(rest); ok {
				return f, nil
			}
		}
	case valString:
		if utf8.ValidString(rest) {
			return rest, nil
		}
	case valBinary:
		if len(rest) >= 1 {
			if b, ok := binaryValue(rest[0], rest[1:]); ok {
				return b, nil
			}
		}
	case valDate:
		if ms, n := varint(rest); n > 0 && n == len(rest) {
			return time.UnixMilli(ms).UTC(), nil
		}
	}
	return nil, corrupt("field value", v)
}

func float(s string) (float64, bool) {
	var u uint64
	for i := 0; i < 8; i++ {
		u = u<<8 | uint64(s[i])
	}
	f := math.Float64frombits(u)
	return f, !math.IsNaN(f) && !math.IsInf(f, 0)
}

func binaryValue(sub byte, data string) (any, bool) {
	switch {
	case sub == 0:
		return []byte(data), true
	case sub == binarySubtypeUUID && len(data) == 16:
		var u uuid.UUID
		copy(u[:], data)
		return u, true
	}
	return nil, false
}

// uvarint and varint decode as encoding/binary's Uvarint and Varint do, from a string.
func uvarint(s string) (uint64, int) {
	var x uint64
	var shift uint
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		c := s[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				return 0, -(i + 1)
			}
			return x | uint64(c)<<shift, i + 1
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	return 0, 0
}

func varint(s string) (int64, int) {
	ux, n := uvarint(s)
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x, n
}

// length reads a uvarint count or length from the front of s that is at most max.
func length(s string, max int) (int, string, bool) {
	n, k := uvarint(s)
	if k <= 0 || n > uint64(max) {
		return 0, "", false
	}
	return int(n), s[k:], true
}

// decodePackedArray reads a packed array value ('A' …). Strings share the memory of v.
func decodePackedArray(v string) ([]any, error) {
	n, rest, ok := length(v[1:], len(v))
	if !ok {
		return nil, corrupt("packed array", v)
	}
	arr, rest, err := decodeElems(rest, n, 1)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, corrupt("packed array (trailing bytes)", v)
	}
	return arr, nil
}

func decodeElems(s string, n, depth int) ([]any, string, error) {
	if n > len(s) { // every element takes a byte at least
		return nil, "", corrupt("packed array length", s)
	}
	arr := make([]any, n)
	for i := range arr {
		var err error
		if arr[i], s, err = decodeElem(s, depth); err != nil {
			return nil, "", err
		}
	}
	return arr, s, nil
}

// decodeElem reads one element of a packed array from the front of s and returns the rest.
func decodeElem(s string, depth int) (any, string, error) {
	if len(s) == 0 {
		return nil, "", fmt.Errorf("docstore: packed array is truncated: %w", ErrCorrupt)
	}
	if depth > MaxDepth {
		return nil, "", fmt.Errorf("docstore: packed array nested more than %d levels: %w", MaxDepth, ErrCorrupt)
	}
	rest := s[1:]
	switch s[0] {
	case valNull:
		return nil, rest, nil
	case valTrue, valFalse:
		return s[0] == valTrue, rest, nil
	case valInt:
		if i, k := varint(rest); k > 0 {
			return i, rest[k:], nil
		}
	case valDate:
		if ms, k := varint(rest); k > 0 {
			return time.UnixMilli(ms).UTC(), rest[k:], nil
		}
	case valFloat:
		if len(rest) >= 8 {
			if f, ok := float(rest); ok {
				return f, rest[8:], nil
			}
		}
	case valString:
		if n, r, ok := length(rest, len(rest)); ok && n <= len(r) && utf8.ValidString(r[:n]) {
			return r[:n], r[n:], nil
		}
	case valBinary:
		if n, r, ok := length(rest, len(rest)); ok && n+1 <= len(r) {
			if b, ok := binaryValue(r[0], r[1:1+n]); ok {
				return b, r[1+n:], nil
			}
		}
	case valArray:
		if n, r, ok := length(rest, len(rest)); ok {
			return decodeElems(r, n, depth+1)
		}
	case valObject:
		if n, r, ok := length(rest, len(rest)/2); ok {
			return decodeObjectElem(r, n, depth+1)
		}
	}
	return nil, "", corrupt("packed array element", s)
}

func decodeObjectElem(s string, n, depth int) (any, string, error) {
	obj := make(map[string]any, n)
	prev := ""
	for i := 0; i < n; i++ {
		k, r, ok := length(s, len(s))
		if !ok || k > len(r) || !utf8.ValidString(r[:k]) || (i > 0 && r[:k] <= prev) {
			return nil, "", corrupt("packed object field name", s)
		}
		name := r[:k]
		v, r, err := decodeElem(r[k:], depth)
		if err != nil {
			return nil, "", err
		}
		obj[name], prev, s = v, name, r
	}
	return obj, s, nil
}
