package record

import (
	"fmt"
	"hash/fnv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/layerkit/layerkit/tuple"
)

// Plan is how a query runs: a tree of plan nodes, each one kind of step with its own file, as in
// the Java Record Layer's planner (one RecordQueryPlan class per kind):
//
//   - Scan / IndexScan (plan_scan.go): one range of the record extent or of an index, with an
//     equality prefix and at most one range or prefix comparison;
//   - Fetch and Filter (plan_fetch.go): load the records of index entries, filter records;
//   - Covering (plan_covering.go): an index scan that builds partial records from the entries
//     alone, without loading the records;
//   - InJoin and InUnion (plan_in.go): one scan per value of an IN comparison, concatenated in
//     value order or merged in the order of the sort;
//   - Union (plan_union.go): the records of several scans for the branches of an OR, merged in
//     primary-key or sort order, each record once;
//   - Intersection (plan_intersection.go): the records several equality scans all yield;
//   - Sort (plan_sort.go): an in-memory sort.
//
// Plans are made by Store.Plan, are immutable, and may be reused in later transactions of stores
// with the same metadata (a continuation is only valid with the plan that made it).
type Plan struct {
	root   planNode
	filter recordFilter // applied by the cursor to the records root yields
	// exact is set when every item of root is a returned record (no filter after the scan), so
	// a scan may read exactly as many entries as the page may still return.
	exact   bool
	explain string
	hash    uint64
	scans   []*scanNode // the scans of root, checked by every cursor
}

// Explain describes the plan in one line, for example
// `IndexScan(by_author eq=("Tolkien")) | Fetch | Filter(year > 1950)` or
// `Union[pk](IndexScan(by_author eq=("A")) ∪ IndexScan(by_tag eq=("sf"))) | Fetch`.
func (p *Plan) Explain() string { return p.explain }

// String is Explain.
func (p *Plan) String() string { return p.explain }

// planNode is one kind of plan step.
type planNode interface {
	// describe appends the node's part of Explain.
	describe(b *strings.Builder)
	// open starts the node's source for cursor c, resuming after state: the node's part of a
	// continuation, as the items of its source carry it (nil starts at the beginning).
	open(c *Cursor, state any) (source, error)
	// scans appends the scans the node reads.
	scans(dst []*scanNode) []*scanNode
	// fetched reports whether every item the node yields carries its record.
	fetched() bool
}

// recordFilter is what remains to check on a record once a scan yielded it: its type (when the
// scan may yield other types) and a residual filter.
type recordFilter struct {
	types      []*RecordType
	typeFilter bool
	residual   Filter
}

func (f *recordFilter) matches(rec *Record) (bool, error) {
	if f.typeFilter && !containsType(f.types, rec.Type) {
		return false, nil
	}
	if f.residual == nil {
		return true, nil
	}
	return f.residual.eval(rec.Message.ProtoReflect())
}

func (f *recordFilter) describe(b *strings.Builder) {
	if f.typeFilter {
		b.WriteString(" | TypeFilter(" + typeNames(f.types) + ")")
	}
	if f.residual != nil {
		b.WriteString(" | Filter(" + f.residual.String() + ")")
	}
}

func (f *recordFilter) empty() bool { return !f.typeFilter && f.residual == nil }

func containsType(types []*RecordType, rt *RecordType) bool {
	for _, t := range types {
		if t == rt {
			return true
		}
	}
	return false
}

// Plan chooses how to run q. It matches the filter's comparisons against the columns of every
// READABLE index that covers the queried types and against the primary key: the longest prefix
// of equality (or IN) comparisons, then one range comparison, then the sort. An IN comparison
// in that prefix becomes an in-join (one scan per value); an OR whose branches each match an
// index becomes a union of their scans when no single scan narrows the query; equalities left
// over by the best scan that other indexes match become an intersection; without any match the
// plan scans the record extent and filters each record. A sort that no plan provides is refused
// with ErrSortNotSupported unless q.InMemorySortLimit allows an in-memory sort. When
// q.RequiredFields are all in one index's entries, the plan reads that index without loading
// the records (a covering plan).
func (s *Store) Plan(q Query) (*Plan, error) {
	pl, err := s.newPlanner(q)
	if err != nil {
		return nil, err
	}
	var conj []conjunct
	if q.Filter != nil {
		conj = flattenAnd(q.Filter, nil, func(f Filter) Filter { return f }, nil)
	}
	best, err := pl.choose(conj, order{sort: pl.sortCols, reverse: q.Reverse})
	if err != nil {
		return nil, err
	}
	inMemorySort := false
	if best == nil {
		if q.InMemorySortLimit <= 0 {
			return nil, fmt.Errorf("record: no index of %s provides sort %s; allow an in-memory sort with InMemorySortLimit: %w", typeNames(pl.types), q.Sort, ErrSortNotSupported)
		}
		if best, err = pl.choose(conj, order{}); err != nil {
			return nil, err
		}
		inMemorySort = true
	}
	p := &Plan{}
	p.filter = recordFilter{types: pl.queryTypes, residual: andOf(best.residual)}
	root := best.node
	for _, sc := range root.scans(nil) {
		p.filter.typeFilter = p.filter.typeFilter || sc.typeFilter
	}
	if len(q.RequiredFields) > 0 {
		var extra []KeyExpression
		if inMemorySort {
			extra = pl.sortCols
		}
		if covered := pl.cover(root, &p.filter, extra); covered != nil {
			root = covered
		}
	}
	if !root.fetched() {
		root = &fetchNode{child: root}
	}
	if inMemorySort {
		root = &sortNode{child: root, filter: p.filter, sort: q.Sort, desc: q.Reverse, limit: q.InMemorySortLimit}
		p.filter = recordFilter{}
	}
	return newPlan(root, p.filter), nil
}

