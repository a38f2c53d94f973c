package record

import (
	"fmt"
	"math"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/layerkit/layerkit/tuple"
)

// KeyExpression describes how to compute key tuples from a record: the primary key of a record
// type, or the indexed values of an index. It is evaluated with protoreflect, so it works on any
// generated message. An expression yields a list of keys, each with the same number of columns
// (ColumnCount); fan-out over a repeated field yields one key per element, or none for an empty
// list.
//
// Key expressions are immutable values, safe for concurrent use. Build them with [Field],
// [FanOut], [Concatenate], [Nest], [NestFanOut], [Concat] and [RecordTypeKey].
type KeyExpression interface {
	// ColumnCount is the number of tuple elements in each key the expression yields.
	ColumnCount() int
	// String prints the expression, such as concat(branch, shelf, id).
	String() string

	// evaluate returns the keys for m, a message of the record type rt.
	evaluate(m protoreflect.Message, rt *RecordType) ([]tuple.Tuple, error)
	// check validates the expression against the message descriptor it will be evaluated on.
	check(md protoreflect.MessageDescriptor) error
	// fansOut reports whether the expression can yield more or fewer than one key.
	fansOut() bool
	// flatten appends the single-column parts of the expression, in column order.
	flatten(dst []KeyExpression) []KeyExpression
}

// FanType says how a field expression treats a repeated field.
type FanType int

const (
	// Scalar reads a single (non-repeated) field.
	Scalar FanType = iota
	// FanOutType reads a repeated field and yields one key per element.
	FanOutType
	// ConcatenateType reads a repeated field as one nested tuple of all its elements.
	ConcatenateType
)

type fieldExpr struct {
	name    string
	fan     FanType
	notNull bool
}

// Field is the value of a single (non-repeated) field of the record. As in the Java Record Layer
// (Key.Expressions.field, null standin NULL), a field the message does not have is a null
// element: an unset proto2 or proto3 optional field, and also a proto3 field without presence
// that holds its type's default value (0, "", false, the first enum value), since protobuf
// cannot tell that from unset. Use [FieldNotNull] to store the default value instead.
func Field(name string) KeyExpression { return fieldExpr{name: name, fan: Scalar} }

// FieldNotNull is [Field] with the Java Record Layer's null standin NOT_NULL: a field the
// message does not have evaluates to its type's default value, never to null. It suits proto3
// fields whose default value is meaningful (a shelf numbered 0). An index or primary key built
// with it is a different expression from one built with Field, as in Java.
func FieldNotNull(name string) KeyExpression {
	return fieldExpr{name: name, fan: Scalar, notNull: true}
}

// FanOut is a repeated field, yielding one key per element (none for an empty list).
func FanOut(name string) KeyExpression { return fieldExpr{name: name, fan: FanOutType} }

// Concatenate is a repeated field as one key whose single column is a nested tuple of all the
// elements.
func Concatenate(name string) KeyExpression { return fieldExpr{name: name, fan: ConcatenateType} }

func (f fieldExpr) ColumnCount() int { return 1 }

func (f fieldExpr) String() string {
	switch {
	case f.fan == FanOutType:
		return f.name + "[*]"
	case f.fan == ConcatenateType:
		return f.name + "[]"
	case f.notNull:
		return f.name + "!"
	}
	return f.name
}

func (f fieldExpr) fansOut() bool { return f.fan == FanOutType }

func (f fieldExpr) flatten(dst []KeyExpression) []KeyExpression { return append(dst, f) }

func (f fieldExpr) check(md protoreflect.MessageDescriptor) error {
	fd, err := lookupField(md, f.name)
	if err != nil {
		return err
	}
	if fd.IsMap() {
		return fmt.Errorf("record: field %q of %s is a map, which key expressions do not support", f.name, md.Name())
	}
	switch {
	case f.fan == Scalar && fd.IsList():
		return fmt.Errorf("record: field %q of %s is repeated: use FanOut or Concatenate", f.name, md.Name())
	case f.fan != Scalar && !fd.IsList():
		return fmt.Errorf("record: field %q of %s is not repeated: use Field", f.name, md.Name())
	}
	if fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind {
		return fmt.Errorf("record: field %q of %s is a message (%s): use Nest to index its fields", f.name, md.Name(), fd.Message().Name())
	}
	return nil
}

