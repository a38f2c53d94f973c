package kv_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
)

func TestBackoffBounds(t *testing.T) {
	b := kv.DefaultBackoff
	require.Equal(t, 10*time.Millisecond, b.Initial)
	require.Equal(t, time.Second, b.Max)
	for n := range 12 {
		bound := b.Initial << n
		if bound > b.Max {
			bound = b.Max
		}
		for range 200 {
			d := b.Delay(n)
			require.GreaterOrEqual(t, d, bound/2, "retry %d: at least half the bound", n)
			require.LessOrEqual(t, d, bound, "retry %d: at most the bound", n)
		}
	}
	for _, n := range []int{64, 100, 1 << 20} {
		d := b.Delay(n)
		require.GreaterOrEqual(t, d, b.Max/2, "retry %d is capped, without overflow", n)
		require.LessOrEqual(t, d, b.Max)
	}
	require.Zero(t, kv.Backoff{}.Delay(3), "a zero backoff never waits")
}

func TestBackoffJitters(t *testing.T) {
	seen := map[time.Duration]bool{}
	for range 50 {
		seen[kv.DefaultBackoff.Delay(5)] = true
	}
	require.Greater(t, len(seen), 1, "delays are jittered, so retrying clients spread out")
}

func TestSleep(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	require.NoError(t, kv.Sleep(ctx, 20*time.Millisecond))
	require.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	start = time.Now()
	require.ErrorIs(t, kv.Sleep(cctx, time.Hour), context.Canceled)
	require.Less(t, time.Since(start), time.Second, "Sleep ends with its ctx")
	require.ErrorIs(t, kv.Sleep(cctx, 0), context.Canceled, "a zero sleep still reports an ended ctx")
	require.NoError(t, kv.Sleep(ctx, 0))
}

func TestTransactOptions(t *testing.T) {
	o := kv.NewTransactOptions()
	require.Equal(t, -1, o.RetryLimit, "no retry limit by default")
	require.Zero(t, o.Timeout)
	o = kv.NewTransactOptions(kv.WithRetryLimit(3), kv.WithTimeout(time.Second))
	require.Equal(t, 3, o.RetryLimit)
	require.Equal(t, time.Second, o.Timeout)
}

// runner is a Transactor that runs fn once with a nil transaction and counts calls; enough to
// check how the generic helpers pass results and errors through.
type runner struct {
	calls atomic.Int32
	opts  kv.TransactOptions
}

func (r *runner) Transact(ctx context.Context, fn func(kv.Transaction) error, opts ...kv.TransactOption) error {
	r.calls.Add(1)
	r.opts = kv.NewTransactOptions(opts...)
	return fn(nil)
}

func (r *runner) ReadTransact(ctx context.Context, fn func(kv.ReadTransaction) error, opts ...kv.TransactOption) error {
	r.calls.Add(1)
	r.opts = kv.NewTransactOptions(opts...)
	return fn(nil)
}

func TestTransactGeneric(t *testing.T) {
	ctx := context.Background()
	r := &runner{}
	n, err := kv.Transact(ctx, r, func(kv.Transaction) (int, error) { return 7, nil }, kv.WithRetryLimit(2))
	require.NoError(t, err)
	require.Equal(t, 7, n)
	require.Equal(t, 2, r.opts.RetryLimit, "options reach the transactor")

	boom := errors.New("boom")
	n, err = kv.Transact(ctx, r, func(kv.Transaction) (int, error) { return 7, boom })
	require.ErrorIs(t, err, boom)
	require.Zero(t, n, "an error gives the zero value, not a partial result")

	s, err := kv.ReadTransact(ctx, r, func(kv.ReadTransaction) (string, error) { return "v", nil })
	require.NoError(t, err)
	require.Equal(t, "v", s)
	s, err = kv.ReadTransact(ctx, r, func(kv.ReadTransaction) (string, error) { return "v", boom })
	require.ErrorIs(t, err, boom)
	require.Empty(t, s)
	require.Equal(t, int32(4), r.calls.Load())
}

