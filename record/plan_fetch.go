package record

import (
	"fmt"
	"strings"
	"sync"
)

// fetchNode loads the records of the index entries its child yields (the Java Record Layer's
// RecordQueryFetchFromPartialRecordPlan). Items that already carry a record pass through.
type fetchNode struct {
	child planNode
}

func (n *fetchNode) describe(b *strings.Builder) {
	n.child.describe(b)
	b.WriteString(" | Fetch")
}

func (n *fetchNode) scans(dst []*scanNode) []*scanNode { return n.child.scans(dst) }

func (n *fetchNode) fetched() bool { return true }

func (n *fetchNode) open(c *Cursor, state any) (source, error) {
	child, err := n.child.open(c, state)
	if err != nil {
		return nil, err
	}
	return &fetchSource{child: child}, nil
}

// fetchSource takes a batch of items from its child and issues the loads of the batch's records
// before waiting on any of them.
type fetchSource struct {
	child source
	batch *[]pendingFetch // from fetchBatches, returned when the source ends
	i     int
	end   bool
}

// fetchBatches keeps the batches of finished fetches for later cursors: a batch has room for
// maxIndexBatch pending loads, some 30 KB.
var fetchBatches = sync.Pool{New: func() any {
	b := make([]pendingFetch, 0, maxIndexBatch)
	return &b
}}

type pendingFetch struct {
	it      item
	l       rawLoad
	loading bool
}

func (x *fetchSource) next(c *Cursor) (item, bool, error) {
	if x.batch == nil || x.i >= len(*x.batch) {
		if x.end {
			x.release()
			return item{}, false, nil
		}
		if err := x.fill(c); err != nil {
			return item{}, false, err
		}
		if len(*x.batch) == 0 {
			x.release()
			return item{}, false, nil
		}
	}
	pf := &(*x.batch)[x.i]
	x.i++
	it := pf.it
	pf.it = item{} // the batch is reused; do not keep the item's record alive
	if pf.loading {
		rec, err := pf.l.record()
		pf.l = rawLoad{} // nor the futures
		if err != nil {
			return item{}, false, err
		}
		if rec == nil {
			return item{}, false, fmt.Errorf("record: index %q entry %v points to missing record %v: %w", it.entry.Index.Name, it.entry.Values, it.pk, ErrCorruptStore)
		}
		it.rec = rec
		it.bytes += rec.Size
	}
	return it, true, nil
}

// release gives the batch back for a later fetch, once the source has ended or its cursor
// stopped.
func (x *fetchSource) release() {
	if x.batch != nil {
		clear(*x.batch) // items not taken still hold records and futures
		*x.batch = (*x.batch)[:0]
		fetchBatches.Put(x.batch)
		x.batch = nil
	}
}

func (x *fetchSource) fill(c *Cursor) error {
	n := c.batchSize(c.p.exact)
	if x.batch == nil {
		x.batch = fetchBatches.Get().(*[]pendingFetch)
	}
	batch := (*x.batch)[:0]
	x.i = 0
	keys := keySlab{size: n * (len(c.s.records) + 24)} // the record keys of this batch
	defer func() { *x.batch = batch }()
	for len(batch) < n {
		it, ok, err := x.child.next(c)
		if err != nil {
			return err
		}
		if !ok {
			x.end = true
			break
		}
		pf := pendingFetch{it: it}
		if it.rec == nil && !it.pause {
			pkPrefix, key0, err := c.s.recordKeyIn(&keys, it.pk, it.pkKey)
			if err != nil {
				return err
			}
			if it.entry.Index != nil {
				pf.l = c.s.startEntryLoad(&it.entry, pkPrefix, key0)
			} else {
				pf.l = c.s.startLoad(pkPrefix, key0, it.pk, false)
			}
			pf.loading = true
		}
		batch = append(batch, pf)
		if it.pause {
			break
		}
	}
	return nil
}

// filterNode keeps the records of its (fetched) child that pass a filter: in a union, the part
// of a branch that its scan does not match (the Java Record Layer's RecordQueryFilterPlan). The
// filter of the whole query is applied by the cursor instead.
type filterNode struct {
	child  planNode
	filter recordFilter
}

func (n *filterNode) describe(b *strings.Builder) {
	n.child.describe(b)
	n.filter.describe(b)
}

func (n *filterNode) scans(dst []*scanNode) []*scanNode { return n.child.scans(dst) }

func (n *filterNode) fetched() bool { return true }

func (n *filterNode) open(c *Cursor, state any) (source, error) {
	child, err := n.child.open(c, state)
	if err != nil {
		return nil, err
	}
	return &filterSource{child: child, f: &n.filter}, nil
}

type filterSource struct {
	child source
	f     *recordFilter
}

// next returns the next record that passes the filter. The records it skips count towards the
// page's limits: when one is reached it returns a pause at the last record skipped.
func (x *filterSource) next(c *Cursor) (item, bool, error) {
	scanned, bytes := 0, 0
	for {
		it, ok, err := x.child.next(c)
		if err != nil || !ok {
			return item{}, false, err
		}
		it.scanned += scanned
		it.bytes += bytes
		if it.pause {
			return it, true, nil
		}
		match, err := x.f.matches(it.rec)
		if err != nil {
			return item{}, false, err
		}
		if match {
			return it, true, nil
		}
		scanned, bytes = it.scanned, it.bytes
		if r, hit := c.limitHit(c.scanned+scanned, c.bytes+bytes); hit {
			return item{pos: it.pos, state: it.state, scanned: scanned, bytes: bytes, pause: true, stop: r}, true, nil
		}
	}
}