func lookupField(md protoreflect.MessageDescriptor, name string) (protoreflect.FieldDescriptor, error) {
	fd := md.Fields().ByName(protoreflect.Name(name))
	if fd == nil {
		return nil, fmt.Errorf("record: %s has no field %q", md.Name(), name)
	}
	return fd, nil
}

// evaluate yields the field's keys for m; a nil m is the absent message of an unset parent
// (Java's evaluation on a null message): a scalar is null, a fan-out yields no key. So is a
// message without the field, as Java evaluates it (a record count key on several types).
func (f fieldExpr) evaluate(m protoreflect.Message, _ *RecordType) ([]tuple.Tuple, error) {
	if m != nil && m.Descriptor().Fields().ByName(protoreflect.Name(f.name)) == nil {
		m = nil
	}
	if m == nil {
		switch f.fan {
		case FanOutType:
			return nil, nil
		case ConcatenateType:
			if f.notNull {
				return []tuple.Tuple{{tuple.Tuple{}}}, nil
			}
		}
		return []tuple.Tuple{{nil}}, nil
	}
	fd, err := lookupField(m.Descriptor(), f.name)
	if err != nil {
		return nil, err
	}
	switch f.fan {
	case FanOutType:
		list := m.Get(fd).List()
		out := make([]tuple.Tuple, 0, list.Len())
		for i := 0; i < list.Len(); i++ {
			v, err := scalarValue(fd, list.Get(i))
			if err != nil {
				return nil, err
			}
			out = append(out, tuple.Tuple{v})
		}
		return out, nil
	case ConcatenateType:
		list := m.Get(fd).List()
		nested := make(tuple.Tuple, 0, list.Len())
		for i := 0; i < list.Len(); i++ {
			v, err := scalarValue(fd, list.Get(i))
			if err != nil {
				return nil, err
			}
			nested = append(nested, v)
		}
		return []tuple.Tuple{{nested}}, nil
	}
	if fd.IsList() {
		return nil, fmt.Errorf("record: field %q of %s is repeated: use FanOut or Concatenate", f.name, m.Descriptor().Name())
	}
	v, err := f.scalar(fd, m)
	if err != nil {
		return nil, err
	}
	return []tuple.Tuple{{v}}, nil
}

// scalar is the element of a single field: null when the message does not have it, unless the
// expression is NOT_NULL.
func (f fieldExpr) scalar(fd protoreflect.FieldDescriptor, m protoreflect.Message) (any, error) {
	if !f.notNull && !m.Has(fd) {
		return nil, nil
	}
	return scalarValue(fd, m.Get(fd))
}

// scalarValue converts a protobuf field value to the tuple element the Java Record Layer would
// store for it: every signed integer kind is a 64-bit integer and enums are their numbers.
// Unsigned kinds, which Java refuses and metadata accepts only when asked to
// (MetaDataBuilder.AllowUnsignedFields), keep their exact value: nothing wraps.
func scalarValue(fd protoreflect.FieldDescriptor, v protoreflect.Value) (any, error) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return v.Bool(), nil
	case protoreflect.EnumKind:
		return int64(v.Enum()), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return v.Int(), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return int64(v.Uint()), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return exactUint(v.Uint()), nil
	case protoreflect.FloatKind:
		return float32(v.Float()), nil
	case protoreflect.DoubleKind:
		return v.Float(), nil
	case protoreflect.StringKind:
		return v.String(), nil
	case protoreflect.BytesKind:
		return append([]byte(nil), v.Bytes()...), nil
	}
	return nil, fmt.Errorf("record: field %q of %s has kind %v, which key expressions do not support", fd.Name(), fd.ContainingMessage().Name(), fd.Kind())
}

// exactUint is u as a tuple integer: an int64 when it fits, so that equal values always pack
// and compare alike, else the uint64 itself.
func exactUint(u uint64) any {
	if u <= math.MaxInt64 {
		return int64(u)
	}
	return u
}

type nestExpr struct {
	parent string
	fan    FanType // Scalar or FanOutType
	child  KeyExpression
}

// Nest evaluates child on the message held by the (non-repeated) message field parent. When
// parent is unset, child is evaluated on an absent message, as in the Java Record Layer: its
// fields are null and its fan-outs yield no key (so no entry at all).
func Nest(parent string, child KeyExpression) KeyExpression {
	return nestExpr{parent: parent, fan: Scalar, child: child}
}

// NestFanOut evaluates child on each message of the repeated message field parent, yielding the
// keys of every element (none for an empty list).
func NestFanOut(parent string, child KeyExpression) KeyExpression {
	return nestExpr{parent: parent, fan: FanOutType, child: child}
}

