package docstore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/layerkit/layerkit/kv"
)

// undefined is the index and sort key of an empty array, which MongoDB orders before null.
type undefined struct{}

// appendKey appends the order-preserving key form of a normalised value to b: tuple elements
// (spec/tuple.md, the bytes tuple.Tuple.Pack gives them) whose bytes order as compareValues
// orders the values:
//
//	undefined  (15)
//	null       (20)
//	number     (30, float64 f, int64 r)  f + r is the exact value (see numberParts)
//	string     (40, string)
//	object     (50, (tag₁, name₁, payload₁…, tag₂, name₂, payload₂…))  fields in name order
//	array      (60, (tag₁, payload₁…, tag₂, payload₂…))
//	binary     (70, int64 length, int64 subtype, bytes)
//	bool       (90, bool)
//	date       (100, int64 milliseconds since 1970)
//
// A value's payload has a fixed number of elements for its tag, so a sequence of encoded values
// (a compound index key) orders element by element as the values do. The elements are written
// directly, without a tuple.Tuple of boxed elements: keys are built for every index entry of
// every write.
func appendKey(b []byte, v any) []byte {
	return appendKeyPayload(appendTupleInt(b, int64(typeTag(v))), v)
}

// appendKeyPayload appends the key form of v without its tag.
func appendKeyPayload(b []byte, v any) []byte {
	switch x := v.(type) {
	case undefined, nil:
		return b
	case int64, float64:
		f, r := numberParts(x)
		return appendTupleInt(appendTupleFloat(b, f), r)
	case string:
		return appendKeyString(b, x)
	case map[string]any:
		b = append(b, tupleNested)
		for _, k := range sortedKeys(x) {
			e := x[k]
			b = appendKeyPayload(appendKeyString(appendTupleInt(b, int64(typeTag(e))), k), e)
		}
		return append(b, 0x00)
	case []any:
		b = append(b, tupleNested)
		for _, e := range x {
			b = appendKey(b, e)
		}
		return append(b, 0x00)
	case []byte, uuid.UUID:
		sub, data := binaryParts(x)
		return appendTupleBytes(appendTupleInt(appendTupleInt(b, int64(len(data))), int64(sub)), data)
	case bool:
		if x {
			return append(b, tupleTrue)
		}
		return append(b, tupleFalse)
	case time.Time:
		return appendTupleInt(b, x.UnixMilli())
	}
	panic(fmt.Sprintf("docstore: appendKey of %T", v)) // normalised values only
}

// Tuple type codes (spec/tuple.md).
const (
	tupleBytes   = 0x01
	tupleString  = 0x02
	tupleNested  = 0x05
	tupleIntZero = 0x14
	tupleDouble  = 0x21
	tupleFalse   = 0x26
	tupleTrue    = 0x27
)

// appendTupleInt appends an integer element: code 0x14±n, then n big-endian bytes of the value
// (positive) or of its one's complement (negative).
func appendTupleInt(b []byte, v int64) []byte {
	if v == 0 {
		return append(b, tupleIntZero)
	}
	m, code := uint64(v), 1
	if v < 0 {
		m, code = uint64(-v), -1 // -MinInt64 wraps to itself: 2^63 as a uint64
	}
	n := (bits.Len64(m) + 7) / 8
	if v < 0 {
		m = ^m
	}
	b = append(b, byte(tupleIntZero+code*n))
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(m>>(8*i)))
	}
	return b
}

// appendTupleFloat appends a double element: the big-endian IEEE bits with the sign bit flipped
// (positive) or every bit flipped (negative).
func appendTupleFloat(b []byte, f float64) []byte {
	u := math.Float64bits(f)
	if u&(1<<63) != 0 {
		u = ^u
	} else {
		u ^= 1 << 63
	}
	return binary.BigEndian.AppendUint64(append(b, tupleDouble), u)
}

