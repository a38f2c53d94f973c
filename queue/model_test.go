package queue_test

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/queue"
)

// soak reports whether long runs were asked for (LAYERKIT_SOAK=1).
func soak() bool { return os.Getenv("LAYERKIT_SOAK") == "1" }

// seed returns a random seed, or the one in the environment variable name, and logs it.
func seed(t *testing.T, name string) uint64 {
	s := rand.Uint64()
	if v := os.Getenv(name); v != "" {
		var err error
		s, err = strconv.ParseUint(v, 10, 64)
		require.NoError(t, err, name)
	}
	t.Logf("seed %d (replay with %s=%d)", s, name, s)
	return s
}

// modelMsg is the model's view of one message.
type modelMsg struct {
	id        queue.MessageID
	payload   string
	priority  int32
	state     queue.State
	at        int64 // schedule time, unix ms: visible from, or lease expiry + tolerance
	attempts  int
	token     queue.LeaseToken // current lease
	lastToken queue.LeaseToken // last lease that ended in a nack
	lastError string
}

func (m *modelMsg) less(o *modelMsg) int {
	return cmp.Or(cmp.Compare(-m.priority, -o.priority), cmp.Compare(m.at, o.at), m.id.Compare(o.id))
}

// queueModel is the in-memory model the random test compares the queue with.
type queueModel struct {
	live, dead map[queue.MessageID]*modelMsg
	keys       map[string][]queue.MessageID // idempotency key → the messages of its call
	keyExpiry  map[string]int64
}

func (m *queueModel) scheduled() []*modelMsg {
	out := make([]*modelMsg, 0, len(m.live))
	for _, x := range m.live {
		out = append(out, x)
	}
	slices.SortFunc(out, (*modelMsg).less)
	return out
}

func (m *queueModel) receivable(now int64) []*modelMsg {
	return slices.DeleteFunc(m.scheduled(), func(x *modelMsg) bool { return x.at > now })
}

func (m *queueModel) stats(now int64) queue.Stats {
	var st queue.Stats
	oldest := int64(-1)
	for _, x := range m.live {
		switch x.state {
		case queue.Ready:
			st.Visible++
		case queue.Delayed:
			st.Delayed++
		case queue.Leased:
			st.InFlight++
		}
		if x.at <= now && (oldest < 0 || x.at < oldest) {
			oldest = x.at
		}
	}
	st.Dead = int64(len(m.dead))
	if oldest >= 0 {
		st.OldestVisibleAge = time.Duration(now-oldest) * time.Millisecond
	}
	return st
}

