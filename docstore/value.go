package docstore

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/layerkit/layerkit/tuple"
)

// M is a document, filter, update or projection written as a Go value:
//
//	docstore.M{"name": "Ada", "age": docstore.M{"$gt": 30}}
type M = map[string]any

// A is an array inside an M.
type A = []any

// The values a stored document holds, after normalisation:
//
//	nil            null
//	int64          integer (every Go integer type that fits int64)
//	float64        floating-point number (float32 is widened; NaN and infinities are refused)
//	string         string (valid UTF-8)
//	map[string]any object
//	[]any          array
//	[]byte         binary data (subtype 0)
//	uuid.UUID      binary data of subtype 4 (github.com/google/uuid; tuple.UUID is accepted too)
//	bool           boolean
//	time.Time      date, in UTC with millisecond precision (MongoDB's)
//
// Type tags order values of different types as MongoDB does (null < numbers < strings < objects <
// arrays < binary < booleans < dates); the numbers are the FoundationDB Document Layer's type
// codes. tagUndefined is the sort and index key of an empty array, which MongoDB orders before
// null.
const (
	tagUndefined = 15
	tagNull      = 20
	tagNumber    = 30
	tagString    = 40
	tagObject    = 50
	tagArray     = 60
	tagBinary    = 70
	tagBool      = 90
	tagDate      = 100
)

// Limits of a document.
const (
	// MaxDocumentSize is the largest encoded document, 16 MiB as in MongoDB. A document is
	// measured as the bytes of its field keys and values.
	MaxDocumentSize = 16 << 20
	// MaxDepth is the deepest nesting of objects and arrays a document may have (MongoDB's 100).
	MaxDepth = 100
)

// binarySubtypeUUID is BSON's binary subtype of UUIDs.
const binarySubtypeUUID = 4

// typeTag returns the tag of a normalised value.
func typeTag(v any) int {
	switch v.(type) {
	case nil:
		return tagNull
	case undefined:
		return tagUndefined
	case int64, float64:
		return tagNumber
	case string:
		return tagString
	case map[string]any:
		return tagObject
	case []any:
		return tagArray
	case []byte, uuid.UUID:
		return tagBinary
	case bool:
		return tagBool
	case time.Time:
		return tagDate
	}
	return tagNull
}

// typeName names the type of a normalised value, as $type does.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case int64:
		return "long"
	case float64:
		return "double"
	case string:
		return "string"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case []byte, uuid.UUID:
		return "binData"
	case bool:
		return "bool"
	case time.Time:
		return "date"
	}
	return fmt.Sprintf("%T", v)
}

// valueError is a problem with a value at a path of a document, filter or update.
func valueError(path, format string, args ...any) error {
	if path == "" {
		path = "(document)"
	}
	return fmt.Errorf("docstore: %s: %s: %w", path, fmt.Sprintf(format, args...), ErrInvalidDocument)
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// normalizer turns Go values and decoded JSON into the stored value types. dataNames makes it
// check object field names as document field names ('$' at the start and '.' are refused).
type normalizer struct {
	dataNames bool
}

// normalize returns the stored form of v. It never keeps references to v's maps or slices.
func normalize(v any, path string) (any, error) {
	return normalizer{dataNames: true}.value(v, path, 0)
}

func (n normalizer) value(v any, path string, depth int) (any, error) {
	if depth > MaxDepth {
		return nil, valueError(path, "nested more than %d levels", MaxDepth)
	}
	// A value already in its stored form is returned as the interface it came in, which costs
	// no new allocation.
	switch x := v.(type) {
	case nil:
		return nil, nil
	case bool:
		return v, nil
	case string:
		if !utf8.ValidString(x) {
			return nil, valueError(path, "string is not valid UTF-8")
		}
		return v, nil
	case int:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int64:
		return v, nil
	case uint:
		return uintValue(uint64(x), path)
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint64:
		return uintValue(x, path)
	case float32:
		return floatValue(float64(x), path)
	case float64:
		if x != 0 && !math.IsNaN(x) && !math.IsInf(x, 0) {
			return v, nil
		}
		return floatValue(x, path)
	case json.Number:
		return numberValue(string(x), path)
	case []byte:
		return bytes.Clone(x), nil
	case uuid.UUID:
		return v, nil
	case tuple.UUID:
		return uuid.UUID(x), nil
	case time.Time:
		if d := dateValue(x); d != x {
			return d, nil
		}
		return v, nil
	case Date:
		return dateValue(x.Time), nil
	case *Date:
		if x == nil {
			return nil, nil
		}
		return dateValue(x.Time), nil
	case map[string]any:
		return n.object(x, path, depth)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			var err error
			if out[i], err = n.value(e, joinPath(path, strconv.Itoa(i)), depth+1); err != nil {
				return nil, err
			}
		}
		return out, nil
	case json.RawMessage:
		d, err := decodeJSON(x, path)
		if err != nil {
			return nil, err
		}
		return n.value(d, path, depth)
	case *Document:
		if x == nil {
			return nil, nil
		}
		return cloneValue(x.fields), nil
	}
	return n.reflected(v, path, depth)
}

