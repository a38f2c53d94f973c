package queue_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
