package kvtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
)

func lifecycleCases() []testCase {
	return []testCase{
		{"Cancel", testCancel},
		{"Timeout", testTimeout},
		{"TimeoutRemoved", testTimeoutRemoved},
		{"TimeoutSurvivesOnError", testTimeoutSurvivesOnError},
		{"OnError", testOnError},
		{"OnErrorCancelsOnOtherErrors", testOnErrorCancels},
		{"OnErrorOfCancelled", testOnErrorOfCancelled},
		{"ConflictRangeErrorsDeferred", testConflictRangeErrorsDeferred},
		{"ReadVersionAfterCommit", testReadVersionAfterCommit},
		{"UseAfterCommit", testUseAfterCommit},
		{"ExactModeNeedsLimit", testExactModeNeedsLimit},
	}
}

func testCancel(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "a", "1")
	tr := newTr(t, db)
	tr.Set(b("k"), b("v"))
	tr.Cancel()
	_, err := tr.Get(b("a")).Get()
	requireCode(t, kv.ErrTransactionCancelled, err, "Get after Cancel")
	_, err = tr.GetKey(kv.FirstGreaterOrEqual(b("a"))).Get()
	requireCode(t, kv.ErrTransactionCancelled, err, "GetKey after Cancel")
	_, err = tr.GetRange(rng("", "\xff"), kv.RangeOptions{}).GetSlice()
	requireCode(t, kv.ErrTransactionCancelled, err, "GetRange after Cancel")
	requireCode(t, kv.ErrTransactionCancelled, tr.Commit(), "Commit after Cancel")
	require.False(t, kv.IsRetryable(err), "1025 is not retryable")
	require.Nil(t, getDB(t, db, b("k")), "a cancelled transaction commits nothing")
}

func testTimeout(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "a", "1")
	tr := newTr(t, db)
	tr.SetTimeout(150 * time.Millisecond)
	require.Equal(t, "1", string(get(t, tr, b("a"))), "reads work before the timeout")
	tr.Set(b("k"), b("v"))
	time.Sleep(250 * time.Millisecond)
	_, err := tr.Get(b("a")).Get()
	requireCode(t, kv.ErrTransactionTimedOut, err, "a read after the timeout")
	requireCode(t, kv.ErrTransactionTimedOut, tr.Commit(), "a commit after the timeout")
	require.False(t, kv.IsRetryable(err), "1031 is not retryable")
	require.Nil(t, getDB(t, db, b("k")))
}

func testTimeoutRemoved(t *testing.T, s *suite) {
	db := s.db(t)
	tr := newTr(t, db)
	tr.SetTimeout(30 * time.Millisecond)
	tr.SetTimeout(0)
	time.Sleep(80 * time.Millisecond)
	tr.Set(b("k"), b("v"))
	get(t, tr, b("a"))
	require.NoError(t, tr.Commit(), "SetTimeout(0) removes the timeout")
}

// As in FoundationDB from API 610, OnError keeps the timeout and its deadline, so a timeout bounds a
// whole retry loop.
func testTimeoutSurvivesOnError(t *testing.T, s *suite) {
	db := s.db(t)
	tr := newTr(t, db)
	const timeout = 500 * time.Millisecond
	tr.SetTimeout(timeout)
	start := time.Now()
	time.Sleep(150 * time.Millisecond)
	// OnError of a transaction already past its deadline fails with 1031 (the deadline holds);
	// on a loaded machine the sleep may have taken that long, and then there is nothing to check.
	if err := tr.OnError(context.Background(), kv.ErrNotCommitted); err != nil {
		require.GreaterOrEqual(t, time.Since(start), timeout, "OnError failed before the deadline: %v", err)
		requireCode(t, kv.ErrTransactionTimedOut, err)
		return
	}
	// Past the deadline, though not a timeout after the OnError.
	time.Sleep(timeout - time.Since(start) + 50*time.Millisecond)
	_, err := tr.Get(b("a")).Get()
	requireCode(t, kv.ErrTransactionTimedOut, err, "the deadline set before OnError still holds after it")
}

func testOnError(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "a", "1")
	ctx := context.Background()
	tr := startTr(t, db)
	rv1, err := tr.GetReadVersion().Get()
	require.NoError(t, err)
	tr.Set(b("k"), b("v"))
	setKeys(t, db, "a", "2")
	require.NoError(t, tr.OnError(ctx, kv.ErrNotCommitted), "OnError accepts a retryable error")
	require.Nil(t, get(t, tr, b("k")), "and resets the transaction")
	require.Equal(t, "2", string(get(t, tr, b("a"))), "with a new read version")
	rv2, err := tr.GetReadVersion().Get()
	require.NoError(t, err)
	require.Greater(t, rv2, rv1)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, tr.OnError(cctx, kv.ErrNotCommitted), context.Canceled, "OnError's backoff ends with ctx")

	mine := errors.New("application error")
	require.ErrorIs(t, newTr(t, db).OnError(ctx, mine), mine, "OnError returns a non-retryable error")
	requireCode(t, kv.ErrKeyTooLarge, newTr(t, db).OnError(ctx, kv.ErrKeyTooLarge))
}

