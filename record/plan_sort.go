package record

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/layerkit/layerkit/tuple"
)

// sortNode reads every matching record of its child (up to a bound), sorts them by (sort key,
// primary key) and returns them from a position (the Java Record Layer's RecordQuerySortPlan
// with an in-memory limit). It applies the query's type filter and residual filter itself,
// before sorting.
type sortNode struct {
	child  planNode
	filter recordFilter
	sort   KeyExpression
	desc   bool
	limit  int
}

func (n *sortNode) describe(b *strings.Builder) {
	n.child.describe(b)
	n.filter.describe(b)
	dir := ""
	if n.desc {
		dir = " desc"
	}
	fmt.Fprintf(b, " | Sort(%s%s, limit=%d)", n.sort, dir, n.limit)
}

func (n *sortNode) scans(dst []*scanNode) []*scanNode { return n.child.scans(dst) }

func (n *sortNode) fetched() bool { return true }

// open resumes after state: the sort key and primary key of the last record returned.
func (n *sortNode) open(c *Cursor, state any) (source, error) {
	x := &sortSource{n: n}
	switch v := state.(type) {
	case nil:
	case tuple.Tuple:
		if len(v) != 2 {
			return nil, fmt.Errorf("record: continuation sort position has %d parts, want 2: %w", len(v), ErrInvalidContinuation)
		}
		if _, ok := v[0].(tuple.Tuple); !ok {
			return nil, fmt.Errorf("record: continuation sort key is %T: %w", v[0], ErrInvalidContinuation)
		}
		if _, ok := v[1].(tuple.Tuple); !ok {
			return nil, fmt.Errorf("record: continuation primary key is %T: %w", v[1], ErrInvalidContinuation)
		}
		x.after = v
	default:
		return nil, badState("an in-memory sort", state)
	}
	return x, nil
}

// sortSource's continuation is the sort key and primary key of the last record returned, so a
// page resumed in a later transaction re-reads, re-sorts and starts strictly after that record:
// records inserted or deleted in between cause neither duplicates nor gaps, as with index scans.
type sortSource struct {
	n      *sortNode
	after  tuple.Tuple // (sort key, primary key) to resume after; nil from the start
	recs   []sortedRecord
	offset int // the next record to return
	loaded bool
}

type sortedRecord struct {
	rec *Record
	key tuple.Tuple
}

func (x *sortSource) next(c *Cursor) (item, bool, error) {
	if !x.loaded {
		x.loaded = true
		if err := x.load(c); err != nil {
			return item{}, false, err
		}
	}
	if x.offset >= len(x.recs) {
		return item{}, false, nil
	}
	r := x.recs[x.offset]
	x.offset++
	return item{rec: r.rec, pk: r.rec.PrimaryKey, match: true, bytes: r.rec.Size, scanned: 1, state: tuple.Tuple{r.key, r.rec.PrimaryKey}}, true, nil
}

// load reads and sorts the matching records, then skips those at or before x.after. The read
// is not bounded by the page's limits (only by the sort's own bound): it runs under a cursor of
// its own.
func (x *sortSource) load(c *Cursor) error {
	inner := &Cursor{s: c.s, p: &Plan{}, start: time.Now()}
	src, err := x.n.child.open(inner, nil)
	if err != nil {
		return err
	}
	for {
		if err := c.s.ctx.Err(); err != nil {
			return err
		}
		it, ok, err := src.next(inner)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		match, err := x.n.filter.matches(it.rec)
		if err != nil {
			return err
		}
		if !match {
			continue
		}
		if len(x.recs) >= x.n.limit {
			return fmt.Errorf("record: in-memory sort by %s holds at most %d records: %w", x.n.sort, x.n.limit, ErrSortBoundExceeded)
		}
		k, err := evaluateSingle(x.n.sort, it.rec.Message.ProtoReflect(), it.rec.Type)
		if err != nil {
			return err
		}
		x.recs = append(x.recs, sortedRecord{it.rec, k})
	}
	order := func(key, pk tuple.Tuple, b sortedRecord) int {
		r := tuple.Compare(key, b.key)
		if r == 0 {
			r = tuple.Compare(pk, b.rec.PrimaryKey)
		}
		if x.n.desc {
			r = -r
		}
		return r
	}
	slices.SortFunc(x.recs, func(a, b sortedRecord) int { return order(a.key, a.rec.PrimaryKey, b) })
	if x.after != nil {
		key, pk := x.after[0].(tuple.Tuple), x.after[1].(tuple.Tuple)
		// The first record strictly after the last one returned.
		x.offset = sort.Search(len(x.recs), func(i int) bool { return order(key, pk, x.recs[i]) < 0 })
	}
	return nil
}