func TestRunInPlace(t *testing.T) {
	ran := 0
	require.NoError(t, kv.RunInPlace(context.Background(), "tr", func(tr string) error {
		ran++
		require.Equal(t, "tr", tr)
		return nil
	}))
	require.Equal(t, 1, ran)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, kv.RunInPlace(ctx, "tr", func(string) error { ran++; return nil }), context.Canceled)
	require.Equal(t, 1, ran, "an ended ctx runs nothing")
}

func TestFutures(t *testing.T) {
	v, err := kv.Ready(3, nil).Get()
	require.NoError(t, err)
	require.Equal(t, 3, v)

	calls := 0
	f := kv.FutureFunc(func() (int, error) { calls++; return 5, nil })
	require.Zero(t, calls, "a FutureFunc runs on the first Get")
	for range 3 {
		v, err = f.Get()
		require.NoError(t, err)
		require.Equal(t, 5, v)
	}
	require.Equal(t, 1, calls, "and only once")

	m := kv.Map(kv.Ready(2, nil), func(n int) (string, error) { return "x" + string(rune('0'+n)), nil })
	s, err := m.Get()
	require.NoError(t, err)
	require.Equal(t, "x2", s)

	boom := errors.New("boom")
	mapped := false
	m = kv.Map(kv.Ready(2, boom), func(int) (string, error) { mapped = true; return "", nil })
	_, err = m.Get()
	require.ErrorIs(t, err, boom)
	require.False(t, mapped, "an error skips the function")
}

// onlyTransactor hides that a database is one: the loop cannot see its commit errors.
type onlyTransactor struct{ db kv.Database }

func (o onlyTransactor) Transact(ctx context.Context, fn func(kv.Transaction) error, opts ...kv.TransactOption) error {
	return o.db.Transact(ctx, fn, opts...)
}

func (o onlyTransactor) ReadTransact(ctx context.Context, fn func(kv.ReadTransaction) error, opts ...kv.TransactOption) error {
	return o.db.ReadTransact(ctx, fn, opts...)
}

// TransactAttempts tells each run what the run before it ended with: a commit applied and
// reported unknown (1021) is MaybeCommitted, a conflict (1020) or an error of fn is not; in a
// transaction fn runs once; under a transactor whose commit errors it cannot see, a run after
// one whose fn succeeded counts as MaybeCommitted.
func TestTransactAttempts(t *testing.T) {
	ctx := context.Background()
	record := func(tor kv.Transactor, fail error) []kv.Attempt {
		var seen []kv.Attempt
		_, err := kv.TransactAttempts(ctx, tor, func(tr kv.Transaction, a kv.Attempt) (int, error) {
			seen = append(seen, a)
			tr.Set([]byte("k"), []byte("v"))
			if a.N == 1 && fail != nil {
				return 0, fail
			}
			return 0, nil
		})
		require.NoError(t, err)
		return seen
	}

	unknown := testdb.NewUnknownOnce(testdb.OpenEmbedded(t, &embedded.Options{}))
	seen := record(unknown, nil)
	require.Len(t, seen, 2)
	require.Equal(t, kv.Attempt{N: 1}, seen[0])
	require.Equal(t, 2, seen[1].N)
	require.True(t, seen[1].MaybeCommitted)
	require.ErrorIs(t, seen[1].Err, kv.ErrCommitUnknownResult)

	db := testdb.OpenEmbedded(t, &embedded.Options{})
	seen = record(db, kv.ErrNotCommitted)
	require.Len(t, seen, 2)
	require.False(t, seen[1].MaybeCommitted, "a conflict was not applied")
	require.ErrorIs(t, seen[1].Err, kv.ErrNotCommitted)

	tr, err := db.CreateTransaction()
	require.NoError(t, err)
	require.Equal(t, []kv.Attempt{{N: 1}}, record(tr, nil))

	hidden := onlyTransactor{testdb.NewUnknownOnce(testdb.OpenEmbedded(t, &embedded.Options{}))}
	seen = record(hidden, nil)
	require.Len(t, seen, 2)
	require.True(t, seen[1].MaybeCommitted, "the first run reached its commit")
	seen = record(onlyTransactor{db}, kv.ErrNotCommitted)
	require.Len(t, seen, 2)
	require.False(t, seen[1].MaybeCommitted, "the first run failed before its commit")
}
