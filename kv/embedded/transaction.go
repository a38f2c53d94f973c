package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"
	"weak"

	"github.com/layerkit/layerkit/kv"
)

// retryBackoff is the embedded engine's retry backoff. FoundationDB's (10 ms doubling to 1 s) is
// sized for a cluster where a conflict means real contention on the network; here a commit takes
// microseconds, and layer tests run with injected faults, so a FoundationDB-sized backoff would
// only make those tests slow. Growth and jitter still spread out contending retries.
var retryBackoff = kv.Backoff{Initial: time.Millisecond, Max: 100 * time.Millisecond}

// FoundationDB's sizes that the transaction size counts (NativeAPI's Transaction::getSize: the
// expected size of the mutations and of the read and write conflict ranges sent at commit).
const (
	// mutationOverhead is sizeof(MutationRef) in the 7.3 client on 64-bit machines: a type
	// byte, two key references, an optional checksum, an optional checksum index and a flag.
	mutationOverhead = 56
	// rangeOverhead is sizeof(KeyRangeRef): two key references.
	rangeOverhead = 32
	// maxReadKeySize is the longest key a read, a clear or a conflict range takes as it is
	// (getMaxKeySize: the key limit plus room for a tenant prefix); no stored key is longer, so
	// longer keys are shortened, or read as absent.
	maxReadKeySize = kv.MaxKeySize + 8
)

// metadataVersionKey is FoundationDB's \xff/metadataVersion, the one system key a transaction
// reads and, through a versionstamped value of metadataVersionParam, writes.
var (
	metadataVersionKey   = kv.MetadataVersionKey()
	metadataVersionRange = kv.Range{Begin: metadataVersionKey, End: kv.KeyAfter(metadataVersionKey)}
)

// transaction is the embedded engine's kv.Transaction. Every method takes mu, so it is safe for
// concurrent use; while a commit runs the commit leader owns the write state and other calls fail
// with kv.ErrUsedDuringCommit.
type transaction struct {
	db *DB
	mu sync.Mutex

	// view is the snapshot reads go to, nil until a read needs the database. rv is the read
	// version (valid when hasRV), taken at rvTime.
	view   *view
	rv     int64
	hasRV  bool
	rvTime time.Time
	// self is the weak pointer by which views record the transaction, and holdIdx its index
	// among the holders of view (guarded by DB.vmu).
	self    weak.Pointer[transaction]
	holdIdx int

	start   time.Time
	timeout time.Duration
	retries int

	// err is the first error of a mutation or conflict range call, returned by later reads and
	// Commit (FoundationDB's deferred error).
	err error
	// resetErr is what FoundationDB keeps in the transaction's reset promise: set by Cancel
	// (1025), by the timeout (1031) or by an operation issued after Commit started (2017), it
	// fails every later operation, OnError included, until Reset.
	resetErr   error
	cancelCh   chan struct{} // closed when resetErr is set; made by OnError, which waits on it
	committing bool
	committed  bool
	// finished is set once Commit has started: as in FoundationDB, every later operation fails
	// with kv.ErrUsedDuringCommit until Reset or OnError.
	finished bool

	writes writeBuffer
	// reads are the read conflict ranges of reads, explicit those added by
	// AddReadConflictRange, and snapReads the ranges snapshot reads fetched from the database.
	// reads and snapReads are what the transaction has fetched (FoundationDB's read cache).
	reads     []kv.Range
	explicit  []kv.Range
	snapReads []kv.Range
	wconf     []kv.Range // explicit and range-clear write conflict ranges
	noWC      bool
	// size bounds from above FoundationDB's count of the mutations and write conflict ranges;
	// the exact count is worked out at commit only when the bound passes the limit.
	size int

	watches []*watch
	stamps  []*stampFuture

	// Results of the last commit. commitRV is the read version the commit leader resolved a
	// transaction that took none with; stampFail is what GetVersionstamp reports after a failed
	// commit.
	commitVersion int64
	commitRV      int64
	stamp         [10]byte
	commitErr     error
	stampFail     error
	done          chan struct{}
	fault         fault
	pendingFault  fault

	readOnly bool // set while a read-only commit with watches runs

	// gen counts resets, so iterators notice that their transaction started over.
	gen uint64
}

