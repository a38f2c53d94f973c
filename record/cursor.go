package record

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/tuple"
)

// ExecuteOptions bound one page of a query. The zero value reads to the end.
type ExecuteOptions struct {
	// Continuation resumes after the last record of an earlier page of the same plan (from
	// Cursor.Continuation); nil starts at the beginning.
	Continuation []byte
	// ReturnLimit is the most records to return; 0 means no limit.
	ReturnLimit int
	// ScanLimit is the most records (or index entries) to read, matching or not; 0 means none.
	ScanLimit int
	// ByteLimit stops the page once this many key and value bytes were read; 0 means none.
	ByteLimit int
	// TimeLimit stops the page once it has run this long; 0 means none. Keep pages well inside
	// the 5-second transaction window.
	TimeLimit time.Duration
}

// StopReason says why a cursor stopped.
type StopReason int

// Stop reasons. Every reason but SourceExhausted comes with a continuation.
const (
	// SourceExhausted: the scan reached its end; there is nothing more.
	SourceExhausted StopReason = iota
	// ReturnLimitReached: ReturnLimit records were returned.
	ReturnLimitReached
	// ScanLimitReached: ScanLimit records or entries were read.
	ScanLimitReached
	// ByteLimitReached: ByteLimit bytes were read.
	ByteLimitReached
	// TimeLimitReached: TimeLimit passed.
	TimeLimitReached
)

// String names the reason.
func (r StopReason) String() string {
	switch r {
	case SourceExhausted:
		return "source exhausted"
	case ReturnLimitReached:
		return "return limit reached"
	case ScanLimitReached:
		return "scan limit reached"
	case ByteLimitReached:
		return "byte limit reached"
	case TimeLimitReached:
		return "time limit reached"
	}
	return fmt.Sprintf("StopReason(%d)", int(r))
}

// Cursor returns the records of one page of a query. It is not safe for concurrent use, and it
// reads in the store's transaction, so it must be used before that transaction ends:
//
//	cur := st.Execute(plan, record.ExecuteOptions{ReturnLimit: 20, Continuation: cont})
//	for cur.Next() {
//		use(cur.Record())
//	}
//	if err := cur.Err(); err != nil { … }
//	cont = cur.Continuation() // nil when the query is finished
//
// Resuming from a continuation in a new transaction returns the records after the last one this
// cursor read, in the order of the plan, as the store is at that transaction's read version:
// records inserted or deleted in between are seen or not according to their position, with no
// duplicates and no gaps.
type Cursor struct {
	s        *Store
	p        *Plan
	opts     ExecuteOptions
	start    time.Time
	src      source
	rec      *Record
	err      error
	done     bool
	reason   StopReason
	returned int
	scanned  int
	bytes    int
	pos      []byte // position of the last item read, relative to the scan base
	hasPos   bool
	cont     []byte
}

// item is one record read by a source, with its position for continuations.
type item struct {
	rec   *Record
	pos   []byte
	bytes int
	match bool // already filtered (in-memory sort)
}

type source interface {
	next(c *Cursor) (item, bool, error)
}

// ExecuteQuery plans q and returns a cursor over its first page (or the page after opts.Continuation).
func (s *Store) ExecuteQuery(q Query, opts ExecuteOptions) (*Cursor, error) {
	p, err := s.Plan(q)
	if err != nil {
		return nil, err
	}
	return s.Execute(p, opts), nil
}

// Execute runs plan p in the store's transaction. Errors (such as an invalid continuation) are
// reported by the cursor's Err.
func (s *Store) Execute(p *Plan, opts ExecuteOptions) *Cursor {
	c := &Cursor{s: s, p: p, opts: opts, start: time.Now()}
	c.err = c.init()
	if c.err != nil {
		c.done = true
	}
	return c
}

const (
	contScan = "k"
	contSort = "o"
)

