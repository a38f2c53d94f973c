package queue_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/queue"
	"github.com/layerkit/layerkit/subspace"
)

var ctx = context.Background()

// fakeClock is a settable clock for options' Clock fields.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// streamEnv is a test database with a stream whose checker runs when the test ends.
type streamEnv struct {
	t      testing.TB
	db     kv.Database
	prefix subspace.Subspace
	s      *queue.Stream
}

func newStreamEnv(t testing.TB, opts *queue.StreamOptions) *streamEnv {
	t.Helper()
	db := testdb.Open(t)
	e := &streamEnv{t: t, db: db, prefix: subspace.Sub("app", "feed")}
	testdb.Check(t, db, "stream", queue.CheckStream(e.prefix))
	s, err := queue.NewStream(e.prefix, opts)
	require.NoError(t, err)
	e.s = s
	return e
}

// append appends value through the database and returns its ID.
func (e *streamEnv) append(value string) queue.EntryID {
	e.t.Helper()
	f, err := e.s.Append(ctx, e.db, []byte(value), nil)
	require.NoError(e.t, err)
	id, err := f.Get()
	require.NoError(e.t, err)
	return id
}

// readAll reads the whole stream forward in pages of n.
func readAll(t testing.TB, db kv.Database, s *queue.Stream, n int) []queue.Entry {
	t.Helper()
	var out []queue.Entry
	cursor := queue.StreamStart
	for {
		p, err := s.Read(ctx, db, cursor, queue.ReadOptions{Limit: n})
		require.NoError(t, err)
		out = append(out, p.Entries...)
		if !p.More {
			return out
		}
		cursor = p.Cursor
	}
}

func values(es []queue.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = string(e.Value)
	}
	return out
}

func ids(es []queue.Entry) []queue.EntryID {
	out := make([]queue.EntryID, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}
