package record

import (
	"fmt"
	"strings"

	"github.com/layerkit/layerkit/tuple"
)

// paramScan is a scan whose equality prefix holds an IN parameter: a scanNode or a Covering
// node over one.
type paramScan interface {
	planNode
	openParam(c *Cursor, state any, value any) (source, error)
}

// inJoinNode runs its inner scan once per value of an IN comparison, in value order, and yields
// the records of each run in turn (the Java Record Layer's RecordQueryInValuesJoinPlan). Its
// records are ordered by the IN column, then by the inner scan's order. The values are sorted
// and without duplicates, so a record is met once.
type inJoinNode struct {
	inner  paramScan
	field  string
	values []any // in the order the runs take them (descending for a reverse plan)
}

func (n *inJoinNode) describe(b *strings.Builder) {
	b.WriteString("InJoin[" + formatIn(n.field, n.values) + "](")
	n.inner.describe(b)
	b.WriteString(")")
}

func formatIn(field string, values []any) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = formatValue(v)
	}
	return field + " in (" + strings.Join(parts, ", ") + ")"
}

func (n *inJoinNode) scans(dst []*scanNode) []*scanNode { return n.inner.scans(dst) }

func (n *inJoinNode) fetched() bool { return n.inner.fetched() }

// open resumes at state: (the index of the current value, the inner scan's position).
func (n *inJoinNode) open(c *Cursor, state any) (source, error) {
	x := &inJoinSource{n: n}
	switch st := state.(type) {
	case nil:
	case tuple.Tuple:
		var i int64
		ok := len(st) == 2
		if ok {
			i, ok = st[0].(int64)
		}
		if !ok || i < 0 || i >= int64(len(n.values)) {
			return nil, fmt.Errorf("record: continuation position %v does not fit %s: %w", st, formatIn(n.field, n.values), ErrInvalidContinuation)
		}
		x.i, x.resume = int(i), st[1]
	default:
		return nil, badState("an IN join", state)
	}
	return x, nil
}

type inJoinSource struct {
	n      *inJoinNode
	i      int
	cur    source
	resume any   // the inner position to resume the first run at
	states []any // room for the positions of later items, cut off two at a time
}

func (x *inJoinSource) next(c *Cursor) (item, bool, error) {
	for x.i < len(x.n.values) {
		if x.cur == nil {
			src, err := x.n.inner.openParam(c, x.resume, x.n.values[x.i])
			if err != nil {
				return item{}, false, err
			}
			x.cur, x.resume = src, nil
		}
		it, ok, err := x.cur.next(c)
		if err != nil {
			return item{}, false, err
		}
		if !ok {
			x.cur = nil
			x.i++
			continue
		}
		if len(x.states) < 2 {
			x.states = make([]any, 64)
		}
		st := tuple.Tuple(x.states[:2:2])
		x.states = x.states[2:]
		st[0], st[1] = int64(x.i), it.position()
		it.state, it.pos = st, nil
		return it, true, nil
	}
	return item{}, false, nil
}

// inUnionNode runs its inner scan once per value of an IN comparison and merges the runs in the
// order of a merge key (the Java Record Layer's RecordQueryInUnionPlan): the plan of an IN when
// the query's sort is not led by the IN column.
type inUnionNode struct {
	inner  paramScan
	field  string
	values []any
	key    mergeKey
}

func (n *inUnionNode) describe(b *strings.Builder) {
	b.WriteString("InUnion[" + formatIn(n.field, n.values) + " by " + n.key.String() + "](")
	n.inner.describe(b)
	b.WriteString(")")
}

func (n *inUnionNode) scans(dst []*scanNode) []*scanNode { return n.inner.scans(dst) }

func (n *inUnionNode) fetched() bool { return n.inner.fetched() }

func (n *inUnionNode) open(c *Cursor, state any) (source, error) {
	return openMerge(c, len(n.values), func(i int, st any) (source, error) { return n.inner.openParam(c, st, n.values[i]) }, state, &n.key, false)
}