// The queue state machine against an in-memory model: random enqueues (delays, priorities,
// idempotency keys), receives, acks, nacks and extends (by current and stale holders), clock
// jumps that expire leases and vest delays, dead-lettering, redrives and purges, with the
// engine's commit faults on. After every operation the stats, and at intervals Peek, are
// compared with the model; the checker runs at the end.
func TestModelQueue(t *testing.T) {
	rng := rand.New(rand.NewPCG(seed(t, "QUEUE_SEED"), 3))
	const lease, tolerance, maxAttempts = 10 * time.Second, time.Second, 2
	e := newQueueEnv(t, &queue.Options{LeaseDuration: lease, ClockTolerance: tolerance, MaxAttempts: maxAttempts, IdempotencyRetention: time.Minute})
	m := &queueModel{live: map[queue.MessageID]*modelMsg{}, dead: map[queue.MessageID]*modelMsg{}, keys: map[string][]queue.MessageID{}, keyExpiry: map[string]int64{}}
	var held []queue.Lease // leases handed out, current or stale
	ops := 500
	if soak() {
		ops = 20_000
	}
	now := func() int64 { return e.clock.Now().UnixMilli() }
	for op := range ops {
		step := fmt.Sprintf("op %d", op)
		switch r := rng.IntN(100); {
		case r < 25 && (len(m.live) < 8 || r < 8): // enqueue, keeping the queue short so messages come back
			o := &queue.EnqueueOptions{Priority: int32(rng.IntN(4) - 1)}
			if rng.IntN(3) == 0 {
				o.Delay = time.Duration(rng.IntN(4000)) * time.Millisecond
			}
			// One message by Enqueue, or one to three by EnqueueMany; a key names one call and
			// the messages it enqueued (keys of k are for single messages, of b for batches).
			batch := rng.IntN(4) == 0
			n, key := 1, ""
			if batch {
				n = 1 + rng.IntN(3)
			}
			if rng.IntN(3) == 0 {
				key = fmt.Sprint("k", rng.IntN(8))
				if batch {
					key = fmt.Sprint("b", rng.IntN(4))
				}
				o.IdempotencyKey = []byte(key)
			}
			remembered := key != "" && m.keyExpiry[key] > now()
			var msgs []string
			for i := range n {
				msgs = append(msgs, fmt.Sprintf("m%d.%d", op, i))
			}
			var got []queue.MessageID
			if batch {
				bs := make([][]byte, n)
				for i, p := range msgs {
					bs[i] = []byte(p)
				}
				f, err := e.q.EnqueueMany(ctx, e.db, bs, o)
				if remembered && len(m.keys[key]) != n {
					require.ErrorIs(t, err, queue.ErrInvalidArgument, "%s: key %s of %d messages used for %d", step, key, len(m.keys[key]), n)
					break
				}
				require.NoError(t, err, step)
				got, err = f.Get()
				require.NoError(t, err, step)
			} else {
				got = []queue.MessageID{e.enqueue(msgs[0], o)}
			}
			if remembered {
				require.Equal(t, m.keys[key], got, "%s: a remembered key answers its messages", step)
				break
			}
			require.Len(t, got, n, step)
			for i, id := range got {
				_, exists := m.live[id]
				require.False(t, exists, step)
				if i > 0 {
					require.Equal(t, -1, got[i-1].Compare(id), "%s: a batch keeps its order", step)
				}
				x := &modelMsg{id: id, payload: msgs[i], priority: o.Priority, state: queue.Ready, at: e.clock.Now().Add(o.Delay).UnixMilli()}
				if x.at > now() {
					x.state = queue.Delayed
				}
				m.live[id] = x
			}
			if key != "" {
				m.keys[key], m.keyExpiry[key] = got, e.clock.Now().Add(time.Minute).UnixMilli()
			}
		case r < 45: // receive
			n := 1 + rng.IntN(4)
			before := m.receivable(now())
			ls := e.receive(n)
			got := map[queue.MessageID]bool{}
			for _, l := range ls {
				x := m.live[l.ID]
				require.NotNil(t, x, "%s: leased %s is not in the queue", step, l.ID)
				require.LessOrEqual(t, x.at, now(), "%s: leased %s is not receivable", step, l.ID)
				require.Less(t, x.attempts, maxAttempts, step)
				got[l.ID] = true
				x.attempts++
				x.state, x.token = queue.Leased, l.Token
				x.at = e.clock.Now().Add(lease + tolerance).UnixMilli()
				require.Equal(t, x.attempts, l.Attempts, step)
				require.Equal(t, x.payload, string(l.Payload), step)
				sameTime(t, e.clock.Now().Add(lease), l.Expires, step)
				held = append(held, l)
			}
			// Receivable messages whose attempts were used up may have gone to the dead letters.
			taken := len(ls)
			for _, x := range before {
				if got[x.id] || x.attempts < maxAttempts {
					continue
				}
				if dm, ok, err := e.q.Get(ctx, e.db, x.id); err == nil && ok && dm.State == queue.Dead {
					require.Regexp(t, `attempts used up|lease of attempt 2 of 2 expired`, dm.LastError, step)
					x.state, x.lastError = queue.Dead, dm.LastError
					delete(m.live, x.id)
					m.dead[x.id] = x
					taken++
				}
			}
			// Priority: nothing of a higher lane was left for a lower one.
			for _, x := range before {
				if _, still := m.live[x.id]; still && !got[x.id] {
					for _, l := range ls {
						require.GreaterOrEqual(t, l.Priority, x.priority, "%s: %s (priority %d) left for %s (priority %d)", step, x.id, x.priority, l.ID, l.Priority)
					}
				}
			}
			// A receive picks as many as it can; the messages it dead-letters count as picked. (An
			// attempt that dead-lettered and was applied before an unknown result can make a
			// call pick more than n; it never leases more.)
			require.LessOrEqual(t, len(ls), n, step)
			require.GreaterOrEqual(t, taken, min(n, len(before)), "%s: a receive takes what it can", step)
		case r < 60 && len(held) > 0: // ack
			l := held[rng.IntN(len(held))]
			x := m.live[l.ID]
			err := e.q.Ack(ctx, e.db, l)
			if x != nil && x.state == queue.Leased && x.token == l.Token {
				require.NoError(t, err, step)
				delete(m.live, l.ID)
			} else {
				require.ErrorIs(t, err, queue.ErrLeaseLost, step)
			}
		case r < 72 && len(held) > 0: // nack
			l := held[rng.IntN(len(held))]
			x := m.live[l.ID]
			if x == nil {
				x = m.dead[l.ID]
			}
			o := &queue.NackOptions{Error: fmt.Sprint("e", op)}
			switch rng.IntN(3) {
			case 0:
				o.NoBackoff = true
			case 1:
				o.Delay = time.Duration(1+rng.IntN(3000)) * time.Millisecond
			}
			err := e.q.Nack(ctx, e.db, l, o)
			switch {
			case x != nil && x.state != queue.Leased && x.lastToken == l.Token:
				require.NoError(t, err, "%s: a repeated nack recognises its own work", step)
			case x == nil || x.state != queue.Leased || x.token != l.Token:
				require.ErrorIs(t, err, queue.ErrLeaseLost, step)
			case x.attempts >= maxAttempts:
				require.NoError(t, err, step)
				x.state, x.lastToken, x.lastError = queue.Dead, l.Token, o.Error
				delete(m.live, x.id)
				m.dead[x.id] = x
			default:
				require.NoError(t, err, step)
				delay := o.Delay
				if o.NoBackoff {
					delay = 0
				} else if delay == 0 {
					delay = time.Second << (x.attempts - 1)
				}
				x.at = e.clock.Now().Add(delay).UnixMilli()
				x.state = queue.Ready
				if delay > 0 {
					x.state = queue.Delayed
				}
				x.lastToken, x.lastError, x.token = l.Token, o.Error, queue.LeaseToken{}
			}
		case r < 78 && len(held) > 0: // extend
			l := held[rng.IntN(len(held))]
			x := m.live[l.ID]
			d := time.Duration(1+rng.IntN(20)) * time.Second
			nl, err := e.q.Extend(ctx, e.db, l, d)
			if x != nil && x.state == queue.Leased && x.token == l.Token {
				require.NoError(t, err, step)
				x.at = e.clock.Now().Add(d + tolerance).UnixMilli()
				sameTime(t, e.clock.Now().Add(d), nl.Expires, step)
			} else {
				require.ErrorIs(t, err, queue.ErrLeaseLost, step)
			}
		case r < 90: // time passes
			e.clock.Advance(time.Duration(rng.IntN(15000)) * time.Millisecond)
		case r < 94 && len(m.dead) > 0: // redrive some or all
			var ids []queue.MessageID
			if rng.IntN(2) == 0 {
				for id := range m.dead {
					if rng.IntN(2) == 0 {
						ids = append(ids, id)
					}
				}
			}
			n, err := e.q.Redrive(ctx, e.db, queue.RedriveOptions{IDs: ids, Limit: 1 + rng.IntN(3)})
			require.NoError(t, err, step)
			moved := 0
			for id, x := range m.dead {
				if len(ids) > 0 && !slices.Contains(ids, id) {
					continue
				}
				x.state, x.attempts, x.at, x.token = queue.Ready, 0, now(), queue.LeaseToken{}
				delete(m.dead, id)
				m.live[id] = x
				moved++
			}
			require.Equal(t, moved, n, step)
		case r < 95: // purge
			require.NoError(t, e.q.Purge(ctx, e.db), step)
			clear(m.live)
		case r < 97: // purge dead letters
			require.NoError(t, e.q.PurgeDead(ctx, e.db), step)
			clear(m.dead)
		default: // peek
			all, err := e.q.Peek(ctx, e.db, queue.PeekOptions{All: true, Limit: 1000})
			require.NoError(t, err, step)
			want := []queue.MessageID{}
			for _, x := range m.scheduled() {
				want = append(want, x.id)
			}
			require.Equal(t, want, messageIDs(all), "%s: the schedule", step)
			for _, msg := range all {
				x := m.live[msg.ID]
				require.Equal(t, x.state, msg.State, "%s: state of %s", step, msg.ID)
				require.Equal(t, x.attempts, msg.Attempts, step)
				require.Equal(t, x.lastError, msg.LastError, step)
			}
			dead, err := e.q.PeekDead(ctx, e.db, queue.PeekOptions{Limit: 1000})
			require.NoError(t, err, step)
			require.Len(t, dead, len(m.dead), step)
			for _, d := range dead {
				require.Equal(t, m.dead[d.ID].lastError, d.LastError, "%s: dead letter %s", step, d.ID)
			}
		}
		st, err := e.q.Stats(ctx, e.db)
		require.NoError(t, err, step)
		require.Equal(t, m.stats(now()), st, "%s: stats", step)
	}
	require.NoError(t, e.q.Check(ctx, e.db))
}

func messageIDs(ms []queue.Message) []queue.MessageID {
	out := make([]queue.MessageID, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}
