package record

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/layerkit/layerkit/tuple"
)

// coveringNode is an index scan that answers from the index entries alone (the Java Record
// Layer's RecordQueryCoveringIndexPlan): each entry becomes a partial record of the one queried
// type, holding the fields the query needs (Query.RequiredFields, the fields of the filter left
// to apply and of an in-memory sort), taken from the indexed values and the primary key,
// without loading the record.
type coveringNode struct {
	scan    *scanNode
	rt      *RecordType
	setters []coverSetter
	fields  []string
}

// coverSetter copies one column of an entry into a field of the partial record.
type coverSetter struct {
	path   []protoreflect.FieldDescriptor // the enclosing message fields, then the field
	fromPK bool                           // the column is primary-key column at, else value at
	at     int
}

func (n *coveringNode) describe(b *strings.Builder) {
	b.WriteString("Covering(")
	n.scan.describe(b)
	b.WriteString(" -> [" + strings.Join(n.fields, ", ") + "])")
}

func (n *coveringNode) scans(dst []*scanNode) []*scanNode { return append(dst, n.scan) }

func (n *coveringNode) fetched() bool { return true }

func (n *coveringNode) open(c *Cursor, state any) (source, error) { return n.openParam(c, state, nil) }

func (n *coveringNode) openParam(c *Cursor, state any, value any) (source, error) {
	src, err := n.scan.openParam(c, state, value)
	if err != nil {
		return nil, err
	}
	return &coveringSource{n: n, src: src}, nil
}

type coveringSource struct {
	n    *coveringNode
	src  source
	slab []Record // records allocated together
	buf  []byte   // the wire form of a partial record, reused
	leaf []byte   // the wire form of a nested field, reused
}

func (x *coveringSource) next(c *Cursor) (item, bool, error) {
	it, ok, err := x.src.next(c)
	if err != nil || !ok {
		return item{}, false, err
	}
	if len(x.slab) == 0 {
		x.slab = make([]Record, 32)
	}
	it.rec = &x.slab[0]
	x.slab = x.slab[1:]
	err = x.partial(it.rec, &it.entry)
	return it, err == nil, err
}

// coverOptions unmarshal the fields of a partial record into its new message: merging skips the
// reset a new message does not need, and a partial record may lack required fields.
var coverOptions = proto.UnmarshalOptions{Merge: true, AllowPartial: true}

// partial builds into rec the partial record of an index entry. The columns are written in the
// message's wire form, which the message's own (generated) decoder reads in one pass: setting
// the fields one by one through reflection costs several times more.
func (x *coveringSource) partial(rec *Record, e *indexEntry) error {
	n := x.n
	b := x.buf[:0]
	for _, s := range n.setters {
		var v any
		if s.fromPK {
			v = e.PrimaryKey[s.at]
		} else {
			v = e.Values[s.at]
		}
		if v == nil {
			continue // a null column is an unset field
		}
		fd := s.path[len(s.path)-1]
		parents := s.path[:len(s.path)-1]
		var err error
		if len(parents) == 0 {
			b, err = appendWireField(b, fd, v)
		} else {
			x.leaf, err = appendWireField(x.leaf[:0], fd, v)
			b = appendNestedField(b, parents, x.leaf)
		}
		if err != nil {
			return fmt.Errorf("record: index %q entry %s: %w", e.Index.Name, tuple.Tuple{v}, err)
		}
	}
	x.buf = b
	msg := n.rt.newMsg()
	if err := coverOptions.Unmarshal(b, msg); err != nil {
		return fmt.Errorf("record: index %q entry %v → %v: partial %s: %v: %w", e.Index.Name, e.Values, e.PrimaryKey, n.rt.name, err, ErrCorruptStore)
	}
	*rec = Record{Type: n.rt, PrimaryKey: e.PrimaryKey, Message: msg, Partial: true}
	return nil
}

// appendNestedField appends leaf, the wire form of a field of the message that the last of
// parents holds, inside those message fields. Several occurrences of one message field merge
// when read, so each nested column is written on its own.
func appendNestedField(b []byte, parents []protoreflect.FieldDescriptor, leaf []byte) []byte {
	for i, p := range parents {
		size := len(leaf)
		for j := len(parents) - 1; j > i; j-- {
			size += protowire.SizeTag(parents[j].Number()) + protowire.SizeVarint(uint64(size))
		}
		b = protowire.AppendTag(b, p.Number(), protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(size))
	}
	return append(b, leaf...)
}