func (n nestExpr) ColumnCount() int { return n.child.ColumnCount() }

func (n nestExpr) String() string {
	p := n.parent
	if n.fan == FanOutType {
		p += "[*]"
	}
	return p + "." + n.child.String()
}

func (n nestExpr) fansOut() bool { return n.fan == FanOutType || n.child.fansOut() }

func (n nestExpr) flatten(dst []KeyExpression) []KeyExpression {
	for _, c := range n.child.flatten(nil) {
		dst = append(dst, nestExpr{parent: n.parent, fan: n.fan, child: c})
	}
	return dst
}

func (n nestExpr) check(md protoreflect.MessageDescriptor) error {
	fd, err := lookupField(md, n.parent)
	if err != nil {
		return err
	}
	if fd.Kind() != protoreflect.MessageKind || fd.IsMap() {
		return fmt.Errorf("record: field %q of %s is not a message field, so it cannot be nested into", n.parent, md.Name())
	}
	if n.fan == Scalar && fd.IsList() {
		return fmt.Errorf("record: field %q of %s is repeated: use NestFanOut", n.parent, md.Name())
	}
	if n.fan == FanOutType && !fd.IsList() {
		return fmt.Errorf("record: field %q of %s is not repeated: use Nest", n.parent, md.Name())
	}
	if n.child == nil {
		return fmt.Errorf("record: nesting into field %q of %s has no child expression", n.parent, md.Name())
	}
	if _, ok := n.child.(recordTypeExpr); ok {
		return fmt.Errorf("record: RecordTypeKey cannot be nested (in field %q of %s)", n.parent, md.Name())
	}
	return n.child.check(fd.Message())
}

func (n nestExpr) evaluate(m protoreflect.Message, rt *RecordType) ([]tuple.Tuple, error) {
	if m != nil && m.Descriptor().Fields().ByName(protoreflect.Name(n.parent)) == nil {
		m = nil
	}
	if m == nil {
		if n.fan == FanOutType {
			return nil, nil
		}
		return n.child.evaluate(nil, rt)
	}
	fd, err := lookupField(m.Descriptor(), n.parent)
	if err != nil {
		return nil, err
	}
	if n.fan == FanOutType {
		list := m.Get(fd).List()
		var out []tuple.Tuple
		for i := 0; i < list.Len(); i++ {
			keys, err := n.child.evaluate(list.Get(i).Message(), rt)
			if err != nil {
				return nil, err
			}
			out = append(out, keys...)
		}
		return out, nil
	}
	if !m.Has(fd) {
		return n.child.evaluate(nil, rt)
	}
	return n.child.evaluate(m.Get(fd).Message(), rt)
}

type thenExpr struct {
	children []KeyExpression
}

// Concat joins the columns of several expressions into one key; when children fan out, the keys
// are every combination (the cross product).
func Concat(children ...KeyExpression) KeyExpression {
	return thenExpr{children: append([]KeyExpression(nil), children...)}
}

func (t thenExpr) ColumnCount() int {
	n := 0
	for _, c := range t.children {
		n += c.ColumnCount()
	}
	return n
}

func (t thenExpr) String() string {
	parts := make([]string, len(t.children))
	for i, c := range t.children {
		parts[i] = c.String()
	}
	return "concat(" + strings.Join(parts, ", ") + ")"
}

func (t thenExpr) fansOut() bool {
	for _, c := range t.children {
		if c.fansOut() {
			return true
		}
	}
	return false
}

func (t thenExpr) flatten(dst []KeyExpression) []KeyExpression {
	for _, c := range t.children {
		dst = c.flatten(dst)
	}
	return dst
}

func (t thenExpr) check(md protoreflect.MessageDescriptor) error {
	if len(t.children) == 0 {
		return fmt.Errorf("record: concat of no expressions on %s", md.Name())
	}
	for _, c := range t.children {
		if c == nil {
			return fmt.Errorf("record: concat on %s has a nil expression", md.Name())
		}
		if err := c.check(md); err != nil {
			return err
		}
	}
	return nil
}

func (t thenExpr) evaluate(m protoreflect.Message, rt *RecordType) ([]tuple.Tuple, error) {
	return t.combine(func(c KeyExpression) ([]tuple.Tuple, error) { return c.evaluate(m, rt) })
}

