package kvtest

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
)

func workloadCases() []testCase {
	return []testCase{
		{"Cycle", testCycle},
		{"Bank", testBank},
		{"Versionstamps", testVersionstampWorkload},
		{"Watches", testWatchWorkload},
		{"Model", testModel},
	}
}

// withFaults runs fn with the workload fault rate switched on, and off again afterwards so that
// the invariant checks see the store as it is.
func withFaults(t *testing.T, db kv.Database, fn func()) {
	if setFaults(db, workloadFaults) {
		t.Logf("fault injection on: %+v", workloadFaults)
	}
	defer setFaults(db, kv.Faults{})
	fn()
}

// runWorkers runs fn in n goroutines and fails the test with every error they return.
func runWorkers(t *testing.T, n int, fn func(worker int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = fn(w)
		}()
	}
	wg.Wait()
	for w, err := range errs {
		require.NoError(t, err, "worker %d", w)
	}
}

// requireRetried checks that a workload on an engine with fault injection really was retried: at
// 15% injected failures, hundreds of transactions without a single retry mean faults were off.
func requireRetried(t *testing.T, db kv.Database, attempts, txs int64) {
	t.Helper()
	t.Logf("%d transactions took %d attempts", txs, attempts)
	if _, ok := db.(kv.FaultInjector); ok {
		require.Greater(t, attempts, txs, "with faults injected some transactions must have been retried")
	}
}

func scale(normal, long int) int {
	if soak() {
		return long
	}
	return normal
}

// ---- Cycle ----------------------------------------------------------------------------------

