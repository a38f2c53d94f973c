package kvtest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
)

func transactCases() []testCase {
	return []testCase{
		{"CommitsResult", testTransactCommits},
		{"RetriesConflict", testTransactRetriesConflict},
		{"RetriesRetryableErrors", testTransactRetriesRetryable},
		{"NonRetryableUnchanged", testTransactNonRetryable},
		{"RetryLimit", testTransactRetryLimit},
		{"ContextCancel", testTransactContext},
		{"Timeout", testTransactTimeout},
		{"TransactionRunsInPlace", testTransactInPlace},
		{"ReadTransact", testReadTransact},
		{"ContextStopsCalls", testTransactContextStops},
		{"RetryableSet", testTransactRetryableSet},
	}
}

func testTransactCommits(t *testing.T, s *suite) {
	db := s.db(t)
	ctx := context.Background()
	n, err := kv.Transact(ctx, db, func(tr kv.Transaction) (int, error) {
		tr.Set(b("k"), b("v"))
		return 42, nil
	})
	require.NoError(t, err)
	require.Equal(t, 42, n, "Transact returns fn's result")
	require.Equal(t, "v", string(getDB(t, db, b("k"))), "and commits")

	mine := errors.New("stop")
	n, err = kv.Transact(ctx, db, func(tr kv.Transaction) (int, error) {
		tr.Set(b("k2"), b("v"))
		return 7, mine
	})
	require.ErrorIs(t, err, mine)
	require.Zero(t, n, "a failed Transact returns the zero value")
	require.Nil(t, getDB(t, db, b("k2")), "an error from fn commits nothing")
}

func testTransactRetriesConflict(t *testing.T, s *suite) {
	db := s.db(t)
	ctx := context.Background()
	setKeys(t, db, "n", "\x00")
	attempts := 0
	got, err := kv.Transact(ctx, db, func(tr kv.Transaction) (byte, error) {
		attempts++
		v, err := tr.Get(b("n")).Get()
		if err != nil {
			return 0, err
		}
		if attempts == 1 {
			// Another client commits between this attempt's read and its commit.
			setKeys(t, db, "n", "\x05")
		}
		tr.Set(b("n"), []byte{v[0] + 1})
		return v[0] + 1, nil
	})
	require.NoError(t, err)
	require.Equal(t, 2, attempts, "a 1020 at commit is retried")
	require.Equal(t, byte(6), got, "the retry reads the new value")
	require.Equal(t, []byte{6}, getDB(t, db, b("n")))
}

func testTransactRetriesRetryable(t *testing.T, s *suite) {
	db := s.db(t)
	ctx := context.Background()
	for _, e := range []kv.Error{kv.ErrNotCommitted, kv.ErrCommitUnknownResult, kv.ErrTransactionTooOld, kv.ErrFutureVersion} {
		attempts := 0
		_, err := kv.Transact(ctx, db, func(tr kv.Transaction) (struct{}, error) {
			attempts++
			if attempts < 3 {
				return struct{}{}, fmt.Errorf("wrapped: %w", e)
			}
			return struct{}{}, nil
		})
		require.NoError(t, err, "%v", e)
		require.Equal(t, 3, attempts, "%v from fn is retried", e)
	}
}

func testTransactNonRetryable(t *testing.T, s *suite) {
	db := s.db(t)
	ctx := context.Background()
	mine := errors.New("application error")
	for _, e := range []error{mine, kv.ErrKeyTooLarge, kv.ErrTransactionCancelled, fmt.Errorf("layer: %w", kv.ErrInvertedRange)} {
		attempts := 0
		_, err := kv.Transact(ctx, db, func(tr kv.Transaction) (int, error) {
			attempts++
			return 0, e
		})
		require.Equal(t, e, err, "a non-retryable error is returned unchanged")
		require.Equal(t, 1, attempts, "and not retried")
	}
	attempts := 0
	_, err := kv.Transact(ctx, db, func(tr kv.Transaction) (int, error) {
		attempts++
		tr.Set(repeat('k', kv.MaxKeySize+1), b("v"))
		return 0, nil
	})
	requireCode(t, kv.ErrKeyTooLarge, err, "a non-retryable commit error is returned")
	require.Equal(t, 1, attempts)
}

