package queue_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/queue"
)

func TestQueueEnqueueReceiveAck(t *testing.T) {
	e := newQueueEnv(t, nil)
	a := e.enqueue("a", &queue.EnqueueOptions{Headers: map[string]string{"kind": "email"}})
	b := e.enqueue("b", nil)
	c := e.enqueue("c", nil)
	require.Equal(t, -1, a.Compare(b))
	require.Equal(t, queue.Stats{Visible: 3}, e.stats(), "the clock has not moved: the oldest has waited 0")

	e.clock.Advance(2 * time.Second)
	peek, err := e.q.Peek(ctx, e.db, queue.PeekOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c"}, messagePayloads(peek), "peek shows the next messages without leasing")
	st := e.stats()
	require.Equal(t, 2*time.Second, st.OldestVisibleAge)

	ls := e.receive(2)
	require.Equal(t, []string{"a", "b"}, payloads(ls), "a lone consumer takes messages in order")
	require.Equal(t, a, ls[0].ID)
	require.Equal(t, map[string]string{"kind": "email"}, ls[0].Headers)
	require.Equal(t, 1, ls[0].Attempts)
	require.Equal(t, queue.Leased, ls[0].State)
	sameTime(t, e.clock.Now().Add(queue.DefaultLeaseDuration), ls[0].Expires)
	sameTime(t, e.clock.Now().Add(-2*time.Second), ls[0].EnqueuedAt)
	require.NotEqual(t, ls[0].Token, ls[1].Token)
	require.Equal(t, int64(1), e.stats().Visible)
	require.Equal(t, int64(2), e.stats().InFlight)

	require.NoError(t, e.q.Ack(ctx, e.db, ls...))
	_, ok, err := e.q.Get(ctx, e.db, a)
	require.NoError(t, err)
	require.False(t, ok, "an acknowledged message is gone")
	m, ok, err := e.q.Get(ctx, e.db, c)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, queue.Ready, m.State)
	err = e.q.Ack(ctx, e.db, ls[0])
	require.ErrorIs(t, err, queue.ErrLeaseLost)
	require.Contains(t, err.Error(), a.String())

	ls = e.receive(10)
	require.Equal(t, []string{"c"}, payloads(ls))
	require.Empty(t, e.receive(10), "nothing visible: no leases, no error")
	require.NoError(t, e.q.Ack(ctx, e.db, ls[0]))
	require.Equal(t, queue.Stats{}, e.stats())
	require.NoError(t, e.q.Ack(ctx, e.db), "acknowledging nothing is fine")
}

func TestQueuePriorities(t *testing.T) {
	e := newQueueEnv(t, nil)
	for i, p := range []int32{0, 5, -3, 5, 0, 9} {
		e.enqueue(fmt.Sprintf("p%d-%d", p, i), &queue.EnqueueOptions{Priority: p})
	}
	peek, err := e.q.Peek(ctx, e.db, queue.PeekOptions{Limit: 4})
	require.NoError(t, err)
	require.Equal(t, []string{"p9-5", "p5-1", "p5-3", "p0-0"}, messagePayloads(peek))
	require.Equal(t, []string{"p9-5", "p5-1", "p5-3"}, payloads(e.receive(3)), "higher lanes first, FIFO within a lane")
	require.Equal(t, []string{"p0-0", "p0-4", "p-3-2"}, payloads(e.receive(5)), "a receive spans lanes")
}