// Cycle keeps N keys in a ring (each value names the next key) and swaps neighbours
// concurrently: a -> b -> c -> d becomes a -> c -> b -> d. Each transaction reads what it changes,
// so a retry after a commit that was applied but reported 1021 makes a fresh, valid swap.
func testCycle(t *testing.T, s *suite) {
	db := s.db(t)
	ctx := context.Background()
	const n = 32
	key := func(i int) []byte { return fmt.Appendf(nil, "cycle/%03d", i) }
	write(t, db, func(tr kv.Transaction) {
		for i := range n {
			tr.Set(key(i), binary.BigEndian.AppendUint32(nil, uint32((i+1)%n)))
		}
	})
	next := func(tr kv.ReadTransaction, i uint32) (uint32, error) {
		v, err := tr.Get(key(int(i))).Get()
		if err != nil {
			return 0, err
		}
		if len(v) != 4 {
			return 0, fmt.Errorf("cycle: key %d holds %x, want a 4-byte index", i, v)
		}
		return binary.BigEndian.Uint32(v), nil
	}
	checkRing := func(tr kv.ReadTransaction) error {
		rows, err := tr.GetRange(rng("cycle/", "cycle0"), kv.RangeOptions{}).GetSlice()
		if err != nil {
			return err
		}
		if len(rows) != n {
			return fmt.Errorf("cycle: %d keys, want %d", len(rows), n)
		}
		seen := make([]bool, n)
		at := uint32(0)
		for range n {
			if at >= n || seen[at] {
				return fmt.Errorf("cycle: ring broken at %d", at)
			}
			seen[at] = true
			at = binary.BigEndian.Uint32(rows[at].Value)
		}
		if at != 0 {
			return fmt.Errorf("cycle: ring does not close: ends at %d", at)
		}
		return nil
	}
	txs := scale(200, 5000)
	var stop atomic.Bool
	var attempts atomic.Int64
	withFaults(t, db, func() {
		var checks atomic.Int64
		runWorkers(t, 5, func(w int) error {
			if w == 4 { // a reader checks the ring in consistent snapshots while it changes
				for !stop.Load() {
					if err := db.ReadTransact(ctx, checkRing); err != nil {
						return err
					}
					checks.Add(1)
				}
				return nil
			}
			defer func() {
				if w == 0 {
					stop.Store(true)
				}
			}()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for range txs {
				_, err := kv.Transact(ctx, db, func(tr kv.Transaction) (struct{}, error) {
					attempts.Add(1)
					a := uint32(r.IntN(n))
					bb, err := next(tr, a)
					if err != nil {
						return struct{}{}, err
					}
					c, err := next(tr, bb)
					if err != nil {
						return struct{}{}, err
					}
					d, err := next(tr, c)
					if err != nil {
						return struct{}{}, err
					}
					tr.Set(key(int(a)), binary.BigEndian.AppendUint32(nil, c))
					tr.Set(key(int(c)), binary.BigEndian.AppendUint32(nil, bb))
					tr.Set(key(int(bb)), binary.BigEndian.AppendUint32(nil, d))
					return struct{}{}, nil
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
		stop.Store(true)
		require.Positive(t, checks.Load(), "the concurrent ring check ran")
	})
	requireRetried(t, db, attempts.Load(), int64(4*txs))
	require.NoError(t, db.ReadTransact(ctx, checkRing), "ring intact after the workload")
}

// ---- Bank -----------------------------------------------------------------------------------

// Bank moves money between accounts concurrently (some transfers credit with an atomic ADD);
// an auditor checks in consistent snapshots that the total never changes and no balance is
// negative.
func testBank(t *testing.T, s *suite) {
	db := s.db(t)
	ctx := context.Background()
	const accounts, initial = 20, 1000
	key := func(i int) []byte { return fmt.Appendf(nil, "bank/%02d", i) }
	write(t, db, func(tr kv.Transaction) {
		for i := range accounts {
			tr.Set(key(i), le64(initial))
		}
	})
	audit := func(tr kv.ReadTransaction) error {
		rows, err := tr.GetRange(rng("bank/", "bank0"), kv.RangeOptions{}).GetSlice()
		if err != nil {
			return err
		}
		if len(rows) != accounts {
			return fmt.Errorf("bank: %d accounts, want %d", len(rows), accounts)
		}
		var sum int64
		for _, r := range rows {
			v := int64(fromLE(r.Value))
			if v < 0 {
				return fmt.Errorf("bank: account %s is negative: %d", r.Key, v)
			}
			sum += v
		}
		if sum != accounts*initial {
			return fmt.Errorf("bank: total %d, want %d", sum, accounts*initial)
		}
		return nil
	}
	txs := scale(200, 5000)
	var stop atomic.Bool
	var attempts atomic.Int64
	withFaults(t, db, func() {
		var audits atomic.Int64
		runWorkers(t, 5, func(w int) error {
			if w == 4 {
				for !stop.Load() {
					if err := db.ReadTransact(ctx, audit); err != nil {
						return err
					}
					audits.Add(1)
				}
				return nil
			}
			defer func() {
				if w == 0 {
					stop.Store(true)
				}
			}()
			r := rand.New(rand.NewPCG(uint64(w), 2))
			for range txs {
				from, to := r.IntN(accounts), r.IntN(accounts-1)
				if to >= from {
					to++
				}
				amount := int64(1 + r.IntN(100))
				useAtomic := r.IntN(3) == 0
				_, err := kv.Transact(ctx, db, func(tr kv.Transaction) (struct{}, error) {
					attempts.Add(1)
					fv, err := tr.Get(key(from)).Get()
					if err != nil {
						return struct{}{}, err
					}
					bal := int64(fromLE(fv))
					amt := min(amount, bal)
					tr.Set(key(from), le64(uint64(bal-amt)))
					if useAtomic {
						tr.Atomic(kv.Add, key(to), le64(uint64(amt)))
						return struct{}{}, nil
					}
					tv, err := tr.Get(key(to)).Get()
					if err != nil {
						return struct{}{}, err
					}
					tr.Set(key(to), le64(uint64(int64(fromLE(tv))+amt)))
					return struct{}{}, nil
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
		stop.Store(true)
		require.Positive(t, audits.Load(), "the concurrent audit ran")
	})
	requireRetried(t, db, attempts.Load(), int64(4*txs))
	require.NoError(t, db.ReadTransact(ctx, audit), "total intact after the workload")
}

// ---- Versionstamps --------------------------------------------------------------------------

type stampRecord struct {
	writer, seq    int
	stamp          []byte
	committed      int64 // -1 when the commit was applied by an attempt that reported 1021
	started, acked int64
}

// Versionstamps has concurrent writers each commit numbered transactions that write a
// versionstamped key and, in the same transaction, a marker whose value is the versionstamp. A
// retry after 1021 finds the marker and does not write again, so every number is written exactly
// once. Stamps must be unique, increase with each writer's numbers, agree with commit versions,
// and follow real time: a commit acknowledged before another started has the smaller stamp.
func testVersionstampWorkload(t *testing.T, s *suite) {
	db := s.db(t)
	ctx := context.Background()
	const writers = 5
	per := scale(100, 2000)
	var clock atomic.Int64
	records := make([][]stampRecord, writers)
	withFaults(t, db, func() {
		runWorkers(t, writers, func(w int) error {
			for i := range per {
				marker := fmt.Appendf(nil, "vsw/done/%d/%04d", w, i)
				started := clock.Add(1)
				var last kv.Transaction
				type result struct {
					stamp kv.Future[[10]byte]
					prior []byte
				}
				res, err := kv.Transact(ctx, db, func(tr kv.Transaction) (result, error) {
					last = tr
					prior, err := tr.Get(marker).Get()
					if err != nil || prior != nil {
						return result{prior: prior}, err
					}
					tr.Atomic(kv.SetVersionstampedKey, cat(b("vsw/log/"), placeholder, le32(8)), fmt.Appendf(nil, "%d/%04d", w, i))
					tr.Atomic(kv.SetVersionstampedValue, marker, cat(placeholder, le32(0)))
					return result{stamp: tr.GetVersionstamp()}, nil
				})
				if err != nil {
					return err
				}
				rec := stampRecord{writer: w, seq: i, started: started, acked: clock.Add(1), committed: -1}
				if res.prior != nil {
					rec.stamp = res.prior
				} else {
					vs, err := res.stamp.Get()
					if err != nil {
						return fmt.Errorf("GetVersionstamp after a successful commit: %w", err)
					}
					rec.stamp = bytes.Clone(vs[:])
					if rec.committed, err = last.GetCommittedVersion(); err != nil {
						return err
					}
				}
				records[w] = append(records[w], rec)
			}
			return nil
		})
	})

	rows, err := dump(ctx, db)
	require.NoError(t, err)
	logged := map[string]string{} // writer/seq -> stamp in the key
	markers := map[string]string{}
	for _, r := range rows {
		switch {
		case bytes.HasPrefix(r.Key, b("vsw/log/")):
			require.Len(t, r.Key, 18)
			_, dup := logged[string(r.Value)]
			require.False(t, dup, "number %s was written twice", r.Value)
			logged[string(r.Value)] = hexs(r.Key[8:])
		case bytes.HasPrefix(r.Key, b("vsw/done/")):
			markers[string(r.Key[len("vsw/done/"):])] = hexs(r.Value)
		}
	}
	require.Len(t, logged, writers*per, "every number was written once")
	var all []stampRecord
	seen := map[string]bool{}
	for w := range writers {
		require.Len(t, records[w], per)
		for i, rec := range records[w] {
			id := fmt.Sprintf("%d/%04d", w, i)
			st := hexs(rec.stamp)
			require.Len(t, rec.stamp, 10)
			require.Equal(t, st, logged[id], "the key's stamp of %s is the transaction's versionstamp", id)
			require.Equal(t, st, markers[id], "the value's stamp of %s is the same", id)
			require.False(t, seen[st], "stamp %s is unique", st)
			seen[st] = true
			if rec.committed >= 0 {
				require.Equal(t, uint64(rec.committed), binary.BigEndian.Uint64(rec.stamp[:8]), "stamp of %s starts with its commit version", id)
			}
			if i > 0 {
				require.Positive(t, bytes.Compare(rec.stamp, records[w][i-1].stamp), "stamps of writer %d increase", w)
			}
			all = append(all, rec)
		}
	}
	for _, a := range all {
		for _, c := range all {
			if a.acked < c.started {
				require.Negative(t, bytes.Compare(a.stamp, c.stamp),
					"%d/%d was acknowledged before %d/%d started, so its stamp is smaller", a.writer, a.seq, c.writer, c.seq)
			}
		}
	}
}

// ---- Watches --------------------------------------------------------------------------------

// Watches has writers increment a counter (each increment exactly once, through a marker) while
// watchers re-arm a watch after every change: every watch must fire, each change must be seen
// as an increase, and every watcher must reach the final count.
func testWatchWorkload(t *testing.T, s *suite) {
	db := s.db(t)
	ctx := context.Background()
	const writers, watchers = 3, 3
	per := scale(50, 1000)
	target := uint64(writers * per)
	counter := b("watch/counter")
	write(t, db, func(tr kv.Transaction) { tr.Set(counter, le64(0)) })
	withFaults(t, db, func() {
		runWorkers(t, writers+watchers, func(w int) error {
			if w < writers {
				for i := range per {
					marker := fmt.Appendf(nil, "watch/done/%d/%04d", w, i)
					_, err := kv.Transact(ctx, db, func(tr kv.Transaction) (struct{}, error) {
						done, err := tr.Get(marker).Get()
						if err != nil || done != nil {
							return struct{}{}, err
						}
						tr.Set(marker, nil)
						tr.Atomic(kv.Add, counter, le64(1))
						return struct{}{}, nil
					})
					if err != nil {
						return err
					}
					time.Sleep(time.Duration(rand.IntN(1000)) * time.Microsecond)
				}
				return nil
			}
			var prev uint64
			fires := 0
			for {
				type armed struct {
					v uint64
					w kv.Watch
				}
				a, err := kv.Transact(ctx, db, func(tr kv.Transaction) (armed, error) {
					v, err := tr.Get(counter).Get()
					if err != nil {
						return armed{}, err
					}
					return armed{fromLE(v), tr.Watch(counter)}, nil
				})
				if err != nil {
					return err
				}
				if a.v < prev {
					a.w.Cancel()
					return fmt.Errorf("watcher %d: counter went back from %d to %d", w, prev, a.v)
				}
				if fires > 0 && a.v == prev {
					a.w.Cancel()
					return fmt.Errorf("watcher %d: watch fired but the counter stayed %d", w, prev)
				}
				prev = a.v
				if a.v >= target {
					a.w.Cancel()
					if a.v != target {
						return fmt.Errorf("watcher %d: counter %d, want %d", w, a.v, target)
					}
					return nil
				}
				wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				err = a.w.Wait(wctx)
				cancel()
				if err != nil {
					return fmt.Errorf("watcher %d: watch at count %d did not fire: %w", w, a.v, err)
				}
				fires++
			}
		})
	})
	require.Equal(t, target, fromLE(getDB(t, db, counter)))
}
