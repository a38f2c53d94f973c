package embedded_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
)

// benchKeys is the key space of the read-write benchmarks: large enough that goroutines rarely
// touch the same key, so the figures measure the engine and not conflicts.
const benchKeys = 100_000

func benchKey(buf []byte, i int) []byte {
	buf = append(buf[:0], "bench/"...)
	return binary.BigEndian.AppendUint64(buf, uint64(i))
}

// txCases are the transaction benchmarks' stores and concurrencies, those the targets are set for:
// the memory engine within 1.5 times raw Pebble with one goroutine, the durable one within 1.3
// times with 64.
var txCases = []struct {
	store      string
	goroutines int
}{
	{"memory", 1},
	{"disk", 1},
	{"disk", 64},
}

// BenchmarkTransaction measures, over 100,000 stored keys of 100 bytes, the transaction of the
// targets: one read, one write and a commit, through the engine and through raw Pebble doing the
// same work (a read, and a batch of one write committed), so the engine's overhead reads as a
// ratio. BenchmarkTransactionRatio measures the same ratio in a way a shared machine disturbs
// less.
func BenchmarkTransaction(b *testing.B) {
	for _, c := range txCases {
		sync := c.store == "disk"
		b.Run(fmt.Sprintf("engine=embedded,store=%s,sync=%v,goroutines=%d", c.store, sync, c.goroutines), func(b *testing.B) {
			work, conflicts := engineTx(b, c.store)
			b.ReportAllocs()
			b.ResetTimer()
			start, cpu := time.Now(), processCPU()
			runWorkers(b.N, c.goroutines, work)
			reportCPU(b, cpu, b.N)
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tx/s")
			b.ReportMetric(float64(conflicts.Load())/float64(b.N), "conflicts/op")
		})
		b.Run(fmt.Sprintf("engine=pebble,store=%s,sync=%v,goroutines=%d", c.store, sync, c.goroutines), func(b *testing.B) {
			work := pebbleTx(b, c.store)
			b.ReportAllocs()
			b.ResetTimer()
			start, cpu := time.Now(), processCPU()
			runWorkers(b.N, c.goroutines, work)
			reportCPU(b, cpu, b.N)
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tx/s")
		})
	}
}

// BenchmarkTransactionRatio runs the work of BenchmarkTransaction through the engine and through
// raw Pebble in alternating slices (twenty of each), so that what other processes on a shared
// machine take falls on both alike, and reports both rates and the ratio of their times per
// transaction. Each op is one transaction of each.
func BenchmarkTransactionRatio(b *testing.B) {
	for _, c := range txCases {
		b.Run(fmt.Sprintf("store=%s,sync=%v,goroutines=%d", c.store, c.store == "disk", c.goroutines), func(b *testing.B) {
			engine, _ := engineTx(b, c.store)
			raw := pebbleTx(b, c.store)
			b.ResetTimer()
			var te, tp, ce, cp time.Duration
			chunk := max(1, b.N/20)
			for done := 0; done < b.N; done += chunk {
				n := min(chunk, b.N-done)
				start, cpu := time.Now(), processCPU()
				runWorkers(n, c.goroutines, engine)
				te += time.Since(start)
				ce += processCPU() - cpu
				start, cpu = time.Now(), processCPU()
				runWorkers(n, c.goroutines, raw)
				tp += time.Since(start)
				cp += processCPU() - cpu
			}
			b.ReportMetric(float64(b.N)/te.Seconds(), "engine-tx/s")
			b.ReportMetric(float64(b.N)/tp.Seconds(), "pebble-tx/s")
			b.ReportMetric(te.Seconds()/tp.Seconds(), "ratio")
			// CPU time (of the whole process, garbage collection included) is disturbed less by
			// other processes than elapsed time; with sync on, elapsed time is mostly the disk's.
			b.ReportMetric(ce.Seconds()/cp.Seconds(), "cpu-ratio")
		})
	}
}

