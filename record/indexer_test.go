package record_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/record/internal/testpb"
	"github.com/layerkit/layerkit/tuple"
)

// withTitleIndex is the test schema at version 2, which adds an index on the title.
func withTitleIndex(t testing.TB) *record.MetaData {
	t.Helper()
	md, err := testBuilder().SetVersion(2).
		AddIndex(record.Index{Name: "by_title", RecordTypes: []string{"Book"}, Expression: record.Field("title")}).Build()
	require.NoError(t, err)
	return md
}

// fill saves books 0…n-1, with branch and shelf derived from the id (so the writers of a test
// can address them) and random titles.
func (e *env) fill(rng *rand.Rand, n int) {
	e.t.Helper()
	for i := 0; i < n; i += 200 {
		e.must(func(st *record.Store) error {
			for j := i; j < min(i+200, n); j++ {
				b := book(fmt.Sprintf("b%02d", j%40), int64(j%20), int64(j), fmt.Sprintf("title %d", rng.IntN(300)), "a", int32(j))
				if _, err := st.SaveRecord(b); err != nil {
					return err
				}
			}
			return nil
		})
	}
	_, err := kv.Transact(context.Background(), e.db, func(tr kv.Transaction) (any, error) {
		_, err := tr.GetReadVersion().Get()
		return nil, err
	})
	require.NoError(e.t, err)
}

// freshEntries returns the entries a rebuild of the index in one transaction writes, without
// committing it.
func (e *env) freshEntries(name string) []tuple.Tuple {
	e.t.Helper()
	var out []tuple.Tuple
	errAbort := errors.New("abort")
	err := e.db.Transact(context.Background(), func(tr kv.Transaction) error {
		st, err := record.Open(context.Background(), tr, e.md, e.prefix)
		if err != nil {
			return err
		}
		if err := st.RebuildIndex(name); err != nil {
			return err
		}
		p := e.prefix.Pack(tuple.Tuple{int64(2), name})
		rows, err := tr.GetRange(kv.Range{Begin: append(append([]byte(nil), p...), 0), End: append(p, 0xff)}, kv.RangeOptions{}).GetSlice()
		if err != nil {
			return err
		}
		out = out[:0]
		for _, r := range rows {
			t, err := tuple.Unpack(r.Key[len(p):])
			if err != nil {
				return err
			}
			out = append(out, t)
		}
		return errAbort
	})
	require.ErrorIs(e.t, err, errAbort)
	return out
}

func (e *env) state(name string) record.IndexState {
	e.t.Helper()
	var s record.IndexState
	e.must(func(st *record.Store) error {
		var err error
		s, err = st.IndexState(name)
		return err
	})
	return s
}

// The range set keys under S+(6, index), decoded: begin → end.
func (e *env) rangeSet(name string) []string {
	e.t.Helper()
	p := e.prefix.Pack(tuple.Tuple{int64(6), name})
	var out []string
	for _, r := range e.dump() {
		if len(r.Key) > len(p) && string(r.Key[:len(p)]) == string(p) {
			t, err := tuple.Unpack(r.Key[len(p):])
			require.NoError(e.t, err)
			require.Len(e.t, t, 1)
			out = append(out, fmt.Sprintf("%s → %s", kv.Printable(t[0].([]byte)), kv.Printable(r.Value)))
		}
	}
	return out
}

// A store opened with metadata that adds an index over existing records gets it DISABLED (the
// Java Record Layer's default without a record count); BuildIndex builds it in many
// transactions, with the batch adapting, and the result is exactly what a rebuild writes.
func TestBuildIndex(t *testing.T) {
	e := newEnv(t)
	// The batch sizes asserted below are those of commits that succeed at once: no faults.
	e.db.(kv.FaultInjector).InjectFaults(kv.Faults{})
	e.fill(seededRand(t, 5), 1000)
	e.md = withTitleIndex(t)
	require.Equal(t, record.Disabled, e.state("by_title"))
	var progress []record.IndexBuildProgress
	err := record.BuildIndex(context.Background(), e.db, e.md, e.prefix, "by_title", record.IndexBuildOptions{
		InitialBatch: 3, MaxBatch: 150,
		Progress: func(p record.IndexBuildProgress) { progress = append(progress, p) },
	})
	require.NoError(t, err)
	require.Equal(t, record.Readable, e.state("by_title"))
	require.Equal(t, e.freshEntries("by_title"), e.indexEntries("by_title"))
	require.Len(t, e.indexEntries("by_title"), 1000)
	require.Empty(t, e.rangeSet("by_title"), "a READABLE index keeps no range set")

	require.Greater(t, len(progress), 7)
	last := progress[len(progress)-1]
	require.EqualValues(t, 1000, last.Records)
	require.Equal(t, "by_title", last.Index)
	require.Positive(t, last.Rate)
	require.EqualValues(t, 1000, last.EstimatedTotal, "once the whole key space is built, the estimate is the count")
	require.Equal(t, 3, progress[0].Batch-5, "the batch grows by 5 below 5")
	require.Equal(t, 150, last.Batch, "and up to MaxBatch")
	for _, p := range progress[1:] {
		require.Positive(t, p.EstimatedTotal)
	}
}

