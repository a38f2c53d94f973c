package record

import (
	"fmt"
	"time"

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
// duplicates and no gaps. For plans that merge several scans (unions, intersections, IN joins)
// the continuation holds the position of each scan.
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
	// The position after the last item read: state for plans that merge scans, pos (relative
	// to the scan's base) for one scan. Both nil: the start.
	state any
	pos   []byte
	cont  []byte
}

// item is one record (or index entry still to fetch) read by a source, with its position for
// continuations.
type item struct {
	rec   *Record    // nil: not fetched yet
	entry indexEntry // the index entry, for index scans (entry.Index is nil otherwise)
	pk    tuple.Tuple
	// pkKey is pk packed, as it stands in the key the item was read from, or nil when the key
	// does not hold it whole (or not in its canonical form). Merges compare it, and a fetch
	// copies it into the record key, rather than comparing or packing pk.
	pkKey []byte
	// The position after this item: pos (a key relative to the scan's base) from a scan, state
	// (a tuple) from a node that combines sources. It is what the node's open takes back.
	pos   []byte
	state any
	// scanned counts the entries and records read for this item, including those a node read
	// and skipped before it; bytes likewise.
	scanned int
	bytes   int
	match   bool // already filtered (in-memory sort)
	// pause: no record; a limit was reached inside a node, which stopped at this position.
	pause bool
	stop  StopReason
}

func (it *item) position() any {
	if it.state != nil {
		return it.state
	}
	if it.pos != nil {
		return it.pos
	}
	return nil
}

// source yields the items of a plan node in the node's order.
type source interface {
	// next returns the next item, or false at the end.
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

// contKind marks a continuation of this package's format; the plan's hash follows it.
const contKind = "k"

func (c *Cursor) init() error {
	for _, sc := range c.p.scans {
		if sc.ix != nil && !c.s.indexScannable(sc.ix) {
			return fmt.Errorf("record: plan %s scans index %q, which is %v in this transaction: %w", c.p.explain, sc.ix.Name, c.s.states[sc.ix.Name], ErrIndexNotReadable)
		}
	}
	var state any
	if len(c.opts.Continuation) > 0 {
		t, err := tuple.Unpack(c.opts.Continuation)
		if err != nil || len(t) != 3 {
			return fmt.Errorf("record: continuation does not decode: %w", ErrInvalidContinuation)
		}
		kind, _ := t[0].(string)
		h, _ := t[1].(int64)
		if kind != contKind {
			return fmt.Errorf("record: continuation kind %q does not fit plan %s: %w", kind, c.p.explain, ErrInvalidContinuation)
		}
		if uint64(h) != c.p.hash {
			return fmt.Errorf("record: continuation belongs to another plan than %s: %w", c.p.explain, ErrInvalidContinuation)
		}
		state = t[2]
		c.state = state
	}
	src, err := c.p.root.open(c, state)
	if err != nil {
		return err
	}
	c.src = src
	return nil
}

// indexScannable reports whether queries may scan ix in this transaction: its entries point at
// records and its state lets queries read it.
func (s *Store) indexScannable(ix *Index) bool {
	return ix.kind.scannable && s.states[ix.Name].Scannable()
}

// badState is the error of a continuation whose state does not fit the plan node reading it.
func badState(what string, state any) error {
	return fmt.Errorf("record: continuation position for %s is %T: %w", what, state, ErrInvalidContinuation)
}

// limitHit reports whether the page must stop, had it read scanned entries and bytes. Every
// page reads at least one record or entry, so paging always makes progress.
func (c *Cursor) limitHit(scanned, bytes int) (StopReason, bool) {
	o, progress := c.opts, scanned > 0
	switch {
	case o.ReturnLimit > 0 && c.returned >= o.ReturnLimit:
		return ReturnLimitReached, true
	case progress && o.ScanLimit > 0 && scanned >= o.ScanLimit:
		return ScanLimitReached, true
	case progress && o.ByteLimit > 0 && bytes >= o.ByteLimit:
		return ByteLimitReached, true
	case progress && o.TimeLimit > 0 && time.Since(c.start) >= o.TimeLimit:
		return TimeLimitReached, true
	}
	return 0, false
}

// Next advances to the next matching record and reports whether there is one. It returns false
// at the end of the page; Err, Continuation and StopReason then tell why.
func (c *Cursor) Next() bool {
	c.rec = nil
	for !c.done {
		if r, hit := c.limitHit(c.scanned, c.bytes); hit {
			c.stop(r)
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
		c.scanned += it.scanned
		c.bytes += it.bytes
		c.state, c.pos = it.state, it.pos
		if it.pause {
			c.stop(it.stop)
			break
		}
		match := it.match
		if !match {
			if match, err = c.p.filter.matches(it.rec); err != nil {
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

func (c *Cursor) stop(r StopReason) {
	c.done, c.reason = true, r
	c.release()
	if r == SourceExhausted {
		return
	}
	var pos any
	switch {
	case c.state != nil:
		pos = c.state
	case c.pos != nil:
		pos = c.pos
	}
	c.cont = tuple.Tuple{contKind, int64(c.p.hash), pos}.Pack()
}

func (c *Cursor) fail(err error) {
	c.done, c.err, c.cont = true, err, nil
	c.release()
}

// releaser is a source that holds buffers it can give back once its cursor is done.
type releaser interface{ release() }

// release lets the plan's top source give back its buffers: the cursor reads no more.
func (c *Cursor) release() {
	if r, ok := c.src.(releaser); ok {
		r.release()
	}
}

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
	if n := c.opts.ReturnLimit - c.returned; c.opts.ReturnLimit > 0 && n > 0 {
		out = make([]*Record, 0, min(n, 1024))
	}
	for c.Next() {
		out = append(out, c.rec)
	}
	return out, c.err
}
