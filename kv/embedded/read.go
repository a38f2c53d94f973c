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

func (tx *transaction) get(key []byte, snapshot bool) kv.Future[[]byte] {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	v, err := tx.getLocked(key, snapshot)
	return kv.Ready(v, err)
}

func (tx *transaction) getLocked(key []byte, snapshot bool) ([]byte, error) {
	now := time.Now()
	if err := tx.check(now); err != nil {
		return nil, err
	}
	if len(key) > 0 && key[0] == 0xff {
		return nil, readKeyErr("get", key)
	}
	if len(key) > kv.MaxKeySize {
		// No key that long can exist.
		return nil, nil
	}
	e := tx.writes.get(key)
	switch {
	case e != nil && e.unreadable():
		return nil, fmt.Errorf("embedded: get of key %s written with a versionstamp: %w", kv.Printable(truncate(key)), kv.ErrAccessedUnreadable)
	case e != nil && e.known && len(e.ops) == 0:
		// Decided by the transaction's own writes: the database is not read, so no conflict.
		if _, err := tx.ensureView(now); err != nil {
			return nil, err
		}
		return cloneValue(e.value, e.present), nil
	case e == nil && tx.writes.cleared(key):
		if _, err := tx.ensureView(now); err != nil {
			return nil, err
		}
		return nil, nil
	case e == nil && tx.writes.unreadableAt(key):
		return nil, fmt.Errorf("embedded: get of key %s, which a versionstamped key may overwrite: %w", kv.Printable(truncate(key)), kv.ErrAccessedUnreadable)
	}
	v, err := tx.ensureView(now)
	if err != nil {
		return nil, err
	}
	base, present, err := v.get(key)
	if err != nil {
		return nil, err
	}
	if !snapshot {
		tx.reads = append(tx.reads, tx.readPoint(key))
	}
	if e != nil {
		r, p := e.resolve(base, present)
		return cloneValue(r, p), nil
	}
	return base, nil
}

// addReadRange adds the read conflict range [b, e) minus what the transaction decided itself
// before the read: ranges it cleared and keys it set or cleared (not those with pending atomic
// ops, which depend on the stored value). What it read there came from its own writes, so (as in
// FoundationDB) a commit in between cannot change it.
func (tx *transaction) addReadRange(b, e []byte) {
	w := &tx.writes
	if w.points.Len() == 0 && len(w.clears) == 0 {
		tx.reads = append(tx.reads, kv.Range{Begin: bytes.Clone(b), End: bytes.Clone(e)})
		return
	}
	// Sweep the exclusions in key order: cleared ranges and independent point writes, merged.
	var excl []kv.Range
	ci := sort.Search(len(w.clears), func(i int) bool { return bytes.Compare(w.clears[i].End, b) > 0 })
	for k, ent := range w.points.Ascend(b, e) {
		for ; ci < len(w.clears) && bytes.Compare(w.clears[ci].Begin, k) <= 0; ci++ {
			excl = append(excl, w.clears[ci])
		}
		if ent.known && len(ent.ops) == 0 {
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
			tx.reads = append(tx.reads, kv.Range{Begin: bytes.Clone(pos), End: bytes.Clone(top)})
		}
		if bytes.Compare(end, pos) > 0 {
			pos = end
		}
		if bytes.Compare(pos, e) >= 0 {
			return
		}
	}
	tx.reads = append(tx.reads, kv.Range{Begin: bytes.Clone(pos), End: bytes.Clone(e)})
}

// cloneValue copies v for the caller: nil when absent, non-nil when present.
func cloneValue(v []byte, present bool) []byte {
	if !present {
		return nil
	}
	out := make([]byte, len(v))
	copy(out, v)
	return out
}

