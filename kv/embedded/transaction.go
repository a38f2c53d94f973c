package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/layerkit/layerkit/kv"
)

// retryBackoff is the embedded engine's retry backoff. FoundationDB's (10 ms doubling to 1 s) is
// sized for a cluster where a conflict means real contention on the network; here a commit takes
// microseconds, and layer tests run with injected faults, so a FoundationDB-sized backoff would
// only make those tests slow. Growth and jitter still spread out contending retries.
var retryBackoff = kv.Backoff{Initial: time.Millisecond, Max: 100 * time.Millisecond}

// transaction is the embedded engine's kv.Transaction. Every method takes mu, so it is safe for
// concurrent use; while a commit runs the commit leader owns the write state and other calls fail
// with kv.ErrUsedDuringCommit.
type transaction struct {
	db *DB
	mu sync.Mutex

	view   *view // nil until the first read takes a read version
	rvTime time.Time

	start   time.Time
	timeout time.Duration
	retries int

	err        error // the first error of a mutation; returned by later reads and Commit
	cancelled  bool
	committing bool
	committed  bool
	// finished is set once Commit has returned: as in FoundationDB, every later operation fails
	// with kv.ErrUsedDuringCommit until Reset or OnError.
	finished bool

	writes writeBuffer
	reads  []kv.Range // read conflict ranges
	// readMem holds the keys of point read conflict ranges; it starts afresh on reset.
	readMem arena
	wconf   []kv.Range // explicit and range-clear write conflict ranges
	noWC    bool
	size    int

	watches []*watch
	stamps  []*stampFuture

	// Results of the last commit.
	commitVersion int64
	stamp         [10]byte
	commitErr     error
	done          chan struct{}
	fault         fault
	pendingFault  fault

	readOnly bool // set while a read-only commit with watches runs

	// gen counts resets, so iterators notice that their transaction started over.
	gen uint64
}

var _ kv.Transaction = (*transaction)(nil)

func newTransaction(db *DB) *transaction {
	return &transaction{db: db, start: time.Now(), commitVersion: -1}
}

// check returns the error an operation fails with before it runs, if any.
func (tx *transaction) check(now time.Time) error {
	switch {
	case tx.committing, tx.finished:
		return kv.ErrUsedDuringCommit
	case tx.cancelled:
		return kv.ErrTransactionCancelled
	case tx.timeout > 0 && now.Sub(tx.start) >= tx.timeout:
		return kv.ErrTransactionTimedOut
	}
	return tx.err
}

// ensureView takes the read version on first use and fails once it is older than the window.
func (tx *transaction) ensureView(now time.Time) (*view, error) {
	if tx.view == nil {
		v, err := tx.db.acquireView(now)
		if err != nil {
			return nil, err
		}
		tx.view, tx.rvTime = v, now
		return v, nil
	}
	if now.Sub(tx.rvTime) > tx.db.window {
		return nil, kv.ErrTransactionTooOld
	}
	return tx.view, nil
}

func (tx *transaction) releaseView() {
	if tx.view != nil {
		tx.db.releaseView(tx.view)
		tx.view = nil
	}
}

// fail records the first mutation error.
func (tx *transaction) fail(err error) {
	if tx.err == nil {
		tx.err = err
	}
}

// mutable reports whether a mutation may be recorded now.
func (tx *transaction) mutable() bool {
	if tx.cancelled || tx.err != nil {
		return false
	}
	if tx.committing || tx.finished {
		tx.fail(kv.ErrUsedDuringCommit)
		return false
	}
	return true
}

// checkWriteKey validates a key that is about to be written, in FoundationDB's order.
func checkWriteKey(what string, key []byte) error {
	if len(key) > 0 && key[0] == 0xff {
		return fmt.Errorf("embedded: %s of key %s in the system keyspace: %w", what, kv.Printable(truncate(key)), kv.ErrKeyOutsideLegalRange)
	}
	if len(key) > kv.MaxKeySize {
		return fmt.Errorf("embedded: %s of key %s...: %d bytes, limit %d: %w", what, kv.Printable(truncate(key)), len(key), kv.MaxKeySize, kv.ErrKeyTooLarge)
	}
	return nil
}

