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

// queueEnv is a test database with a queue whose checker runs when the test ends.
type queueEnv struct {
	t      testing.TB
	db     kv.Database
	prefix subspace.Subspace
	q      *queue.Queue
	clock  *fakeClock
}

// newQueueEnv opens a queue on a fake clock (unless opts sets one) with opts.
func newQueueEnv(t testing.TB, opts *queue.Options) *queueEnv {
	t.Helper()
	db := testdb.Open(t)
	return newQueueEnvOn(t, db, opts)
}

func newQueueEnvOn(t testing.TB, db kv.Database, opts *queue.Options) *queueEnv {
	t.Helper()
	e := &queueEnv{t: t, db: db, prefix: subspace.Sub("app", "jobs"), clock: newFakeClock()}
	testdb.Check(t, db, "queue", queue.Check(e.prefix))
	var o queue.Options
	if opts != nil {
		o = *opts
	}
	if o.Clock == nil {
		o.Clock = e.clock.Now
	}
	q, err := queue.NewQueue(e.prefix, &o)
	require.NoError(t, err)
	e.q = q
	return e
}

// enqueue enqueues payload through the database and returns its ID.
func (e *queueEnv) enqueue(payload string, opts *queue.EnqueueOptions) queue.MessageID {
	e.t.Helper()
	f, err := e.q.Enqueue(ctx, e.db, []byte(payload), opts)
	require.NoError(e.t, err)
	id, err := f.Get()
	require.NoError(e.t, err)
	return id
}

func (e *queueEnv) receive(n int) []queue.Lease {
	e.t.Helper()
	ls, err := e.q.Receive(ctx, e.db, queue.ReceiveOptions{Max: n})
	require.NoError(e.t, err)
	return ls
}

func (e *queueEnv) stats() queue.Stats {
	e.t.Helper()
	st, err := e.q.Stats(ctx, e.db)
	require.NoError(e.t, err)
	return st
}

func payloads(ls []queue.Lease) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = string(l.Payload)
	}
	return out
}

func messagePayloads(ms []queue.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m.Payload)
	}
	return out
}

// sameTime asserts two times are the same instant (whatever their locations).
func sameTime(t testing.TB, want, got time.Time, msgAndArgs ...any) {
	t.Helper()
	require.True(t, want.Equal(got), append([]any{"want %v, got %v", want, got}, msgAndArgs...)...)
}