// appendTupleBytes appends a byte string element: code 0x01, the bytes with every 00 escaped as
// 00 ff, and a 00 terminator.
func appendTupleBytes(b []byte, s []byte) []byte {
	b = append(b, tupleBytes)
	for {
		i := bytes.IndexByte(s, 0)
		if i < 0 {
			break
		}
		b = append(append(b, s[:i+1]...), 0xff)
		s = s[i+1:]
	}
	return append(append(b, s...), 0x00)
}

// keyError is the error of key bytes that do not decode.
func keyError(what string, b []byte) error {
	return fmt.Errorf("docstore: %s %s does not decode: %w", what, kv.Printable(truncateBytes(b, 24)), ErrCorrupt)
}

// readTupleInt reads an integer element of up to 8 bytes from the front of b.
func readTupleInt(b []byte) (int64, int, error) {
	if len(b) == 0 || b[0] < tupleIntZero-8 || b[0] > tupleIntZero+8 {
		return 0, 0, keyError("integer", b)
	}
	n := int(b[0]) - tupleIntZero
	neg := n < 0
	if neg {
		n = -n
	}
	if len(b) < 1+n {
		return 0, 0, keyError("integer", b)
	}
	var m uint64
	for _, c := range b[1 : 1+n] {
		m = m<<8 | uint64(c)
	}
	if !neg {
		if m > math.MaxInt64 {
			return 0, 0, keyError("integer", b)
		}
		return int64(m), 1 + n, nil
	}
	if n < 8 {
		m = m - (1<<(8*n) - 1) // m holds (2^(8n)-1) - |v|
	} else {
		m = -^m
	}
	if int64(m) > 0 { // |v| past 2^63
		return 0, 0, keyError("integer", b)
	}
	return int64(m), 1 + n, nil
}

// readTupleFloat reads a double element from the front of b.
func readTupleFloat(b []byte) (float64, int, error) {
	if len(b) < 9 || b[0] != tupleDouble {
		return 0, 0, keyError("double", b)
	}
	u := binary.BigEndian.Uint64(b[1:])
	if u&(1<<63) != 0 {
		u ^= 1 << 63
	} else {
		u = ^u
	}
	return math.Float64frombits(u), 9, nil
}

// readTupleString reads a string (code 0x02) or byte string (0x01) element from the front of b
// and returns its unescaped bytes.
func readTupleString(b []byte, code byte) ([]byte, int, error) {
	if len(b) == 0 || b[0] != code {
		return nil, 0, keyError("string", b)
	}
	var out []byte
	i := 1
	for {
		j := bytes.IndexByte(b[i:], 0)
		if j < 0 {
			return nil, 0, keyError("string", b)
		}
		if i+j+1 < len(b) && b[i+j+1] == 0xff {
			out = append(out, b[i:i+j+1]...)
			i += j + 2
			continue
		}
		if out == nil {
			return b[i : i+j : i+j], i + j + 1, nil
		}
		return append(out, b[i:i+j]...), i + j + 1, nil
	}
}

// skipElem returns the length of the tuple element at the front of b, a nested tuple included.
func skipElem(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, fmt.Errorf("docstore: truncated key: %w", ErrCorrupt)
	}
	switch c := b[0]; {
	case c == 0x00, c == tupleFalse, c == tupleTrue:
		return 1, nil
	case c == tupleBytes || c == tupleString:
		_, n, err := readTupleString(b, c)
		return n, err
	case c >= tupleIntZero-8 && c <= tupleIntZero+8:
		_, n, err := readTupleInt(b)
		return n, err
	case c == tupleDouble:
		_, n, err := readTupleFloat(b)
		return n, err
	case c == tupleNested:
		i := 1
		for {
			switch {
			case i >= len(b):
				return 0, keyError("nested tuple", b)
			case b[i] == 0x00 && i+1 < len(b) && b[i+1] == 0xff:
				i += 2 // a nil inside
			case b[i] == 0x00:
				return i + 1, nil
			default:
				n, err := skipElem(b[i:])
				if err != nil {
					return 0, err
				}
				i += n
			}
		}
	}
	return 0, keyError("key element", b)
}

