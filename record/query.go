package record

import (
	"bytes"
	"fmt"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/layerkit/layerkit/tuple"
)

// Query asks for the records of some types that match a filter, in an order. The zero value asks
// for every record in primary-key order.
type Query struct {
	// RecordTypes are the types to return; empty means every type.
	RecordTypes []string
	// Filter selects records; nil matches all.
	Filter Filter
	// Sort orders the results by a key expression of single-valued fields (Field, Nest,
	// Concat); nil means the order of the chosen scan (primary key order for a record scan).
	Sort KeyExpression
	// Reverse sorts in descending order (without Sort: the chosen scan's order, backwards).
	Reverse bool
	// InMemorySortLimit allows a sort that no index provides: up to this many matching records
	// are read and sorted in memory (more fail with ErrSortBoundExceeded). Zero refuses such a
	// sort with ErrSortNotSupported.
	InMemorySortLimit int
	// RequiredFields are the fields the caller will read (Field or Nest of single fields).
	// When an index's entries hold all of them (in its values or in the primary key), with the
	// fields of the filter it leaves and of an in-memory sort, the plan reads only that index
	// and returns partial records (Record.Partial) holding just those fields, without loading
	// the records: a covering plan. Nil means the whole record.
	RequiredFields []KeyExpression
}

// Filter is a predicate on records. Filters are immutable values, safe for concurrent use.
// Build them with [Where], [WhereAny], [Nested], [And], [Or] and [Not].
type Filter interface {
	// String prints the filter, as Explain does.
	String() string

	eval(m protoreflect.Message) (bool, error)
	check(md protoreflect.MessageDescriptor) error
}

type compOp int

const (
	opEq compOp = iota
	opNe
	opLt
	opLe
	opGt
	opGe
	opStartsWith
	opIsNull
	opNotNull
	opIn
)

var opNames = [...]string{"==", "!=", "<", "<=", ">", ">=", "startsWith", "is null", "is not null", "in"}

// FieldRef names a field in a filter; its methods make the comparisons. Made by [Where] and
// [WhereAny].
type FieldRef struct {
	name string
	any  bool
}

// Where refers to a single (non-repeated) field of the record.
func Where(field string) FieldRef { return FieldRef{name: field} }

// WhereAny refers to a repeated field: the comparison holds when it holds for at least one
// element ("one of them").
func WhereAny(field string) FieldRef { return FieldRef{name: field, any: true} }

func (f FieldRef) cmp(op compOp, vals ...any) Filter {
	return &compareFilter{field: f.name, any: f.any, op: op, values: vals}
}

// Equals holds when the field equals v.
func (f FieldRef) Equals(v any) Filter { return f.cmp(opEq, v) }

// NotEquals holds when the field is set and differs from v.
func (f FieldRef) NotEquals(v any) Filter { return f.cmp(opNe, v) }

// LessThan holds when the field is set and below v.
func (f FieldRef) LessThan(v any) Filter { return f.cmp(opLt, v) }

// LessOrEqual holds when the field is set and at most v.
func (f FieldRef) LessOrEqual(v any) Filter { return f.cmp(opLe, v) }

// GreaterThan holds when the field is above v.
func (f FieldRef) GreaterThan(v any) Filter { return f.cmp(opGt, v) }

// GreaterOrEqual holds when the field is at least v.
func (f FieldRef) GreaterOrEqual(v any) Filter { return f.cmp(opGe, v) }

// StartsWith holds when a string (or bytes) field starts with prefix.
func (f FieldRef) StartsWith(prefix any) Filter { return f.cmp(opStartsWith, prefix) }

// IsNull holds when the field is unset (only fields with presence can be unset).
func (f FieldRef) IsNull() Filter { return f.cmp(opIsNull) }

// NotNull holds when the field is set.
func (f FieldRef) NotNull() Filter { return f.cmp(opNotNull) }

// In holds when the field equals one of values.
func (f FieldRef) In(values ...any) Filter { return f.cmp(opIn, values...) }

type compareFilter struct {
	field  string
	any    bool
	op     compOp
	values []any
}

func (c *compareFilter) key() string {
	if c.any {
		return c.field + "[*]"
	}
	return c.field
}

func (c *compareFilter) String() string {
	switch c.op {
	case opIsNull, opNotNull:
		return c.key() + " " + opNames[c.op]
	case opIn:
		parts := make([]string, len(c.values))
		for i, v := range c.values {
			parts[i] = formatValue(v)
		}
		return c.key() + " in (" + strings.Join(parts, ", ") + ")"
	}
	return c.key() + " " + opNames[c.op] + " " + formatValue(c.values[0])
}

func formatValue(v any) string {
	s := tuple.Tuple{v}.String()
	return s[1 : len(s)-1]
}