// appendWireField appends the field fd holding the tuple element v in the protobuf wire form:
// the inverse of scalarValue. An element that no value of fd's kind stores is an error.
func appendWireField(b []byte, fd protoreflect.FieldDescriptor, v any) ([]byte, error) {
	num := fd.Number()
	switch fd.Kind() {
	case protoreflect.BoolKind:
		if x, ok := v.(bool); ok {
			b = protowire.AppendTag(b, num, protowire.VarintType)
			return protowire.AppendVarint(b, protowire.EncodeBool(x)), nil
		}
	case protoreflect.StringKind:
		if x, ok := v.(string); ok {
			b = protowire.AppendTag(b, num, protowire.BytesType)
			return protowire.AppendString(b, x), nil
		}
	case protoreflect.BytesKind:
		if x, ok := v.([]byte); ok {
			b = protowire.AppendTag(b, num, protowire.BytesType)
			return protowire.AppendBytes(b, x), nil
		}
	case protoreflect.FloatKind:
		if x, ok := v.(float32); ok {
			b = protowire.AppendTag(b, num, protowire.Fixed32Type)
			return protowire.AppendFixed32(b, math.Float32bits(x)), nil
		}
	case protoreflect.DoubleKind:
		if x, ok := v.(float64); ok {
			b = protowire.AppendTag(b, num, protowire.Fixed64Type)
			return protowire.AppendFixed64(b, math.Float64bits(x)), nil
		}
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		// scalarValue keeps an unsigned value above the int64 range as a uint64.
		var u uint64
		switch x := v.(type) {
		case int64:
			u = uint64(x)
		case uint64:
			u = x
		default:
			return nil, wrongElement(fd, v)
		}
		if fd.Kind() == protoreflect.Fixed64Kind {
			b = protowire.AppendTag(b, num, protowire.Fixed64Type)
			return protowire.AppendFixed64(b, u), nil
		}
		b = protowire.AppendTag(b, num, protowire.VarintType)
		return protowire.AppendVarint(b, u), nil
	default:
		i, ok := v.(int64)
		if !ok {
			break
		}
		switch fd.Kind() {
		case protoreflect.EnumKind, protoreflect.Int32Kind:
			b = protowire.AppendTag(b, num, protowire.VarintType)
			return protowire.AppendVarint(b, uint64(int64(int32(i)))), nil
		case protoreflect.Int64Kind:
			b = protowire.AppendTag(b, num, protowire.VarintType)
			return protowire.AppendVarint(b, uint64(i)), nil
		case protoreflect.Sint32Kind:
			b = protowire.AppendTag(b, num, protowire.VarintType)
			return protowire.AppendVarint(b, protowire.EncodeZigZag(int64(int32(i)))), nil
		case protoreflect.Sint64Kind:
			b = protowire.AppendTag(b, num, protowire.VarintType)
			return protowire.AppendVarint(b, protowire.EncodeZigZag(i)), nil
		case protoreflect.Uint32Kind:
			b = protowire.AppendTag(b, num, protowire.VarintType)
			return protowire.AppendVarint(b, uint64(uint32(i))), nil
		case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind:
			b = protowire.AppendTag(b, num, protowire.Fixed32Type)
			return protowire.AppendFixed32(b, uint32(i)), nil
		case protoreflect.Sfixed64Kind:
			b = protowire.AppendTag(b, num, protowire.Fixed64Type)
			return protowire.AppendFixed64(b, uint64(i)), nil
		}
	}
	return nil, wrongElement(fd, v)
}

func wrongElement(fd protoreflect.FieldDescriptor, v any) error {
	return fmt.Errorf("field %q holds %T, which is not a %v: %w", fd.Name(), v, fd.Kind(), ErrCorruptStore)
}

// coverablePath returns the field path of a column a partial record can hold: a single field,
// perhaps inside single message fields.
func coverablePath(col KeyExpression, md protoreflect.MessageDescriptor) ([]protoreflect.FieldDescriptor, bool) {
	switch e := col.(type) {
	case fieldExpr:
		fd := md.Fields().ByName(protoreflect.Name(e.name))
		if e.fan != Scalar || fd == nil || fd.IsList() || fd.IsMap() || fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind {
			return nil, false
		}
		return []protoreflect.FieldDescriptor{fd}, true
	case nestExpr:
		fd := md.Fields().ByName(protoreflect.Name(e.parent))
		if e.fan != Scalar || fd == nil || fd.IsList() || fd.Kind() != protoreflect.MessageKind {
			return nil, false
		}
		rest, ok := coverablePath(e.child, fd.Message())
		if !ok {
			return nil, false
		}
		return append([]protoreflect.FieldDescriptor{fd}, rest...), true
	}
	return nil, false
}