// Each transaction stops at the write budget (the 10 MB limit's stand-in) or the time budget
// (the 5 s limit's), whatever the batch allows; the throttle spaces transactions.
func TestBuildIndexBudgetsAndThrottle(t *testing.T) {
	e := newEnv(t)
	// The batch sizes asserted below are those of commits that succeed at once: no faults.
	e.db.(kv.FaultInjector).InjectFaults(kv.Faults{})
	e.fill(seededRand(t, 13), 300)
	e.md = withTitleIndex(t)
	var batches []int64
	last := int64(0)
	err := record.BuildIndex(context.Background(), e.db, e.md, e.prefix, "by_title", record.IndexBuildOptions{
		InitialBatch: 1000, MaxWriteBytes: 1000,
		Progress: func(p record.IndexBuildProgress) { batches = append(batches, p.Records-last); last = p.Records },
	})
	require.NoError(t, err)
	require.Greater(t, len(batches), 10)
	for _, n := range batches {
		// An entry is over 40 bytes; the batch stops once 1,000 bytes were written.
		require.LessOrEqual(t, n, int64(26), "batches %v", batches)
	}

	e.must(func(st *record.Store) error { return st.SetIndexState("by_title", record.Disabled) })
	batches = batches[:0]
	err = record.BuildIndex(context.Background(), e.db, e.md, e.prefix, "by_title", record.IndexBuildOptions{
		TransactionTime: time.Nanosecond,
		Progress:        func(p record.IndexBuildProgress) { batches = append(batches, p.Records) },
	})
	require.NoError(t, err)
	require.Len(t, batches, 300, "a transaction past its time indexes one record")

	e.must(func(st *record.Store) error { return st.SetIndexState("by_title", record.Disabled) })
	start := time.Now()
	require.NoError(t, record.BuildIndex(context.Background(), e.db, e.md, e.prefix, "by_title", record.IndexBuildOptions{
		InitialBatch: 50, MaxBatch: 50, RecordsPerSecond: 2500,
	}))
	// 300 records at 2,500 a second: the five batches after the first wait 20 ms each.
	require.GreaterOrEqual(t, time.Since(start), 90*time.Millisecond)
	require.Equal(t, e.freshEntries("by_title"), e.indexEntries("by_title"))
}

// The range set of a build in progress is Java's: one key per range, packed primary keys, the
// ranges outside the index's record type marked built from the start.
func TestBuildIndexRangeSetLayout(t *testing.T) {
	e := newEnv(t)
	// A commit that fails makes the builder move elsewhere: the layout asserted below is that
	// of commits that succeed at once.
	e.db.(kv.FaultInjector).InjectFaults(kv.Faults{})
	e.fill(seededRand(t, 6), 50)
	e.md = withTitleIndex(t)
	ctx, cancel := context.WithCancel(context.Background())
	err := record.BuildIndex(ctx, e.db, e.md, e.prefix, "by_title", record.IndexBuildOptions{
		InitialBatch: 10, Progress: func(record.IndexBuildProgress) { cancel() },
	})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, record.WriteOnly, e.state("by_title"))
	// The checker knows a build in progress: records it has not reached need no entries.
	require.NoError(t, record.Check(e.md, e.prefix)(context.Background(), e.db))
	rs := e.rangeSet("by_title")
	require.Len(t, rs, 2)
	// Book primary keys start with the type key 1: everything before (1) and after (1)+\xff is
	// built; the first batch extended the first range to the 11th book.
	require.Regexp(t, `^\\x00 → \\x15\\x01\\x02b`, rs[0])
	require.Equal(t, `\x15\x01\xff → \xff`, rs[1])
	require.Len(t, e.indexEntries("by_title"), 10)
	// The build stamp: BY_RECORDS, as Java writes it.
	require.Equal(t, []byte{0x08, 0x01}, e.value(tuple.Tuple{int64(9), "by_title", int64(2)}))
	// Resumed, it finishes.
	require.NoError(t, record.BuildIndex(context.Background(), e.db, e.md, e.prefix, "by_title", record.IndexBuildOptions{}))
	require.Equal(t, record.Readable, e.state("by_title"))
	require.Equal(t, e.freshEntries("by_title"), e.indexEntries("by_title"))
	require.Nil(t, e.value(tuple.Tuple{int64(9), "by_title", int64(2)}), "READABLE drops the build data")
}

