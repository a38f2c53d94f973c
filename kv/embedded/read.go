package embedded

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/layerkit/layerkit/kv"
)

// maxReadKey is the end of the user keyspace: reads may reach up to it, not past it.
var maxReadKey = []byte{0xff}

func readKeyErr(what string, key []byte) error {
	return fmt.Errorf("embedded: %s of key %s in the system keyspace: %w", what, kv.Printable(truncate(key)), kv.ErrKeyOutsideLegalRange)
}

func tooOldErr(what string) error {
	return fmt.Errorf("embedded: %s needs the database at a read version older than the transaction window: %w", what, kv.ErrTransactionTooOld)
}

func (tx *transaction) get(key []byte, snapshot bool) kv.Future[[]byte] {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return tx.getLocked(key, snapshot)
}

// getLocked reads key as FoundationDB's read-your-writes layer does: a value the transaction's
// own writes decide is answered without the database (no read version, no read conflict, never
// 1007); otherwise the database is read at the read version, which fails with 1007 once the
// version has left the window, unless the transaction fetched the key before (FoundationDB's
// read cache answers that).
func (tx *transaction) getLocked(key []byte, snapshot bool) *result {
	now := time.Now()
	if err := tx.check(now); err != nil {
		return failedResult(err)
	}
	if len(key) > 0 && key[0] == 0xff {
		if !bytes.Equal(key, metadataVersionKey) {
			return failedResult(readKeyErr("get", key))
		}
	} else if len(key) > maxReadKeySize {
		// No key that long can exist.
		return absent
	}
	e := tx.writes.get(key)
	switch {
	case e != nil && e.unreadable, e == nil && tx.writes.unreadableAt(key):
		return failedResult(fmt.Errorf("embedded: get of key %s, whose value holds or may be overwritten by a versionstamp: %w", kv.Printable(truncate(key)), kv.ErrAccessedUnreadable))
	case e != nil && e.independent():
		return valueResult(e.value, e.present)
	case e == nil && tx.writes.cleared(key):
		return absent
	}
	v, err := tx.readView(now)
	if err != nil {
		return failedResult(err)
	}
	if tx.old(now) && !tx.fetched(key, kv.KeyAfter(key)) {
		return failedResult(tooOldErr("get of key " + kv.Printable(truncate(key))))
	}
	var res *result
	var after []byte
	err = v.get(key, func(val []byte, present bool) {
		if e != nil {
			val, present = e.resolve(val, present)
		}
		res, after = readResult(key, val, present)
	})
	if err != nil {
		return failedResult(err)
	}
	r := kv.Range{Begin: after[:len(key):len(key)], End: after}
	if snapshot {
		tx.snapReads = append(tx.snapReads, r)
	} else {
		tx.reads = append(tx.reads, r)
	}
	return res
}

// fetched reports whether every key of [b, e) was read from the database earlier (by a read,
// snapshot or not) or is decided by the transaction's own writes. It is only asked of a
// transaction older than the window, whose reads of what it fetched are answered as from
// FoundationDB's per-transaction cache.
func (tx *transaction) fetched(b, e []byte) bool {
	var known []kv.Range
	for _, rs := range [][]kv.Range{tx.reads, tx.snapReads, tx.writes.clears} {
		for _, r := range rs {
			if bytes.Compare(r.Begin, e) < 0 && bytes.Compare(b, r.End) < 0 {
				known = append(known, r)
			}
		}
	}
	for k, ent := range tx.writes.points.Ascend(b, e) {
		if ent.independent() {
			known = append(known, kv.Range{Begin: k, End: kv.KeyAfter(k)})
		}
	}
	sort.Slice(known, func(i, j int) bool { return bytes.Compare(known[i].Begin, known[j].Begin) < 0 })
	pos := b
	for _, r := range known {
		if bytes.Compare(r.Begin, pos) > 0 {
			break
		}
		if bytes.Compare(r.End, pos) > 0 {
			pos = r.End
		}
		if bytes.Compare(pos, e) >= 0 {
			return true
		}
	}
	return bytes.Compare(pos, e) >= 0
}