// newPlan finishes a plan: its Explain, its hash (which continuations carry) and whether its
// scan may read exactly as many entries as a page returns.
func newPlan(root planNode, filter recordFilter) *Plan {
	p := &Plan{root: root, filter: filter, scans: root.scans(nil)}
	if p.filter.empty() {
		if sc := singleScan(root); sc != nil {
			sc.exact = true
			p.exact = true
		}
	}
	var b strings.Builder
	root.describe(&b)
	p.filter.describe(&b)
	p.explain = b.String()
	h := fnv.New64a()
	h.Write([]byte(p.explain))
	p.hash = h.Sum64()
	return p
}

// singleScan returns the scan of a plan that is one scan, perhaps fetched or covering.
func singleScan(n planNode) *scanNode {
	switch x := n.(type) {
	case *scanNode:
		return x
	case *fetchNode:
		return singleScan(x.child)
	case *coveringNode:
		return x.scan
	}
	return nil
}

func andOf(conj []conjunct) Filter {
	switch len(conj) {
	case 0:
		return nil
	case 1:
		return conj[0].filter
	}
	fs := make([]Filter, len(conj))
	for i, c := range conj {
		fs[i] = c.filter
	}
	return And(fs...)
}

// conjunct is one part of a top-level AND that a scan might match: a comparison, perhaps inside
// nested message fields (path lists the parents).
type conjunct struct {
	filter Filter
	path   []string
	cmp    *compareFilter // nil: not matchable
}

func (c conjunct) key() string {
	if c.cmp == nil {
		return ""
	}
	return strings.Join(append(append([]string(nil), c.path...), c.cmp.key()), ".")
}

func flattenAnd(f Filter, path []string, wrap func(Filter) Filter, out []conjunct) []conjunct {
	switch x := f.(type) {
	case *andFilter:
		for _, c := range x.children {
			out = flattenAnd(c, path, wrap, out)
		}
		return out
	case *nestedFilter:
		inner := wrap
		p := x.parent
		return flattenAnd(x.child, append(append([]string(nil), path...), x.parent), func(g Filter) Filter { return inner(Nested(p, g)) }, out)
	case *compareFilter:
		return append(out, conjunct{filter: wrap(x), path: path, cmp: x})
	}
	return append(out, conjunct{filter: wrap(f), path: path})
}

// flattenOr lists the branches of nested ORs.
func flattenOr(f Filter, out []Filter) []Filter {
	if o, ok := f.(*orFilter); ok {
		for _, c := range o.children {
			out = flattenOr(c, out)
		}
		return out
	}
	return append(out, f)
}

func eqFixed(eqCols []KeyExpression, col KeyExpression) bool {
	for _, c := range eqCols {
		if c.String() == col.String() {
			return true
		}
	}
	return false
}

func anyFansOut(cols []KeyExpression) bool {
	for _, c := range cols {
		if c.fansOut() {
			return true
		}
	}
	return false
}

func coversAll(ix *Index, types []*RecordType) bool {
	for _, rt := range types {
		if !covers(ix, rt) {
			return false
		}
	}
	return true
}

func typeNames(types []*RecordType) string {
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = t.name
	}
	return strings.Join(names, ", ")
}

func findConjunct(conj []conjunct, key string, used []bool, op compOp) int {
	for j, c := range conj {
		if c.cmp != nil && !used[j] && c.cmp.op == op && c.key() == key {
			return j
		}
	}
	return -1
}

// fieldOf returns the descriptor of the field a conjunct compares.
func fieldOf(rt *RecordType, c conjunct) (protoreflect.FieldDescriptor, error) {
	md := rt.desc
	for _, p := range c.path {
		f, err := lookupField(md, p)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidQuery, err)
		}
		md = f.Message()
	}
	f, err := lookupField(md, c.cmp.field)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidQuery, err)
	}
	return f, nil
}

// conjunctValue converts the comparison's value to the element the field stores.
func conjunctValue(rt *RecordType, c conjunct) (any, error) {
	fd, err := fieldOf(rt, c)
	if err != nil {
		return nil, err
	}
	return comparand(fd, c.cmp.values[0])
}

// formatEq prints an equality prefix, with the name of its IN parameter (if any) in its place.
func formatEq(eq tuple.Tuple, param *inParam) string {
	parts := make([]string, len(eq))
	for i, v := range eq {
		if param != nil && i == param.at {
			parts[i] = "$" + param.name
			continue
		}
		parts[i] = formatValue(v)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}