var _ kv.Transaction = (*transaction)(nil)

func newTransaction(db *DB) *transaction {
	return &transaction{db: db, start: time.Now(), commitVersion: -1, holdIdx: -1}
}

// check returns the error an operation fails with before it runs, if any, in FoundationDB's
// order: the deferred error, then use after Commit (which also fails the transaction's later
// calls), then cancellation or timeout.
func (tx *transaction) check(now time.Time) error {
	if tx.err != nil {
		return tx.err
	}
	if tx.committing || tx.finished {
		tx.poison()
		return kv.ErrUsedDuringCommit
	}
	return tx.resetState(now)
}

// poison records an operation issued after Commit started: FoundationDB then fails the
// transaction with used_during_commit until Reset (checkUsedDuringCommit).
func (tx *transaction) poison() {
	if tx.resetErr == nil {
		tx.setReset(kv.ErrUsedDuringCommit)
	}
}

// resetState returns the error the transaction was cancelled with, noting the timeout when it
// has passed.
func (tx *transaction) resetState(now time.Time) error {
	if tx.resetErr == nil && tx.timedOut(now) {
		tx.setReset(kv.ErrTransactionTimedOut)
		if !tx.committing {
			tx.finishPending(kv.ErrTransactionTimedOut)
		}
	}
	return tx.resetErr
}

func (tx *transaction) setReset(err error) {
	tx.resetErr = err
	if tx.cancelCh != nil {
		close(tx.cancelCh)
	}
}

func (tx *transaction) timedOut(now time.Time) bool {
	return tx.timeout > 0 && now.Sub(tx.start) >= tx.timeout
}

// readView returns the snapshot to read the database from, taking the read version on first
// use.
func (tx *transaction) readView(now time.Time) (*view, error) {
	if tx.view != nil {
		return tx.view, nil
	}
	v, rv, err := tx.db.acquireView(tx, now)
	if err != nil {
		return nil, err
	}
	tx.view = v
	if !tx.hasRV {
		tx.rv, tx.hasRV, tx.rvTime = rv, true, now
	}
	return v, nil
}

// old reports whether the read version has left the window: a read that needs the database then
// fails with 1007 (FoundationDB's storage servers no longer hold that version).
func (tx *transaction) old(now time.Time) bool {
	return tx.view != nil && now.Sub(tx.rvTime) > tx.db.window
}

func (tx *transaction) releaseView() {
	if tx.view != nil {
		tx.db.releaseView(tx, tx.view)
		tx.view = nil
	}
}

// fail records the first mutation error.
func (tx *transaction) fail(err error) {
	if tx.err == nil {
		tx.err = err
	}
}

