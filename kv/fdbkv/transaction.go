//go:build fdb

package fdbkv

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apple/foundationdb/bindings/go/src/fdb"
	"github.com/layerkit/layerkit/kv"
)

// transaction is a kv.Transaction over an fdb.Transaction. The binding's transaction is safe for
// concurrent use; the little state kept here is guarded by mu, optMu or atomics.
type transaction struct {
	reader
	tr fdb.Transaction
	// intr stops the transaction's blocked calls when a context it runs under ends.
	intr *interrupt

	// failed holds an error that the binding cannot put into the FoundationDB transaction itself
	// (an unknown mutation type, a failed option): like FoundationDB's deferred errors, it is
	// returned by later reads and by Commit, until OnError or Reset.
	failed atomic.Pointer[error]

	// optMu serializes the calls that change the transaction's options (SetTimeout, the
	// interrupt's timeout, OnError, Reset): the multi-version client keeps persistent options
	// in a list it does not lock.
	optMu sync.Mutex

	mu sync.Mutex
	// stamp is the versionstamp future, issued at the latest just before Commit: FoundationDB
	// refuses get_versionstamp once a commit has started, while kv allows asking afterwards.
	stamp fdb.FutureKey
	// commitErr is the error of the last commit of this attempt, nil when none failed.
	commitErr error
}

var _ kv.Transaction = (*transaction)(nil)

func newTransaction(tr fdb.Transaction) *transaction {
	t := &transaction{tr: tr}
	t.reader = reader{rt: tr, owner: t}
	t.intr = newInterrupt(t)
	return t
}

// setTimeoutMillis sets FoundationDB's timeout option (for the interrupt and SetTimeout).
func (t *transaction) setTimeoutMillis(ms int64) error {
	t.optMu.Lock()
	defer t.optMu.Unlock()
	return t.tr.Options().SetTimeout(ms)
}