// addReadRange adds the read conflict range [b, e) to *dst, minus what the transaction decided
// itself before the read: ranges it cleared and keys it set or cleared (not those with pending
// atomic ops, which depend on the stored value). What it read there came from its own writes,
// so (as in FoundationDB's updateConflictMap) a commit in between cannot change it. The range
// keeps copies of b and e, unless owned says that nothing will change them.
func (tx *transaction) addReadRange(b, e []byte, dst *[]kv.Range, owned bool) {
	w := &tx.writes
	if w.points.Len() == 0 && len(w.clears) == 0 {
		appendRange(dst, b, e, owned)
		return
	}
	// Sweep the exclusions in key order: cleared ranges and independent point writes, merged.
	var excl []kv.Range
	ci := sort.Search(len(w.clears), func(i int) bool { return bytes.Compare(w.clears[i].End, b) > 0 })
	for k, ent := range w.points.Ascend(b, e) {
		for ; ci < len(w.clears) && bytes.Compare(w.clears[ci].Begin, k) <= 0; ci++ {
			excl = append(excl, w.clears[ci])
		}
		if ent.independent() {
			excl = append(excl, kv.Range{Begin: k, End: nil})
		}
	}
	for ; ci < len(w.clears) && bytes.Compare(w.clears[ci].Begin, e) < 0; ci++ {
		excl = append(excl, w.clears[ci])
	}
	pos := b
	for _, x := range excl {
		end := x.End
		if end == nil {
			end = kv.KeyAfter(x.Begin)
		}
		if bytes.Compare(x.Begin, pos) > 0 {
			top := x.Begin
			if bytes.Compare(top, e) > 0 {
				top = e
			}
			appendRange(dst, pos, top, owned)
		}
		if bytes.Compare(end, pos) > 0 {
			pos = end
		}
		if bytes.Compare(pos, e) >= 0 {
			return
		}
	}
	appendRange(dst, pos, e, owned)
}

// appendRange appends [b, e) (copies of the keys unless owned) to *dst, extending the last range
// when the two touch, so that the batches of one range read make one range.
func appendRange(dst *[]kv.Range, b, e []byte, owned bool) {
	if !owned {
		b, e = bytes.Clone(b), bytes.Clone(e)
	}
	if n := len(*dst); n > 0 {
		last := &(*dst)[n-1]
		if bytes.Equal(last.End, b) {
			last.End = e
			return
		}
		if bytes.Equal(last.Begin, e) {
			last.Begin = b
			return
		}
	}
	*dst = append(*dst, kv.Range{Begin: b, End: e})
}

// get reads key from the view and passes its value to use, which must not keep it.
func (v *view) get(key []byte, use func(val []byte, present bool)) error {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.closed {
		return v.closedErr()
	}
	var val []byte
	var closer io.Closer
	var err error
	if v.snap != nil {
		val, closer, err = v.snap.Get(key)
	} else {
		val, closer, err = v.db.Get(key)
	}
	if errors.Is(err, pebble.ErrNotFound) {
		use(nil, false)
		return nil
	}
	if err != nil {
		return storageErr("get", err)
	}
	use(val, true)
	return closer.Close()
}

// getKey resolves a selector against the snapshot merged with the transaction's writes.
func (tx *transaction) getKey(sel kv.KeySelector, snapshot bool) kv.Future[[]byte] {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	now := time.Now()
	if err := tx.check(now); err != nil {
		return kv.Ready[[]byte](nil, err)
	}
	k, err := tx.resolveSelector(sel, snapshot, now)
	return kv.Ready(k, err)
}

// resolveSelector returns the key sel names, clamped to ["", 0xff]. Its read conflict range runs
// from the selector's key to the key it resolved to, as FoundationDB's (so past the end it
// reaches 0xff\x00, the key after the end of the user keyspace).
func (tx *transaction) resolveSelector(sel kv.KeySelector, snapshot bool, now time.Time) ([]byte, error) {
	if bytes.Compare(sel.Key, maxReadKey) > 0 {
		return nil, readKeyErr("key selector", sel.Key)
	}
	key := sel.Key
	if len(key) > maxReadKeySize+1 {
		key = key[:maxReadKeySize+1]
	}
	if sel.Offset >= 1 {
		// The offset-th key at or after start.
		start := key
		if sel.OrEqual {
			start = kv.KeyAfter(key)
		}
		if bytes.Compare(start, maxReadKey) >= 0 {
			return bytes.Clone(maxReadKey), nil
		}
		c := getCollector(true)
		defer c.put()
		resume, err := tx.scanAll(c, start, maxReadKey, false, sel.Offset, 0, snapshot, now)
		if err != nil {
			return nil, err
		}
		if !snapshot {
			end := kv.KeyAfter(maxReadKey)
			if resume != nil {
				end = resume
			}
			tx.addReadRange(start, end, &tx.reads, false)
		}
		if c.len() < sel.Offset {
			return bytes.Clone(maxReadKey), nil
		}
		return bytes.Clone(c.lastKey()), nil
	}
	// The (1-offset)-th key before end, going backwards.
	end := key
	if sel.OrEqual {
		end = kv.KeyAfter(key)
	}
	n := 1 - sel.Offset
	if sel.Offset < math.MinInt+2 {
		n = math.MaxInt
	}
	c := getCollector(true)
	defer c.put()
	resume, err := tx.scanAll(c, nil, end, true, n, 0, snapshot, now)
	if err != nil {
		return nil, err
	}
	if !snapshot {
		begin := []byte{}
		if resume != nil {
			begin = resume
		}
		tx.addReadRange(begin, end, &tx.reads, false)
	}
	if c.len() < n {
		return []byte{}, nil
	}
	return bytes.Clone(c.lastKey()), nil
}