// mutable reports whether a mutation may be recorded now: not after an earlier mutation failed
// (FoundationDB skips every call after the first deferred error), not once cancelled, and not
// after Commit started, which fails the transaction with 2017.
func (tx *transaction) mutable() bool {
	if tx.err != nil || tx.resetErr != nil {
		return false
	}
	if tx.committing || tx.finished {
		tx.poison()
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

// shorten cuts a key longer than any stored key, as FoundationDB does for clears and conflict
// ranges: the result orders the same against every key that can exist.
func shorten(key []byte) []byte {
	if len(key) > maxReadKeySize && key[0] != 0xff {
		return key[:maxReadKeySize+1]
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

// pointCost is FoundationDB's size of a write conflict range of one key.
func pointCost(key []byte) int { return rangeOverhead + 2*len(key) + 1 }

// splitCost is the size of the extra range clear FoundationDB sends when a write lands inside a
// range the transaction cleared.
func splitCost(key []byte) int { return mutationOverhead + 2*len(key) + 1 }

// Set writes value at key.
func (tx *transaction) Set(key, value []byte) {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if !tx.mutable() {
		return
	}
	if bytes.Equal(key, metadataVersionKey) {
		tx.fail(fmt.Errorf("embedded: set of %s: the metadata version only changes through kv.BumpMetadataVersion: %w", kv.Printable(key), kv.ErrClientInvalidOperation))
		return
	}
	c := tx.takeConflict()
	if err := checkWriteKey("set", key); err != nil {
		tx.fail(err)
		return
	}
	if err := checkValue("set", key, value); err != nil {
		tx.fail(err)
		return
	}
	if tx.writes.set(key, value, c) {
		tx.size += splitCost(key)
	}
	tx.size += mutationOverhead + len(key) + len(value)
	if c {
		tx.size += pointCost(key)
	}
	if len(tx.watches) > 0 {
		tx.triggerWatches(key, kv.KeyAfter(key), value, true, true)
	}
}

// Clear removes key.
func (tx *transaction) Clear(key []byte) {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if !tx.mutable() {
		return
	}
	c := tx.takeConflict()
	if len(key) > 0 && key[0] == 0xff {
		tx.fail(checkWriteKey("clear", key))
		return
	}
	if len(key) > maxReadKeySize {
		// No key that long can exist, so there is nothing to clear (as in FoundationDB).
		return
	}
	tx.writes.clear(key, c)
	tx.size += splitCost(key)
	if c {
		tx.size += pointCost(key)
	}
	if len(tx.watches) > 0 {
		tx.triggerWatches(key, kv.KeyAfter(key), nil, false, true)
	}
}

// ClearRange removes every key in [r.Begin, r.End).
func (tx *transaction) ClearRange(r kv.Range) {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if !tx.mutable() {
		return
	}
	if bytes.Compare(r.Begin, r.End) > 0 {
		tx.fail(fmt.Errorf("embedded: clear range %s: %w", r, kv.ErrInvertedRange))
		return
	}
	c := tx.takeConflict()
	if bytes.Compare(r.Begin, maxReadKey) > 0 || bytes.Compare(r.End, maxReadKey) > 0 {
		tx.fail(fmt.Errorf("embedded: clear range %s reaches into the system keyspace: %w", r, kv.ErrKeyOutsideLegalRange))
		return
	}
	r = kv.Range{Begin: shorten(r.Begin), End: shorten(r.End)}
	if bytes.Compare(r.Begin, r.End) >= 0 {
		return
	}
	dropped := tx.writes.clearRange(r)
	tx.size += mutationOverhead + len(r.Begin) + len(r.End)
	if c {
		tx.wconf = append(tx.wconf, kv.Range{Begin: bytes.Clone(r.Begin), End: bytes.Clone(r.End)})
		tx.size += rangeOverhead + len(r.Begin) + len(r.End)
	} else {
		// Keys written earlier with a conflict range keep it.
		for _, k := range dropped {
			tx.wconf = append(tx.wconf, pointRange(k))
		}
	}
	if len(tx.watches) > 0 {
		tx.triggerWatches(r.Begin, r.End, nil, false, true)
	}
}

// Atomic records an atomic mutation, evaluated at commit. The checks follow FoundationDB's
// ReadYourWritesTransaction::atomicOp, in its order.
func (tx *transaction) Atomic(typ kv.MutationType, key, param []byte) {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if !tx.mutable() {
		return
	}
	c := tx.takeConflict()
	what := "atomic " + typ.String()
	if bytes.Equal(key, metadataVersionKey) {
		if typ != kv.SetVersionstampedValue || !bytes.Equal(param, metadataVersionParam[:]) {
			tx.fail(fmt.Errorf("embedded: %s of %s: the metadata version only changes through kv.BumpMetadataVersion: %w", what, kv.Printable(key), kv.ErrClientInvalidOperation))
			return
		}
	} else if len(key) > 0 && key[0] == 0xff {
		tx.fail(checkWriteKey(what, key))
		return
	}
	if !typ.Valid() {
		tx.fail(fmt.Errorf("embedded: atomic mutation %v on key %s: %w", typ, kv.Printable(truncate(key)), kv.ErrInvalidMutationType))
		return
	}
	// The key limit applies to the key as given, the versionstamp offset suffix included.
	if len(key) > kv.MaxKeySize && key[0] != 0xff {
		tx.fail(checkWriteKey(what, key))
		return
	}
	if err := checkValue(what, key, param); err != nil {
		tx.fail(err)
		return
	}
	switch typ {
	case kv.SetVersionstampedKey:
		off, err := stampOffset(key, what, key)
		if err != nil {
			tx.fail(err)
			return
		}
		tx.versionstampedKey(key, off, param)
		return
	case kv.SetVersionstampedValue:
		if _, err := stampOffset(param, what, key); err != nil {
			tx.fail(err)
			return
		}
	}
	if tx.writes.atomic(typ, key, param, c) {
		tx.size += splitCost(key)
	}
	tx.size += mutationOverhead + len(key) + len(param)
	if c {
		tx.size += pointCost(key)
	}
	if len(tx.watches) > 0 {
		tx.triggerWatches(key, kv.KeyAfter(key), nil, false, false)
	}
}

// metadataVersionParam is the only parameter FoundationDB accepts for the metadata version key:
// a versionstamp placeholder at offset 0.
var metadataVersionParam [14]byte

// stampOffset reads the 4-byte little-endian offset that ends b and checks that the ten
// versionstamp bytes fit in the rest.
func stampOffset(b []byte, what string, key []byte) (int, error) {
	if len(b) < 4 {
		return 0, fmt.Errorf("embedded: %s of key %s: %d bytes leave no room for the 4-byte versionstamp offset: %w", what, kv.Printable(truncate(key)), len(b), kv.ErrClientInvalidOperation)
	}
	off := int64(int32(binary.LittleEndian.Uint32(b[len(b)-4:])))
	if off < 0 || off+10 > int64(len(b)-4) {
		return 0, fmt.Errorf("embedded: %s of key %s: versionstamp offset %d does not leave 10 bytes in %d: %w", what, kv.Printable(truncate(key)), off, len(b)-4, kv.ErrClientInvalidOperation)
	}
	return int(off), nil
}

// versionstampedKey records a SET_VERSIONSTAMPED_KEY of raw (offset suffix included), as
// FoundationDB's ReadYourWritesTransaction::atomicOp does: the key is known at commit only, so
// every key it may become is unreadable until then, from the stamp of the read version (of
// version 0 when none was taken yet) up to the largest stamp. Its write conflict range is added
// at commit on the final key, whatever SetNextWriteNoWriteConflictRange said (the commit proxy
// adds it).
func (tx *transaction) versionstampedKey(raw []byte, off int, value []byte) {
	var rv int64
	if tx.hasRV {
		rv = tx.rv
	}
	k := raw[:len(raw)-4]
	lo, hi := bytes.Clone(k), bytes.Clone(k)
	binary.BigEndian.PutUint64(lo[off:], uint64(rv))
	lo[off+8], lo[off+9] = 0, 0
	for i := off; i < off+10; i++ {
		hi[i] = 0xff
	}
	end := kv.KeyAfter(hi)
	if bytes.Compare(end, maxReadKey) > 0 {
		end = bytes.Clone(maxReadKey)
	}
	placeholder := append(bytes.Clone(lo), raw[len(raw)-4:]...)
	tx.writes.addUnreadable(kv.Range{Begin: lo, End: end})
	v := bytes.Clone(value)
	if v == nil {
		v = []byte{}
	}
	tx.writes.vsKeys = append(tx.writes.vsKeys, vsKey{key: bytes.Clone(k), offset: off, value: v, placeholder: placeholder})
	tx.size += mutationOverhead + len(raw) + len(value)
	if len(tx.watches) > 0 {
		tx.triggerWatches(placeholder, kv.KeyAfter(placeholder), nil, false, false)
	}
}

// pointRange is the range of exactly key: [key, key+0x00), in one allocation.
func pointRange(key []byte) kv.Range {
	end := kv.KeyAfter(key)
	return kv.Range{Begin: end[:len(key):len(key)], End: end}
}

// conflictRange validates an explicit conflict range as fdb_transaction_add_conflict_range does:
// an inverted range is refused at once (ok false, with the error); any other problem, and use
// after Commit, becomes the transaction's deferred error, returned by the next read or the
// commit (ok false, nil error). A cancelled transaction takes the range without complaint.
func (tx *transaction) conflictRange(r kv.Range, read bool) (kv.Range, bool, error) {
	if bytes.Compare(r.Begin, r.End) > 0 {
		return kv.Range{}, false, fmt.Errorf("embedded: conflict range %s: %w", r, kv.ErrInvertedRange)
	}
	if tx.err != nil {
		return kv.Range{}, false, nil
	}
	if tx.committing || tx.finished {
		tx.poison()
		tx.fail(kv.ErrUsedDuringCommit)
		return kv.Range{}, false, nil
	}
	if bytes.Compare(r.Begin, maxReadKey) > 0 || bytes.Compare(r.End, maxReadKey) > 0 {
		if !read || !bytes.Equal(r.Begin, metadataVersionRange.Begin) || !bytes.Equal(r.End, metadataVersionRange.End) {
			tx.fail(fmt.Errorf("embedded: conflict range %s reaches into the system keyspace: %w", r, kv.ErrKeyOutsideLegalRange))
			return kv.Range{}, false, nil
		}
	}
	r = kv.Range{Begin: shorten(r.Begin), End: shorten(r.End)}
	return r, bytes.Compare(r.Begin, r.End) < 0, nil
}

// AddReadConflictRange makes the commit conflict with writes to r after the read version. Keys
// the transaction already wrote are left out, as FoundationDB's read-your-writes layer leaves
// them out: what it reads there is its own.
func (tx *transaction) AddReadConflictRange(r kv.Range) error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	r, ok, err := tx.conflictRange(r, true)
	if ok {
		tx.addReadRange(r.Begin, r.End, &tx.explicit, false)
	}
	return err
}

// AddReadConflictKey adds the read conflict range of key alone.
func (tx *transaction) AddReadConflictKey(key []byte) error {
	return tx.AddReadConflictRange(pointRange(key))
}

// AddWriteConflictRange makes transactions that read r conflict with this one.
func (tx *transaction) AddWriteConflictRange(r kv.Range) error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	r, ok, err := tx.conflictRange(r, false)
	if ok {
		tx.wconf = append(tx.wconf, kv.Range{Begin: bytes.Clone(r.Begin), End: bytes.Clone(r.End)})
		tx.size += rangeOverhead + len(r.Begin) + len(r.End)
	}
	return err
}

// AddWriteConflictKey adds the write conflict range of key alone.
func (tx *transaction) AddWriteConflictKey(key []byte) error {
	return tx.AddWriteConflictRange(pointRange(key))
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

// Cancel makes every later operation fail with kv.ErrTransactionCancelled until Reset (or with
// the error that already ended the transaction: its timeout, or use after Commit).
func (tx *transaction) Cancel() {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	tx.cancelLocked()
}

// finishPending fails the watches and versionstamp futures of a transaction that will not
// commit.
func (tx *transaction) finishPending(err error) {
	tx.finishWatches(err)
	tx.finishStamps(err)
}

func (tx *transaction) finishWatches(err error) {
	for _, w := range tx.watches {
		w.finish(err)
	}
	tx.watches = nil
}

func (tx *transaction) finishStamps(err error) {
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
	tx.err, tx.resetErr, tx.cancelCh = nil, nil, nil
	tx.committed, tx.finished = false, false
	tx.writes.reset()
	tx.reads, tx.explicit, tx.snapReads = tx.reads[:0], tx.explicit[:0], tx.snapReads[:0]
	tx.wconf = tx.wconf[:0]
	tx.noWC = false
	tx.size = 0
	tx.hasRV, tx.rv = false, 0
	tx.commitVersion = -1
	tx.commitErr, tx.stampFail = nil, nil
	tx.stamp = [10]byte{}
	if !keepOptions {
		// OnError keeps the timeout and its deadline, as FoundationDB does from API 610, so a
		// timeout bounds a whole retry loop; Reset starts over.
		tx.start = time.Now()
		tx.timeout = 0
		tx.retries = 0
	}
}

// OnError handles an error of a retry loop as FoundationDB's ReadYourWritesTransaction::onError
// does (API 610 and later): a transaction already cancelled, timed out or used after Commit
// returns that error; a retryable error backs off and resets the transaction; any other error
// cancels the transaction and is returned. If ctx ends during the backoff the transaction is
// cancelled too (as cancelling FoundationDB's OnError future does) and ctx's error returned.
func (tx *transaction) OnError(ctx context.Context, err error) error {
	tx.mu.Lock()
	now := time.Now()
	if rerr := tx.resetState(now); rerr != nil {
		tx.mu.Unlock()
		return rerr
	}
	if !kv.IsRetryable(err) {
		tx.cancelLocked()
		tx.mu.Unlock()
		return err
	}
	if cerr := ctx.Err(); cerr != nil {
		tx.mu.Unlock()
		return cerr
	}
	d := retryBackoff.Delay(tx.retries)
	tx.retries++
	timesOut := false
	if tx.timeout > 0 {
		if left := tx.timeout - now.Sub(tx.start); left <= d {
			d, timesOut = max(left, 0), true
		}
	}
	if tx.cancelCh == nil {
		tx.cancelCh = make(chan struct{})
	}
	cancelled := tx.cancelCh
	tx.mu.Unlock()

	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-cancelled:
	case <-ctx.Done():
		tx.mu.Lock()
		tx.cancelLocked()
		tx.mu.Unlock()
		return ctx.Err()
	}
	tx.mu.Lock()
	defer tx.mu.Unlock()
	now = time.Now()
	if timesOut && tx.resetErr == nil {
		tx.setReset(kv.ErrTransactionTimedOut)
		tx.finishPending(kv.ErrTransactionTimedOut)
	}
	if rerr := tx.resetState(now); rerr != nil {
		return rerr
	}
	tx.reset(true)
	return nil
}

// cancelLocked is Cancel with mu held.
func (tx *transaction) cancelLocked() {
	if tx.resetState(time.Now()) == nil {
		tx.setReset(kv.ErrTransactionCancelled)
	}
	if !tx.committing {
		tx.releaseView()
		tx.finishPending(tx.resetErr)
	}
}

// Transact runs fn in place: the transaction is the caller's and nothing is committed here.
func (tx *transaction) Transact(ctx context.Context, fn func(kv.Transaction) error, _ ...kv.TransactOption) error {
	return kv.RunInPlace[kv.Transaction](ctx, tx, fn)
}

// ReadTransact runs fn in place.
func (tx *transaction) ReadTransact(ctx context.Context, fn func(kv.ReadTransaction) error, _ ...kv.TransactOption) error {
	return kv.RunInPlace[kv.ReadTransaction](ctx, tx, fn)
}

// GetReadVersion returns the read version, taking it now if none was taken yet. As in
// FoundationDB it stays available after Commit (unless the transaction was used after Commit,
// cancelled or timed out), and reading it does not age the transaction: only reads that go to
// the database fail with 1007.
func (tx *transaction) GetReadVersion() kv.Future[int64] {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	now := time.Now()
	if tx.err != nil {
		return kv.Ready[int64](0, tx.err)
	}
	if err := tx.resetState(now); err != nil {
		return kv.Ready[int64](0, err)
	}
	if tx.hasRV {
		return kv.Ready(tx.rv, nil)
	}
	if tx.committing || tx.finished {
		// Nothing will be read any more: a version without a view.
		tx.rv, tx.hasRV, tx.rvTime = tx.db.readVersion(now), true, now
		return kv.Ready(tx.rv, nil)
	}
	if _, err := tx.readView(now); err != nil {
		return kv.Ready[int64](0, err)
	}
	return kv.Ready(tx.rv, nil)
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
	case tx.finished && !tx.committing && tx.stampFail != nil:
		f.finish([10]byte{}, tx.stampFail)
	case tx.err != nil:
		f.finish([10]byte{}, tx.err)
	case tx.resetState(time.Now()) != nil:
		f.finish([10]byte{}, tx.resetErr)
	default:
		tx.stamps = append(tx.stamps, f)
	}
	return f
}

func noStampErr() error {
	return fmt.Errorf("embedded: a transaction that wrote nothing has no versionstamp: %w", kv.ErrNoCommitVersion)
}

// stampErr is the versionstamp's error for a commit that failed with err: FoundationDB's
// transaction_invalid_version, wrapping the commit's own error.
func stampErr(err error) error {
	return fmt.Errorf("embedded: no versionstamp, the commit failed: %w: %w", kv.ErrTransactionInvalidVersion, err)
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