// newCovering returns the covering form of an index scan over record type rt whose partial
// records hold the columns need names, or nil when the entries lack one of them.
func newCovering(sc *scanNode, rt *RecordType, need []string) *coveringNode {
	n := &coveringNode{scan: sc, rt: rt}
	have := map[string]coverSetter{}
	for j, col := range sc.ix.columns {
		if path, ok := coverablePath(col, rt.desc); ok {
			if _, dup := have[col.String()]; !dup {
				have[col.String()] = coverSetter{path: path, at: j}
			}
		}
	}
	for i, col := range rt.pkColumns {
		if path, ok := coverablePath(col, rt.desc); ok {
			if _, dup := have[col.String()]; !dup {
				have[col.String()] = coverSetter{path: path, fromPK: true, at: i}
			}
		}
	}
	for _, c := range need {
		set, ok := have[c]
		if !ok {
			return nil
		}
		if !slices.Contains(n.fields, c) {
			n.setters = append(n.setters, set)
			n.fields = append(n.fields, c)
		}
	}
	return n
}

// filterColumns lists the columns (as key expressions print them) a filter reads, or false
// when it reads a repeated field, which no partial record holds.
func filterColumns(f Filter, path []string, dst []string) ([]string, bool) {
	switch x := f.(type) {
	case *compareFilter:
		if x.any {
			return nil, false
		}
		return append(dst, strings.Join(append(append([]string(nil), path...), x.field), ".")), true
	case *nestedFilter:
		return filterColumns(x.child, append(append([]string(nil), path...), x.parent), dst)
	case *andFilter:
		return filtersColumns(x.children, path, dst)
	case *orFilter:
		return filtersColumns(x.children, path, dst)
	case *notFilter:
		return filterColumns(x.child, path, dst)
	}
	return nil, false
}

func filtersColumns(fs []Filter, path []string, dst []string) ([]string, bool) {
	for _, f := range fs {
		var ok bool
		if dst, ok = filterColumns(f, path, dst); !ok {
			return nil, false
		}
	}
	return dst, true
}

// cover returns root with every index scan made covering, or nil when that is not possible:
// the query must read one record type that no other type shares the scanned indexes with, and
// the required fields, the filter left to apply and extra (an in-memory sort's columns) must
// all be in every scanned index's partial records.
func (pl *planner) cover(root planNode, f *recordFilter, extra []KeyExpression) planNode {
	if len(pl.types) != 1 || f.typeFilter {
		return nil
	}
	var need []string
	for _, e := range pl.q.RequiredFields {
		for _, col := range e.flatten(nil) {
			need = append(need, col.String())
		}
	}
	for _, col := range extra {
		need = append(need, col.String())
	}
	if f.residual != nil {
		var ok bool
		if need, ok = filterColumns(f.residual, nil, need); !ok {
			return nil
		}
	}
	return coverNode(root, pl.types[0], need)
}

func coverNode(n planNode, rt *RecordType, need []string) planNode {
	switch x := n.(type) {
	case *scanNode:
		if x.ix == nil {
			return nil
		}
		if cn := newCovering(x, rt, need); cn != nil {
			return cn
		}
	case *inJoinNode:
		if inner, ok := coverNode(x.inner, rt, need).(paramScan); ok {
			return &inJoinNode{inner: inner, field: x.field, values: x.values}
		}
	case *inUnionNode:
		if inner, ok := coverNode(x.inner, rt, need).(paramScan); ok {
			return &inUnionNode{inner: inner, field: x.field, values: x.values, key: x.key}
		}
	case *unionNode:
		if kids := coverAll(x.kids, rt, need); kids != nil {
			return &unionNode{mergeNode{kids: kids, key: x.key}}
		}
	case *intersectionNode:
		if kids := coverAll(x.kids, rt, need); kids != nil {
			return &intersectionNode{mergeNode{kids: kids, key: x.key}}
		}
	}
	return nil
}

func coverAll(kids []planNode, rt *RecordType, need []string) []planNode {
	out := make([]planNode, len(kids))
	for i, k := range kids {
		if out[i] = coverNode(k, rt, need); out[i] == nil {
			return nil
		}
	}
	return out
}