// engineTx opens an engine store (closed when b ends) with the benchmark's keys and returns the
// transaction of the benchmark, and a count of its commits that conflicted.
func engineTx(b *testing.B, store string) (work func(rng *rand.Rand, key []byte), conflicts *atomic.Int64) {
	path := ""
	if store == "disk" {
		path = b.TempDir()
	}
	db, err := embedded.Open(path, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	value := make([]byte, 100)
	for i := 0; i < benchKeys; i += 10_000 {
		tr, _ := db.CreateTransaction()
		for j := i; j < i+10_000; j++ {
			tr.Set(benchKey(nil, j), value)
		}
		if err := tr.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	conflicts = new(atomic.Int64)
	return func(rng *rand.Rand, key []byte) {
		key = benchKey(key, rng.IntN(benchKeys))
		tr, err := db.CreateTransaction()
		if err != nil {
			b.Error(err)
			return
		}
		if _, err := tr.Get(key).Get(); err != nil {
			b.Error(err)
		}
		tr.Set(key, value)
		if err := tr.Commit(); err != nil {
			if !errors.Is(err, kv.ErrNotCommitted) {
				b.Error(err)
			}
			conflicts.Add(1)
		}
	}, conflicts
}

// pebbleTx opens a raw Pebble store with the engine's settings and the benchmark's keys, and
// returns the same work done directly: a read, and a batch of one write committed.
func pebbleTx(b *testing.B, store string) func(rng *rand.Rand, key []byte) {
	// The engine's own settings (pebbleOptions in storage.go), so the ratio measures the
	// engine's own work.
	opts := embedded.PebbleOptions(store == "memory")
	opts.Logger = quietLogger{}
	dir, wo := b.TempDir(), pebble.Sync
	if store == "memory" {
		dir, wo = "", pebble.NoSync
	}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	value := make([]byte, 100)
	for i := 0; i < benchKeys; i += 10_000 {
		batch := db.NewBatch()
		for j := i; j < i+10_000; j++ {
			batch.Set(benchKey(nil, j), value, nil)
		}
		if err := batch.Commit(wo); err != nil {
			b.Fatal(err)
		}
	}
	return func(rng *rand.Rand, key []byte) {
		key = benchKey(key, rng.IntN(benchKeys))
		if v, closer, err := db.Get(key); err == nil {
			_ = append([]byte(nil), v...)
			closer.Close()
		} else if !errors.Is(err, pebble.ErrNotFound) {
			b.Error(err)
		}
		batch := db.NewBatch()
		batch.Set(key, value, nil)
		if err := batch.Commit(wo); err != nil {
			b.Error(err)
		}
		batch.Close()
	}
}

// runWorkers runs n calls of work spread over the given number of goroutines.
func runWorkers(n, goroutines int, work func(rng *rand.Rand, key []byte)) {
	var next atomic.Int64
	done := make(chan struct{})
	for g := range goroutines {
		go func() {
			defer func() { done <- struct{}{} }()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			key := make([]byte, 0, 16)
			for next.Add(1) <= int64(n) {
				work(rng, key)
			}
		}()
	}
	for range goroutines {
		<-done
	}
}

// BenchmarkRangeRead reads 1,000 keys with 100-byte values in one range read.
func BenchmarkRangeRead(b *testing.B) {
	const rows = 1000
	for _, mode := range []string{"slice", "iterator"} {
		b.Run(fmt.Sprintf("rows=%d,value=100B,read=%s", rows, mode), func(b *testing.B) {
			db, err := embedded.Open("", nil)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			value := make([]byte, 100)
			tr, _ := db.CreateTransaction()
			for i := range rows {
				tr.Set(benchKey(nil, i), value)
			}
			if err := tr.Commit(); err != nil {
				b.Fatal(err)
			}
			r := kv.Range{Begin: []byte("bench/"), End: []byte("bench0")}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := processCPU()
			for range b.N {
				tr, _ := db.CreateTransaction()
				n := 0
				res := tr.GetRange(r, kv.RangeOptions{})
				if mode == "slice" {
					kvs, err := res.GetSlice()
					if err != nil {
						b.Fatal(err)
					}
					n = len(kvs)
				} else {
					it := res.Iterator()
					for it.Next() {
						n++
					}
					if err := it.Err(); err != nil {
						b.Fatal(err)
					}
				}
				if n != rows {
					b.Fatalf("read %d rows, want %d", n, rows)
				}
				tr.Cancel()
			}
			reportCPU(b, cpu, b.N)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/key")
		})
	}
}

// BenchmarkRangeReadPebble is raw Pebble doing the work of BenchmarkRangeRead (iterate and copy
// 1,000 rows out of a snapshot), for the ratio.
func BenchmarkRangeReadPebble(b *testing.B) {
	const rows = 1000
	b.Run(fmt.Sprintf("rows=%d,value=100B,read=copy", rows), func(b *testing.B) {
		opts := &pebble.Options{Logger: quietLogger{}, FS: vfs.NewMem(), DisableWAL: true}
		db, err := pebble.Open("", opts)
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		value := make([]byte, 100)
		batch := db.NewBatch()
		for i := range rows {
			batch.Set(benchKey(nil, i), value, nil)
		}
		if err := batch.Commit(pebble.NoSync); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			snap := db.NewSnapshot()
			it, err := snap.NewIter(&pebble.IterOptions{LowerBound: []byte("bench/"), UpperBound: []byte("bench0")})
			if err != nil {
				b.Fatal(err)
			}
			var out []kv.KeyValue
			for it.First(); it.Valid(); it.Next() {
				out = append(out, kv.KeyValue{Key: append([]byte(nil), it.Key()...), Value: append([]byte(nil), it.Value()...)})
			}
			it.Close()
			snap.Close()
			if len(out) != rows {
				b.Fatalf("read %d rows", len(out))
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/key")
	})
}

// quietLogger keeps raw Pebble's log lines out of benchmark output.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)         {}
func (quietLogger) Errorf(string, ...any)        {}
func (quietLogger) Fatalf(f string, args ...any) { panic(fmt.Sprintf(f, args...)) }

// BenchmarkHotKeyReverseRead is the directory allocator's pattern: each transaction adds one to
// a counter key with an atomic ADD and reads the last key of the counters' range in reverse
// with limit 1, so the counter gains a version per commit. Raw Pebble does the same work (read,
// add, write the counter; reverse-read the range's last key through an iterator), and pays for
// stepping over every version in the memtable; the engine reads the hot key forwards.
func BenchmarkHotKeyReverseRead(b *testing.B) {
	counters := kv.Range{Begin: []byte("counters/"), End: []byte("counters0")}
	counter := []byte("counters/\x15\x40")
	one := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	b.Run("engine=embedded,store=memory", func(b *testing.B) {
		db, err := embedded.Open("", nil)
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		b.ReportAllocs()
		for b.Loop() {
			tr, _ := db.CreateTransaction()
			tr.Atomic(kv.Add, counter, one)
			kvs, err := tr.Snapshot().GetRange(counters, kv.RangeOptions{Limit: 1, Reverse: true}).GetSlice()
			if err != nil || len(kvs) != 1 {
				b.Fatal(err, kvs)
			}
			if err := tr.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("engine=pebble,store=memory", func(b *testing.B) {
		opts := &pebble.Options{Logger: quietLogger{}, FS: vfs.NewMem(), DisableWAL: true, MemTableSize: 32 << 20}
		db, err := pebble.Open("", opts)
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		b.ReportAllocs()
		var out []byte
		for b.Loop() {
			var n uint64
			if v, closer, err := db.Get(counter); err == nil {
				n = binary.LittleEndian.Uint64(v)
				closer.Close()
			}
			batch := db.NewBatch()
			batch.Set(counter, binary.LittleEndian.AppendUint64(nil, n+1), nil)
			if err := batch.Commit(pebble.NoSync); err != nil {
				b.Fatal(err)
			}
			batch.Close()
			it, err := db.NewIter(&pebble.IterOptions{LowerBound: counters.Begin, UpperBound: counters.End})
			if err != nil {
				b.Fatal(err)
			}
			if it.Last() {
				out = append(append(out[:0], it.Key()...), it.Value()...)
			}
			it.Close()
		}
	})
}

// reportCPU reports the process's CPU time since cpu per op, as cpu-ns/op: on a shared machine
// less disturbed than elapsed time.
func reportCPU(b *testing.B, cpu time.Duration, ops int) {
	b.ReportMetric(float64((processCPU()-cpu).Nanoseconds())/float64(ops), "cpu-ns/op")
}

// processCPU is the CPU time the process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