// reflected handles the Go values without a case of their own: slices, arrays and maps of other
// element types element by element, named basic types by their kind, and anything else (structs,
// types with a MarshalJSON) through encoding/json, so that json tags apply.
func (n normalizer) reflected(v any, path string, depth int) (any, error) {
	rv := reflect.ValueOf(v)
	if _, ok := v.(json.Marshaler); ok {
		return n.viaJSON(v, path, depth)
	}
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil, nil
		}
		return n.value(rv.Elem().Interface(), path, depth)
	case reflect.Slice:
		if rv.IsNil() {
			return nil, nil
		}
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return bytes.Clone(rv.Bytes()), nil
		}
		fallthrough
	case reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			var err error
			if out[i], err = n.value(rv.Index(i).Interface(), joinPath(path, strconv.Itoa(i)), depth+1); err != nil {
				return nil, err
			}
		}
		return out, nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return nil, valueError(path, "map key type %s is not a string kind", rv.Type().Key())
		}
		if rv.IsNil() {
			return nil, nil
		}
		m := make(map[string]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			m[it.Key().String()] = it.Value().Interface()
		}
		return n.object(m, path, depth)
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.String:
		return n.value(rv.String(), path, depth)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return uintValue(rv.Uint(), path)
	case reflect.Float32, reflect.Float64:
		return floatValue(rv.Float(), path)
	case reflect.Struct:
		return n.viaJSON(v, path, depth)
	}
	return nil, valueError(path, "a Go %T cannot be stored", v)
}

func (n normalizer) viaJSON(v any, path string, depth int) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, valueError(path, "encode %T as JSON: %v", v, err)
	}
	d, err := decodeJSON(raw, path)
	if err != nil {
		return nil, err
	}
	return n.value(d, path, depth)
}

func (n normalizer) object(x map[string]any, path string, depth int) (any, error) {
	if len(x) == 1 {
		for k, e := range x {
			if strings.HasPrefix(k, "$") {
				if v, ok, err := extendedJSON(k, e, path); ok || err != nil {
					return v, err
				}
			}
		}
	}
	out := make(map[string]any, len(x))
	for k, e := range x {
		p := joinPath(path, k)
		if n.dataNames {
			if err := checkFieldName(k, path); err != nil {
				return nil, err
			}
		}
		var err error
		if out[k], err = n.value(e, p, depth+1); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// checkFieldName refuses names that could not be addressed by a dotted path or that MongoDB
// reserves for operators.
func checkFieldName(name, path string) error {
	switch {
	case strings.HasPrefix(name, "$"):
		return valueError(joinPath(path, name), "field names must not start with '$'")
	case strings.Contains(name, "."):
		return valueError(joinPath(path, name), "field names must not contain '.'")
	case !utf8.ValidString(name):
		return valueError(path, "field name %q is not valid UTF-8", name)
	}
	return nil
}

func uintValue(u uint64, path string) (any, error) {
	if u > math.MaxInt64 {
		return nil, valueError(path, "integer %d does not fit a signed 64-bit integer", u)
	}
	return int64(u), nil
}

func floatValue(f float64, path string) (any, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, valueError(path, "%v is not a JSON number", f)
	}
	if f == 0 {
		f = 0 // -0 is stored as 0: they compare equal
	}
	return f, nil
}

// numberValue reads a JSON number: a literal without fraction or exponent that fits int64 is an
// integer, anything else a float64.
func numberValue(s, path string) (any, error) {
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return nil, valueError(path, "number %s is out of the range of a float64", s)
		}
		return nil, valueError(path, "number %q: %v", s, err)
	}
	return floatValue(f, path)
}

func dateValue(t time.Time) time.Time {
	return time.UnixMilli(t.UnixMilli()).UTC()
}

// transform rebuilds a value's objects and arrays, with leaf applied to every other value.
func transform(v any, leaf func(any) any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = transform(e, leaf)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = transform(e, leaf)
		}
		return out
	}
	return leaf(v)
}

// cloneValue deep-copies a normalised value.
func cloneValue(v any) any {
	return transform(v, func(v any) any {
		if b, ok := v.([]byte); ok {
			return bytes.Clone(b)
		}
		return v
	})
}