// rowCost is what a row counts against a batch's byte limit on FoundationDB's storage servers
// (sizeof(KeyValueRef) and the row's bytes; storageserver readRange).
func rowCost(k, v []byte) int { return rangeOverhead + len(k) + len(v) }

// scanAll reads rows of [lo, hi) (forwards, or backwards from hi), merged with the transaction's
// writes, into c: at most n rows, and when budget is positive only until their cost reaches it
// (FoundationDB's byte limit of one batch; the row that reaches it is included). resume is nil
// when the whole range was read; otherwise the rows cover [lo, resume) forwards or [resume, hi)
// backwards.
//
// As in FoundationDB, a range the transaction's own writes decide is read without the database
// (and without taking a read version); otherwise the database is read at the read version, which
// fails with 1007 once the version has left the window unless the whole part read was fetched
// before. A range that meets a key a versionstamp may write fails with 1036. Snapshot reads
// record what they fetched; the caller adds the read conflict range of other reads.
func (tx *transaction) scanAll(c *collector, lo, hi []byte, reverse bool, n, budget int, snapshot bool, now time.Time) (resume []byte, err error) {
	store := true
	if tx.view == nil && !tx.writes.empty() {
		// The transaction's own writes may decide the whole read.
		next, dep, err := tx.scanPasses(nil, c, lo, hi, reverse, n, budget)
		if err != nil {
			return nil, err
		}
		b, e := region(lo, hi, reverse, next)
		if !dep && tx.writes.decided(orEmpty(b), e) {
			resume, store = next, false
		} else {
			c.reset()
		}
	}
	if store {
		v, err := tx.readView(now)
		if err != nil {
			return nil, err
		}
		resume, _, err = tx.scanPasses(v, c, lo, hi, reverse, n, budget)
		if err != nil {
			return nil, err
		}
	}
	b, e := region(lo, hi, reverse, resume)
	b = orEmpty(b)
	if tx.writes.unreadableIn(b, e) {
		return nil, fmt.Errorf("embedded: range read of [%s, %s) meets a key a versionstamp may write: %w", kv.Printable(truncate(b)), kv.Printable(truncate(e)), kv.ErrAccessedUnreadable)
	}
	if store {
		if tx.old(now) && !tx.fetched(b, e) {
			return nil, tooOldErr(fmt.Sprintf("range read of [%s, %s)", kv.Printable(truncate(b)), kv.Printable(truncate(e))))
		}
		if snapshot {
			appendRange(&tx.snapReads, b, e, false)
		}
	}
	return resume, nil
}

// region is the part of [lo, hi) a read that stopped at resume (nil: at the end) covered.
func region(lo, hi []byte, reverse bool, resume []byte) ([]byte, []byte) {
	switch {
	case resume == nil:
		return lo, hi
	case reverse:
		return resume, hi
	default:
		return lo, resume
	}
}

// scanPasses runs scan until n rows, the budget or the end of the range: one pass can stop early
// when the transaction's writes in the range outnumber what it may return.
func (tx *transaction) scanPasses(v *view, c *collector, lo, hi []byte, reverse bool, n, budget int) (resume []byte, dep bool, err error) {
	var left *int
	if budget > 0 {
		left = &budget
	}
	for got := 0; got < n; {
		before := c.len()
		next, d, err := tx.scan(v, lo, hi, reverse, n-got, left, c)
		if err != nil || d {
			return nil, d, err
		}
		got += c.len() - before
		if next == nil {
			return nil, false, nil
		}
		if reverse {
			hi = next
		} else {
			lo = next
		}
		resume = next
		if left != nil && *left <= 0 {
			break
		}
	}
	return resume, false, nil
}