func (c *Cursor) init() error {
	if c.p.ix != nil && !c.s.states[c.p.ix.Name].Scannable() {
		return fmt.Errorf("record: plan %s scans index %q, which is %v in this transaction: %w", c.p.explain, c.p.ix.Name, c.s.states[c.p.ix.Name], ErrIndexNotReadable)
	}
	var pos []byte
	var after tuple.Tuple
	if len(c.opts.Continuation) > 0 {
		t, err := tuple.Unpack(c.opts.Continuation)
		if err != nil || len(t) != 3 {
			return fmt.Errorf("record: continuation does not decode: %w", ErrInvalidContinuation)
		}
		kind, _ := t[0].(string)
		h, _ := t[1].(int64)
		if uint64(h) != c.p.hash {
			return fmt.Errorf("record: continuation belongs to another plan than %s: %w", c.p.explain, ErrInvalidContinuation)
		}
		switch {
		case kind == contScan && c.p.sortLimit == 0:
			switch v := t[2].(type) {
			case []byte:
				pos, c.pos, c.hasPos = v, v, true
			case nil:
			default:
				return fmt.Errorf("record: continuation position is %T: %w", v, ErrInvalidContinuation)
			}
		case kind == contSort && c.p.sortLimit > 0:
			switch v := t[2].(type) {
			case tuple.Tuple:
				if len(v) != 2 {
					return fmt.Errorf("record: continuation sort position has %d parts, want 2: %w", len(v), ErrInvalidContinuation)
				}
				if _, ok := v[0].(tuple.Tuple); !ok {
					return fmt.Errorf("record: continuation sort key is %T: %w", v[0], ErrInvalidContinuation)
				}
				if _, ok := v[1].(tuple.Tuple); !ok {
					return fmt.Errorf("record: continuation primary key is %T: %w", v[1], ErrInvalidContinuation)
				}
				after = v
			case nil:
			default:
				return fmt.Errorf("record: continuation sort position is %T: %w", v, ErrInvalidContinuation)
			}
		default:
			return fmt.Errorf("record: continuation kind %q does not fit plan %s: %w", kind, c.p.explain, ErrInvalidContinuation)
		}
	}
	base, r, err := c.p.scanRange(c.s)
	if err != nil {
		return err
	}
	if c.p.sortLimit > 0 {
		c.src = &sortSource{after: after, base: base, r: r}
		return nil
	}
	if c.hasPos {
		abs := append(append([]byte(nil), base...), pos...)
		if !c.p.reverse {
			if c.p.ix != nil {
				abs = append(abs, 0x00) // the next index key
			} else {
				abs = append(abs, 0xff) // past every chunk of the record
			}
			if string(abs) > string(r.Begin) {
				r.Begin = abs
			}
		} else if string(abs) < string(r.End) {
			r.End = abs
		}
	}
	if c.p.ix == nil {
		c.src = &recordSource{it: c.s.tr.GetRange(r, kv.RangeOptions{Reverse: c.p.reverse}).Iterator(), g: c.s.newGrouper(c.p.reverse), base: base}
	} else {
		c.src = &indexSource{r: r, base: base}
	}
	return nil
}

// Next advances to the next matching record and reports whether there is one. It returns false
// at the end of the page; Err, Continuation and StopReason then tell why.
func (c *Cursor) Next() bool {
	c.rec = nil
	for !c.done {
		// Every page reads at least one record, so paging always makes progress.
		o, progress := c.opts, c.scanned > 0
		switch {
		case o.ReturnLimit > 0 && c.returned >= o.ReturnLimit:
			c.stop(ReturnLimitReached)
		case progress && o.ScanLimit > 0 && c.scanned >= o.ScanLimit:
			c.stop(ScanLimitReached)
		case progress && o.ByteLimit > 0 && c.bytes >= o.ByteLimit:
			c.stop(ByteLimitReached)
		case progress && o.TimeLimit > 0 && time.Since(c.start) >= o.TimeLimit:
			c.stop(TimeLimitReached)
		}
		if c.done {
			break
		}
		if err := c.s.ctx.Err(); err != nil {
			c.fail(err)
			break
		}
		it, ok, err := c.src.next(c)
		if err != nil {
			c.fail(err)
			break
		}
		if !ok {
			c.stop(SourceExhausted)
			break
		}
		c.scanned++
		c.bytes += it.bytes
		c.pos, c.hasPos = it.pos, true
		match := it.match
		if !match {
			if match, err = c.p.matches(it.rec); err != nil {
				c.fail(err)
				break
			}
		}
		if match {
			c.returned++
			c.rec = it.rec
			return true
		}
	}
	return false
}