// combine joins the keys eval gives for each child: the cross product of their lists.
func (t thenExpr) combine(eval func(KeyExpression) ([]tuple.Tuple, error)) ([]tuple.Tuple, error) {
	keys := []tuple.Tuple{{}}
	for _, c := range t.children {
		ck, err := eval(c)
		if err != nil {
			return nil, err
		}
		if len(ck) == 1 {
			for i := range keys {
				keys[i] = append(keys[i], ck[0]...)
			}
			continue
		}
		next := make([]tuple.Tuple, 0, len(keys)*len(ck))
		for _, k := range keys {
			for _, c := range ck {
				nk := make(tuple.Tuple, 0, len(k)+len(c))
				next = append(next, append(append(nk, k...), c...))
			}
		}
		keys = next
	}
	return keys, nil
}

type recordTypeExpr struct{}

// RecordTypeKey is the record type's key: the field number of the record type in the union
// message, as the Java Record Layer uses by default. Starting a primary key with it keeps the
// primary keys of different record types apart in the shared record extent.
func RecordTypeKey() KeyExpression { return recordTypeExpr{} }

func (recordTypeExpr) ColumnCount() int                              { return 1 }
func (recordTypeExpr) String() string                                { return "recordType" }
func (recordTypeExpr) fansOut() bool                                 { return false }
func (r recordTypeExpr) flatten(dst []KeyExpression) []KeyExpression { return append(dst, r) }
func (recordTypeExpr) check(protoreflect.MessageDescriptor) error    { return nil }
func (recordTypeExpr) evaluate(_ protoreflect.Message, rt *RecordType) ([]tuple.Tuple, error) {
	return []tuple.Tuple{{rt.typeKey}}, nil
}

// evaluateSingle evaluates an expression that must yield exactly one key (a primary key).
func evaluateSingle(e KeyExpression, m protoreflect.Message, rt *RecordType) (tuple.Tuple, error) {
	if !e.fansOut() {
		return appendSingle(make(tuple.Tuple, 0, e.ColumnCount()), e, m, rt)
	}
	keys, err := e.evaluate(m, rt)
	if err != nil {
		return nil, err
	}
	if len(keys) != 1 {
		return nil, fmt.Errorf("record: key expression %s of %s yielded %d keys, want 1", e, rt.name, len(keys))
	}
	return keys[0], nil
}

// appendSingle appends to dst the one key of e, an expression that does not fan out: the same
// key evaluate yields, without building the list of keys (the primary key and most indexes
// are evaluated on every save).
func appendSingle(dst tuple.Tuple, e KeyExpression, m protoreflect.Message, rt *RecordType) (tuple.Tuple, error) {
	switch e := e.(type) {
	case fieldExpr:
		if e.fan == FanOutType {
			break
		}
		fd := m.Descriptor().Fields().ByName(protoreflect.Name(e.name))
		if fd == nil || e.fan == ConcatenateType || fd.IsList() {
			break // rare: leave it to evaluate
		}
		v, err := e.scalar(fd, m)
		if err != nil {
			return nil, err
		}
		return append(dst, v), nil
	case recordTypeExpr:
		return append(dst, rt.typeKey), nil
	case thenExpr:
		var err error
		for _, c := range e.children {
			if dst, err = appendSingle(dst, c, m, rt); err != nil {
				return nil, err
			}
		}
		return dst, nil
	}
	keys, err := e.evaluate(m, rt)
	if err != nil {
		return nil, err
	}
	if len(keys) != 1 {
		return nil, fmt.Errorf("record: key expression %s of %s yielded %d keys, want 1", e, rt.name, len(keys))
	}
	return append(dst, keys[0]...), nil
}

type emptyExpr struct{}

// Empty is the expression of no columns: one empty key for every record. It is the Java Record
// Layer's EmptyKeyExpression, as in a record count key that keeps one count of all records.
func Empty() KeyExpression { return emptyExpr{} }

func (emptyExpr) ColumnCount() int                            { return 0 }
func (emptyExpr) String() string                              { return "empty" }
func (emptyExpr) fansOut() bool                               { return false }
func (emptyExpr) flatten(dst []KeyExpression) []KeyExpression { return dst }
func (emptyExpr) check(protoreflect.MessageDescriptor) error  { return nil }
func (emptyExpr) evaluate(protoreflect.Message, *RecordType) ([]tuple.Tuple, error) {
	return []tuple.Tuple{{}}, nil
}

type versionExpr struct{}