// deferred returns the transaction's deferred error, if any.
func (t *transaction) deferred() error {
	if p := t.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// fail records err as the deferred error unless one is already recorded.
func (t *transaction) fail(err error) {
	t.failed.CompareAndSwap(nil, &err)
}

// forget drops the state of the previous attempt after FoundationDB reset the transaction.
func (t *transaction) forget() {
	t.failed.Store(nil)
	t.mu.Lock()
	t.stamp = nil
	t.commitErr = nil
	t.mu.Unlock()
}

// Transact runs fn in this transaction, in place, without committing. While fn runs the
// transaction is bound to ctx: if ctx ends, the transaction is cancelled (FoundationDB's only way
// to stop its pending reads) and its blocked calls return ctx's error.
func (t *transaction) Transact(ctx context.Context, fn func(kv.Transaction) error, _ ...kv.TransactOption) error {
	return runBound[kv.Transaction](ctx, t.intr, t, fn)
}

// ReadTransact runs fn in this transaction, in place, bound to ctx as Transact is.
func (t *transaction) ReadTransact(ctx context.Context, fn func(kv.ReadTransaction) error, _ ...kv.TransactOption) error {
	return runBound[kv.ReadTransaction](ctx, t.intr, t, fn)
}

// Snapshot returns the binding's snapshot view of this transaction.
func (t *transaction) Snapshot() kv.ReadTransaction {
	return &snapshot{reader{rt: t.tr.Snapshot(), owner: t}}
}

// Cancel cancels the FoundationDB transaction: later operations fail with 1025.
func (t *transaction) Cancel() { t.tr.Cancel() }

// Set writes value at key.
func (t *transaction) Set(key, value []byte) { t.tr.Set(fdb.Key(key), value) }

// Clear removes key.
func (t *transaction) Clear(key []byte) { t.tr.Clear(fdb.Key(key)) }

// ClearRange removes the keys of r.
func (t *transaction) ClearRange(r kv.Range) { t.tr.ClearRange(keyRange(r)) }

// Atomic applies op through the binding's method of the same name.
func (t *transaction) Atomic(op kv.MutationType, key, param []byte) {
	k := fdb.Key(key)
	switch op {
	case kv.Add:
		t.tr.Add(k, param)
	case kv.BitAnd:
		t.tr.BitAnd(k, param)
	case kv.BitOr:
		t.tr.BitOr(k, param)
	case kv.BitXor:
		t.tr.BitXor(k, param)
	case kv.AppendIfFits:
		t.tr.AppendIfFits(k, param)
	case kv.Max:
		t.tr.Max(k, param)
	case kv.Min:
		t.tr.Min(k, param)
	case kv.SetVersionstampedKey:
		t.tr.SetVersionstampedKey(k, param)
	case kv.SetVersionstampedValue:
		t.tr.SetVersionstampedValue(k, param)
	case kv.ByteMin:
		t.tr.ByteMin(k, param)
	case kv.ByteMax:
		t.tr.ByteMax(k, param)
	case kv.CompareAndClear:
		t.tr.CompareAndClear(k, param)
	default:
		// The binding has no call for a raw mutation code; FoundationDB would fail the transaction
		// with invalid_mutation_type, so the adapter does the same.
		t.fail(fmt.Errorf("fdbkv: atomic mutation %v on key %s: %w", op, kv.Printable(key), kv.ErrInvalidMutationType))
	}
}

// AddReadConflictRange adds r to the read conflict ranges.
func (t *transaction) AddReadConflictRange(r kv.Range) error {
	return convertErr(t.tr.AddReadConflictRange(keyRange(r)))
}

// AddReadConflictKey adds key to the read conflict ranges.
func (t *transaction) AddReadConflictKey(key []byte) error {
	return convertErr(t.tr.AddReadConflictKey(fdb.Key(key)))
}

// AddWriteConflictRange adds r to the write conflict ranges.
func (t *transaction) AddWriteConflictRange(r kv.Range) error {
	return convertErr(t.tr.AddWriteConflictRange(keyRange(r)))
}

// AddWriteConflictKey adds key to the write conflict ranges.
func (t *transaction) AddWriteConflictKey(key []byte) error {
	return convertErr(t.tr.AddWriteConflictKey(fdb.Key(key)))
}

// SetNextWriteNoWriteConflictRange sets FoundationDB's next_write_no_write_conflict_range option.
func (t *transaction) SetNextWriteNoWriteConflictRange() {
	t.optMu.Lock()
	err := t.tr.Options().SetNextWriteNoWriteConflictRange()
	t.optMu.Unlock()
	if err != nil {
		t.fail(fmt.Errorf("fdbkv: set next_write_no_write_conflict_range: %w", convertErr(err)))
	}
}

// SetTimeout sets FoundationDB's timeout option (whole milliseconds, rounded up; 0 removes it).
func (t *transaction) SetTimeout(d time.Duration) {
	if err := t.setTimeoutMillis(timeoutMillis(d)); err != nil {
		t.fail(fmt.Errorf("fdbkv: set timeout %v: %w", d, convertErr(err)))
	}
}

// Watch returns a watch on key; its Wait honours ctx and Cancel cancels the FoundationDB future.
// A watch dropped without Cancel is cancelled when it becomes unreachable (see watch.go).
func (t *transaction) Watch(key []byte) kv.Watch {
	if err := t.deferred(); err != nil {
		return newWatch(func() error { return err }, func() {})
	}
	f := t.tr.Watch(fdb.Key(key))
	return newWatch(func() error { return convertErr(f.Get()) }, f.Cancel)
}

// GetVersionstamp returns the versionstamp of this transaction's commit. As on FoundationDB, it
// fails with no_commit_version (2021) after a read-only commit, with the commit's own error when
// the commit failed in the client (a deferred error such as key_too_large, which FoundationDB
// checks when the versionstamp is asked for), and with transaction_invalid_version (2020) when the
// commit failed. As the kv contract asks, that 2020 also carries the commit's error, so
// errors.Is answers for both, and a future asked for after a failed commit does not wait for
// FoundationDB's (which stays pending until Reset when the commit never reached the cluster).
func (t *transaction) GetVersionstamp() kv.Future[[10]byte] {
	if err := t.deferred(); err != nil {
		return kv.Ready([10]byte{}, err)
	}
	f := t.versionstampFuture()
	return kv.FutureFunc(func() ([10]byte, error) {
		if cerr := t.failedCommit(); cerr != nil && !f.IsReady() {
			return [10]byte{}, stampError(cerr)
		}
		b, err := f.Get()
		runtime.KeepAlive(t) // see keepAlive
		if err != nil {
			err = t.intr.err(convertErr(err))
			if cerr := t.failedCommit(); cerr != nil && errors.Is(err, kv.ErrTransactionInvalidVersion) {
				return [10]byte{}, stampError(cerr)
			}
			return [10]byte{}, err
		}
		return versionstamp(b)
	})
}

// failedCommit returns the error of this attempt's failed commit, or nil.
func (t *transaction) failedCommit() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.commitErr
}