func TestQueueDelayedMessages(t *testing.T) {
	e := newQueueEnv(t, nil)
	e.enqueue("later", &queue.EnqueueOptions{Delay: time.Minute})
	e.enqueue("now", nil)
	require.Equal(t, queue.Stats{Visible: 1, Delayed: 1}, e.stats())
	now := e.receive(5)
	require.Equal(t, []string{"now"}, payloads(now))
	require.NoError(t, e.q.Ack(ctx, e.db, now...))
	e.clock.Advance(59 * time.Second)
	require.Empty(t, e.receive(5))
	all, err := e.q.Peek(ctx, e.db, queue.PeekOptions{All: true})
	require.NoError(t, err)
	require.Equal(t, []string{"later"}, messagePayloads(all), "All shows delayed messages too")
	e.clock.Advance(time.Second)
	st := e.stats()
	require.Equal(t, int64(1), st.Delayed, "time alone changes no count")
	require.Equal(t, time.Duration(0), st.OldestVisibleAge)
	e.clock.Advance(time.Second)
	require.Equal(t, time.Second, e.stats().OldestVisibleAge, "but a vested message is receivable")
	ls := e.receive(5)
	require.Equal(t, []string{"later"}, payloads(ls))
	require.Equal(t, queue.Stats{InFlight: 1}, e.stats())
	_, err = e.q.Enqueue(ctx, e.db, nil, &queue.EnqueueOptions{Delay: -time.Second})
	require.ErrorIs(t, err, queue.ErrInvalidArgument)
}

// An expired lease is delivered again, but only after the clock tolerance; the old holder can
// then neither acknowledge, nack nor extend, and its error names the message.
func TestQueueExpiredLeaseRedelivered(t *testing.T) {
	e := newQueueEnv(t, &queue.Options{LeaseDuration: 10 * time.Second, ClockTolerance: 2 * time.Second})
	id := e.enqueue("job", nil)
	first := e.receive(1)
	require.Len(t, first, 1)
	e.clock.Advance(11 * time.Second)
	require.Empty(t, e.receive(1), "expired, but within the tolerance: not taken over yet")

	// Until it is taken over, the old holder may still extend (or acknowledge).
	ext, err := e.q.Extend(ctx, e.db, first[0], 5*time.Second)
	require.NoError(t, err)
	sameTime(t, e.clock.Now().Add(5*time.Second), ext.Expires)
	require.Equal(t, first[0].Token, ext.Token)
	e.clock.Advance(5*time.Second + 2*time.Second)
	second := e.receive(1)
	require.Len(t, second, 1, "expired past the tolerance: delivered again")
	require.Equal(t, id, second[0].ID)
	require.Equal(t, 2, second[0].Attempts)
	require.Equal(t, queue.Stats{InFlight: 1}, e.stats())

	for name, op := range map[string]func() error{
		"ack":    func() error { return e.q.Ack(ctx, e.db, first[0]) },
		"nack":   func() error { return e.q.Nack(ctx, e.db, first[0], nil) },
		"extend": func() error { _, err := e.q.Extend(ctx, e.db, first[0], time.Minute); return err },
	} {
		err := op()
		require.ErrorIs(t, err, queue.ErrLeaseLost, name)
		require.Contains(t, err.Error(), id.String(), name)
		require.Contains(t, err.Error(), "leased again (attempt 2)", name)
	}
	require.NoError(t, e.q.Ack(ctx, e.db, second[0]), "the current holder is unaffected")
}