func (c *compareFilter) check(md protoreflect.MessageDescriptor) error {
	fd, err := lookupField(md, c.field)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidQuery, err)
	}
	if fd.IsMap() {
		return fmt.Errorf("record: filter on field %q of %s: maps cannot be filtered: %w", c.field, md.Name(), ErrInvalidQuery)
	}
	if c.any != fd.IsList() {
		if c.any {
			return fmt.Errorf("record: filter on field %q of %s: WhereAny needs a repeated field: %w", c.field, md.Name(), ErrInvalidQuery)
		}
		return fmt.Errorf("record: filter on field %q of %s: the field is repeated, use WhereAny: %w", c.field, md.Name(), ErrInvalidQuery)
	}
	if fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind {
		return fmt.Errorf("record: filter on field %q of %s: a message field needs Nested: %w", c.field, md.Name(), ErrInvalidQuery)
	}
	want := 1
	switch c.op {
	case opIsNull, opNotNull:
		want = 0
		if c.any {
			return fmt.Errorf("record: filter %s on %s: field %q is repeated, so it is never null: %w", c, md.Name(), c.field, ErrInvalidQuery)
		}
	case opIn:
		want = -1
	case opStartsWith:
		if fd.Kind() != protoreflect.StringKind && fd.Kind() != protoreflect.BytesKind {
			return fmt.Errorf("record: filter %s on %s: startsWith needs a string or bytes field, %q is %v: %w", c, md.Name(), c.field, fd.Kind(), ErrInvalidQuery)
		}
	}
	if want >= 0 && len(c.values) != want {
		return fmt.Errorf("record: filter on field %q of %s: %s takes %d values, got %d: %w", c.field, md.Name(), opNames[c.op], want, len(c.values), ErrInvalidQuery)
	}
	for _, v := range c.values {
		if _, err := comparand(fd, v); err != nil {
			return err
		}
	}
	return nil
}

// comparand converts a filter value to the tuple element a field of fd's kind yields, or says
// why it cannot be compared with the field.
func comparand(fd protoreflect.FieldDescriptor, v any) (any, error) {
	bad := func() (any, error) {
		return nil, fmt.Errorf("record: filter on field %q of %s: want %s, got %T: %w", fd.Name(), fd.ContainingMessage().Name(), kindName(fd), v, ErrInvalidQuery)
	}
	switch fd.Kind() {
	case protoreflect.BoolKind:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case protoreflect.StringKind:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case protoreflect.BytesKind:
		if b, ok := v.([]byte); ok {
			return b, nil
		}
	case protoreflect.FloatKind:
		switch x := v.(type) {
		case float32:
			return x, nil
		case float64:
			return float32(x), nil
		}
	case protoreflect.DoubleKind:
		switch x := v.(type) {
		case float32:
			return float64(x), nil
		case float64:
			return x, nil
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return bad()
	default: // every integer kind and enums
		switch x := v.(type) {
		case int:
			return int64(x), nil
		case int8:
			return int64(x), nil
		case int16:
			return int64(x), nil
		case int32:
			return int64(x), nil
		case int64:
			return x, nil
		case uint:
			return int64(x), nil
		case uint8:
			return int64(x), nil
		case uint16:
			return int64(x), nil
		case uint32:
			return int64(x), nil
		case uint64:
			return exactUint(x), nil
		case protoreflect.EnumNumber:
			return int64(x), nil
		case protoreflect.Enum:
			return int64(x.Number()), nil
		}
	}
	return bad()
}

func kindName(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return "bool"
	case protoreflect.StringKind:
		return "string"
	case protoreflect.BytesKind:
		return "[]byte"
	case protoreflect.FloatKind:
		return "float32"
	case protoreflect.DoubleKind:
		return "float64"
	case protoreflect.EnumKind:
		return "int64 (enum number)"
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return "a nested filter"
	}
	return "int64"
}

func (c *compareFilter) eval(m protoreflect.Message) (bool, error) {
	fd, err := lookupField(m.Descriptor(), c.field)
	if err != nil {
		return false, err
	}
	if c.any {
		list := m.Get(fd).List()
		for i := 0; i < list.Len(); i++ {
			v, err := scalarValue(fd, list.Get(i))
			if err != nil {
				return false, err
			}
			ok, err := c.test(fd, v)
			if ok || err != nil {
				return ok, err
			}
		}
		return false, nil
	}
	// A field the message does not have is null, a proto3 field at its default value included,
	// as in the Java Record Layer's queries (MessageHelpers.getFieldOnMessage) and as Field
	// indexes it.
	var v any
	if m.Has(fd) {
		if v, err = scalarValue(fd, m.Get(fd)); err != nil {
			return false, err
		}
	}
	return c.test(fd, v)
}