// VersionKey is the record's version (the Java Record Layer's Key.Expressions.version()): its
// 12-byte versionstamp, or null for a record saved without one. It belongs in VERSION and
// MAX_EVER_VERSION indexes, and a query sorted by it is served by a VERSION index.
func VersionKey() KeyExpression { return versionExpr{} }

func (versionExpr) ColumnCount() int                              { return 1 }
func (versionExpr) String() string                                { return "version" }
func (versionExpr) fansOut() bool                                 { return false }
func (v versionExpr) flatten(dst []KeyExpression) []KeyExpression { return append(dst, v) }
func (versionExpr) check(protoreflect.MessageDescriptor) error    { return nil }
func (versionExpr) evaluate(protoreflect.Message, *RecordType) ([]tuple.Tuple, error) {
	return nil, fmt.Errorf("record: the version key needs a stored record, not only its message")
}

// evaluateRecord returns the keys of e for a stored record: those evaluate gives, with the
// record's version where e names VersionKey.
func evaluateRecord(e KeyExpression, rec *Record) ([]tuple.Tuple, error) {
	switch e := e.(type) {
	case versionExpr:
		if rec.Version == nil {
			return []tuple.Tuple{{nil}}, nil
		}
		return []tuple.Tuple{{*rec.Version}}, nil
	case thenExpr:
		return e.combine(func(c KeyExpression) ([]tuple.Tuple, error) { return evaluateRecord(c, rec) })
	case groupingExpr:
		return evaluateRecord(e.whole, rec)
	}
	return e.evaluate(rec.Message.ProtoReflect(), rec.Type)
}

// countVersions returns how many times e names VersionKey.
func countVersions(e KeyExpression) int {
	n := 0
	for _, c := range e.flatten(nil) {
		if _, ok := c.(versionExpr); ok {
			n++
		}
	}
	return n
}

type groupingExpr struct {
	whole   KeyExpression
	grouped int // the last grouped columns of whole are aggregated; the others are the group
}

// GroupBy is the expression of an aggregate index (the Java Record Layer's
// GroupingKeyExpression): value is what is aggregated, groups the columns that split the
// aggregate into groups. An index of this expression keeps one aggregate per distinct value of
// groups. value is Empty() for COUNT and COUNT_UPDATES; with no groups there is one aggregate
// for all records (see Ungrouped).
//
//	record.GroupBy(record.Field("price"), record.Field("genre")) // SUM of price per genre
//	record.GroupBy(record.Empty(), record.Field("genre"))        // COUNT per genre
func GroupBy(value KeyExpression, groups ...KeyExpression) KeyExpression {
	if value == nil {
		value = Empty()
	}
	children := append([]KeyExpression(nil), groups...)
	if _, empty := value.(emptyExpr); !empty || len(groups) == 0 {
		children = append(children, value)
	}
	whole := children[0]
	if len(children) > 1 {
		whole = Concat(children...)
	}
	return groupingExpr{whole: whole, grouped: value.ColumnCount()}
}

// Ungrouped is GroupBy(value) with no groups: one aggregate over every record of the index.
func Ungrouped(value KeyExpression) KeyExpression { return GroupBy(value) }

func (g groupingExpr) ColumnCount() int { return g.whole.ColumnCount() }

// GroupingCount is the number of group columns (the columns before the aggregated ones).
func (g groupingExpr) GroupingCount() int { return g.whole.ColumnCount() - g.grouped }

func (g groupingExpr) String() string {
	return fmt.Sprintf("grouping(%s, %d)", g.whole, g.grouped)
}

func (g groupingExpr) fansOut() bool                               { return g.whole.fansOut() }
func (g groupingExpr) flatten(dst []KeyExpression) []KeyExpression { return g.whole.flatten(dst) }

func (g groupingExpr) check(md protoreflect.MessageDescriptor) error {
	if g.whole == nil {
		return fmt.Errorf("record: grouping on %s has no expression", md.Name())
	}
	if g.grouped < 0 || g.grouped > g.whole.ColumnCount() {
		return fmt.Errorf("record: grouping of %s aggregates %d of its %d columns", g.whole, g.grouped, g.whole.ColumnCount())
	}
	return g.whole.check(md)
}

func (g groupingExpr) evaluate(m protoreflect.Message, rt *RecordType) ([]tuple.Tuple, error) {
	return g.whole.evaluate(m, rt)
}

// isGrouping reports whether e is a GroupBy expression.
func isGrouping(e KeyExpression) bool {
	_, ok := e.(groupingExpr)
	return ok
}