// overlayEntry is a buffered write met by a scan.
type overlayEntry struct {
	key []byte
	e   *entry
}

// scan reads one batch of rows of [lo, hi), at most n, into c; when left is not nil it stops
// once the rows' cost uses up *left. next is nil when the range is exhausted; otherwise the next
// batch starts there (forwards: [next, hi); backwards: [lo, next)). With a nil view it reads the
// transaction's own writes only, and dep reports that it met a key whose value depends on the
// database. It needs tx.mu.
func (tx *transaction) scan(v *view, lo, hi []byte, reverse bool, n int, left *int, c *collector) (next []byte, dep bool, err error) {
	// hi is always a key (nil is the empty key), but Pebble reads an empty upper bound as none,
	// so the empty range before "" is handled here.
	if len(hi) == 0 || bytes.Compare(lo, hi) >= 0 {
		return nil, false, nil
	}
	// Collect the buffered writes of the range, at most as many as the batch may return (each
	// yields at most one row); when there are more, the batch stops at the last one.
	limit := n
	if left != nil {
		limit = min(limit, *left/rangeOverhead+1)
	}
	overlay := c.overlay[:0]
	defer func() { c.overlay = overlay[:0] }()
	truncated := false
	if pts := &tx.writes.points; pts.Len() > 0 {
		if !reverse {
			for k, e := range pts.Ascend(orEmpty(lo), hi) {
				if len(overlay) == limit {
					truncated = true
					break
				}
				overlay = append(overlay, overlayEntry{k, e})
			}
		} else {
			for k, e := range pts.Descend(hi, orEmpty(lo)) {
				if len(overlay) == limit {
					truncated = true
					break
				}
				overlay = append(overlay, overlayEntry{k, e})
			}
		}
	}

	it := noIterator
	if v != nil {
		v.mu.RLock()
		defer v.mu.RUnlock()
		if v.closed {
			return nil, false, v.closedErr()
		}
		opts := pebble.IterOptions{LowerBound: lo, UpperBound: hi}
		if len(lo) == 0 {
			// Pebble's invariant checks reject an empty lower bound; none means the same.
			opts.LowerBound = nil
		}
		pit, err := v.newIter(&opts)
		if err != nil {
			return nil, false, storageErr("range read", err)
		}
		defer pit.Close()
		it = pit
	}

	clears := tx.writes.clears
	spent := false
	emit := func(k, val []byte) {
		c.add(k, val)
		if left != nil {
			*left -= rowCost(k, val)
			spent = *left <= 0
		}
	}
	// One merge loop serves both directions. "Ahead" means later in the scan's direction; the
	// cleared ranges are visited in that direction too.
	first, step := it.First, it.Next
	ahead := func(a, b []byte) bool { return bytes.Compare(a, b) > 0 }
	// behind reports whether the cleared range c lies wholly behind key k; covers whether a
	// range not behind k contains it; skip moves the iterator past c.
	behind := func(c kv.Range, k []byte) bool { return bytes.Compare(c.End, k) <= 0 }
	covers := func(c kv.Range, k []byte) bool { return bytes.Compare(c.Begin, k) <= 0 }
	skip := func(c kv.Range) bool { return it.SeekGE(c.End) }
	resumeAt := kv.KeyAfter
	if reverse {
		first, step = it.Last, it.Prev
		ahead = func(a, b []byte) bool { return bytes.Compare(a, b) < 0 }
		behind = func(c kv.Range, k []byte) bool { return bytes.Compare(c.Begin, k) > 0 }
		covers = func(c kv.Range, k []byte) bool { return bytes.Compare(k, c.End) < 0 }
		skip = func(c kv.Range) bool { return it.SeekLT(c.Begin) }
		resumeAt = bytes.Clone
		clears = slices.Clone(clears)
		slices.Reverse(clears)
	}

	got, ci, oi := 0, 0, 0
	valid := first()
	for got < n && !spent {
		// Skip stored keys that the transaction cleared.
		for valid {
			k := it.Key()
			for ci < len(clears) && behind(clears[ci], k) {
				ci++
			}
			if ci < len(clears) && covers(clears[ci], k) {
				valid = skip(clears[ci])
				continue
			}
			break
		}
		if oi < len(overlay) && (!valid || !ahead(overlay[oi].key, it.Key())) {
			o := overlay[oi]
			oi++
			if v == nil && (o.e.unreadable || !o.e.independent()) {
				// Stored keys may come first: only a read of the database can tell.
				return nil, true, nil
			}
			if o.e.unreadable {
				return nil, false, fmt.Errorf("embedded: range read meets key %s, whose value holds or may be overwritten by a versionstamp: %w", kv.Printable(truncate(o.key)), kv.ErrAccessedUnreadable)
			}
			var base []byte
			present := false
			stored := valid && bytes.Equal(o.key, it.Key())
			if stored {
				base, present = it.Value(), true
			}
			// Resolve before moving: the iterator's value is only valid until then.
			if val, ok := o.e.resolve(base, present); ok {
				emit(o.key, val)
				got++
			}
			if stored && got < n { // a step past the last row can cost as much as a read
				valid = step()
			}
			if truncated && oi == len(overlay) {
				return resumeAt(o.key), false, nil
			}
			continue
		}
		if !valid {
			break
		}
		emit(it.Key(), it.Value())
		got++
		if got < n {
			valid = step()
		}
	}
	if err := it.Error(); err != nil {
		return nil, false, storageErr("range read", err)
	}
	if got == n || spent {
		return resumeAt(c.lastKey()), false, nil
	}
	return nil, false, nil
}