// test applies the comparison to one field value (nil when unset). Comparisons with an unset
// field are false, as in the Java Record Layer, except is-null.
func (c *compareFilter) test(fd protoreflect.FieldDescriptor, v any) (bool, error) {
	switch c.op {
	case opIsNull:
		return v == nil, nil
	case opNotNull:
		return v != nil, nil
	}
	if v == nil {
		return false, nil
	}
	if c.op == opIn {
		for _, x := range c.values {
			w, err := comparand(fd, x)
			if err != nil {
				return false, err
			}
			if compareValues(v, w) == 0 {
				return true, nil
			}
		}
		return false, nil
	}
	w, err := comparand(fd, c.values[0])
	if err != nil {
		return false, err
	}
	switch c.op {
	case opStartsWith:
		switch x := v.(type) {
		case string:
			return strings.HasPrefix(x, w.(string)), nil
		case []byte:
			return bytes.HasPrefix(x, w.([]byte)), nil
		}
		return false, nil
	}
	r := compareValues(v, w)
	switch c.op {
	case opEq:
		return r == 0, nil
	case opNe:
		return r != 0, nil
	case opLt:
		return r < 0, nil
	case opLe:
		return r <= 0, nil
	case opGt:
		return r > 0, nil
	case opGe:
		return r >= 0, nil
	}
	return false, fmt.Errorf("record: unknown comparison %d", c.op)
}

// compareValues orders two field values as their tuple encodings do, so filters agree with index
// range scans (NaN included).
func compareValues(a, b any) int {
	return tuple.Compare(tuple.Tuple{a}, tuple.Tuple{b})
}

type nestedFilter struct {
	parent string
	child  Filter
}

// Nested applies child to the message held by the (non-repeated) message field parent; it is
// false when parent is unset.
func Nested(parent string, child Filter) Filter { return &nestedFilter{parent: parent, child: child} }

func (n *nestedFilter) String() string { return n.parent + ".{" + n.child.String() + "}" }

func (n *nestedFilter) check(md protoreflect.MessageDescriptor) error {
	fd, err := lookupField(md, n.parent)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidQuery, err)
	}
	if fd.Kind() != protoreflect.MessageKind || fd.IsList() || fd.IsMap() {
		return fmt.Errorf("record: nested filter on field %q of %s: want a singular message field: %w", n.parent, md.Name(), ErrInvalidQuery)
	}
	if n.child == nil {
		return fmt.Errorf("record: nested filter on field %q of %s has no child: %w", n.parent, md.Name(), ErrInvalidQuery)
	}
	return n.child.check(fd.Message())
}

func (n *nestedFilter) eval(m protoreflect.Message) (bool, error) {
	fd, err := lookupField(m.Descriptor(), n.parent)
	if err != nil {
		return false, err
	}
	if !m.Has(fd) {
		return false, nil
	}
	return n.child.eval(m.Get(fd).Message())
}

type andFilter struct{ children []Filter }
type orFilter struct{ children []Filter }
type notFilter struct{ child Filter }

// And holds when every filter holds (true for none).
func And(filters ...Filter) Filter { return &andFilter{children: append([]Filter(nil), filters...)} }

// Or holds when at least one filter holds (false for none).
func Or(filters ...Filter) Filter { return &orFilter{children: append([]Filter(nil), filters...)} }

// Not holds when f does not.
func Not(f Filter) Filter { return &notFilter{child: f} }

func joinFilters(fs []Filter, sep string) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = f.String()
	}
	return "(" + strings.Join(parts, sep) + ")"
}

func (a *andFilter) String() string { return joinFilters(a.children, " && ") }
func (o *orFilter) String() string  { return joinFilters(o.children, " || ") }
func (n *notFilter) String() string { return "!" + n.child.String() }

func checkAll(md protoreflect.MessageDescriptor, fs []Filter) error {
	for _, f := range fs {
		if f == nil {
			return fmt.Errorf("record: nil filter on %s: %w", md.Name(), ErrInvalidQuery)
		}
		if err := f.check(md); err != nil {
			return err
		}
	}
	return nil
}

func (a *andFilter) check(md protoreflect.MessageDescriptor) error { return checkAll(md, a.children) }
func (o *orFilter) check(md protoreflect.MessageDescriptor) error  { return checkAll(md, o.children) }
func (n *notFilter) check(md protoreflect.MessageDescriptor) error {
	return checkAll(md, []Filter{n.child})
}

func (a *andFilter) eval(m protoreflect.Message) (bool, error) {
	for _, f := range a.children {
		ok, err := f.eval(m)
		if !ok || err != nil {
			return false, err
		}
	}
	return true, nil
}

func (o *orFilter) eval(m protoreflect.Message) (bool, error) {
	for _, f := range o.children {
		ok, err := f.eval(m)
		if ok || err != nil {
			return ok, err
		}
	}
	return false, nil
}

func (n *notFilter) eval(m protoreflect.Message) (bool, error) {
	ok, err := n.child.eval(m)
	return !ok && err == nil, err
}