func checkValue(what string, key, value []byte) error {
	if len(value) > kv.MaxValueSize {
		return fmt.Errorf("embedded: %s of key %s: value of %d bytes, limit %d: %w", what, kv.Printable(truncate(key)), len(value), kv.MaxValueSize, kv.ErrValueTooLarge)
	}
	return nil
}

// truncate shortens a key for error messages.
func truncate(key []byte) []byte {
	if len(key) > 64 {
		return key[:64]
	}
	return key
}

// takeConflict returns whether the current write adds a write conflict range, consuming
// SetNextWriteNoWriteConflictRange.
func (tx *transaction) takeConflict() bool {
	if tx.noWC {
		tx.noWC = false
		return false
	}
	return true
}

// Set writes value at key.
func (tx *transaction) Set(key, value []byte) {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if !tx.mutable() {
		return
	}
	if err := checkWriteKey("set", key); err != nil {
		tx.fail(err)
		return
	}
	if err := checkValue("set", key, value); err != nil {
		tx.fail(err)
		return
	}
	c := tx.takeConflict()
	tx.writes.set(key, value, c)
	tx.size += len(key) + len(value)
	if c {
		tx.size += 2*len(key) + 1
	}
}

// Clear removes key.
func (tx *transaction) Clear(key []byte) {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if !tx.mutable() {
		return
	}
	if err := checkWriteKey("clear", key); err != nil {
		if len(key) > kv.MaxKeySize && key[0] != 0xff {
			// No key that long can exist, so there is nothing to clear (as in FoundationDB).
			tx.takeConflict()
			return
		}
		tx.fail(err)
		return
	}
	c := tx.takeConflict()
	tx.writes.clear(key, c)
	tx.size += len(key)
	if c {
		tx.size += 2*len(key) + 1
	}
}

// ClearRange removes every key in [r.Begin, r.End).
func (tx *transaction) ClearRange(r kv.Range) {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if !tx.mutable() {
		return
	}
	if c := bytes.Compare(r.Begin, r.End); c > 0 {
		tx.fail(fmt.Errorf("embedded: clear range %s: %w", r, kv.ErrInvertedRange))
		return
	} else if c == 0 {
		tx.takeConflict()
		return
	}
	if bytes.Compare(r.Begin, []byte{0xff}) > 0 || bytes.Compare(r.End, []byte{0xff}) > 0 {
		tx.fail(fmt.Errorf("embedded: clear range %s reaches into the system keyspace: %w", r, kv.ErrKeyOutsideLegalRange))
		return
	}
	c := tx.takeConflict()
	dropped := tx.writes.clearRange(r)
	tx.size += len(r.Begin) + len(r.End)
	if c {
		tx.wconf = append(tx.wconf, kv.Range{Begin: bytes.Clone(r.Begin), End: bytes.Clone(r.End)})
		tx.size += len(r.Begin) + len(r.End)
	} else {
		// Keys written earlier with a conflict range keep it.
		for _, k := range dropped {
			tx.wconf = append(tx.wconf, pointRange(k))
		}
	}
}

// Atomic records an atomic mutation, evaluated at commit.
func (tx *transaction) Atomic(typ kv.MutationType, key, param []byte) {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if !tx.mutable() {
		return
	}
	if typ != kv.SetVersionstampedKey && len(key) > 0 && key[0] == 0xff {
		tx.fail(checkWriteKey("atomic "+typ.String(), key))
		return
	}
	if !typ.Valid() {
		tx.fail(fmt.Errorf("embedded: atomic mutation %v on key %s: %w", typ, kv.Printable(truncate(key)), kv.ErrInvalidMutationType))
		return
	}
	what := "atomic " + typ.String()
	if typ == kv.SetVersionstampedKey {
		tx.versionstampedKey(key, param)
		return
	}
	if err := checkWriteKey(what, key); err != nil {
		tx.fail(err)
		return
	}
	if err := checkValue(what, key, param); err != nil {
		tx.fail(err)
		return
	}
	if typ == kv.SetVersionstampedValue {
		if _, err := stampOffset(param, what, key); err != nil {
			tx.fail(err)
			return
		}
	}
	c := tx.takeConflict()
	tx.writes.atomic(typ, key, param, c)
	tx.size += len(key) + len(param)
	if c {
		tx.size += 2*len(key) + 1
	}
}