// get reads key from the snapshot, returning a copy.
func (v *view) get(key []byte) ([]byte, bool, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.closed {
		return nil, false, v.closedErr()
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
		return nil, false, nil
	}
	if err != nil {
		return nil, false, storageErr("get", err)
	}
	out := cloneValue(val, true)
	closer.Close()
	return out, true, nil
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

// resolveSelector returns the key sel names, clamped to ["", 0xff].
func (tx *transaction) resolveSelector(sel kv.KeySelector, snapshot bool, now time.Time) ([]byte, error) {
	if bytes.Compare(sel.Key, maxReadKey) > 0 {
		return nil, readKeyErr("key selector", sel.Key)
	}
	key := sel.Key
	if len(key) > kv.MaxKeySize+1 {
		key = key[:kv.MaxKeySize+1]
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
		rows, resume, err := tx.scanAll(start, maxReadKey, false, sel.Offset, true, now)
		if err != nil {
			return nil, err
		}
		if !snapshot {
			end := maxReadKey
			if resume != nil {
				end = resume
			}
			tx.addReadRange(start, end)
		}
		if len(rows) < sel.Offset {
			return bytes.Clone(maxReadKey), nil
		}
		return rows[len(rows)-1].Key, nil
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
	rows, resume, err := tx.scanAll(nil, end, true, n, true, now)
	if err != nil {
		return nil, err
	}
	if !snapshot {
		begin := []byte{}
		if resume != nil {
			begin = resume
		}
		tx.addReadRange(begin, end)
	}
	if len(rows) < n {
		return []byte{}, nil
	}
	return rows[len(rows)-1].Key, nil
}

// scanAll reads up to n rows of [lo, hi) (forwards, or backwards from hi), merged with the
// transaction's writes. resume is nil when the whole range was read; otherwise the rows cover
// [lo, resume) forwards or [resume, hi) backwards.
func (tx *transaction) scanAll(lo, hi []byte, reverse bool, n int, keysOnly bool, now time.Time) (rows []kv.KeyValue, resume []byte, err error) {
	a := arena{first: 4 << 10}
	if n < 64 {
		a.first = 64 * n // a short read (limit 1, say) needs a small chunk
	}
	// Start with room for a typical page of rows (or the whole limit when small) so that
	// short reads do not grow the slice step by step.
	rows = make([]kv.KeyValue, 0, min(n, 128))
	for len(rows) < n {
		more, next, err := tx.scan(lo, hi, reverse, n-len(rows), keysOnly, now, &a, rows)
		if err != nil {
			return nil, nil, err
		}
		rows = more
		if next == nil {
			return rows, nil, nil
		}
		if reverse {
			hi = next
		} else {
			lo = next
		}
		resume = next
	}
	return rows, resume, nil
}

// arena hands out copies of keys and values from shared chunks, so a range read allocates a
// few chunks instead of two slices per row. Each copy is capped, so appending to one never
// writes into its neighbour.
type arena struct {
	buf []byte
	// first is the size of the first chunk; 0 means 64 bytes, for arenas that often hold only a
	// key or two (a transaction's writes and point read conflicts).
	first int
	// missed counts the bytes of copies that did not fit the current chunk. Chunks grow to it,
	// so an arena whose copies are too big for its small first chunks soon takes them.
	missed int
}

// room makes room for n more bytes in the current chunk, or reports false when the copy should
// be allocated alone. Chunks double from the first size to 256 KB, so a large read makes few
// allocations and a small one wastes little; a copy over a quarter of the next chunk is
// allocated alone, so a small arena costs no more than the copies it replaces.
func (a *arena) room(n int) bool {
	if n <= cap(a.buf)-len(a.buf) {
		return true
	}
	a.missed += n
	size := min(max(2*cap(a.buf), a.first, 64, a.missed), 256<<10)
	if n > size/4 {
		return false
	}
	a.buf = make([]byte, 0, size)
	return true
}

func (a *arena) copy(b []byte) []byte {
	if len(b) == 0 {
		return []byte{}
	}
	if !a.room(len(b)) {
		return append(make([]byte, 0, len(b)), b...)
	}
	n := len(a.buf)
	a.buf = append(a.buf, b...)
	return a.buf[n:len(a.buf):len(a.buf)]
}

// copyAfter returns a copy of b followed by a zero byte: the key right after b.
func (a *arena) copyAfter(b []byte) []byte {
	if !a.room(len(b) + 1) {
		return kv.KeyAfter(b)
	}
	n := len(a.buf)
	a.buf = append(append(a.buf, b...), 0)
	return a.buf[n:len(a.buf):len(a.buf)]
}

// overlayEntry is a buffered write met by a scan.
type overlayEntry struct {
	key []byte
	e   *entry
}

// scan reads one batch of rows of [lo, hi), at most n, appending them to rows. next is nil when
// the range is exhausted; otherwise the next batch starts there (forwards: [next, hi); backwards:
// [lo, next)). It needs tx.mu.
func (tx *transaction) scan(lo, hi []byte, reverse bool, n int, keysOnly bool, now time.Time, a *arena, rows []kv.KeyValue) (_ []kv.KeyValue, next []byte, err error) {
	// hi is always a key (nil is the empty key), but Pebble reads an empty upper bound as none,
	// so the empty range before "" is handled here.
	if len(hi) == 0 || bytes.Compare(lo, hi) >= 0 {
		return rows, nil, nil
	}
	if tx.writes.unreadableIn(orEmpty(lo), hi) {
		return nil, nil, fmt.Errorf("embedded: range read of [%s, %s) meets a key written with a versionstamp: %w", kv.Printable(truncate(lo)), kv.Printable(truncate(hi)), kv.ErrAccessedUnreadable)
	}
	v, err := tx.ensureView(now)
	if err != nil {
		return nil, nil, err
	}
	// Collect the buffered writes of the range, at most n of them: each yields at most one row,
	// so the batch cannot need more; when there are more, the batch stops at the last one.
	var overlay []overlayEntry
	truncated := false
	if pts := &tx.writes.points; pts.Len() > 0 {
		if !reverse {
			for k, e := range pts.Ascend(orEmpty(lo), hi) {
				if len(overlay) == n {
					truncated = true
					break
				}
				overlay = append(overlay, overlayEntry{k, e})
			}
		} else {
			for k, e := range pts.Descend(hi, orEmpty(lo)) {
				if len(overlay) == n {
					truncated = true
					break
				}
				overlay = append(overlay, overlayEntry{k, e})
			}
		}
	}

	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.closed {
		return nil, nil, v.closedErr()
	}
	opts := pebble.IterOptions{LowerBound: lo, UpperBound: hi}
	if len(lo) == 0 {
		// Pebble's invariant checks reject an empty lower bound; none means the same.
		opts.LowerBound = nil
	}
	it, err := v.newIter(&opts)
	if err != nil {
		return nil, nil, storageErr("range read", err)
	}
	defer it.Close()

	clears := tx.writes.clears
	emit := func(k, val []byte) {
		kv := kv.KeyValue{Key: a.copy(k)}
		if !keysOnly {
			kv.Value = a.copy(val)
		}
		rows = append(rows, kv)
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
	for got < n {
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
			if o.e.unreadable() {
				return nil, nil, fmt.Errorf("embedded: range read meets key %s written with a versionstamp: %w", kv.Printable(truncate(o.key)), kv.ErrAccessedUnreadable)
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
				return rows, resumeAt(o.key), nil
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
		return nil, nil, storageErr("range read", err)
	}
	if got == n {
		return rows, resumeAt(rows[len(rows)-1].Key), nil
	}
	return rows, nil, nil
}

func orEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// getRange starts a range read; rows are read when the result is consumed, as with the official
// Go binding.
func (tx *transaction) getRange(r kv.Ranger, o kv.RangeOptions, snapshot bool) kv.RangeResult {
	begin, end := r.Selectors()
	// The read happens later; the caller may reuse its key slices once GetRange returns.
	keys := make([]byte, 0, len(begin.Key)+len(end.Key))
	keys = append(append(keys, begin.Key...), end.Key...)
	begin.Key, end.Key = keys[:len(begin.Key):len(begin.Key)], keys[len(begin.Key):]
	return &rangeResult{tx: tx, begin: begin, end: end, opts: o, snapshot: snapshot}
}

type rangeResult struct {
	tx         *transaction
	begin, end kv.KeySelector
	opts       kv.RangeOptions
	snapshot   bool
}

// bounds resolves the selectors to [lo, hi). empty is true when the range holds nothing.
func (r *rangeResult) bounds(now time.Time) (lo, hi []byte, empty bool, err error) {
	tx := r.tx
	if err := tx.check(now); err != nil {
		return nil, nil, false, err
	}
	if r.opts.Limit < 0 {
		return nil, nil, false, fmt.Errorf("embedded: range read with negative limit %d: %w", r.opts.Limit, kv.ErrInvalidOptionValue)
	}
	if bytes.Compare(r.begin.Key, maxReadKey) > 0 {
		return nil, nil, false, readKeyErr("range read", r.begin.Key)
	}
	if bytes.Compare(r.end.Key, maxReadKey) > 0 {
		return nil, nil, false, readKeyErr("range read", r.end.Key)
	}
	if isPlain(r.begin) {
		lo = r.begin.Key
	} else if lo, err = tx.resolveSelector(r.begin, r.snapshot, now); err != nil {
		return nil, nil, false, err
	}
	if isPlain(r.end) {
		hi = r.end.Key
	} else if hi, err = tx.resolveSelector(r.end, r.snapshot, now); err != nil {
		return nil, nil, false, err
	}
	if bytes.Compare(lo, hi) >= 0 {
		return nil, nil, true, nil
	}
	return lo, hi, false, nil
}

func isPlain(s kv.KeySelector) bool { return s.Offset == 1 && !s.OrEqual }

// GetSlice reads every row of the range (up to the limit).
func (r *rangeResult) GetSlice() ([]kv.KeyValue, error) {
	tx := r.tx
	tx.mu.Lock()
	defer tx.mu.Unlock()
	now := time.Now()
	lo, hi, empty, err := r.bounds(now)
	if err != nil || empty {
		if err == nil {
			if _, err = tx.ensureView(now); err != nil {
				return nil, err
			}
		}
		return nil, err
	}
	n := r.opts.Limit
	if n == 0 {
		n = math.MaxInt
	}
	rows, resume, err := tx.scanAll(lo, hi, r.opts.Reverse, n, false, now)
	if err != nil {
		return nil, err
	}
	if !r.snapshot {
		b, e := lo, hi
		if resume != nil {
			if r.opts.Reverse {
				b = resume
			} else {
				e = resume
			}
		}
		tx.addReadRange(b, e)
	}
	return rows, nil
}

// Iterator returns an iterator that reads the range in growing batches.
func (r *rangeResult) Iterator() kv.RangeIterator {
	return &rangeIterator{r: r, conflict: -1, priv: arena{first: 4 << 10}}
}

// rangeIterator reads in batches that grow from 16 rows, so that a read stopped early reads
// little, and extends its read conflict range only over the rows it returned.
type rangeIterator struct {
	r        *rangeResult
	started  bool
	lo0, hi0 []byte // the resolved range
	lo, hi   []byte // what is left to read
	left     int    // rows still allowed by the limit
	buf      []kv.KeyValue
	pos      int
	done     bool // the range is exhausted once buf is consumed
	batch    int
	cur      kv.KeyValue
	err      error
	conflict int // index of this read's range in tx.reads, or -1
	gen      uint64
	priv     arena // the conflict range's keys
}

// Next advances to the next row.
func (it *rangeIterator) Next() bool {
	if it.err != nil {
		return false
	}
	tx := it.r.tx
	tx.mu.Lock()
	defer tx.mu.Unlock()
	now := time.Now()
	if !it.started {
		it.started = true
		lo, hi, empty, err := it.r.bounds(now)
		if err != nil {
			it.err = err
			return false
		}
		if empty {
			if _, err := tx.ensureView(now); err != nil {
				it.err = err
			}
			return false
		}
		it.lo0, it.hi0, it.lo, it.hi = lo, hi, lo, hi
		it.left = it.r.opts.Limit
		if it.left == 0 {
			it.left = math.MaxInt
		}
		it.batch = 16
		it.gen = tx.gen
		if !it.r.snapshot {
			// Start with an empty range and grow it as rows are returned.
			b := bytes.Clone(lo)
			if it.r.opts.Reverse {
				b = bytes.Clone(hi)
			}
			it.conflict = len(tx.reads)
			tx.reads = append(tx.reads, kv.Range{Begin: b, End: b})
		}
	} else if err := tx.check(now); err != nil {
		it.err = err
		return false
	} else if it.gen != tx.gen {
		it.err = fmt.Errorf("embedded: range iterator used after its transaction was reset: %w", kv.ErrTransactionCancelled)
		return false
	}
	for it.pos >= len(it.buf) {
		if it.left == 0 {
			return false
		}
		if it.done {
			it.extendAll()
			return false
		}
		n := min(it.batch, it.left)
		it.batch = min(it.batch*2, 4096)
		rows, resume, err := tx.scanAll(it.lo, it.hi, it.r.opts.Reverse, n, false, now)
		if err != nil {
			it.err = err
			return false
		}
		it.buf, it.pos = rows, 0
		if resume == nil {
			it.done = true
		} else if it.r.opts.Reverse {
			it.hi = resume
		} else {
			it.lo = resume
		}
	}
	it.cur = it.buf[it.pos]
	it.pos++
	it.left--
	if it.conflict >= 0 {
		// The caller owns the row's key, so the conflict range keeps its own copy (from an
		// arena: no allocation per row).
		c := &tx.reads[it.conflict]
		if it.r.opts.Reverse {
			c.Begin = it.priv.copy(it.cur.Key)
		} else {
			c.End = it.priv.copyAfter(it.cur.Key)
		}
	}
	return true
}

// extendAll makes the read conflict range cover the whole range once it has been read to the end.
func (it *rangeIterator) extendAll() {
	if it.conflict >= 0 {
		it.r.tx.reads[it.conflict] = kv.Range{Begin: bytes.Clone(it.lo0), End: bytes.Clone(it.hi0)}
		it.conflict = -1
	}
}

// KeyValue returns the current row.
func (it *rangeIterator) KeyValue() kv.KeyValue { return it.cur }

// Err returns the error that stopped the iteration.
func (it *rangeIterator) Err() error { return it.err }
