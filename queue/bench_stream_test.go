package queue_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/queue"
	"github.com/layerkit/layerkit/subspace"
	"github.com/layerkit/layerkit/tuple"
)

// openBench opens an embedded engine without faults: in memory, or durable (synced) on disk.
func openBench(b *testing.B, store string) *embedded.DB {
	b.Helper()
	path := ""
	if store == "disk" {
		path = b.TempDir()
	}
	db, err := embedded.Open(path, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// cpuTime returns the CPU time (user and system) the process has used. Benchmarks report it per
// op beside the wall-clock rates, because on a shared machine the CPU a process gets varies
// from run to run while the CPU an op costs varies much less.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runWorkers runs b.N ops on n goroutines, handing each call of work a share of up to chunk ops
// (work must do exactly that many), and returns the elapsed time.
func runWorkers(b *testing.B, n, chunk int, work func(worker, ops int) error) time.Duration {
	b.Helper()
	var left atomic.Int64
	left.Store(int64(b.N))
	claim := func() int {
		for {
			l := left.Load()
			if l <= 0 {
				return 0
			}
			k := min(int64(chunk), l)
			if left.CompareAndSwap(l, l-k) {
				return int(k)
			}
		}
	}
	var wg sync.WaitGroup
	start, cpu := time.Now(), cpuTime()
	defer func() {
		b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}()
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := claim(); k > 0; k = claim() {
				if err := work(w, k); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// commitCounting commits fn's work in a transaction of its own, retrying conflicts, and counts
// them.
func commitCounting(db kv.Database, conflicts *atomic.Int64, fn func(tr kv.Transaction) error) error {
	tr, err := db.CreateTransaction()
	if err != nil {
		return err
	}
	for {
		err := fn(tr)
		if err == nil {
			err = tr.Commit()
		}
		if err == nil {
			return nil
		}
		if errors.Is(err, kv.ErrNotCommitted) {
			conflicts.Add(1)
		}
		if err := tr.OnError(ctx, err); err != nil {
			return err
		}
	}
}

// BenchmarkStreamAppend: one 100-byte entry per transaction from 16 goroutines, through a
// caller's transaction (path=transaction), through the database with the call's own
// idempotency key (path=database), and, for the ratio, the same versionstamped key written with
// nothing else (path=raw).
func BenchmarkStreamAppend(b *testing.B) {
	for _, store := range []string{"memory", "disk"} {
		for _, path := range []string{"transaction", "database", "raw"} {
			b.Run(fmt.Sprintf("store=%s,goroutines=16,path=%s", store, path), func(b *testing.B) {
				db := openBench(b, store)
				s, err := queue.NewStream(subspace.Sub("bench"), nil)
				if err != nil {
					b.Fatal(err)
				}
				value := make([]byte, 100)
				rawKey, err := subspace.Sub("raw").PackWithVersionstamp(tuple.Tuple{1, tuple.IncompleteVersionstamp(0)})
				if err != nil {
					b.Fatal(err)
				}
				var conflicts atomic.Int64
				b.ReportAllocs()
				b.ResetTimer()
				elapsed := runWorkers(b, 16, 1, func(int, int) error {
					if path == "database" {
						_, err := s.Append(ctx, db, value, nil)
						return err
					}
					if path == "raw" {
						return commitCounting(db, &conflicts, func(tr kv.Transaction) error {
							tr.Atomic(kv.SetVersionstampedKey, rawKey, append([]byte{1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, value...))
							return nil
						})
					}
					return commitCounting(db, &conflicts, func(tr kv.Transaction) error {
						_, err := s.Append(ctx, tr, value, nil)
						return err
					})
				})
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "entries/s")
				b.ReportMetric(float64(conflicts.Load())/float64(b.N), "conflicts/op")
			})
		}
	}
}

// BenchmarkStreamRead: one page of 1,000 entries of 100 bytes read forward from a cursor in the
// middle of a 20,000-entry stream, and backward from the end; dir=raw is the floor under
// dir=forward: the same snapshot range read of the entry keys (1,001 rows, as the page reads one
// more to know whether there are more), straight from the engine, with no decoding.
func BenchmarkStreamRead(b *testing.B) {
	db := openBench(b, "memory")
	s, err := queue.NewStream(subspace.Sub("bench"), nil)
	if err != nil {
		b.Fatal(err)
	}
	value := make([]byte, 100)
	var midF kv.Future[queue.EntryID]
	for i := 0; i < 20_000; i += 1000 {
		err := db.Transact(ctx, func(tr kv.Transaction) error {
			for j := range 1000 {
				f, err := s.Append(ctx, tr, value, nil)
				if err != nil {
					return err
				}
				if i+j == 10_000 {
					midF = f
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	mid, err := midF.Get()
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		cursor  queue.EntryID
		reverse bool
	}{{"forward", mid, false}, {"backward", queue.StreamEnd, true}, {"raw", mid, false}} {
		b.Run(fmt.Sprintf("entries=1000,value=100B,dir=%s", c.name), func(b *testing.B) {
			items := subspace.Sub("bench").Sub(1)
			raw := kv.Range{Begin: append(items.Pack(tuple.Tuple{mid.Versionstamp()}), 0x00), End: append(items.Bytes(), 0xff)}
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				if c.name == "raw" {
					rows, err := kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) ([]kv.KeyValue, error) {
						return tr.Snapshot().GetRange(raw, kv.RangeOptions{Limit: 1001, Mode: kv.StreamingWantAll}).GetSlice()
					})
					if err != nil || len(rows) != 1001 {
						b.Fatal(len(rows), err)
					}
					continue
				}
				p, err := s.Read(ctx, db, c.cursor, queue.ReadOptions{Limit: 1000, Reverse: c.reverse})
				if err != nil || len(p.Entries) != 1000 {
					b.Fatal(len(p.Entries), err)
				}
			}
			b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}
