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
		{"TooOld", testTooOld},
		{"OnError", testOnError},
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
	tr.SetTimeout(200 * time.Millisecond)
	time.Sleep(120 * time.Millisecond)
	require.NoError(t, tr.OnError(context.Background(), kv.ErrNotCommitted))
	// 270 ms after SetTimeout: past the deadline, though not 200 ms after the OnError.
	time.Sleep(150 * time.Millisecond)
	_, err := tr.Get(b("a")).Get()
	requireCode(t, kv.ErrTransactionTimedOut, err, "the deadline set before OnError still holds after it")
}

// testTooOld sleeps just past the default five-second window, so it runs in parallel with the rest.
func testTooOld(t *testing.T, s *suite) {
	if testing.Short() {
		t.Skip("sleeps past the 5 s transaction window; skipped with -short")
	}
	db := s.db(t)
	setKeys(t, db, "a", "1")
	tr := startTr(t, db)
	get(t, tr, b("a"))
	tr.Set(b("k"), b("v"))
	time.Sleep(5*time.Second + 700*time.Millisecond)
	_, err := tr.Get(b("b")).Get()
	requireCode(t, kv.ErrTransactionTooOld, err, "a read after the window")
	requireCode(t, kv.ErrTransactionTooOld, tr.Commit(), "a commit with reads after the window")
	require.True(t, kv.IsRetryable(err), "1007 is retryable")
	require.Nil(t, getDB(t, db, b("k")))
	// The retry loop recovers: OnError resets the transaction with a fresh read version.
	require.NoError(t, tr.OnError(context.Background(), err))
	require.Equal(t, "1", string(get(t, tr, b("a"))))
	tr.Set(b("k"), b("v"))
	require.NoError(t, tr.Commit())
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

	mine := errors.New("application error")
	require.ErrorIs(t, tr.OnError(ctx, mine), mine, "OnError returns a non-retryable error")
	requireCode(t, kv.ErrKeyTooLarge, tr.OnError(ctx, kv.ErrKeyTooLarge))

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, tr.OnError(cctx, kv.ErrNotCommitted), context.Canceled, "OnError's backoff ends with ctx")
}