// iterator is what scan needs of a Pebble iterator.
type iterator interface {
	First() bool
	Last() bool
	Next() bool
	Prev() bool
	SeekGE(key []byte) bool
	SeekLT(key []byte) bool
	Key() []byte
	Value() []byte
	Error() error
}

// emptyIterator stands for the database in a scan of the transaction's own writes.
type emptyIterator struct{}

func (emptyIterator) First() bool        { return false }
func (emptyIterator) Last() bool         { return false }
func (emptyIterator) Next() bool         { return false }
func (emptyIterator) Prev() bool         { return false }
func (emptyIterator) SeekGE([]byte) bool { return false }
func (emptyIterator) SeekLT([]byte) bool { return false }
func (emptyIterator) Key() []byte        { return nil }
func (emptyIterator) Value() []byte      { return nil }
func (emptyIterator) Error() error       { return nil }

var noIterator iterator = emptyIterator{}

func orEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// Byte limits of the batches of a range read, as FoundationDB's C client sets them
// (bindings/c/fdb_c.cpp, validate_and_update_parameters): in iterator mode batch i gets
// iterationBytes[i-1] (the last for every later batch); the other modes have one limit each,
// and exact mode none (it reads the whole limit at once).
var iterationBytes = [...]int{4096, 6144, 9216, 13824, 20736, 31104, 46656, 69984, 80000, 120000}

// batchBytes returns the byte limit of batch i (from 1) of a read in mode m; 0 means none.
func batchBytes(m kv.StreamingMode, i int) int {
	switch m {
	case kv.StreamingIterator:
		return iterationBytes[min(i, len(iterationBytes))-1]
	case kv.StreamingSmall:
		return 256
	case kv.StreamingMedium:
		return 1000
	case kv.StreamingLarge:
		return 4096
	case kv.StreamingWantAll, kv.StreamingSerial:
		return 80000
	}
	return 0
}

// getRange issues a range read. As with FoundationDB's Go binding, the first batch is read at
// once (so the read conflicts on it from now on, whether or not it is ever consumed); GetSlice
// reads the rest, and an iterator reads further batches as it goes.
func (tx *transaction) getRange(r kv.Ranger, o kv.RangeOptions, snapshot bool) kv.RangeResult {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	rr := &rangeResult{tx: tx, opts: o, snapshot: snapshot, gen: tx.gen}
	begin, end := r.Selectors()
	rr.err = rr.start(begin, end, time.Now())
	return rr
}

type rangeResult struct {
	tx       *transaction
	opts     kv.RangeOptions
	snapshot bool
	gen      uint64
	err      error
	// The resolved range [lo, hi) (empty when lo is nil and hi is nil) and its first batch:
	// rows, and where the next batch starts (nil: the first batch read the range to its end).
	lo, hi []byte
	first  []kv.KeyValue
	resume []byte
	taken  bool // the first batch's rows were handed out
	// it is the first iterator, and keyBuf holds short bounds: both in the read's own
	// allocation.
	it      rangeIterator
	itTaken bool
	keyBuf  [48]byte
}

