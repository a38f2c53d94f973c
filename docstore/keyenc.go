package docstore

import (
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/layerkit/layerkit/tuple"
)

// undefined is the index and sort key of an empty array, which MongoDB orders before null.
type undefined struct{}

// appendValueKey appends the order-preserving key form of a normalised value to t, as tuple
// elements whose packed bytes order as compareValues orders the values:
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
// (a compound index key) orders element by element as the values do.
func appendValueKey(t tuple.Tuple, v any) tuple.Tuple {
	switch x := v.(type) {
	case undefined:
		return append(t, int64(tagUndefined))
	case nil:
		return append(t, int64(tagNull))
	case int64, float64:
		f, r := numberParts(x)
		return append(t, int64(tagNumber), f, r)
	case string:
		return append(t, int64(tagString), x)
	case map[string]any:
		inner := make(tuple.Tuple, 0, 3*len(x))
		for _, k := range sortedKeys(x) {
			e := x[k]
			inner = append(inner, int64(typeTag(e)), k)
			inner = appendPayload(inner, e)
		}
		return append(t, int64(tagObject), inner)
	case []any:
		inner := make(tuple.Tuple, 0, 2*len(x))
		for _, e := range x {
			inner = appendValueKey(inner, e)
		}
		return append(t, int64(tagArray), inner)
	case []byte, uuid.UUID:
		sub, data := binaryParts(x)
		return append(t, int64(tagBinary), int64(len(data)), int64(sub), data)
	case bool:
		return append(t, int64(tagBool), x)
	case time.Time:
		return append(t, int64(tagDate), x.UnixMilli())
	}
	panic(fmt.Sprintf("docstore: appendValueKey of %T", v)) // normalised values only
}

// appendPayload appends the key form of v without its tag.
func appendPayload(t tuple.Tuple, v any) tuple.Tuple {
	n := len(t)
	t = appendValueKey(t, v)
	return append(t[:n], t[n+1:]...)
}

// ID is a document's _id in the form the store keeps: a string, an int64, a uuid.UUID or a
// []byte. IDs order as MongoDB orders those types: integers, then strings, then binary data
// (UUIDs are binary of length 16).
type ID = any

// normalizeID returns the stored form of an _id, or ErrInvalidID.
func normalizeID(v any) (any, error) {
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

// idElems returns the key elements of a normalised _id.
func idElems(id any) tuple.Tuple { return appendValueKey(make(tuple.Tuple, 0, 4), id) }

// decodeIDElems reads an _id from the front of key elements and returns the rest.
func decodeIDElems(t tuple.Tuple) (any, tuple.Tuple, error) {
	if len(t) == 0 {
		return nil, nil, fmt.Errorf("docstore: key has no _id: %w", ErrCorrupt)
	}
	tag, _ := t[0].(int64)
	switch tag {
	case tagNumber:
		if len(t) >= 3 {
			f, ok1 := t[1].(float64)
			r, ok2 := t[2].(int64)
			if ok1 && ok2 && f == float64(int64(f)) && f < 1<<63 && f >= -(1<<63) {
				return int64(f) + r, t[3:], nil
			}
		}
	case tagString:
		if len(t) >= 2 {
			if s, ok := t[1].(string); ok {
				return s, t[2:], nil
			}
		}
	case tagBinary:
		if len(t) >= 4 {
			n, ok1 := t[1].(int64)
			sub, ok2 := t[2].(int64)
			data, ok3 := t[3].([]byte)
			if ok1 && ok2 && ok3 && int(n) == len(data) {
				switch {
				case sub == 0:
					return data, t[4:], nil
				case sub == binarySubtypeUUID && len(data) == 16:
					return uuid.UUID(data), t[4:], nil
				}
			}
		}
	}
	return nil, nil, fmt.Errorf("docstore: key elements %v do not start with an _id: %w", t, ErrCorrupt)
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
