package directory_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/layerkit/layerkit/directory"
	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
)

// BenchmarkOpen opens an existing directory three levels deep. via=transaction runs each open
// in a fresh transaction wrapped by a recorder that counts KV reads (reported as reads/op);
// via=database lets Open run its own read transaction.
func BenchmarkOpen(b *testing.B) {
	ctx := context.Background()
	for _, depth := range []int{1, 3} {
		db := testdb.OpenEmbedded(b, &embedded.Options{})
		path := []string{"app", "tenant", "users"}[:depth]
		if _, err := directory.CreateOrOpen(ctx, db, path, nil); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("depth=%d,via=transaction", depth), func(b *testing.B) {
			b.ReportAllocs()
			var reads int64
			for b.Loop() {
				tr, err := db.CreateTransaction()
				if err != nil {
					b.Fatal(err)
				}
				rec := newRecorder(tr, false)
				if _, err := directory.Open(ctx, rec, path, nil); err != nil {
					b.Fatal(err)
				}
				reads += rec.reads.Load()
				tr.Cancel()
			}
			b.ReportMetric(float64(reads)/float64(b.N), "reads/op")
		})
		b.Run(fmt.Sprintf("depth=%d,via=database", depth), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := directory.Open(ctx, db, path, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// countingDB counts commits and the conflicts among them.
type countingDB struct {
	kv.Database
	commits, conflicts atomic.Int64
}

func (c *countingDB) CreateTransaction() (kv.Transaction, error) {
	tr, err := c.Database.CreateTransaction()
	if err != nil {
		return nil, err
	}
	return &countingTx{Transaction: tr, db: c}, nil
}

type countingTx struct {
	kv.Transaction
	db *countingDB
}

func (t *countingTx) Commit() error {
	err := t.Transaction.Commit()
	t.db.commits.Add(1)
	if errors.Is(err, kv.ErrNotCommitted) {
		t.db.conflicts.Add(1)
	}
	return err
}

// BenchmarkAllocate creates 10,000 new directories (siblings under one parent) from 8
// goroutines, each in its own transaction, and reports directories per second and conflicts
// per directory (commits that failed with 1020 and were retried). No faults are injected.
func BenchmarkAllocate(b *testing.B) {
	ctx := context.Background()
	const total, workers = 10000, 8
	b.Run(fmt.Sprintf("dirs=%d,workers=%d", total, workers), func(b *testing.B) {
		b.ReportAllocs()
		var elapsed, cpu time.Duration
		var conflicts, commits int64
		for b.Loop() {
			b.StopTimer()
			base := testdb.OpenEmbedded(b, &embedded.Options{})
			db := &countingDB{Database: base}
			if _, err := directory.CreateOrOpen(ctx, base, []string{"bench"}, nil); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			start, cpuStart := time.Now(), processCPU()
			var wg sync.WaitGroup
			var failed atomic.Value
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < total; i += workers {
						if _, err := directory.CreateOrOpen(ctx, db, []string{"bench", fmt.Sprint(i)}, nil); err != nil {
							failed.Store(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			elapsed += time.Since(start)
			cpu += processCPU() - cpuStart
			if err, _ := failed.Load().(error); err != nil {
				b.Fatal(err)
			}
			conflicts += db.conflicts.Load()
			commits += db.commits.Load()
			b.StopTimer()
			if err := directory.Check(ctx, base); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		b.ReportMetric(float64(total)*float64(b.N)/elapsed.Seconds(), "dirs/s")
		// On a shared machine the rate depends on what else runs; the CPU time per directory
		// (of the whole process, garbage collection included) does much less.
		b.ReportMetric(float64(cpu.Microseconds())/float64(total*b.N), "cpu-µs/dir")
		b.ReportMetric(float64(conflicts)/float64(total*b.N), "conflicts/dir")
		b.ReportMetric(float64(commits)/float64(total*b.N), "commits/dir")
	})
}

// processCPU is the CPU time the process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