// start checks the options, resolves the selectors and reads the first batch. It needs tx.mu.
func (r *rangeResult) start(begin, end kv.KeySelector, now time.Time) error {
	tx := r.tx
	o := r.opts
	if o.Mode == kv.StreamingExact && o.Limit == 0 {
		return fmt.Errorf("embedded: range read in exact streaming mode without a limit: %w", kv.ErrExactModeWithoutLimits)
	}
	if o.Mode < kv.StreamingIterator || o.Mode > kv.StreamingSerial {
		return fmt.Errorf("embedded: range read in unknown streaming mode %d: %w", int(o.Mode), kv.ErrInvalidOptionValue)
	}
	if o.Limit < 0 {
		return fmt.Errorf("embedded: range read with negative limit %d: %w", o.Limit, kv.ErrInvalidOptionValue)
	}
	if err := tx.check(now); err != nil {
		return err
	}
	if bytes.Compare(begin.Key, maxReadKey) > 0 {
		return readKeyErr("range read", begin.Key)
	}
	if bytes.Compare(end.Key, maxReadKey) > 0 {
		return readKeyErr("range read", end.Key)
	}
	// A range whose selectors are visibly inverted reads nothing (ReadYourWrites getRange).
	bk, bo := normalize(begin)
	ek, eo := normalize(end)
	if bo >= eo && bytes.Compare(bk, ek) >= 0 {
		return nil
	}
	// The range keeps its bounds for later batches, and the caller may reuse its key slices
	// once GetRange returns: one copy of both keys.
	keys := r.keyBuf[:0]
	if n := len(begin.Key) + len(end.Key); n > len(r.keyBuf) {
		keys = make([]byte, 0, n)
	}
	keys = append(append(keys, begin.Key...), end.Key...)
	lo, hi := keys[:len(begin.Key):len(begin.Key)], keys[len(begin.Key):len(keys):len(keys)]
	var err error
	if !isPlain(begin) {
		if lo, err = tx.resolveSelector(begin, r.snapshot, now); err != nil {
			return err
		}
	}
	if !isPlain(end) {
		if hi, err = tx.resolveSelector(end, r.snapshot, now); err != nil {
			return err
		}
	}
	if bytes.Compare(lo, hi) >= 0 {
		return nil
	}
	r.lo, r.hi = lo, hi
	r.first, r.resume, err = r.batch(nil, lo, hi, r.left(0), batchBytes(o.Mode, 1), now)
	return err
}

// normalize returns a selector's key and offset with OrEqual folded into the key, as
// FoundationDB's removeOrEqual does.
func normalize(s kv.KeySelector) ([]byte, int) {
	if s.OrEqual {
		return kv.KeyAfter(s.Key), s.Offset
	}
	return s.Key, s.Offset
}

func isPlain(s kv.KeySelector) bool { return s.Offset == 1 && !s.OrEqual }

// left is how many more rows the read may return after got.
func (r *rangeResult) left(got int) int {
	if r.opts.Limit == 0 {
		return math.MaxInt
	}
	return r.opts.Limit - got
}

// batch reads rows of [lo, hi) for this range read, appending them to rows, and adds the read
// conflict range of what it read (unless a snapshot read). It needs tx.mu.
func (r *rangeResult) batch(rows []kv.KeyValue, lo, hi []byte, n, budget int, now time.Time) ([]kv.KeyValue, []byte, error) {
	tx := r.tx
	c := getCollector(false)
	defer c.put()
	resume, err := tx.scanAll(c, lo, hi, r.opts.Reverse, n, budget, r.snapshot, now)
	if err != nil {
		return nil, nil, err
	}
	rows = c.rows(rows)
	if !r.snapshot {
		// The bounds and resume keys belong to this read and never change.
		b, e := region(lo, hi, r.opts.Reverse, resume)
		tx.addReadRange(b, e, &tx.reads, true)
	}
	return rows, resume, nil
}

// firstRows hands out the first batch: its rows the first time, a copy after that, so that each
// caller owns what it gets.
func (r *rangeResult) firstRows() []kv.KeyValue {
	if !r.taken {
		r.taken = true
		return r.first
	}
	out := make([]kv.KeyValue, len(r.first))
	for i, row := range r.first {
		out[i] = kv.KeyValue{Key: bytes.Clone(row.Key), Value: bytes.Clone(row.Value)}
	}
	return out
}

