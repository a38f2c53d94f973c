package queue_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/queue"
	"github.com/layerkit/layerkit/subspace"
	"github.com/layerkit/layerkit/tuple"
)

func benchQueue(b *testing.B) *queue.Queue {
	b.Helper()
	q, err := queue.NewQueue(subspace.Sub("bench"), nil)
	if err != nil {
		b.Fatal(err)
	}
	return q
}

// BenchmarkEnqueue: 100-byte messages on the memory engine, through callers' transactions:
// batch=100 puts 100 in each transaction (one goroutine), with 100 Enqueue calls or, with
// api=many, one EnqueueMany; producers=16,batch=1 commits each message alone from 16 goroutines
// and counts conflicts (there must be none). One op is one message.
func BenchmarkEnqueue(b *testing.B) {
	for _, c := range []struct {
		producers, batch int
		many             bool
	}{{1, 100, false}, {1, 100, true}, {16, 1, false}} {
		name := fmt.Sprintf("store=memory,producers=%d,batch=%d", c.producers, c.batch)
		if c.many {
			name += ",api=many"
		}
		b.Run(name, func(b *testing.B) {
			db := openBench(b, "memory")
			q := benchQueue(b)
			payload := make([]byte, 100)
			payloads := make([][]byte, c.batch)
			for i := range payloads {
				payloads[i] = payload
			}
			var conflicts, commits atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			elapsed := runWorkers(b, c.producers, c.batch, func(_, n int) error {
				commits.Add(1)
				return commitCounting(db, &conflicts, func(tr kv.Transaction) error {
					if c.many {
						_, err := q.EnqueueMany(ctx, tr, payloads[:n], nil)
						return err
					}
					for range n {
						if _, err := q.Enqueue(ctx, tr, payload, nil); err != nil {
							return err
						}
					}
					return nil
				})
			})
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
			b.ReportMetric(float64(commits.Load())/elapsed.Seconds(), "commits/s")
			b.ReportMetric(float64(conflicts.Load())/float64(commits.Load()), "conflicts/commit")
		})
	}
}

// BenchmarkReceiveAck: 16 consumers lease batches of 10 and acknowledge each batch in one
// transaction, on the memory engine, from a queue filled beforehand. handles=1 is one process
// (the consumers share a handle and skip each other's claims); handles=16 is sixteen processes,
// kept apart only by the random window. One op is one message; conflicts/msg counts the
// conflicts (1020) of receives and acks per message delivered.
func BenchmarkReceiveAck(b *testing.B) {
	for _, handles := range []int{1, 16} {
		b.Run(fmt.Sprintf("store=memory,consumers=16,batch=10,handles=%d", handles), func(b *testing.B) {
			db := openBench(b, "memory")
			qs := make([]*queue.Queue, handles)
			for i := range qs {
				qs[i] = benchQueue(b)
			}
			payload := make([]byte, 100)
			for i := 0; i < b.N; i += 1000 {
				err := db.Transact(ctx, func(tr kv.Transaction) error {
					for range min(1000, b.N-i) {
						if _, err := qs[0].Enqueue(ctx, tr, payload, nil); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			var acked, ackConflicts atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			elapsed := runWorkers(b, 16, 10, func(w, n int) error {
				q := qs[w%handles]
				for done := 0; done < n; {
					ls, err := q.Receive(ctx, db, queue.ReceiveOptions{Max: n - done})
					if err != nil || len(ls) == 0 {
						if err != nil {
							return err
						}
						continue
					}
					err = commitCounting(db, &ackConflicts, func(tr kv.Transaction) error { return q.Ack(ctx, tr, ls...) })
					if err != nil {
						return err
					}
					done += len(ls)
					acked.Add(int64(len(ls)))
				}
				return nil
			})
			var receiveConflicts int64
			for _, q := range qs {
				receiveConflicts += q.Metrics().ReceiveConflicts
			}
			b.ReportMetric(float64(acked.Load())/elapsed.Seconds(), "msgs/s")
			b.ReportMetric(float64(receiveConflicts+ackConflicts.Load())/float64(acked.Load()), "conflicts/msg")
			b.ReportMetric(float64(receiveConflicts)/float64(acked.Load()), "receive-conflicts/msg")
		})
	}
}

// BenchmarkEnqueueRawWrites is the floor under BenchmarkEnqueue batch=100: the same mutations
// an enqueue makes (two versionstamped keys of the same sizes, a counter ADD) written directly,
// 100 per transaction, with none of the queue's work. One op is one message.
func BenchmarkEnqueueRawWrites(b *testing.B) {
	db := openBench(b, "memory")
	prefix := subspace.Sub("bench")
	value := make([]byte, 112) // the size of an encoded 100-byte message record
	counter := prefix.Pack([]any{6, 1})
	b.ReportAllocs()
	b.ResetTimer()
	elapsed := runWorkers(b, 1, 100, func(_, n int) error {
		return db.Transact(ctx, func(tr kv.Transaction) error {
			for i := range n {
				vs := tuple.IncompleteVersionstamp(uint16(i))
				k1, err := prefix.PackWithVersionstamp(tuple.Tuple{1, vs})
				if err != nil {
					return err
				}
				k2, err := prefix.PackWithVersionstamp(tuple.Tuple{2, 0, int64(1_900_000_000_000), vs})
				if err != nil {
					return err
				}
				tr.Atomic(kv.SetVersionstampedKey, k1, value)
				tr.Atomic(kv.SetVersionstampedKey, k2, nil)
				tr.Atomic(kv.Add, counter, []byte{1, 0, 0, 0, 0, 0, 0, 0})
			}
			return nil
		})
	})
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}