func (e *env) value(t tuple.Tuple) []byte {
	e.t.Helper()
	k := string(e.prefix.Pack(t))
	for _, r := range e.dump() {
		if string(r.Key) == k {
			return r.Value
		}
	}
	return nil
}

// Marking a READABLE index WRITE_ONLY records the whole key space as built, as Java does, so a
// build finds nothing to do; DISABLED clears entries and range set.
func TestWriteOnlyKeepsTheBuiltRange(t *testing.T) {
	e := newEnv(t)
	e.fill(seededRand(t, 7), 20)
	e.must(func(st *record.Store) error { return st.SetIndexState("by_author", record.WriteOnly) })
	require.Equal(t, []string{`\x00 → \xff`}, e.rangeSet("by_author"))
	// Java's bytes: S+(6, "by_author", b"\x00") → \xff.
	require.Equal(t, []byte{0xff}, e.value(tuple.Tuple{int64(6), "by_author", []byte{0x00}}))
	entries := e.indexEntries("by_author")
	require.Len(t, entries, 20)
	var batches int
	require.NoError(t, record.BuildIndex(context.Background(), e.db, e.md, e.prefix, "by_author", record.IndexBuildOptions{Progress: func(record.IndexBuildProgress) { batches++ }}))
	require.Zero(t, batches)
	require.Equal(t, record.Readable, e.state("by_author"))
	require.Equal(t, entries, e.indexEntries("by_author"))

	// A Java store may hold leaderboard windows under S+(10, index); DISABLED clears them too.
	e.put(kv.KeyValue{Key: e.rel(int64(10), "by_author", "w"), Value: []byte{1}})
	e.must(func(st *record.Store) error { return st.SetIndexState("by_author", record.Disabled) })
	require.Nil(t, e.value(tuple.Tuple{int64(10), "by_author", "w"}))
	require.Empty(t, e.rangeSet("by_author"))
	require.Empty(t, e.indexEntries("by_author"))
	err := e.do(func(st *record.Store) error { return st.SetIndexState("by_author", record.Readable) })
	require.ErrorIs(t, err, record.ErrIndexNotBuilt)
	require.NoError(t, record.BuildIndex(context.Background(), e.db, e.md, e.prefix, "by_author", record.IndexBuildOptions{}))
	require.Equal(t, entries, e.indexEntries("by_author"))
}

// A builder killed at random points (its context cancelled mid-transaction) and started again,
// with commit faults injected, ends with exactly the index a fresh build gives.
func TestBuildIndexKilledAndResumed(t *testing.T) {
	rng := seededRand(t, 8)
	e := newEnv(t)
	e.fill(rng, 600)
	e.md = withTitleIndex(t)
	kills := 0
	for e.state("by_title") != record.Readable {
		require.Less(t, kills, 500, "the build does not end")
		// Killed after a random time, or at the latest after a random number of committed
		// batches (so that a fast machine cannot finish the first build unkilled).
		ctx, cancel := context.WithCancel(context.Background())
		timer := time.AfterFunc(time.Duration(rng.IntN(3000))*time.Microsecond, cancel)
		batches, killAt := 0, 1+rng.IntN(3)
		err := record.BuildIndex(ctx, e.db, e.md, e.prefix, "by_title", record.IndexBuildOptions{
			InitialBatch: 1 + rng.IntN(20), MaxBatch: 40,
			Progress: func(record.IndexBuildProgress) {
				if batches++; batches == killAt {
					cancel()
				}
			},
		})
		timer.Stop()
		cancel()
		if err != nil {
			require.ErrorIs(t, err, context.Canceled)
			kills++
			require.NoError(t, record.Check(e.md, e.prefix)(context.Background(), e.db))
		}
	}
	t.Logf("killed %d times", kills)
	require.Positive(t, kills)
	require.Equal(t, e.freshEntries("by_title"), e.indexEntries("by_title"))
}

// Two builders at once, each killed and restarted at random, while writers save, change and
// delete books: the index ends exactly as a fresh build makes it, and the checker agrees.
func TestBuildIndexConcurrentBuildersAndWriters(t *testing.T) {
	rng := seededRand(t, 9)
	e := newEnv(t)
	e.fill(rng, 800)
	e.md = withTitleIndex(t)
	e.buildWhileWriting(rng, "by_title")
	require.Equal(t, e.freshEntries("by_title"), e.indexEntries("by_title"))
	e.must(func(st *record.Store) error { return st.SetIndexState("by_title", record.Readable) })
	require.Equal(t, record.Readable, e.state("by_title"))
	require.NoError(t, record.Check(e.md, e.prefix)(context.Background(), e.db))
}