func (r *rangeResult) resetErr() error {
	return fmt.Errorf("embedded: range read used after its transaction was reset: %w", kv.ErrTransactionCancelled)
}

// GetSlice returns every row of the range (up to the limit): the first batch, and the rest read
// now.
func (r *rangeResult) GetSlice() ([]kv.KeyValue, error) {
	tx := r.tx
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if r.err != nil {
		return nil, r.err
	}
	if r.gen != tx.gen {
		return nil, r.resetErr()
	}
	rows := r.firstRows()
	if r.resume == nil || r.left(len(rows)) == 0 {
		return rows, nil
	}
	now := time.Now()
	if err := tx.check(now); err != nil {
		return nil, err
	}
	lo, hi := r.lo, r.hi
	if r.opts.Reverse {
		hi = r.resume
	} else {
		lo = r.resume
	}
	rows, _, err := r.batch(rows, lo, hi, r.left(len(rows)), 0, now)
	return rows, err
}

// Iterator returns an iterator that goes on from the first batch in batches of growing size.
func (r *rangeResult) Iterator() kv.RangeIterator {
	r.tx.mu.Lock()
	defer r.tx.mu.Unlock()
	if !r.itTaken {
		r.itTaken = true
		r.it.r = r
		return &r.it
	}
	return &rangeIterator{r: r}
}

// rangeIterator walks a range read batch by batch, as FoundationDB's Go binding does: when it
// returns the last row of a batch it reads the next one, so the read conflicts on every batch
// fetched, and on no row beyond.
type rangeIterator struct {
	r       *rangeResult
	started bool
	buf     []kv.KeyValue
	pos     int
	lo, hi  []byte // what is left to read
	more    bool   // a next batch remains to be read
	left    int    // rows still allowed by the limit
	batches int    // batches read so far
	cur     kv.KeyValue
	err     error
	// next is the batch read ahead, and nextErr its error, reported once buf is used up.
	next    []kv.KeyValue
	nextErr error
	hasNext bool
}

// Next advances to the next row.
func (it *rangeIterator) Next() bool {
	if it.err != nil {
		return false
	}
	r := it.r
	tx := r.tx
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if !it.started {
		it.started = true
		if r.err != nil {
			it.err = r.err
			return false
		}
		if r.gen != tx.gen {
			it.err = r.resetErr()
			return false
		}
		it.buf = r.firstRows()
		it.lo, it.hi, it.more = r.lo, r.hi, r.resume != nil
		it.advance(r.resume)
		it.left = r.left(0)
		it.batches = 1
	}
	for it.pos >= len(it.buf) {
		if !it.hasNext {
			return false
		}
		it.buf, it.pos, it.hasNext = it.next, 0, false
		if it.nextErr != nil {
			it.err = it.nextErr
			return false
		}
	}
	if it.left == 0 {
		return false
	}
	it.cur = it.buf[it.pos]
	it.pos++
	it.left--
	if it.pos == len(it.buf) && it.more && it.left > 0 {
		it.readAhead()
	}
	return true
}

// advance moves the start of what is left to read to resume (nil: nothing is left).
func (it *rangeIterator) advance(resume []byte) {
	switch {
	case resume == nil:
		it.more = false
	case it.r.opts.Reverse:
		it.hi = resume
	default:
		it.lo = resume
	}
}

// readAhead reads the next batch, as the Go binding does when the last row of a batch is taken.
func (it *rangeIterator) readAhead() {
	r := it.r
	tx := r.tx
	it.hasNext = true
	now := time.Now()
	if r.gen != tx.gen {
		it.nextErr = r.resetErr()
		return
	}
	if err := tx.check(now); err != nil {
		it.nextErr = err
		return
	}
	it.batches++
	rows, resume, err := r.batch(nil, it.lo, it.hi, it.left, batchBytes(r.opts.Mode, it.batches), now)
	if err != nil {
		it.nextErr = err
		return
	}
	it.next = rows
	it.advance(resume)
}

// KeyValue returns the current row.
func (it *rangeIterator) KeyValue() kv.KeyValue { return it.cur }

// Err returns the error that stopped the iteration.
func (it *rangeIterator) Err() error { return it.err }