func TestQueueNackBackoffDeadLetterRedrive(t *testing.T) {
	e := newQueueEnv(t, &queue.Options{MaxAttempts: 3})
	id := e.enqueue("flaky", nil)
	l := e.receive(1)[0]
	require.NoError(t, e.q.Nack(ctx, e.db, l, &queue.NackOptions{Error: "timeout 1"}))
	require.NoError(t, e.q.Nack(ctx, e.db, l, &queue.NackOptions{Error: "timeout 1"}), "a repeated nack of one lease recognises its own work")
	require.Equal(t, queue.Stats{Delayed: 1}, e.stats())
	m, _, err := e.q.Get(ctx, e.db, id)
	require.NoError(t, err)
	require.Equal(t, "timeout 1", m.LastError)
	sameTime(t, e.clock.Now().Add(queue.DefaultBackoffBase), m.VisibleAt, "first backoff: the base")
	require.Empty(t, e.receive(1))
	e.clock.Advance(time.Second)
	l = e.receive(1)[0]
	require.Equal(t, 2, l.Attempts)
	require.NoError(t, e.q.Nack(ctx, e.db, l, nil))
	m, _, _ = e.q.Get(ctx, e.db, id)
	sameTime(t, e.clock.Now().Add(2*queue.DefaultBackoffBase), m.VisibleAt, "the backoff doubles")
	e.clock.Advance(2 * time.Second)
	l = e.receive(1)[0]
	require.Equal(t, 3, l.Attempts)
	require.NoError(t, e.q.Nack(ctx, e.db, l, &queue.NackOptions{Error: "gave up"}), "the last attempt's nack dead-letters")
	require.Equal(t, queue.Stats{Dead: 1}, e.stats())
	dead, err := e.q.PeekDead(ctx, e.db, queue.PeekOptions{})
	require.NoError(t, err)
	require.Len(t, dead, 1)
	require.Equal(t, id, dead[0].ID)
	require.Equal(t, queue.Dead, dead[0].State)
	require.Equal(t, "gave up", dead[0].LastError)
	sameTime(t, e.clock.Now(), dead[0].DeadAt)
	require.NoError(t, e.q.Nack(ctx, e.db, l, nil), "a retried nack recognises its own dead-lettering")

	// A lease that expires on the last attempt dead-letters too, at the next receive.
	id2 := e.enqueue("slow", nil)
	for range 3 {
		require.Len(t, e.receive(1), 1)
		e.clock.Advance(queue.DefaultLeaseDuration + queue.DefaultClockTolerance)
	}
	require.Empty(t, e.receive(1))
	dead, err = e.q.PeekDead(ctx, e.db, queue.PeekOptions{})
	require.NoError(t, err)
	require.Len(t, dead, 2)
	require.Contains(t, dead[1].LastError, "lease of attempt 3 of 3 expired")
	page2, err := e.q.PeekDead(ctx, e.db, queue.PeekOptions{After: dead[0].ID})
	require.NoError(t, err)
	require.Equal(t, []queue.MessageID{id2}, []queue.MessageID{page2[0].ID})

	// Redrive a chosen one, then the rest.
	n, err := e.q.Redrive(ctx, e.db, queue.RedriveOptions{IDs: []queue.MessageID{id2, queue.StreamEnd}})
	require.NoError(t, err)
	require.Equal(t, 1, n, "IDs not in the dead-letter queue are skipped")
	require.Equal(t, queue.Stats{Visible: 1, Dead: 1}, e.stats())
	l = e.receive(1)[0]
	require.Equal(t, id2, l.ID)
	require.Equal(t, 1, l.Attempts, "a redriven message starts its attempts again")
	n, err = e.q.Redrive(ctx, e.db, queue.RedriveOptions{})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, queue.Stats{Visible: 1, InFlight: 1}, e.stats())
	doomed := e.enqueue("doomed", &queue.EnqueueOptions{Priority: 10})
	for range 3 {
		l := e.receive(1)[0]
		require.Equal(t, doomed, l.ID)
		require.NoError(t, e.q.Nack(ctx, e.db, l, &queue.NackOptions{NoBackoff: true}))
	}
	require.Equal(t, queue.Stats{Visible: 1, InFlight: 1, Dead: 1}, e.stats())
	require.NoError(t, e.q.PurgeDead(ctx, e.db))
	require.Equal(t, queue.Stats{Visible: 1, InFlight: 1}, e.stats())
	dead, err = e.q.PeekDead(ctx, e.db, queue.PeekOptions{})
	require.NoError(t, err)
	require.Empty(t, dead)
}