// stampError is the versionstamp error after a commit that failed with cerr: 2020 wrapping cerr,
// as the embedded engine gives it.
func stampError(cerr error) error {
	if errors.Is(cerr, kv.ErrTransactionInvalidVersion) {
		return cerr
	}
	return fmt.Errorf("fdbkv: no versionstamp, the commit failed: %w: %w", kv.ErrTransactionInvalidVersion, cerr)
}

// versionstampFuture returns the transaction's versionstamp future, issuing it on first use.
func (t *transaction) versionstampFuture() fdb.FutureKey {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stamp == nil {
		t.stamp = t.tr.GetVersionstamp()
	}
	return t.stamp
}

// Commit commits the transaction and waits for the outcome. When a context bound to the
// transaction ends first, Commit returns that context's error; the commit may then still happen,
// as after commit_unknown_result.
func (t *transaction) Commit() error {
	if err := t.deferred(); err != nil {
		return err
	}
	t.versionstampFuture() // must be issued before the commit starts; see stamp
	err := t.intr.err(convertErr(t.tr.Commit().Get()))
	if err != nil {
		t.mu.Lock()
		t.commitErr = err
		t.mu.Unlock()
	}
	return err
}

// GetCommittedVersion returns the binding's committed version (-1 for a read-only commit).
func (t *transaction) GetCommittedVersion() (int64, error) {
	v, err := t.tr.GetCommittedVersion()
	return v, convertErr(err)
}

// OnError hands a kv error's code to FoundationDB's OnError, which waits the backoff and resets
// the transaction for a retryable code. For a code it does not retry it returns the code and
// cancels the transaction (API version 610 and later). The adapter keeps that rule for every
// error it returns: an error without a code (FoundationDB never sees it) and a ctx that ends
// before or during the backoff (FoundationDB cancels the transaction when its OnError is cut
// short) leave the transaction cancelled too. The wait is bound to ctx.
func (t *transaction) OnError(ctx context.Context, err error) error {
	e, ok := kv.AsError(err)
	if !ok {
		t.tr.Cancel()
		return err
	}
	if cerr := ctx.Err(); cerr != nil {
		// No backoff to wait for: decide without FoundationDB, so that the outcome does not
		// depend on whether its future or ctx is seen first.
		t.tr.Cancel()
		if e.Retryable() {
			return cerr
		}
		return err
	}
	release := t.intr.bind(ctx)
	t.optMu.Lock()
	f := t.tr.OnError(fdb.Error{Code: e.Code})
	t.optMu.Unlock()
	werr := t.intr.err(convertErr(f.Get()))
	release()
	if werr == nil {
		t.forget()
		return nil
	}
	if ke, ok := kv.AsError(werr); ok && ke.Code == e.Code {
		return err // not retryable: the caller's error, with its detail
	}
	return werr
}

// Reset resets the FoundationDB transaction to its initial state, options included.
func (t *transaction) Reset() {
	t.optMu.Lock()
	t.tr.Reset()
	t.optMu.Unlock()
	t.forget()
	t.intr.reset()
}

// keepAlive: the binding destroys a transaction from a finalizer once nothing refers to it, which
// cancels its pending reads. A kv future holds only the binding's future, so each one also keeps
// its transaction reachable until it has been waited for.

// reader implements the reads of a transaction or of its snapshot view: rt is the binding's
// transaction or snapshot; owner carries the deferred error, the interrupt and Cancel.
type reader struct {
	rt    fdb.ReadTransaction
	owner *transaction
}