func (p *Plan) matches(rec *Record) (bool, error) {
	if p.typeFilter && !slices.Contains(p.types, rec.Type) {
		return false, nil
	}
	if p.residual == nil {
		return true, nil
	}
	return p.residual.eval(rec.Message.ProtoReflect())
}

func (c *Cursor) stop(r StopReason) {
	c.done, c.reason = true, r
	if r == SourceExhausted {
		return
	}
	if c.p.sortLimit > 0 {
		c.cont = tuple.Tuple{contSort, int64(c.p.hash), c.src.(*sortSource).position()}.Pack()
		return
	}
	var pos any
	if c.hasPos {
		pos = c.pos
	}
	c.cont = tuple.Tuple{contScan, int64(c.p.hash), pos}.Pack()
}

func (c *Cursor) fail(err error) { c.done, c.err, c.cont = true, err, nil }

// Record returns the current record.
func (c *Cursor) Record() *Record { return c.rec }

// Err returns the error that stopped the cursor, or nil.
func (c *Cursor) Err() error { return c.err }

// StopReason returns why the cursor stopped (valid once Next returned false without an error).
func (c *Cursor) StopReason() StopReason { return c.reason }

// Continuation returns the bytes that resume the query after the last record read, or nil when
// the query is finished (or failed). It is valid once Next returned false.
func (c *Cursor) Continuation() []byte { return c.cont }

// Stats returns how many records the cursor returned and scanned, and how many bytes it read.
func (c *Cursor) Stats() (returned, scanned, bytes int) { return c.returned, c.scanned, c.bytes }

// All reads the rest of the page.
func (c *Cursor) All() ([]*Record, error) {
	var out []*Record
	for c.Next() {
		out = append(out, c.rec)
	}
	return out, c.err
}

// recordSource reads the record extent, assembling split records.
type recordSource struct {
	it   kv.RangeIterator
	g    grouper
	base []byte
	end  bool
}

func (r *recordSource) next(c *Cursor) (item, bool, error) {
	for !r.end {
		var raw *rawRecord
		var err error
		if r.it.Next() {
			raw, err = r.g.add(r.it.KeyValue())
		} else {
			if err := r.it.Err(); err != nil {
				return item{}, false, err
			}
			r.end = true
			raw, err = r.g.flush()
		}
		if err != nil {
			return item{}, false, err
		}
		if raw != nil {
			rec, err := c.s.decode(raw)
			if err != nil {
				return item{}, false, err
			}
			return item{rec: rec, pos: raw.prefix[len(r.base):], bytes: raw.bytes}, true, nil
		}
	}
	return item{}, false, nil
}

// indexSource reads index entries in batches and issues the loads of a batch's records before
// waiting on any of them.
type indexSource struct {
	r     kv.Range
	base  []byte
	batch []pendingLoad
	i     int
	end   bool
}

type pendingLoad struct {
	entry indexEntry
	l     rawLoad
	bytes int
}

const maxIndexBatch = 100

func (x *indexSource) next(c *Cursor) (item, bool, error) {
	if x.i >= len(x.batch) {
		if x.end {
			return item{}, false, nil
		}
		if err := x.fill(c); err != nil {
			return item{}, false, err
		}
		if len(x.batch) == 0 {
			return item{}, false, nil
		}
	}
	pl := &x.batch[x.i]
	x.i++
	rec, err := pl.l.record()
	pl.l = rawLoad{} // the batch is reused; do not keep the futures alive
	if err != nil {
		return item{}, false, err
	}
	if rec == nil {
		return item{}, false, fmt.Errorf("record: index %q entry %v points to missing record %v: %w", pl.entry.Index.Name, pl.entry.Values, pl.entry.PrimaryKey, ErrCorruptStore)
	}
	return item{rec: rec, pos: pl.entry.Key[len(x.base):], bytes: pl.bytes + rec.Size}, true, nil
}

