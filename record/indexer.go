package record

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/record/internal/storepb"
	"github.com/layerkit/layerkit/tuple"
)

// IndexBuildOptions configure BuildIndex. The zero value builds with the defaults, which are
// the Java Record Layer's OnlineIndexer defaults except where noted.
type IndexBuildOptions struct {
	// InitialBatch is how many records the first transaction indexes (default 100). The batch
	// then adapts: it grows after each committed transaction (by 5 below 5, doubling below 100,
	// by a third above) up to MaxBatch, and shrinks after a failed one, as Java's
	// IndexingThrottle does.
	InitialBatch int
	// MaxBatch bounds the batch (default 10,000; Java's default is 100).
	MaxBatch int
	// TransactionTime ends a transaction's batch early once it has run this long (default 4 s),
	// within FoundationDB's 5-second transaction limit.
	TransactionTime time.Duration
	// MaxWriteBytes ends a transaction's batch early once it has written this many bytes
	// (default 900,000), far within the 10 MB transaction limit.
	MaxWriteBytes int
	// RecordsPerSecond throttles the build: transactions are spaced so that no more records are
	// read per second (0: no throttle; Java's default is 10,000).
	RecordsPerSecond float64
	// MaxRetries is how many transactions in a row may fail with a retryable error before the
	// build gives up (default 100).
	MaxRetries int
	// Progress, when set, is called after each committed transaction.
	Progress func(IndexBuildProgress)
	// KeepWriteOnly leaves the index WRITE_ONLY once it is built, instead of making it READABLE.
	KeepWriteOnly bool
	// OpenOptions are passed to Open in each of the build's transactions; give the ones the
	// store's other clients use (a format version, a user version).
	OpenOptions []OpenOption
}

func (o *IndexBuildOptions) defaults() {
	if o.InitialBatch <= 0 {
		o.InitialBatch = 100
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 10_000
	}
	o.InitialBatch = min(o.InitialBatch, o.MaxBatch)
	if o.TransactionTime <= 0 {
		o.TransactionTime = 4 * time.Second
	}
	if o.MaxWriteBytes <= 0 {
		o.MaxWriteBytes = 900_000
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = 100
	}
}

// IndexBuildProgress is what BuildIndex reports after each committed transaction.
type IndexBuildProgress struct {
	// Index is the index being built.
	Index string
	// Records is how many records the build has read so far, its other builders' included: the
	// count kept at S+(9, name, 1) (the Java Record Layer's scanned-records count).
	Records int64
	// EstimatedTotal estimates how many records the build reads in all: Records over the part
	// of the primary-key space built so far (measured by interpolating keys between the first
	// and the last record), so it is rough while keys are unevenly spread and exact once the
	// whole space is built.
	EstimatedTotal int64
	// Rate is the records this BuildIndex call read per second since it started.
	Rate float64
	// Elapsed is the time since the build started.
	Elapsed time.Duration
	// Batch is the current batch size.
	Batch int
}