// Get issues the read at once and returns a future over the binding's.
func (r reader) Get(key []byte) kv.Future[[]byte] {
	if err := r.owner.deferred(); err != nil {
		return kv.Ready[[]byte](nil, err)
	}
	f, owner := r.rt.Get(fdb.Key(key)), r.owner
	return kv.FutureFunc(func() ([]byte, error) {
		v, err := f.Get()
		runtime.KeepAlive(owner) // see keepAlive
		return v, owner.intr.err(convertErr(err))
	})
}

// GetKey resolves sel through the binding's GetKey.
func (r reader) GetKey(sel kv.KeySelector) kv.Future[[]byte] {
	if err := r.owner.deferred(); err != nil {
		return kv.Ready[[]byte](nil, err)
	}
	if err := checkSelector(sel); err != nil {
		return kv.Ready[[]byte](nil, err)
	}
	f, owner := r.rt.GetKey(selector(sel)), r.owner
	return kv.FutureFunc(func() ([]byte, error) {
		k, err := f.Get()
		runtime.KeepAlive(owner) // see keepAlive
		return []byte(k), owner.intr.err(convertErr(err))
	})
}

// GetRange issues the range read at once; its rows are fetched in batches as they are consumed.
func (r reader) GetRange(rg kv.Ranger, opts kv.RangeOptions) kv.RangeResult {
	if err := r.owner.deferred(); err != nil {
		return failedRange{err}
	}
	b, e := rg.Selectors()
	if err := checkRangeRead(b, e, opts); err != nil {
		return failedRange{err}
	}
	res := r.rt.GetRange(fdb.SelectorRange{Begin: selector(b), End: selector(e)}, fdb.RangeOptions{
		Limit:   opts.Limit,
		Mode:    streamingModes[opts.Mode],
		Reverse: opts.Reverse,
	})
	return rangeResult{res: res, owner: r.owner}
}

// GetReadVersion returns a future of the read version.
func (r reader) GetReadVersion() kv.Future[int64] {
	if err := r.owner.deferred(); err != nil {
		return kv.Ready[int64](0, err)
	}
	f, owner := r.rt.GetReadVersion(), r.owner
	return kv.FutureFunc(func() (int64, error) {
		v, err := f.Get()
		runtime.KeepAlive(owner) // see keepAlive
		return v, owner.intr.err(convertErr(err))
	})
}

// snapshot is the kv view of the binding's Snapshot: reads without read conflicts.
type snapshot struct {
	reader
}

var _ kv.ReadTransaction = (*snapshot)(nil)

// Snapshot returns s itself.
func (s *snapshot) Snapshot() kv.ReadTransaction { return s }

// Cancel cancels the transaction the snapshot belongs to.
func (s *snapshot) Cancel() { s.owner.Cancel() }

// ReadTransact runs fn on the snapshot view, in place, with the transaction bound to ctx while fn
// runs.
func (s *snapshot) ReadTransact(ctx context.Context, fn func(kv.ReadTransaction) error, _ ...kv.TransactOption) error {
	return runBound[kv.ReadTransaction](ctx, s.owner.intr, s, fn)
}

// keyRange converts a kv range for the binding's calls that take exact keys.
func keyRange(r kv.Range) fdb.KeyRange {
	return fdb.KeyRange{Begin: fdb.Key(r.Begin), End: fdb.Key(r.End)}
}

// selector converts a kv key selector. The key is copied: the binding's range iterator keeps the
// selectors to fetch later batches, after the caller may have reused its slice.
func selector(s kv.KeySelector) fdb.KeySelector {
	return fdb.KeySelector{Key: fdb.Key(append([]byte(nil), s.Key...)), OrEqual: s.OrEqual, Offset: s.Offset}
}

// streamingModes maps kv's streaming modes onto the binding's constants (whose numbering differs).
var streamingModes = [...]fdb.StreamingMode{
	kv.StreamingIterator: fdb.StreamingModeIterator,
	kv.StreamingWantAll:  fdb.StreamingModeWantAll,
	kv.StreamingExact:    fdb.StreamingModeExact,
	kv.StreamingSmall:    fdb.StreamingModeSmall,
	kv.StreamingMedium:   fdb.StreamingModeMedium,
	kv.StreamingLarge:    fdb.StreamingModeLarge,
	kv.StreamingSerial:   fdb.StreamingModeSerial,
}