// stampOffset reads the 4-byte little-endian offset that ends b and checks that the ten
// versionstamp bytes fit in the rest.
func stampOffset(b []byte, what string, key []byte) (int, error) {
	if len(b) < 4 {
		return 0, fmt.Errorf("embedded: %s of key %s: %d bytes leave no room for the 4-byte versionstamp offset: %w", what, kv.Printable(truncate(key)), len(b), kv.ErrClientInvalidOperation)
	}
	off := int64(binary.LittleEndian.Uint32(b[len(b)-4:]))
	if off+10 > int64(len(b)-4) {
		return 0, fmt.Errorf("embedded: %s of key %s: versionstamp offset %d does not leave 10 bytes in %d: %w", what, kv.Printable(truncate(key)), off, len(b)-4, kv.ErrClientInvalidOperation)
	}
	return int(off), nil
}

func (tx *transaction) versionstampedKey(key, value []byte) {
	const what = "atomic SET_VERSIONSTAMPED_KEY"
	off, err := stampOffset(key, what, key)
	if err != nil {
		tx.fail(err)
		return
	}
	k := key[:len(key)-4]
	if err := checkWriteKey(what, k); err != nil {
		tx.fail(err)
		return
	}
	if err := checkValue(what, k, value); err != nil {
		tx.fail(err)
		return
	}
	// The key is known at commit only; until then every key it may become is unreadable:
	// from the stamp of the read version up to the largest stamp.
	lo := bytes.Clone(k)
	hi := bytes.Clone(k)
	rv := tx.db.version.Load()
	if tx.view != nil {
		rv = tx.view.version
	}
	binary.BigEndian.PutUint64(lo[off:], uint64(rv))
	lo[off+8], lo[off+9] = 0, 0
	for i := off; i < off+10; i++ {
		hi[i] = 0xff
	}
	c := tx.takeConflict()
	tx.writes.unreadable = append(tx.writes.unreadable, kv.Range{Begin: lo, End: kv.KeyAfter(hi)})
	v := bytes.Clone(value)
	if v == nil {
		v = []byte{}
	}
	tx.writes.vsKeys = append(tx.writes.vsKeys, vsKey{key: bytes.Clone(k), offset: off, value: v, clears: len(tx.writes.clearLog), conflict: c})
	tx.size += len(k) + len(value)
	if c {
		tx.size += 2*len(k) + 1
	}
}

// pointRange is the range of exactly key: [key, key+0x00), in one allocation.
func pointRange(key []byte) kv.Range {
	end := kv.KeyAfter(key)
	return kv.Range{Begin: end[:len(key):len(key)], End: end}
}

// readPoint is pointRange(key) with the key copied into the transaction's read arena.
func (tx *transaction) readPoint(key []byte) kv.Range {
	end := tx.readMem.copyAfter(key)
	return kv.Range{Begin: end[:len(key):len(key)], End: end}
}

func checkConflictRange(r kv.Range) error {
	if bytes.Compare(r.Begin, maxReadKey) > 0 || bytes.Compare(r.End, maxReadKey) > 0 {
		return fmt.Errorf("embedded: conflict range %s reaches into the system keyspace: %w", r, kv.ErrKeyOutsideLegalRange)
	}
	if bytes.Compare(r.Begin, r.End) > 0 {
		return fmt.Errorf("embedded: conflict range %s: %w", r, kv.ErrInvertedRange)
	}
	return nil
}

// AddReadConflictRange makes the commit conflict with writes to r after the read version.
func (tx *transaction) AddReadConflictRange(r kv.Range) error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if err := tx.check(time.Now()); err != nil {
		return err
	}
	if err := checkConflictRange(r); err != nil {
		return err
	}
	if bytes.Equal(r.Begin, r.End) {
		return nil
	}
	tx.reads = append(tx.reads, kv.Range{Begin: bytes.Clone(r.Begin), End: bytes.Clone(r.End)})
	return nil
}