// OnError with an error it does not retry cancels the transaction (API 610 and later:
// ReadYourWrites.actor.cpp, RYWImpl::onError sends transaction_cancelled to the reset promise).
func testOnErrorCancels(t *testing.T, s *suite) {
	db := s.db(t)
	ctx := context.Background()
	tr := newTr(t, db)
	tr.Set(b("k"), b("v"))
	requireCode(t, kv.ErrKeyTooLarge, tr.OnError(ctx, kv.ErrKeyTooLarge), "the error comes back")
	_, err := tr.Get(b("k")).Get()
	requireCode(t, kv.ErrTransactionCancelled, err, "and the transaction is cancelled")
	requireCode(t, kv.ErrTransactionCancelled, tr.Commit())
	tr.Reset()
	require.Nil(t, get(t, tr, b("k")), "Reset makes it usable again, without its writes")
}

// OnError of a cancelled transaction returns 1025, whatever the error (RYWImpl::onError throws
// the reset promise's error first).
func testOnErrorOfCancelled(t *testing.T, s *suite) {
	db := s.db(t)
	tr := newTr(t, db)
	tr.Cancel()
	requireCode(t, kv.ErrTransactionCancelled, tr.OnError(context.Background(), kv.ErrNotCommitted), "a retryable error does not revive a cancelled transaction")
}

// Errors of the conflict range calls other than an inverted range are deferred, as
// fdb_transaction_add_conflict_range defers them: the call returns nil, and the next read and the
// commit fail with the error (ThreadSafeTransaction runs the call on the network thread and keeps
// its error). An inverted range is refused at once and fails nothing.
func testConflictRangeErrorsDeferred(t *testing.T, s *suite) {
	db := s.db(t)
	tr := newTr(t, db)
	requireCode(t, kv.ErrInvertedRange, tr.AddReadConflictRange(rng("d", "b")), "an inverted range is refused at once")
	get(t, tr, b("k"))
	require.NoError(t, tr.AddReadConflictRange(kv.Range{Begin: b("a"), End: []byte{0xff, 1}}), "a range past the user keyspace is accepted")
	_, err := tr.Get(b("k")).Get()
	requireCode(t, kv.ErrKeyOutsideLegalRange, err, "and fails the next read")
	requireCode(t, kv.ErrKeyOutsideLegalRange, tr.Commit(), "and the commit")

	tr = newTr(t, db)
	tr.Set(b("x"), b("x"))
	require.NoError(t, tr.AddWriteConflictRange(kv.Range{Begin: []byte{0xff}, End: []byte{0xff, 1}}))
	requireCode(t, kv.ErrKeyOutsideLegalRange, tr.Commit(), "a write conflict range past the user keyspace")
	require.Nil(t, getDB(t, db, b("x")))

	tr = newTr(t, db)
	tr.Set(b("x"), b("x"))
	require.NoError(t, tr.Commit())
	require.NoError(t, tr.AddReadConflictKey(b("k")), "after Commit the call returns nil")
	_, err = tr.GetReadVersion().Get()
	requireCode(t, kv.ErrUsedDuringCommit, err, "and fails what follows with 2017")
}

// GetReadVersion stays available after Commit: it does not check for use after commit
// (ReadYourWritesTransaction::getReadVersion only checks the reset promise).
func testReadVersionAfterCommit(t *testing.T, s *suite) {
	db := s.db(t)
	tr := startTr(t, db)
	rv, err := tr.GetReadVersion().Get()
	require.NoError(t, err)
	tr.Set(b("k"), b("v"))
	require.NoError(t, tr.Commit())
	after, err := tr.GetReadVersion().Get()
	require.NoError(t, err, "after a commit")
	require.Equal(t, rv, after, "the read version is unchanged")

	blind := newTr(t, db)
	blind.Set(b("k"), b("w"))
	require.NoError(t, blind.Commit())
	cv, err := blind.GetCommittedVersion()
	require.NoError(t, err)
	brv, err := blind.GetReadVersion().Get()
	require.NoError(t, err, "after a commit that took no read version before")
	require.Less(t, brv, cv, "the read version is before the commit version")
}

// An operation issued after Commit fails with 2017, and so does everything after it, OnError and
// GetReadVersion included, until Reset (checkUsedDuringCommit sets the reset promise).
func testUseAfterCommit(t *testing.T, s *suite) {
	db := s.db(t)
	tr := newTr(t, db)
	tr.Set(b("k"), b("v"))
	require.NoError(t, tr.Commit())
	_, err := tr.Get(b("k")).Get()
	requireCode(t, kv.ErrUsedDuringCommit, err, "a read after Commit")
	_, err = tr.GetReadVersion().Get()
	requireCode(t, kv.ErrUsedDuringCommit, err, "GetReadVersion after that")
	requireCode(t, kv.ErrUsedDuringCommit, tr.OnError(context.Background(), kv.ErrNotCommitted), "OnError after that")
	tr.Reset()
	require.Equal(t, "v", string(get(t, tr, b("k"))), "Reset starts over")
}

// Exact streaming mode needs a limit: exact_mode_without_limits (2210), as fdb_c's
// validate_and_update_parameters refuses it.
func testExactModeNeedsLimit(t *testing.T, s *suite) {
	db := s.db(t)
	tr := newTr(t, db)
	_, err := tr.GetRange(rng("a", "z"), kv.RangeOptions{Mode: kv.StreamingExact}).GetSlice()
	requireCode(t, kv.ErrExactModeWithoutLimits, err)
	it := tr.GetRange(rng("a", "z"), kv.RangeOptions{Mode: kv.StreamingExact}).Iterator()
	require.False(t, it.Next())
	requireCode(t, kv.ErrExactModeWithoutLimits, it.Err())
	require.Empty(t, getRange(t, tr, rng("a", "z"), kv.RangeOptions{Mode: kv.StreamingExact, Limit: 3}), "with a limit it reads")
}