// The same with a COUNT index, whose updates are not idempotent: the build reads with range
// conflicts and saves count only records in built ranges, so every record is counted once.
func TestBuildCountIndexConcurrentBuildersAndWriters(t *testing.T) {
	rng := seededRand(t, 11)
	e := newEnv(t)
	e.fill(rng, 600)
	md, err := testBuilder().SetVersion(2).
		AddIndex(record.Index{Name: "count_by_title", RecordTypes: []string{"Book"}, Type: record.CountIndex, Expression: record.GroupBy(record.Empty(), record.Field("title"))}).Build()
	require.NoError(t, err)
	e.md = md
	e.buildWhileWriting(rng, "count_by_title")
	e.must(func(st *record.Store) error { return st.SetIndexState("count_by_title", record.Readable) })
	want := map[string]int64{}
	e.must(func(st *record.Store) error {
		clear(want)
		cur, err := st.ExecuteQuery(record.Query{RecordTypes: []string{"Book"}}, record.ExecuteOptions{})
		if err != nil {
			return err
		}
		for cur.Next() {
			want[cur.Record().Message.(*testpb.Book).Title]++
		}
		if err := cur.Err(); err != nil {
			return err
		}
		for title, n := range want {
			got, err := st.Count("count_by_title", tuple.Tuple{title})
			if err != nil {
				return err
			}
			require.Equal(t, n, got, "books titled %q", title)
		}
		return nil
	})
	require.NotEmpty(t, want)
	require.NoError(t, record.Check(e.md, e.prefix)(context.Background(), e.db))
}

// buildWhileWriting builds index name with two builders, each killed at random and restarted,
// while two writers save, change and delete books, and returns once both builders finished
// (leaving the index WRITE_ONLY and fully built) and the writers stopped.
func (e *env) buildWhileWriting(rng *rand.Rand, name string) {
	t := e.t
	require.Equal(t, record.Disabled, e.state(name))
	// Start a build and stop it after one batch: the index is WRITE_ONLY, so the writers
	// maintain it from the start.
	ctx, cancel := context.WithCancel(context.Background())
	err := record.BuildIndex(ctx, e.db, e.md, e.prefix, name, record.IndexBuildOptions{InitialBatch: 1, Progress: func(record.IndexBuildProgress) { cancel() }})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, record.WriteOnly, e.state(name))

	stop := make(chan struct{})
	var writes, kills atomic.Int64
	var writers, builders sync.WaitGroup
	for w := 0; w < 2; w++ {
		seed := rng.Uint64()
		writers.Add(1)
		go func() {
			defer writers.Done()
			r := rand.New(rand.NewPCG(seed, 1))
			for {
				select {
				case <-stop:
					return
				default:
				}
				id := int64(r.IntN(1000))
				b := book(fmt.Sprintf("b%02d", id%40), id%20, id, fmt.Sprintf("title %d", r.IntN(300)), "w", int32(id))
				err := e.do(func(st *record.Store) error {
					if r.IntN(4) == 0 {
						_, err := st.Delete(bookPK(b.Branch, b.Shelf, b.Id))
						return err
					}
					_, err := st.SaveRecord(b)
					return err
				})
				if err != nil {
					t.Errorf("writer: %v", err)
					return
				}
				writes.Add(1)
			}
		}()
	}
	// Mid-build, with writers saving records the build has not reached, the store checks out.
	time.Sleep(10 * time.Millisecond)
	require.NoError(t, record.Check(e.md, e.prefix)(context.Background(), e.db))
	for k := 0; k < 2; k++ {
		seed := rng.Uint64()
		builders.Add(1)
		go func() {
			defer builders.Done()
			r := rand.New(rand.NewPCG(seed, 2))
			for {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(2+r.IntN(30))*time.Millisecond)
				err := record.BuildIndex(ctx, e.db, e.md, e.prefix, name, record.IndexBuildOptions{InitialBatch: 1 + r.IntN(10), MaxBatch: 30, KeepWriteOnly: true})
				cancel()
				if err == nil {
					return
				}
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("builder: %v", err)
					return
				}
				kills.Add(1)
			}
		}()
	}
	// Let the writers run past the builders' end, then stop them.
	builders.Wait()
	time.Sleep(20 * time.Millisecond)
	close(stop)
	writers.Wait()
	t.Logf("%d writes, %d builder kills, range set %v", writes.Load(), kills.Load(), e.rangeSet(name))
	require.Equal(t, record.WriteOnly, e.state(name))
}