// AddReadConflictKey adds the read conflict range of key alone.
func (tx *transaction) AddReadConflictKey(key []byte) error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if err := tx.check(time.Now()); err != nil {
		return err
	}
	if err := checkConflictRange(pointRange(key)); err != nil {
		return err
	}
	tx.reads = append(tx.reads, tx.readPoint(key))
	return nil
}

// AddWriteConflictRange makes transactions that read r conflict with this one.
func (tx *transaction) AddWriteConflictRange(r kv.Range) error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if err := tx.check(time.Now()); err != nil {
		return err
	}
	if err := checkConflictRange(r); err != nil {
		return err
	}
	if bytes.Equal(r.Begin, r.End) {
		return nil
	}
	tx.wconf = append(tx.wconf, kv.Range{Begin: bytes.Clone(r.Begin), End: bytes.Clone(r.End)})
	tx.size += len(r.Begin) + len(r.End)
	return nil
}

// AddWriteConflictKey adds the write conflict range of key alone.
func (tx *transaction) AddWriteConflictKey(key []byte) error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if err := tx.check(time.Now()); err != nil {
		return err
	}
	if err := checkConflictRange(pointRange(key)); err != nil {
		return err
	}
	tx.wconf = append(tx.wconf, pointRange(key))
	tx.size += 2*len(key) + 1
	return nil
}

// SetNextWriteNoWriteConflictRange makes the next write add no write conflict range.
func (tx *transaction) SetNextWriteNoWriteConflictRange() {
	tx.mu.Lock()
	tx.noWC = true
	tx.mu.Unlock()
}

// SetTimeout makes operations fail with kv.ErrTransactionTimedOut once d has passed since the
// transaction was created or last Reset (OnError keeps the deadline).
func (tx *transaction) SetTimeout(d time.Duration) {
	tx.mu.Lock()
	if d < 0 {
		d = 0
	}
	tx.timeout = d
	tx.mu.Unlock()
}

// Cancel makes every later operation fail with kv.ErrTransactionCancelled until Reset.
func (tx *transaction) Cancel() {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.cancelled {
		return
	}
	tx.cancelled = true
	if !tx.committing {
		tx.releaseView()
		tx.finishPending(kv.ErrTransactionCancelled)
	}
}

// finishPending fails the watches and versionstamp futures of a transaction that will not
// commit.
func (tx *transaction) finishPending(err error) {
	for _, w := range tx.watches {
		w.finish(err)
	}
	tx.watches = nil
	for _, s := range tx.stamps {
		s.finish([10]byte{}, err)
	}
	tx.stamps = nil
}

// Reset discards reads, writes and options (the timeout too) and gives the transaction a new
// read version.
func (tx *transaction) Reset() {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	tx.reset(false)
}

func (tx *transaction) reset(keepOptions bool) {
	tx.gen++
	tx.releaseView()
	tx.finishPending(kv.ErrTransactionCancelled)
	tx.err, tx.cancelled, tx.committed, tx.finished = nil, false, false, false
	tx.writes.reset()
	tx.reads = tx.reads[:0]
	tx.readMem = arena{}
	tx.wconf = tx.wconf[:0]
	tx.noWC = false
	tx.size = 0
	tx.commitVersion = -1
	tx.commitErr = nil
	tx.stamp = [10]byte{}
	if !keepOptions {
		// OnError keeps the timeout and its deadline, as FoundationDB does from API 610, so a
		// timeout bounds a whole retry loop; Reset starts over.
		tx.start = time.Now()
		tx.timeout = 0
		tx.retries = 0
	}
}

// OnError backs off and resets the transaction for a retryable error; otherwise it returns err.
func (tx *transaction) OnError(ctx context.Context, err error) error {
	if !kv.IsRetryable(err) {
		return err
	}
	tx.mu.Lock()
	n := tx.retries
	tx.retries++
	tx.mu.Unlock()
	if serr := kv.Sleep(ctx, retryBackoff.Delay(n)); serr != nil {
		return serr
	}
	tx.mu.Lock()
	tx.reset(true)
	tx.mu.Unlock()
	return nil
}