func testTransactRetryLimit(t *testing.T, s *suite) {
	db := s.db(t)
	ctx := context.Background()
	for _, limit := range []int{0, 2} {
		attempts := 0
		_, err := kv.Transact(ctx, db, func(tr kv.Transaction) (int, error) {
			attempts++
			return 0, kv.ErrNotCommitted
		}, kv.WithRetryLimit(limit))
		requireCode(t, kv.ErrNotCommitted, err, "the last error is returned at the limit")
		require.Equal(t, limit+1, attempts, "WithRetryLimit(%d) allows that many retries after the first attempt", limit)
	}
}

func testTransactContext(t *testing.T, s *suite) {
	db := s.db(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	_, err := kv.Transact(ctx, db, func(tr kv.Transaction) (int, error) { ran = true; return 0, nil })
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, ran, "a cancelled ctx runs nothing")

	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	attempts := 0
	start := time.Now()
	_, err = kv.Transact(ctx, db, func(tr kv.Transaction) (int, error) {
		attempts++
		return 0, kv.ErrNotCommitted
	})
	require.ErrorIs(t, err, context.DeadlineExceeded, "the loop ends with its ctx")
	require.Less(t, time.Since(start), 3*time.Second, "promptly")
	require.Greater(t, attempts, 1, "after retrying")
}

func testTransactTimeout(t *testing.T, s *suite) {
	db := s.db(t)
	_, err := kv.Transact(context.Background(), db, func(tr kv.Transaction) (int, error) {
		time.Sleep(60 * time.Millisecond)
		_, err := tr.Get(b("k")).Get()
		return 0, err
	}, kv.WithTimeout(20*time.Millisecond))
	requireCode(t, kv.ErrTransactionTimedOut, err, "WithTimeout fails an attempt that outlives it")

	// The deadline counts from the start of the loop, not of each attempt: retries do not renew it.
	attempts := 0
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second) // bounds a failing run
	defer cancel()
	_, err = kv.Transact(ctx, db, func(tr kv.Transaction) (int, error) {
		attempts++
		time.Sleep(15 * time.Millisecond)
		if _, err := tr.Get(b("k")).Get(); err != nil {
			return 0, err
		}
		return 0, kv.ErrNotCommitted
	}, kv.WithTimeout(100*time.Millisecond))
	requireCode(t, kv.ErrTransactionTimedOut, err, "WithTimeout bounds the whole retry loop")
	require.Greater(t, attempts, 1, "after retrying")
	require.Less(t, time.Since(start), 2*time.Second, "soon after the deadline")
}

func testTransactInPlace(t *testing.T, s *suite) {
	db := s.db(t)
	ctx := context.Background()
	outer := newTr(t, db)
	outer.Set(b("outer"), b("1"))
	attempts := 0
	v, err := kv.Transact(ctx, outer, func(tr kv.Transaction) (string, error) {
		attempts++
		tr.Set(b("inner"), b("2"))
		got, err := tr.Get(b("outer")).Get()
		return string(got), err
	})
	require.NoError(t, err)
	require.Equal(t, "1", v, "fn runs in the caller's transaction and sees its writes")
	require.Equal(t, "2", string(get(t, outer, b("inner"))), "the caller sees fn's writes")
	require.Nil(t, getDB(t, db, b("inner")), "a transaction as transactor does not commit")

	_, err = kv.Transact(ctx, outer, func(tr kv.Transaction) (int, error) {
		attempts++
		return 0, kv.ErrNotCommitted
	})
	requireCode(t, kv.ErrNotCommitted, err, "in place, even a retryable error is returned to the caller's loop")
	require.Equal(t, 2, attempts, "and fn ran once")

	// Layer functions taking a Transactor compose inside one commit.
	require.NoError(t, outer.Commit())
	r := newTr(t, db)
	require.Equal(t, "1", string(get(t, r, b("outer"))))
	require.Equal(t, "2", string(get(t, r, b("inner"))))
}

func testReadTransact(t *testing.T, s *suite) {
	db := s.db(t)
	ctx := context.Background()
	setKeys(t, db, "k", "v")
	v, err := kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) (string, error) {
		got, err := tr.Get(b("k")).Get()
		return string(got), err
	})
	require.NoError(t, err)
	require.Equal(t, "v", v)

	attempts := 0
	_, err = kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) (int, error) {
		attempts++
		if attempts == 1 {
			return 0, kv.ErrTransactionTooOld
		}
		return 0, nil
	})
	require.NoError(t, err)
	require.Equal(t, 2, attempts, "ReadTransact on a database retries retryable errors")

	tr := newTr(t, db)
	tr.Set(b("own"), b("write"))
	for _, rt := range []kv.ReadTransactor{tr, tr.Snapshot()} {
		got, err := kv.ReadTransact(ctx, rt, func(r kv.ReadTransaction) (string, error) {
			v, err := r.Get(b("own")).Get()
			return string(v), err
		})
		require.NoError(t, err)
		require.Equal(t, "write", got, "a transaction runs read functions in place, with its own writes")
	}
}