// A receive reads a lane from where the handle last found its live messages start (the
// millisecond of the first); nothing written since is skipped, and a receive gets the visible
// messages in order of visible time, then of ID. At the reader's own millisecond, a message
// nacked or redriven now keeps its older ID and so lands before the first live message; at a
// later millisecond, it and everything else written since lands after it. The handle's pools
// and lane hints age by a stopped wall clock here, so every receive after DropPools reads the
// lane from its hint, and nothing depends on how long the steps take. (No faults: a receive
// retried after a conflict takes the next pooled messages, so the order would be the engine's
// dice.)
func TestQueueReceiveFromWhereLiveMessagesStart(t *testing.T) {
	e := newQueueEnvOn(t, testdb.OpenEmbedded(t, &embedded.Options{}), &queue.Options{MaxAttempts: 2})
	queue.StopWall(e.q, time.Now())
	fresh := func(n int) []queue.Lease {
		t.Helper()
		queue.DropPools(e.q)
		return e.receive(n)
	}
	nack := func(l queue.Lease, o queue.NackOptions) {
		t.Helper()
		require.NoError(t, e.q.Nack(ctx, e.db, l, &o))
	}
	now := queue.NackOptions{NoBackoff: true}

	// One millisecond: the first live message is c, and a and b, nacked now, land before it.
	e.enqueue("a", nil)
	e.enqueue("b", nil)
	e.enqueue("c", nil)
	ab := e.receive(2)
	require.Equal(t, []string{"a", "b"}, payloads(ab))
	c := fresh(1)
	require.Equal(t, []string{"c"}, payloads(c))
	nack(ab[1], now)
	nack(ab[0], now)
	ab = fresh(5)
	require.Equal(t, []string{"a", "b"}, payloads(ab), "nacked at the reader's millisecond, before its first live message, in ID order")

	// A later millisecond: the first live message is e, at the earlier one. Redriven messages
	// (a, b), a nacked one (d) and a new one (f) land after it, a delayed one (c) once it vests.
	e.enqueue("d", nil)
	e.enqueue("e", nil)
	e.clock.Advance(time.Millisecond)
	d := fresh(1)
	require.Equal(t, []string{"d"}, payloads(d))
	nack(ab[0], now) // their last attempts: dead-lettered
	nack(ab[1], now)
	n, err := e.q.Redrive(ctx, e.db, queue.RedriveOptions{})
	require.NoError(t, err)
	require.Equal(t, 2, n)
	nack(d[0], now)
	nack(c[0], queue.NackOptions{Delay: time.Millisecond})
	e.enqueue("f", nil)
	require.Equal(t, []string{"e", "a", "b", "d", "f"}, payloads(fresh(5)), "in order of visible time, then of ID")
	require.Empty(t, fresh(5), "c is not due yet")
	e.clock.Advance(time.Millisecond)
	require.Equal(t, []string{"c"}, payloads(fresh(5)), "c vested")
}

// A receive's second pass reads a lane after the receive's own leases have moved messages out
// of it; when that transaction does not commit, those messages are still where they were, and
// the reads of later receives must still start before them.
func TestQueueReceiveNotCommittedKeepsItsMessagesFound(t *testing.T) {
	e := newQueueEnvOn(t, testdb.OpenEmbedded(t, &embedded.Options{}), nil)
	queue.StopWall(e.q, time.Now())
	other, err := queue.NewQueue(e.prefix, &queue.Options{Clock: e.clock.Now})
	require.NoError(t, err)
	e.enqueue("a", nil)
	e.enqueue("b", nil)
	e.enqueue("c", nil)
	e.clock.Advance(time.Millisecond)
	require.Equal(t, []string{"a"}, payloads(e.receive(1)), "the handle's pool keeps b and c")
	ls, err := other.Receive(ctx, e.db, queue.ReceiveOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{"b"}, payloads(ls), "another handle leases b")

	// The pool's b is stale: the first pass leases c, the second reads the lane and finds
	// nothing due, as c is leased in this transaction, which is then dropped.
	tr, err := e.db.CreateTransaction()
	require.NoError(t, err)
	ls, err = e.q.Receive(ctx, tr, queue.ReceiveOptions{Max: 2})
	require.NoError(t, err)
	require.Equal(t, []string{"c"}, payloads(ls))
	tr.Cancel()

	queue.DropPools(e.q)
	require.Equal(t, []string{"c"}, payloads(e.receive(5)), "c, never leased, is found")
}