// Transact runs fn in place: the transaction is the caller's and nothing is committed here.
func (tx *transaction) Transact(ctx context.Context, fn func(kv.Transaction) error, _ ...kv.TransactOption) error {
	return kv.RunInPlace[kv.Transaction](ctx, tx, fn)
}

// ReadTransact runs fn in place.
func (tx *transaction) ReadTransact(ctx context.Context, fn func(kv.ReadTransaction) error, _ ...kv.TransactOption) error {
	return kv.RunInPlace[kv.ReadTransaction](ctx, tx, fn)
}

// GetReadVersion returns the read version, taking it now if no read has yet.
func (tx *transaction) GetReadVersion() kv.Future[int64] {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	now := time.Now()
	if err := tx.check(now); err != nil {
		return kv.Ready[int64](0, err)
	}
	v, err := tx.ensureView(now)
	if err != nil {
		return kv.Ready[int64](0, err)
	}
	return kv.Ready(v.version, nil)
}

// GetCommittedVersion returns the commit version, or -1 for a read-only commit or before commit.
func (tx *transaction) GetCommittedVersion() (int64, error) {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return tx.commitVersion, nil
}

// GetVersionstamp returns a future of the commit's versionstamp, ready once the commit is done.
func (tx *transaction) GetVersionstamp() kv.Future[[10]byte] {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	f := &stampFuture{done: make(chan struct{})}
	switch {
	case tx.committed && tx.commitVersion >= 0:
		f.finish(tx.stamp, nil)
	case tx.committed:
		f.finish([10]byte{}, noStampErr())
	case tx.cancelled:
		f.finish([10]byte{}, kv.ErrTransactionCancelled)
	default:
		tx.stamps = append(tx.stamps, f)
	}
	return f
}

func noStampErr() error {
	return fmt.Errorf("embedded: a read-only transaction has no versionstamp: %w", kv.ErrClientInvalidOperation)
}

// stampFuture is the versionstamp of a commit that may not have happened yet.
type stampFuture struct {
	once  sync.Once
	done  chan struct{}
	stamp [10]byte
	err   error
}

func (f *stampFuture) finish(stamp [10]byte, err error) {
	f.once.Do(func() {
		f.stamp, f.err = stamp, err
		close(f.done)
	})
}

// Get waits for the commit and returns its versionstamp.
func (f *stampFuture) Get() ([10]byte, error) {
	<-f.done
	return f.stamp, f.err
}

// Snapshot returns a view of the transaction whose reads add no read conflict ranges.
func (tx *transaction) Snapshot() kv.ReadTransaction { return snapshotTx{tx} }

// snapshotTx is the snapshot view of a transaction.
type snapshotTx struct{ tx *transaction }

var _ kv.ReadTransaction = snapshotTx{}

func (s snapshotTx) Get(key []byte) kv.Future[[]byte]            { return s.tx.get(key, true) }
func (s snapshotTx) GetKey(sel kv.KeySelector) kv.Future[[]byte] { return s.tx.getKey(sel, true) }
func (s snapshotTx) GetRange(r kv.Ranger, o kv.RangeOptions) kv.RangeResult {
	return s.tx.getRange(r, o, true)
}
func (s snapshotTx) GetReadVersion() kv.Future[int64] { return s.tx.GetReadVersion() }
func (s snapshotTx) Snapshot() kv.ReadTransaction     { return s }
func (s snapshotTx) Cancel()                          { s.tx.Cancel() }
func (s snapshotTx) ReadTransact(ctx context.Context, fn func(kv.ReadTransaction) error, _ ...kv.TransactOption) error {
	return kv.RunInPlace[kv.ReadTransaction](ctx, s, fn)
}

// Get reads key.
func (tx *transaction) Get(key []byte) kv.Future[[]byte] { return tx.get(key, false) }

// GetKey resolves a key selector.
func (tx *transaction) GetKey(sel kv.KeySelector) kv.Future[[]byte] { return tx.getKey(sel, false) }

// GetRange reads a range.
func (tx *transaction) GetRange(r kv.Ranger, o kv.RangeOptions) kv.RangeResult {
	return tx.getRange(r, o, false)
}
