package queue_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/queue"
	"github.com/layerkit/layerkit/subspace"
)

// 8 producers and 8 consumers move 10,000 messages (2,000 under -race) through one queue with
// the engine's commit faults on. Producers enqueue with idempotency keys, several messages per
// transaction (half of them with one EnqueueMany, keyed for the batch), and now and then submit
// a message or a batch twice; consumers (two handles, as two processes would) abandon
// leases, nack, extend and otherwise do their work and acknowledge in one transaction. At the
// end every message was processed exactly once or dead-lettered, none was lost or duplicated,
// none was delivered after its acknowledgement, and the stats equal a recount (the checker).
func TestQueueStress(t *testing.T) {
	total := 10_000
	if raceEnabled {
		total = 2_000
	}
	if soak() {
		total = 100_000
	}
	const producers, consumers = 8, 8
	rng0 := rand.New(rand.NewPCG(seed(t, "QUEUE_STRESS_SEED"), 5))
	db := testdb.Open(t)
	prefix := subspace.Sub("stress")
	testdb.Check(t, db, "queue", queue.Check(prefix))
	opts := &queue.Options{
		LeaseDuration: 300 * time.Millisecond, ClockTolerance: queue.NoTolerance, MaxAttempts: 3,
		Backoff: func(n int) time.Duration { return time.Duration(n) * 5 * time.Millisecond },
	}
	handles := make([]*queue.Queue, 2)
	for i := range handles {
		q, err := queue.NewQueue(prefix, opts)
		require.NoError(t, err)
		handles[i] = q
	}
	doneKey := func(payload []byte) []byte { return append([]byte("stress-done/"), payload...) }

	var wg sync.WaitGroup
	var produced atomic.Int64
	for p := range producers {
		rng := rand.New(rand.NewPCG(rng0.Uint64(), uint64(p)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := handles[p%2]
			mine := total / producers
			if p == producers-1 {
				mine += total % producers
			}
			for i := 0; i < mine; {
				n := min(1+rng.IntN(5), mine-i)
				// Odd producers enqueue each transaction's messages with one EnqueueMany, whose
				// key stands for the batch.
				batch := make([][]byte, n)
				for j := range batch {
					batch[j] = fmt.Appendf(nil, "p%d-%d", p, i+j)
				}
				batchOpts := &queue.EnqueueOptions{IdempotencyKey: fmt.Appendf(nil, "batch-p%d-%d", p, i), Priority: int32(rng.IntN(2))}
				err := db.Transact(ctx, func(tr kv.Transaction) error {
					if p%2 == 1 {
						_, err := q.EnqueueMany(ctx, tr, batch, batchOpts)
						return err
					}
					for _, payload := range batch {
						o := &queue.EnqueueOptions{IdempotencyKey: payload, Priority: int32(rng.IntN(2))}
						if _, err := q.Enqueue(ctx, tr, payload, o); err != nil {
							return err
						}
					}
					return nil
				})
				if !assertNoError(t, err) {
					return
				}
				if rng.IntN(20) == 0 { // a duplicate submission, through the database
					var err error
					if p%2 == 1 {
						_, err = q.EnqueueMany(ctx, db, batch, batchOpts)
					} else {
						_, err = q.Enqueue(ctx, db, batch[0], &queue.EnqueueOptions{IdempotencyKey: batch[0]})
					}
					if !assertNoError(t, err) {
						return
					}
				}
				i += n
				produced.Add(int64(n))
			}
		}()
	}

	var processed, deadSeen, lostAcks, abandoned, nacked atomic.Int64
	stop := make(chan struct{})
	for c := range consumers {
		rng := rand.New(rand.NewPCG(rng0.Uint64(), uint64(100+c)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := handles[c%2]
			for {
				select {
				case <-stop:
					return
				default:
				}
				var ls []queue.Lease
				var err error
				if c%4 == 3 {
					// Receive in a transaction of our own, checking in the same transaction that
					// no leased message was acknowledged (its work done) before.
					err = db.Transact(ctx, func(tr kv.Transaction) error {
						ls, err = q.Receive(ctx, tr, queue.ReceiveOptions{Max: 1 + rng.IntN(10)})
						if err != nil {
							return err
						}
						for _, l := range ls {
							v, err := tr.Get(doneKey(l.Payload)).Get()
							if err != nil {
								return err
							}
							if v != nil {
								t.Errorf("message %s (%s) delivered after its acknowledgement", l.ID, l.Payload)
							}
						}
						return nil
					})
				} else {
					ls, err = q.Receive(ctx, db, queue.ReceiveOptions{Max: 1 + rng.IntN(10)})
				}
				if !assertNoError(t, err) {
					return
				}
				if len(ls) == 0 {
					time.Sleep(time.Millisecond)
					continue
				}
				for _, l := range ls {
					switch r := rng.IntN(100); {
					case r < 4:
						abandoned.Add(1) // walk away: the lease expires
					case r < 9:
						nacked.Add(1)
						if err := q.Nack(ctx, db, l, &queue.NackOptions{Error: "flaky"}); err != nil && !errors.Is(err, queue.ErrLeaseLost) {
							t.Error(err)
							return
						}
					default:
						if r < 12 {
							var err error
							if l, err = q.Extend(ctx, db, l, time.Second); err != nil {
								if !errors.Is(err, queue.ErrLeaseLost) {
									t.Error(err)
									return
								}
								continue
							}
						}
						err := db.Transact(ctx, func(tr kv.Transaction) error {
							k := doneKey(l.Payload)
							v, err := tr.Get(k).Get()
							if err != nil {
								return err
							}
							if v != nil {
								return fmt.Errorf("message %s (%s) processed twice: %w", l.ID, l.Payload, errAlreadyDone)
							}
							tr.Set(k, l.ID[:])
							return q.Ack(ctx, tr, l)
						})
						switch {
						case err == nil:
							processed.Add(1)
						case errors.Is(err, queue.ErrLeaseLost):
							lostAcks.Add(1) // a stale holder, or a retry of an applied commit
						case errors.Is(err, errAlreadyDone):
							// Only a stale holder may find the work done: its lease is no longer held.
							if err := q.Ack(ctx, db, l); !errors.Is(err, queue.ErrLeaseLost) {
								t.Errorf("%v, and its lease is still held (%v)", err, err)
							}
							lostAcks.Add(1)
						default:
							t.Error(err)
							return
						}
					}
				}
			}
		}()
	}

	// Wait until every produced message is done or dead.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		st, err := handles[0].Stats(ctx, db)
		require.NoError(t, err)
		if produced.Load() == int64(total) && st.Visible+st.Delayed+st.InFlight == 0 {
			deadSeen.Store(st.Dead)
			break
		}
		if time.Now().After(deadline) || t.Failed() {
			close(stop)
			wg.Wait()
			t.Fatalf("not drained: %+v, produced %d", st, produced.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()

	// Account for every message: its work done once, or dead-lettered, never both.
	done := map[string]bool{}
	err := db.ReadTransact(ctx, func(tr kv.ReadTransaction) error {
		rows, err := tr.GetRange(kv.Range{Begin: []byte("stress-done/"), End: []byte("stress-done0")}, kv.RangeOptions{}).GetSlice()
		for _, r := range rows {
			done[string(r.Key[len("stress-done/"):])] = true
		}
		return err
	})
	require.NoError(t, err)
	dead := map[string]bool{}
	after := queue.MessageID{}
	for {
		page, err := handles[0].PeekDead(ctx, db, queue.PeekOptions{Limit: 1000, After: after})
		require.NoError(t, err)
		for _, m := range page {
			require.False(t, dead[string(m.Payload)], "%s dead-lettered twice", m.Payload)
			require.False(t, done[string(m.Payload)], "%s both done and dead", m.Payload)
			dead[string(m.Payload)] = true
			after = m.ID
		}
		if len(page) < 1000 {
			break
		}
	}
	require.Equal(t, total, len(done)+len(dead), "every message done or dead, none lost, none duplicated")
	require.Equal(t, int64(len(dead)), deadSeen.Load())
	st, err := handles[0].Stats(ctx, db)
	require.NoError(t, err)
	require.Equal(t, queue.Stats{Dead: int64(len(dead))}, st)
	m0, m1 := handles[0].Metrics(), handles[1].Metrics()
	t.Logf("%d messages: %d processed (%d distinct), %d dead; %d leases abandoned, %d nacks, %d acks refused; receive conflicts %d over %d leases",
		total, processed.Load(), len(done), len(dead), abandoned.Load(), nacked.Load(), lostAcks.Load(),
		m0.ReceiveConflicts+m1.ReceiveConflicts, m0.Leased+m1.Leased)
}

var errAlreadyDone = errors.New("work already done")