// stopWithin is how soon after its ctx ends a blocked call must return in these tests. The
// contract says about 100 ms, which a quiet machine meets by far; the bound leaves room for a
// loaded 2-core CI machine (a call once took 310 ms there at a load average of 13) while still
// telling a call that stops on its ctx from one that blocks (a watch that never fires, reads
// that loop forever).
const stopWithin = 750 * time.Millisecond

// requireStops runs fn, which must end once ctx (ending after 100 ms) does, and checks that it
// returns ctx's error within stopWithin of the deadline.
func requireStops(t *testing.T, what string, fn func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	deadline, _ := ctx.Deadline()
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.DeadlineExceeded, what)
		require.Less(t, time.Since(deadline), stopWithin, "%s: returned %v after its ctx ended", what, time.Since(deadline))
	case <-time.After(100*time.Millisecond + 5*time.Second):
		t.Fatalf("%s: still running 5 s after its ctx ended", what)
	}
}

// A program stops soon after its ctx ends, whatever it is doing: a retry loop backing off, a
// blocked Watch.Wait, reads looping inside Transact (Transact cancels its transaction when ctx
// ends, so a read blocked in the engine returns), and a commit of a transaction whose ctx ended.
func testTransactContextStops(t *testing.T, s *suite) {
	db := s.db(t)
	requireStops(t, "a Transact loop retrying a conflict", func(ctx context.Context) error {
		_, err := kv.Transact(ctx, db, func(tr kv.Transaction) (int, error) { return 0, kv.ErrNotCommitted })
		return err
	})
	w := watch(t, db, b("never-changes"))
	requireStops(t, "a blocked Watch.Wait", w.Wait)
	requireStops(t, "reads in a loop inside Transact", func(ctx context.Context) error {
		_, err := kv.Transact(ctx, db, func(tr kv.Transaction) (int, error) {
			for {
				if _, err := tr.Get(b("k")).Get(); err != nil {
					return 0, err
				}
				if _, err := tr.GetRange(rng("a", "z"), kv.RangeOptions{}).GetSlice(); err != nil {
					return 0, err
				}
				time.Sleep(time.Millisecond)
			}
		})
		return err
	})
	requireStops(t, "a read-only loop inside ReadTransact", func(ctx context.Context) error {
		_, err := kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) (int, error) {
			for {
				if _, err := tr.GetReadVersion().Get(); err != nil {
					return 0, err
				}
				if _, err := tr.Get(b("k")).Get(); err != nil {
					return 0, err
				}
				time.Sleep(time.Millisecond)
			}
		})
		return err
	})
	requireStops(t, "a commit after the ctx ended", func(ctx context.Context) error {
		_, err := kv.Transact(ctx, db, func(tr kv.Transaction) (int, error) {
			tr.Set(b("late"), b("x"))
			<-ctx.Done()
			return 0, nil
		})
		return err
	})
	require.Nil(t, getDB(t, db, b("late")), "the transaction whose ctx ended before its commit is not committed")
}

// The retry loop retries exactly FoundationDB 7.3.63's retryable codes
// (fdb_error_predicate(FDB_ERROR_PREDICATE_RETRYABLE), bindings/c/fdb_c.cpp): 1039 and 1223 are
// retried; 1235 (transaction_throttled_hot_shard, a 7.4 code) is not.
func testTransactRetryableSet(t *testing.T, s *suite) {
	db := s.db(t)
	ctx := context.Background()
	for _, c := range []struct {
		code  int
		retry bool
	}{{1039, true}, {1223, true}, {1235, false}} {
		attempts := 0
		_, err := kv.Transact(ctx, db, func(tr kv.Transaction) (int, error) {
			attempts++
			if attempts == 1 {
				return 0, kv.Error{Code: c.code}
			}
			return 0, nil
		})
		if c.retry {
			require.NoError(t, err, "%d is retried", c.code)
			require.Equal(t, 2, attempts, "%d is retried", c.code)
		} else {
			require.ErrorIs(t, err, kv.Error{Code: c.code}, "%d is returned", c.code)
			require.Equal(t, 1, attempts, "%d is not retried", c.code)
		}
	}
}