// payloadElems is how many tuple elements follow each type tag in a value's key form.
var payloadElems = map[int64]int{tagUndefined: 0, tagNull: 0, tagNumber: 2, tagString: 1, tagObject: 1, tagArray: 1, tagBinary: 3, tagBool: 1, tagDate: 1}

// skipKeyValue returns the length of the key form of one value at the front of b.
func skipKeyValue(b []byte) (int, error) {
	tag, n, err := readTupleInt(b)
	if err != nil {
		return 0, err
	}
	elems, ok := payloadElems[tag]
	if !ok {
		return 0, keyError("value type tag", b)
	}
	for i := 0; i < elems; i++ {
		m, err := skipElem(b[n:])
		if err != nil {
			return 0, err
		}
		n += m
	}
	return n, nil
}

// ID is a document's _id in the form the store keeps: a string, an int64, a uuid.UUID or a
// []byte. IDs order as MongoDB orders those types: integers, then strings, then binary data
// (UUIDs are binary of length 16).
type ID = any

// normalizeID returns the stored form of an _id, or ErrInvalidID.
func normalizeID(v any) (any, error) {
	switch x := v.(type) { // the usual kinds, without the general normaliser
	case string:
		if utf8.ValidString(x) {
			return x, nil
		}
	case int:
		return int64(x), nil
	case int64:
		return x, nil
	case uuid.UUID:
		return x, nil
	}
	n, err := normalize(v, "_id")
	if err != nil {
		return nil, fmt.Errorf("docstore: _id %v: %v: %w", v, err, ErrInvalidID)
	}
	switch x := n.(type) {
	case string, int64, uuid.UUID, []byte:
		return x, nil
	case float64:
		if x == float64(int64(x)) && x >= -(1<<63) && x < 1<<63 {
			return int64(x), nil
		}
	}
	return nil, fmt.Errorf("docstore: _id %v is a %s; an _id is a string, an integer, a UUID or bytes: %w", v, typeName(n), ErrInvalidID)
}

// readIDKey reads an _id's key form from the front of b and returns its length.
func readIDKey(b []byte) (any, int, error) {
	tag, n, err := readTupleInt(b)
	if err != nil {
		return nil, 0, err
	}
	switch tag {
	case tagNumber:
		f, m, err := readTupleFloat(b[n:])
		if err != nil {
			return nil, 0, err
		}
		r, k, err := readTupleInt(b[n+m:])
		if err != nil {
			return nil, 0, err
		}
		if f == float64(int64(f)) && f < 1<<63 && f >= -(1<<63) {
			return int64(f) + r, n + m + k, nil
		}
	case tagString:
		s, m, err := readTupleString(b[n:], tupleString)
		if err != nil {
			return nil, 0, err
		}
		if utf8.Valid(s) {
			return string(s), n + m, nil
		}
	case tagBinary:
		size, m, err := readTupleInt(b[n:])
		if err != nil {
			return nil, 0, err
		}
		sub, k, err := readTupleInt(b[n+m:])
		if err != nil {
			return nil, 0, err
		}
		data, l, err := readTupleString(b[n+m+k:], tupleBytes)
		if err != nil {
			return nil, 0, err
		}
		if int(size) == len(data) {
			switch {
			case sub == 0:
				return bytes.Clone(data), n + m + k + l, nil
			case sub == binarySubtypeUUID && len(data) == 16:
				return uuid.UUID(data), n + m + k + l, nil
			}
		}
	}
	return nil, 0, keyError("_id", b)
}

// formatID prints an _id for messages.
func formatID(id any) string {
	switch x := id.(type) {
	case string:
		return fmt.Sprintf("%q", x)
	case []byte:
		return fmt.Sprintf("bytes(%x)", x)
	}
	return fmt.Sprint(id)
}