func (x *indexSource) fill(c *Cursor) error {
	n := maxIndexBatch
	if o := c.opts; o.ScanLimit > 0 {
		n = min(n, o.ScanLimit-c.scanned)
	}
	if o := c.opts; o.ReturnLimit > 0 && c.p.residual == nil && !c.p.typeFilter {
		n = min(n, o.ReturnLimit-c.returned)
	}
	n = max(n, 1)
	rows, err := c.s.tr.GetRange(x.r, kv.RangeOptions{Limit: n, Reverse: c.p.reverse}).GetSlice()
	if err != nil {
		return err
	}
	x.batch, x.i = x.batch[:0], 0
	if cap(x.batch) < len(rows) {
		x.batch = make([]pendingLoad, 0, len(rows))
	}
	for _, row := range rows {
		e, err := c.s.decodeEntry(c.p.ix, row.Key)
		if err != nil {
			return err
		}
		pkPrefix, key0, err := c.s.recordKey(e.PrimaryKey)
		if err != nil {
			return err
		}
		x.batch = append(x.batch, pendingLoad{entry: e, l: c.s.startEntryLoad(e, pkPrefix, key0), bytes: len(row.Key) + len(row.Value)})
	}
	if len(rows) < n {
		x.end = true
	}
	if len(rows) > 0 {
		last := rows[len(rows)-1].Key
		if c.p.reverse {
			x.r.End = last
		} else {
			x.r.Begin = kv.KeyAfter(last)
		}
	}
	return nil
}

// sortSource reads every matching record of the scan (up to the plan's bound), sorts them by
// (sort key, primary key), and returns them from a position. Its continuation is the sort key and
// primary key of the last record returned, so a page resumed in a later transaction re-reads,
// re-sorts and starts strictly after that record: records inserted or deleted in between cause
// neither duplicates nor gaps, as with index scans.
type sortSource struct {
	after  tuple.Tuple // (sort key, primary key) to resume after; nil from the start
	base   []byte
	r      kv.Range
	recs   []sortedRecord
	offset int // the next record to return
	start  int // where this page began in recs
	loaded bool
}

type sortedRecord struct {
	rec *Record
	key tuple.Tuple
}

// position is the continuation position: the last record returned, or where the page began.
func (x *sortSource) position() any {
	if x.offset > x.start {
		last := x.recs[x.offset-1]
		return tuple.Tuple{last.key, last.rec.PrimaryKey}
	}
	if x.after != nil {
		return x.after
	}
	return nil
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
	rec := x.recs[x.offset].rec
	x.offset++
	return item{rec: rec, match: true, bytes: rec.Size}, true, nil
}

// load reads and sorts the matching records, then skips those at or before x.after.
func (x *sortSource) load(c *Cursor) error {
	inner := &Plan{types: c.p.types, typeFilter: c.p.typeFilter, ix: c.p.ix, eq: c.p.eq, low: c.p.low, high: c.p.high, prefix: c.p.prefix, residual: c.p.residual}
	ic := &Cursor{s: c.s, p: inner, opts: ExecuteOptions{}, start: time.Now()}
	if inner.ix == nil {
		ic.src = &recordSource{it: c.s.tr.GetRange(x.r, kv.RangeOptions{}).Iterator(), g: c.s.newGrouper(false), base: x.base}
	} else {
		ic.src = &indexSource{r: x.r, base: x.base}
	}
	for ic.Next() {
		if len(x.recs) >= c.p.sortLimit {
			return fmt.Errorf("record: in-memory sort by %s holds at most %d records: %w", c.p.sort, c.p.sortLimit, ErrSortBoundExceeded)
		}
		k, err := evaluateSingle(c.p.sort, ic.rec.Message.ProtoReflect(), ic.rec.Type)
		if err != nil {
			return err
		}
		x.recs = append(x.recs, sortedRecord{ic.rec, k})
	}
	if err := ic.Err(); err != nil {
		return err
	}
	order := func(key, pk tuple.Tuple, b sortedRecord) int {
		r := tuple.Compare(key, b.key)
		if r == 0 {
			r = tuple.Compare(pk, b.rec.PrimaryKey)
		}
		if c.p.sortDesc {
			r = -r
		}
		return r
	}
	slices.SortFunc(x.recs, func(a, b sortedRecord) int { return order(a.key, a.rec.PrimaryKey, b) })
	if x.after != nil {
		key, pk := x.after[0].(tuple.Tuple), x.after[1].(tuple.Tuple)
		// The first record strictly after the last one returned.
		x.offset = sort.Search(len(x.recs), func(i int) bool { return order(key, pk, x.recs[i]) < 0 })
		x.start = x.offset
	}
	return nil
}