// compareValues orders two normalised values as MongoDB does: by type tag, then within the type.
// Integers and floats compare by exact value. Objects compare field by field in field-name order
// (type, then name, then value); arrays element by element; shorter first.
func compareValues(a, b any) int {
	ta, tb := typeTag(a), typeTag(b)
	if ta != tb {
		return cmp.Compare(ta, tb)
	}
	switch x := a.(type) {
	case nil, undefined:
		return 0
	case int64, float64:
		return compareNumbers(a, b)
	case string:
		return strings.Compare(x, b.(string))
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case time.Time:
		return cmp.Compare(x.UnixMilli(), b.(time.Time).UnixMilli())
	case []byte, uuid.UUID:
		return compareBinary(a, b)
	case map[string]any:
		return compareObjects(x, b.(map[string]any))
	case []any:
		y := b.([]any)
		for i := 0; i < len(x) && i < len(y); i++ {
			if c := compareValues(x[i], y[i]); c != 0 {
				return c
			}
		}
		return cmp.Compare(len(x), len(y))
	}
	return 0
}

func compareObjects(x, y map[string]any) int {
	kx, ky := sortedKeys(x), sortedKeys(y)
	for i := 0; i < len(kx) && i < len(ky); i++ {
		vx, vy := x[kx[i]], y[ky[i]]
		if c := cmp.Compare(typeTag(vx), typeTag(vy)); c != 0 {
			return c
		}
		if c := strings.Compare(kx[i], ky[i]); c != 0 {
			return c
		}
		if c := compareValues(vx, vy); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(kx), len(ky))
}

// binaryParts returns the subtype and bytes of a binary value.
func binaryParts(v any) (byte, []byte) {
	if u, ok := v.(uuid.UUID); ok {
		return binarySubtypeUUID, u[:]
	}
	return 0, v.([]byte)
}

// compareBinary orders binary data as MongoDB does: by length, then subtype, then bytes.
func compareBinary(a, b any) int {
	sa, da := binaryParts(a)
	sb, db := binaryParts(b)
	if c := cmp.Compare(len(da), len(db)); c != 0 {
		return c
	}
	if c := cmp.Compare(int(sa), int(sb)); c != 0 {
		return c
	}
	return bytes.Compare(da, db)
}

// numberParts splits a number into a float64 and a non-negative integer remainder whose exact sum
// is the number: the float is the number itself for floats, and for integers the largest float64
// not above it. Comparing (float, remainder) pairs lexicographically orders integers and floats
// together exactly; equal numbers (3 and 3.0) give equal pairs.
func numberParts(v any) (float64, int64) {
	switch x := v.(type) {
	case float64:
		if x == 0 {
			return 0, 0
		}
		return x, 0
	case int64:
		f := float64(x)
		if f >= 1<<63 {
			f = math.Nextafter(1<<63, 0) // 2^63 does not fit int64; the float below it does
		}
		for int64(f) > x {
			f = math.Nextafter(f, math.Inf(-1))
		}
		return f, x - int64(f)
	}
	return 0, 0
}

func compareNumbers(a, b any) int {
	if x, ok := a.(int64); ok {
		if y, ok := b.(int64); ok {
			return cmp.Compare(x, y)
		}
	}
	if x, ok := a.(float64); ok {
		if y, ok := b.(float64); ok {
			return cmp.Compare(x, y)
		}
	}
	fa, ra := numberParts(a)
	fb, rb := numberParts(b)
	if c := cmp.Compare(fa, fb); c != 0 {
		return c
	}
	return cmp.Compare(ra, rb)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// equalValues reports whether two normalised values compare equal.
func equalValues(a, b any) bool { return compareValues(a, b) == 0 }

// sameValue reports whether two normalised values are identical, types included (3 and 3.0 are
// equal values but not the same stored value).
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case int64:
		y, ok := b.(int64)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, e := range x {
			f, ok := y[k]
			if !ok || !sameValue(e, f) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case uuid.UUID:
		y, ok := b.(uuid.UUID)
		return ok && x == y
	}
	return false
}

// Compare orders two values as MongoDB does, and as indexes and sorts of this package do: by
// type (null < numbers < strings < objects < arrays < binary data < booleans < dates), then
// within the type; integers and floats by exact value. It returns -1, 0 or +1, or an error for
// a value that cannot be stored.
func Compare(a, b any) (int, error) {
	x, err := normalize(a, "")
	if err != nil {
		return 0, err
	}
	y, err := normalize(b, "")
	if err != nil {
		return 0, err
	}
	return compareValues(x, y), nil
}
