package docstore_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/docstore"
	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
)

type fakeClock struct{ ns atomic.Int64 }

func newClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// Expired documents vanish from every read at once, free their _id and unique keys, and are
// removed by Sweep.
func TestTTL(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := newClock(start)
	opts := &docstore.Options{Clock: clock.now}
	e := newEnvWith(t, testdb.Open(t), opts)
	c := e.coll("sessions")
	require.NoError(t, c.CreateIndex(ctx, e.db, docstore.Index{Name: "ttl", Fields: []string{"seen"}, TTL: true, ExpireAfter: time.Hour}))
	require.NoError(t, c.CreateIndex(ctx, e.db, docstore.Index{Name: "user", Fields: []string{"user"}, Unique: true}))
	for i := 0; i < 10; i++ {
		_, err := c.Insert(ctx, e.db, docstore.M{"_id": i, "user": i, "seen": start.Add(time.Duration(i) * time.Minute)})
		require.NoError(t, err)
	}
	_, err := c.Insert(ctx, e.db, docstore.M{"_id": "forever", "user": "x", "seen": "not a date"})
	require.NoError(t, err)
	count := func() int64 {
		n, err := c.Count(ctx, e.db, nil)
		require.NoError(t, err)
		return n
	}
	require.Equal(t, int64(11), count())
	clock.advance(time.Hour + 4*time.Minute + time.Second) // documents 0..4 have expired
	require.Equal(t, int64(6), count())
	_, err = c.Get(ctx, e.db, 2)
	require.ErrorIs(t, err, docstore.ErrNotFound)
	require.Equal(t, []any{int64(5), int64(6)}, e.ids(c, docstore.M{"user": docstore.M{"$lt": 7}}, docstore.FindOptions{}))
	res, err := c.UpdateByID(ctx, e.db, 3, docstore.M{"$set": docstore.M{"x": 1}})
	require.NoError(t, err)
	require.Equal(t, 0, res.Matched)

	// An expired document's _id and unique key are free.
	_, err = c.Insert(ctx, e.db, docstore.M{"_id": 1, "user": 100, "seen": clock.now()})
	require.NoError(t, err)
	_, err = c.Insert(ctx, e.db, docstore.M{"_id": 50, "user": 2, "seen": clock.now()})
	require.NoError(t, err)

	// Refreshing the date keeps a document alive.
	_, err = c.UpdateByID(ctx, e.db, 5, docstore.M{"$set": docstore.M{"seen": clock.now()}})
	require.NoError(t, err)
	clock.advance(2 * time.Minute) // 5 (refreshed) lives, 6 expires
	n, err := c.Sweep(ctx, e.db, docstore.SweepOptions{BatchDocs: 2})
	require.NoError(t, err)
	require.Equal(t, 3, n, "0, 4 and 6: writes that met 1, 2 and 3 expired removed them already")
	_, err = c.Get(ctx, e.db, 5)
	require.NoError(t, err)
	n, err = c.Sweep(ctx, e.db, docstore.SweepOptions{})
	require.NoError(t, err)
	require.Zero(t, n)
	require.Equal(t, int64(7), count())
}

// RunSweeper removes expired documents in the background until its context ends.
func TestRunSweeper(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := newClock(start)
	e := newEnvWith(t, testdb.Open(t), &docstore.Options{Clock: clock.now})
	c := e.coll("s")
	require.NoError(t, c.CreateIndex(ctx, e.db, docstore.Index{Name: "ttl", Fields: []string{"at"}, TTL: true}))
	for i := 0; i < 5; i++ {
		_, err := c.Insert(ctx, e.db, docstore.M{"_id": i, "at": start.Add(time.Duration(i) * time.Second)})
		require.NoError(t, err)
	}
	clock.advance(3 * time.Second) // 0..3 have expired
	ss := e.collSubspace("s")
	stored := func() int { // documents stored, expired or not: their revision keys
		rows, err := kv.ReadTransact(ctx, e.db, func(tr kv.ReadTransaction) ([]kv.KeyValue, error) {
			return tr.GetRange(ss.Sub(int64(2)), kv.RangeOptions{}).GetSlice()
		})
		require.NoError(t, err)
		return len(rows)
	}
	require.Equal(t, 5, stored())
	sweepCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.RunSweeper(sweepCtx, e.db, 5*time.Millisecond, func(err error) { t.Error(err) })
	}()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, func() bool { return stored() == 1 }, 10*time.Second, 10*time.Millisecond)
}