// BuildIndex builds the named index of the store at prefix over the records already stored,
// in as many transactions of db as it takes, while other clients keep writing (the Java Record
// Layer's OnlineIndexer, by records). A DISABLED index is first cleared and made WRITE_ONLY, so
// that saves maintain it meanwhile; a READABLE index is left alone.
//
// Each transaction indexes a batch of records in primary-key order and adds the range of keys
// it covered to the range set at S+(6, name), in Java's layout; a build that stops (a crash, a
// cancelled ctx, an error) resumes where the range set says, and several builders (in this
// process or others, of either implementation) share the work: each continues its own range
// and, after a conflict with another, moves to the middle of a range nobody has built. Once
// the range set covers every record, the index becomes READABLE, or READABLE_UNIQUE_PENDING when
// it is unique and the build (or saves meanwhile) recorded uniqueness violations at S+(7, name).
//
// Concurrent saves do not race the build: a save maintains a WRITE_ONLY index as usual, and the
// build reads records without read conflicts on the ranges it scans but with one on each record
// it indexes, so a save that changes or deletes a record the build indexed makes the build's
// transaction retry, while a save of a new record (which the save indexes itself) does not. An
// index type whose updates are not idempotent (an aggregate) is read with conflicts on the whole
// range instead, and saves update it only for records in a built range, as Java does.
func BuildIndex(ctx context.Context, db kv.Database, md *MetaData, prefix Prefix, name string, opts IndexBuildOptions) error {
	if md == nil || prefix == nil || db == nil {
		return errors.New("record: BuildIndex needs a database, metadata and a prefix")
	}
	ix := md.byIndex[name]
	if ix == nil {
		return fmt.Errorf("record: index %q: %w", name, ErrUnknownIndex)
	}
	opts.defaults()
	b := &builder{db: db, md: md, prefix: prefix, ix: ix, opts: opts, limit: opts.InitialBatch, start: time.Now(), rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
	built, err := b.prepare(ctx)
	if err != nil || built {
		return err
	}
	for {
		done, err := b.step(ctx)
		if err != nil {
			return err
		}
		if done {
			if ok, err := b.finish(ctx); err != nil || ok {
				return err
			}
			// Another builder's range is not committed yet: look again.
			b.pos = nil
		}
		if err := b.throttle(ctx); err != nil {
			return err
		}
	}
}

// builder is the state of one BuildIndex call.
type builder struct {
	db      kv.Database
	md      *MetaData
	prefix  Prefix
	ix      *Index
	opts    IndexBuildOptions
	limit   int
	start   time.Time
	rng     *rand.Rand
	records int64 // read by this call
	// pos is where this builder continues, in the range set's key space (packed primary keys);
	// nil: the first range not built.
	pos []byte
	// split asks the next step to move to the middle of a range not built: set after a
	// conflict, which is most likely another builder working at the same place.
	split      bool
	successes  int
	lastCommit time.Time
	lastBatch  int
	// space measures the build's key space, for estimates.
	space *keySpace
}

// run runs fn in a transaction with the store opened, committing it, and retries retryable
// errors, and a transaction too large or timed out, up to MaxRetries times in a row, calling
// onRetry (which shrinks the batch) before each retry.
func (b *builder) run(ctx context.Context, fn func(st *Store) error, onRetry func(err error)) error {
	tr, err := b.db.CreateTransaction()
	if err != nil {
		return err
	}
	defer tr.Cancel()
	for tries := 0; ; tries++ {
		err := ctx.Err()
		if err == nil {
			var st *Store
			if st, err = Open(ctx, tr, b.md, b.prefix, b.opts.OpenOptions...); err == nil {
				if err = fn(st); err == nil {
					err = tr.Commit()
				}
			}
		}
		if err == nil {
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		tooMuch := errors.Is(err, kv.ErrTransactionTooLarge) || errors.Is(err, kv.ErrTransactionTimedOut)
		if tries >= b.opts.MaxRetries || !(kv.IsRetryable(err) || tooMuch) {
			return err
		}
		if onRetry != nil {
			onRetry(err)
		}
		if tooMuch {
			// Not retried by FoundationDB's loop, but by Java's index builds with less work
			// (IndexingThrottle: transaction_too_large, transaction_timed_out).
			tr.Reset()
		} else if err := tr.OnError(ctx, err); err != nil {
			return err
		}
	}
}

// prepare makes the index WRITE_ONLY (clearing a DISABLED one), checks or writes the build's
// type stamp, and marks the primary keys of types the index does not cover as built. It reports
// true when the index is READABLE already.
func (b *builder) prepare(ctx context.Context) (readable bool, err error) {
	err = b.run(ctx, func(st *Store) error {
		readable = false
		switch st.states[b.ix.Name] {
		case Readable:
			readable = true
			return nil
		case Disabled:
			st.clearIndexData(b.ix)
			if err := st.markNotReadable(b.ix, WriteOnly); err != nil {
				return err
			}
		case WriteOnly:
		case ReadableUniquePending:
			readable = true // built; its violations are the application's to resolve
			return nil
		default:
			return fmt.Errorf("record: index %q is %v, which this package does not build: %w", b.ix.Name, st.states[b.ix.Name], ErrIndexBuildConflict)
		}
		if err := st.checkBuildStamp(b.ix); err != nil {
			return err
		}
		return st.presetRecordsRange(b.ix)
	}, nil)
	return readable, err
}

// checkBuildStamp writes the BY_RECORDS stamp at S+(9, name, 2), or checks the one there: a
// build by another method cannot be continued by records (IndexingBase.setIndexingTypeOrThrow).
func (s *Store) checkBuildStamp(ix *Index) error {
	key := s.key(keyIndexBuild, ix.Name, int64(indexBuildTypeStampKey))
	raw, err := s.tr.Get(key).Get()
	if err != nil {
		return err
	}
	want := &storepb.IndexBuildIndexingStamp{Method: storepb.IndexBuildIndexingStamp_BY_RECORDS.Enum()}
	if raw != nil {
		have := &storepb.IndexBuildIndexingStamp{}
		if err := proto.Unmarshal(raw, have); err != nil {
			return fmt.Errorf("record: index %q build stamp: %v: %w", ix.Name, err, ErrCorruptStore)
		}
		if proto.Equal(have, want) {
			return nil
		}
		untouched, err := s.indexRangeSet(ix.Name).isEmpty(s.tr)
		if err != nil {
			return err
		}
		if !untouched {
			return fmt.Errorf("record: index %q is partly built by method %v; this package continues only builds by records: %w", ix.Name, have.GetMethod(), ErrIndexBuildConflict)
		}
	}
	b, err := proto.Marshal(want)
	if err != nil {
		return err
	}
	s.tr.Set(key, b)
	return nil
}

// presetRecordsRange marks as built the primary keys outside the types an index covers, when
// every one of them starts its primary key with its record type key
// (IndexingBase.maybePresetRecordsRangeAsync, IndexingCommon.computeRecordsRange).
func (s *Store) presetRecordsRange(ix *Index) error {
	begin, end := typeBounds(ix)
	if begin == nil {
		return nil
	}
	rs := s.indexRangeSet(ix.Name)
	if _, err := rs.insert(s.tr, nil, begin, true); err != nil {
		return err
	}
	_, err := rs.insert(s.tr, end, nil, true)
	return err
}

// typeBounds returns the range of packed primary keys that the records of an index's types
// lie in, from the lowest type key to past the highest, when every one of its types starts its
// primary key with its type key; nil otherwise (IndexingCommon.computeRecordsRange, with
// TupleRange.toRange's inclusive high end).
func typeBounds(ix *Index) (begin, end []byte) {
	var low, high *RecordType
	for _, rt := range ix.types {
		if !hasTypePrefix(rt) {
			return nil, nil
		}
		if low == nil || rt.typeKey < low.typeKey {
			low = rt
		}
		if high == nil || rt.typeKey > high.typeKey {
			high = rt
		}
	}
	if low == nil {
		return nil, nil
	}
	return tuple.Tuple{low.typeKey}.Pack(), append(tuple.Tuple{high.typeKey}.Pack(), 0xff)
}

// errRangeTaken aborts a step whose range another builder took.
var errRangeTaken = errors.New("record: index build range taken")

// step indexes one batch in one transaction. It reports true when no range is left to build.
// The builder's own state changes only once the transaction committed.
func (b *builder) step(ctx context.Context) (bool, error) {
	var (
		done       bool
		n          int
		total      int64   // the build's count of records read, before this batch
		built      float64 // the part of the key space built, after this batch
		begin, end []byte  // the range built
		next       []byte  // where to continue; nil: the end of a range not built
	)
	attempt := func(st *Store) error {
		done, n, total, built, begin, end, next = false, 0, 0, 0, nil, nil, nil
		countKey := st.key(keyIndexBuild, b.ix.Name, int64(indexBuildScanned))
		countF := st.tr.Snapshot().Get(countKey)
		if st.states[b.ix.Name] != WriteOnly {
			return fmt.Errorf("record: index %q became %v during its build: %w", b.ix.Name, st.states[b.ix.Name], ErrIndexBuildConflict)
		}
		if b.space == nil {
			ks, err := st.buildKeySpace(b.ix)
			if err != nil {
				return err
			}
			b.space = &ks
		}
		rs := st.indexRangeSet(b.ix.Name)
		gap, err := b.nextGap(st, rs)
		if err != nil || gap == nil {
			done = gap == nil
			return err
		}
		var count int
		if next, count, err = b.indexRange(st, *gap); err != nil {
			return err
		}
		begin, end = gap.Begin, gap.End
		if next != nil {
			end = next
		}
		ok, err := rs.insert(st.tr, begin, end, true)
		if err != nil {
			return err
		}
		if !ok {
			return errRangeTaken
		}
		n = count
		if count > 0 {
			st.tr.Atomic(kv.Add, countKey, encodeCount(int64(count)))
		}
		raw, err := countF.Get()
		if err != nil {
			return err
		}
		if len(raw) == 8 {
			total = int64(binary.LittleEndian.Uint64(raw))
		}
		if b.opts.Progress != nil {
			built, err = b.space.built(st, rs)
		}
		return err
	}
	retry := func(err error) {
		b.failed(n)
		if errors.Is(err, kv.ErrNotCommitted) {
			b.split = true // most likely another builder at the same place
		}
	}
	for {
		err := b.run(ctx, attempt, retry)
		if errors.Is(err, errRangeTaken) {
			b.split = true
			continue
		}
		if err != nil {
			return false, err
		}
		break
	}
	if done {
		return true, nil
	}
	b.split, b.pos = false, next
	b.succeeded(n)
	b.records += int64(n)
	b.lastBatch, b.lastCommit = n, time.Now()
	if b.opts.Progress != nil {
		elapsed := time.Since(b.start)
		p := IndexBuildProgress{Index: b.ix.Name, Records: total + int64(n), Elapsed: elapsed, Batch: b.limit}
		if built > 0 {
			p.EstimatedTotal = int64(float64(p.Records)/built + 0.5)
		}
		if s := elapsed.Seconds(); s > 0 {
			p.Rate = float64(b.records) / s
		}
		b.opts.Progress(p)
	}
	return false, nil
}

// nextGap returns the range to build next: the first range not built at or after the builder's
// position, or (after a conflict) the middle of a range not built, or nil when every range is
// built.
func (b *builder) nextGap(st *Store, rs rangeSet) (*kv.Range, error) {
	if b.pos != nil && !b.split {
		m, err := rs.missing(st.tr, b.pos, nil, 1, true)
		if err != nil {
			return nil, err
		}
		if len(m) > 0 {
			return &m[0], nil
		}
	}
	m, err := rs.missing(st.tr, nil, nil, 16, true)
	if err != nil || len(m) == 0 {
		return nil, err
	}
	gap := m[0]
	if b.split {
		gap = m[b.rng.IntN(len(m))]
		if mid, err := st.splitPoint(gap, 0.25+b.rng.Float64()/2); err != nil {
			return nil, err
		} else if mid != nil {
			gap.Begin = mid
		}
	}
	return &gap, nil
}

// splitPoint returns the packed primary key of the first record at or after the point a
// fraction f of the way through the records of range r (interpolated between its first and last
// record keys), or nil when r holds fewer than two records.
func (s *Store) splitPoint(r kv.Range, f float64) ([]byte, error) {
	lo, hi, err := s.recordBounds(r)
	if err != nil || lo == nil {
		return nil, err
	}
	mid := newKeySpace(lo, hi).at(f)
	rows, err := s.tr.Snapshot().GetRange(kv.Range{Begin: append(append([]byte(nil), s.records...), mid...), End: append(append([]byte(nil), s.records...), r.End...)}, kv.RangeOptions{Limit: 1}).GetSlice()
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	p := rows[0].Key[len(s.records):]
	if !s.omitsUnsplitSuffix() {
		pkPrefix, _, _, err := splitRecordKey(s.records, rows[0].Key)
		if err != nil {
			return nil, err
		}
		p = pkPrefix[len(s.records):]
	}
	if bytes.Compare(p, r.Begin) <= 0 {
		return nil, nil
	}
	return append([]byte(nil), p...), nil
}

// recordBounds returns the keys (relative to the record extent) of the first and the last row
// of the records in r, a range of packed primary keys; nil when r holds none. It reads without
// conflicts.
func (s *Store) recordBounds(r kv.Range) (lo, hi []byte, err error) {
	scan := kv.Range{Begin: append(append([]byte(nil), s.records...), r.Begin...), End: append(append([]byte(nil), s.records...), r.End...)}
	snap := s.tr.Snapshot()
	firstF := snap.GetRange(scan, kv.RangeOptions{Limit: 1})
	lastF := snap.GetRange(scan, kv.RangeOptions{Limit: 1, Reverse: true})
	first, err := firstF.GetSlice()
	if err != nil {
		return nil, nil, err
	}
	last, err := lastF.GetSlice()
	if err != nil || len(first) == 0 || len(last) == 0 {
		return nil, nil, err
	}
	return first[0].Key[len(s.records):], last[0].Key[len(s.records):], nil
}

// keySpace maps keys between lo and hi to numbers in [0, 1] and back, reading the 8 bytes after
// their common prefix as a big-endian number: a rough measure of how far through a key range a
// key lies, for split points and estimates.
type keySpace struct {
	lo, hi []byte
	p      int
	a, z   uint64
}

func newKeySpace(lo, hi []byte) keySpace {
	k := keySpace{lo: lo, hi: hi}
	for k.p < len(lo) && k.p < len(hi) && lo[k.p] == hi[k.p] {
		k.p++
	}
	k.a, k.z = k.word(lo), k.word(hi)
	return k
}

func (k keySpace) word(b []byte) uint64 {
	var w [8]byte
	copy(w[:], b[min(k.p, len(b)):])
	return binary.BigEndian.Uint64(w[:])
}

// at returns the key a fraction f of the way from lo to hi.
func (k keySpace) at(f float64) []byte {
	if k.z <= k.a {
		return append([]byte(nil), k.lo...)
	}
	return binary.BigEndian.AppendUint64(append([]byte(nil), k.lo[:k.p]...), k.a+uint64(float64(k.z-k.a)*f))
}

// fraction returns how far key lies from lo to hi, in [0, 1].
func (k keySpace) fraction(key []byte) float64 {
	switch {
	case k.lo == nil || bytes.Compare(key, k.lo) <= 0:
		return 0
	case bytes.Compare(key, k.hi) >= 0 || k.z <= k.a:
		return 1
	}
	return float64(k.word(key)-k.a) / float64(k.z-k.a)
}

// built returns the part of the key space the range set covers.
func (k keySpace) built(st *Store, rs rangeSet) (float64, error) {
	missing, err := rs.missing(st.tr, nil, nil, 0, true)
	if err != nil {
		return 0, err
	}
	f := 1.0
	for _, m := range missing {
		f -= k.fraction(m.End) - k.fraction(m.Begin)
	}
	return max(f, 0), nil
}

// buildKeySpace returns the key space of the records an index build reads: from the first to
// the last record of the types the build scans.
func (s *Store) buildKeySpace(ix *Index) (keySpace, error) {
	r := kv.Range{Begin: rangeSetFirst, End: rangeSetFinal}
	if low, high := typeBounds(ix); low != nil {
		r = kv.Range{Begin: low, End: high}
	}
	lo, hi, err := s.recordBounds(r)
	if err != nil {
		return keySpace{}, err
	}
	if hi != nil {
		hi = append(append([]byte(nil), hi...), 0xff) // past the last record's last row
	}
	return newKeySpace(lo, hi), nil
}

// indexRange indexes the records of gap from its start, up to the batch limit and the
// transaction's time and write budgets. It returns the packed primary key of the first record
// it left (nil when it reached the end of the gap) and how many records it read.
func (b *builder) indexRange(st *Store, gap kv.Range) (next []byte, count int, err error) {
	idempotent := isIdempotent(b.ix)
	scan := kv.Range{Begin: append(append([]byte(nil), st.records...), gap.Begin...), End: append(append([]byte(nil), st.records...), gap.End...)}
	var reader kv.ReadTransaction = st.tr
	if idempotent {
		// No conflicts on the range: a new record there is indexed by its own save. Each record
		// indexed gets a conflict of its own below.
		reader = st.tr.Snapshot()
	}
	it := reader.GetRange(scan, kv.RangeOptions{}).Iterator()
	g := st.newGrouper(false)
	started := time.Now()
	written := &writeCount{Transaction: st.tr}
	st.tr = written
	defer func() { st.tr = written.Transaction }()
	index := func(raw *rawRecord) error {
		rec, err := st.decode(raw)
		if err != nil {
			return err
		}
		count++
		if !covers(b.ix, rec.Type) {
			return nil
		}
		if idempotent {
			// Every row of the record: its chunks, its version, or the one row of a store
			// without unsplit suffixes.
			if err := written.AddReadConflictRange(kv.Range{Begin: raw.prefix, End: append(append([]byte(nil), raw.prefix...), 0xff)}); err != nil {
				return err
			}
		}
		return st.updateIndex(b.ix, nil, rec)
	}
	full := func() bool {
		return count >= b.limit || written.bytes >= b.opts.MaxWriteBytes || time.Since(started) >= b.opts.TransactionTime
	}
	stop := false
	for it.Next() {
		row := it.KeyValue()
		if stop {
			// A store without unsplit suffixes keeps a record in one row: this one begins the
			// first record left for the next batch.
			return append([]byte(nil), row.Key[len(st.records):]...), count, nil
		}
		raw, err := g.add(row)
		if err != nil {
			return nil, 0, err
		}
		if raw == nil {
			continue
		}
		if err := index(raw); err != nil {
			return nil, 0, err
		}
		if full() {
			if g.noSuffix {
				stop = true
				continue
			}
			// The record the last row began is where the next batch begins.
			return append([]byte(nil), g.cur[len(st.records):]...), count, nil
		}
	}
	if err := it.Err(); err != nil {
		return nil, 0, err
	}
	raw, err := g.flush()
	if err != nil {
		return nil, 0, err
	}
	if raw != nil {
		if err := index(raw); err != nil {
			return nil, 0, err
		}
	}
	return nil, count, nil
}

// writeCount counts the bytes a transaction writes, for the build's write budget.
type writeCount struct {
	kv.Transaction
	bytes int
}

func (w *writeCount) Set(k, v []byte) { w.bytes += len(k) + len(v); w.Transaction.Set(k, v) }

func (w *writeCount) Clear(k []byte) { w.bytes += len(k); w.Transaction.Clear(k) }

func (w *writeCount) Atomic(op kv.MutationType, k, p []byte) {
	w.bytes += len(k) + len(p)
	w.Transaction.Atomic(op, k, p)
}

// idempotence is implemented by index maintainers whose updates may be applied twice with the
// same result (value indexes; not counts). An online build reads such an index's records
// without range conflicts. Maintainers that do not implement it are treated as not idempotent.
type idempotence interface {
	idempotent() bool
}

func isIdempotent(ix *Index) bool {
	m, ok := ix.kind.maintainer.(idempotence)
	return ok && m.idempotent()
}

// skipUnbuilt drops from ixs the WRITE_ONLY indexes whose updates are not idempotent and whose
// build has not reached primary key pk yet: the build will count the record when it gets there
// (StandardIndexMaintainer.updateWhileWriteOnly, addedRangeWithKey). The range set read adds a
// conflict on pk's place, so a build that covers pk concurrently makes one of the two retry.
func (s *Store) skipUnbuilt(ixs []*Index, pk tuple.Tuple) ([]*Index, error) {
	var out []*Index
	for i, ix := range ixs {
		if s.states[ix.Name] != WriteOnly || isIdempotent(ix) {
			if out != nil {
				out = append(out, ix)
			}
			continue
		}
		built, err := s.indexRangeSet(ix.Name).contains(s.tr, pk.Pack())
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = append(make([]*Index, 0, len(ixs)), ixs[:i]...)
		}
		if built {
			out = append(out, ix)
		}
	}
	if out == nil {
		return ixs, nil
	}
	return out, nil
}

func encodeCount(n int64) []byte {
	return binary.LittleEndian.AppendUint64(nil, uint64(n))
}

// failed shrinks the batch after a failed transaction that had read n records
// (IndexingThrottle.decreaseLimit).
func (b *builder) failed(n int) {
	b.successes = 0
	if n <= 0 {
		n = b.limit
	}
	b.limit = max(1, min(n-1, n*9/10))
}

// succeeded grows the batch after committed transactions (IndexingThrottle.increaseLimit).
func (b *builder) succeeded(n int) {
	b.successes++
	if n < b.limit {
		return // the batch was cut by time or bytes, or the range ended: no reason to grow
	}
	switch {
	case b.limit < 5:
		b.limit += 5
	case b.limit < 100:
		b.limit *= 2
	default:
		b.limit = b.limit * 4 / 3
	}
	b.limit = min(b.limit, b.opts.MaxBatch)
}

// throttle waits so that the build reads no more than RecordsPerSecond.
func (b *builder) throttle(ctx context.Context) error {
	if b.opts.RecordsPerSecond <= 0 || b.lastBatch == 0 {
		return ctx.Err()
	}
	want := time.Duration(float64(b.lastBatch) / b.opts.RecordsPerSecond * float64(time.Second))
	wait := want - time.Since(b.lastCommit)
	if wait <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// finish makes the index READABLE once its range set covers every record (or leaves it
// WRITE_ONLY with KeepWriteOnly). It reports false when a range is still missing.
func (b *builder) finish(ctx context.Context) (bool, error) {
	var ok bool
	err := b.run(ctx, func(st *Store) error {
		ok = false
		if st.states[b.ix.Name] != WriteOnly {
			ok = true // another builder finished it
			return nil
		}
		missing, err := st.indexRangeSet(b.ix.Name).missing(st.tr, nil, nil, 1, false)
		if err != nil || len(missing) > 0 {
			return err
		}
		ok = true
		if b.opts.KeepWriteOnly {
			return nil
		}
		_, err = st.markReadable(b.ix, true)
		return err
	}, nil)
	return ok, err
}
