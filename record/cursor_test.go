package record_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/record/internal/testpb"
)

type page struct {
	ids    []int64
	reason record.StopReason
	cont   []byte
}

// pages runs q page by page, each page in its own transaction, calling between after each page.
func (e *env) pages(q record.Query, opts record.ExecuteOptions, between func(n int, last *testpb.Book)) []page {
	e.t.Helper()
	var out []page
	for n := 0; ; n++ {
		var pg page
		var last *testpb.Book
		e.must(func(st *record.Store) error {
			pg, last = page{}, nil
			cur, err := st.ExecuteQuery(q, opts)
			if err != nil {
				return err
			}
			for cur.Next() {
				b := cur.Record().Message.(*testpb.Book)
				pg.ids = append(pg.ids, b.Id)
				last = b
			}
			if err := cur.Err(); err != nil {
				return err
			}
			pg.reason, pg.cont = cur.StopReason(), cur.Continuation()
			return nil
		})
		out = append(out, pg)
		if pg.cont == nil {
			require.Equal(e.t, record.SourceExhausted, pg.reason)
			return out
		}
		require.Less(e.t, n, 10_000, "paging does not end")
		opts.Continuation = pg.cont
		if between != nil {
			between(n, last)
		}
	}
}

func flatten(pages []page) []int64 {
	var out []int64
	for _, p := range pages {
		out = append(out, p.ids...)
	}
	return out
}

// Paging with continuations across transactions, while other transactions insert and delete
// records between pages: every record present throughout is returned exactly once, no deleted
// record is returned after its deletion, records inserted ahead of the position are returned,
// and the order holds.
func TestContinuationsUnderConcurrentChanges(t *testing.T) {
	plans := []struct {
		name string
		q    record.Query
		key  func(b *testpb.Book) []any // sort key, for the ahead/behind test
	}{
		{"record scan", record.Query{RecordTypes: []string{"Book"}}, func(b *testpb.Book) []any { return []any{b.Branch, b.Shelf, b.Id} }},
		{"record scan reverse", record.Query{RecordTypes: []string{"Book"}, Sort: record.Field("branch"), Reverse: true}, func(b *testpb.Book) []any { return []any{b.Branch, b.Shelf, b.Id} }},
		{"index scan", record.Query{RecordTypes: []string{"Book"}, Sort: record.Field("year")}, func(b *testpb.Book) []any { return []any{b.Year, b.Title, b.Branch, b.Shelf, b.Id} }},
		{"index scan reverse", record.Query{RecordTypes: []string{"Book"}, Sort: record.Field("year"), Reverse: true}, func(b *testpb.Book) []any { return []any{b.Year, b.Title, b.Branch, b.Shelf, b.Id} }},
		{"index scan with residual", record.Query{RecordTypes: []string{"Book"}, Filter: record.And(record.Where("year").GreaterOrEqual(1920), record.Where("available").Equals(true))}, func(b *testpb.Book) []any { return []any{b.Year, b.Title, b.Branch, b.Shelf, b.Id} }},
	}
	for _, pl := range plans {
		t.Run(pl.name, func(t *testing.T) {
			rng := seededRand(t, 1)
			e := newEnv(t)
			match := func(b *testpb.Book) bool {
				return pl.q.Filter == nil || (b.Year >= 1920 && b.Available)
			}
			live := map[int64]*testpb.Book{}
			var first []*testpb.Book // drawn outside the transaction, which may run twice
			for i := int64(0); i < 60; i++ {
				b := book(fmt.Sprintf("b%d", rng.IntN(4)), rng.Int64N(5), i, fmt.Sprintf("t%d", rng.IntN(9)), "a", int32(1900+rng.IntN(60)))
				b.Available = rng.IntN(3) > 0
				first = append(first, b)
				live[i] = b
			}
			e.must(func(st *record.Store) error {
				for _, b := range first {
					if _, err := st.SaveRecord(b); err != nil {
						return err
					}
				}
				return nil
			})
			initial := map[int64]bool{}
			for id := range live {
				initial[id] = true
			}
			ch := newChurn(live)
			next := int64(1000)
			desc := pl.q.Reverse
			cmp := func(a, b *testpb.Book) int {
				r := compareKeys(pl.key(a), pl.key(b))
				if desc {
					r = -r
				}
				return r
			}
			pages := e.pages(pl.q, record.ExecuteOptions{ReturnLimit: 7}, func(n int, last *testpb.Book) {
				var ins []*testpb.Book
				for k := 0; k < 3; k++ {
					b := book(fmt.Sprintf("b%d", rng.IntN(4)), rng.Int64N(5), next, fmt.Sprintf("t%d", rng.IntN(9)), "a", int32(1900+rng.IntN(60)))
					b.Available = rng.IntN(3) > 0
					ins = append(ins, b)
					next++
				}
				ch.apply(e, rng, n, last, ins, cmp)
			})
			got := flatten(pages)
			for i, pg := range pages {
				for _, id := range pg.ids {
					if n, ok := ch.deletedAfter[id]; ok {
						require.LessOrEqual(t, i, n, "record %d returned on page %d after its deletion", id, i)
					}
				}
			}
			seen := map[int64]bool{}
			for _, id := range got {
				require.False(t, seen[id], "record %d returned twice", id)
				seen[id] = true
			}
			for id := range initial {
				if _, gone := ch.deletedAfter[id]; !gone && match(liveOrNil(live, id)) {
					require.True(t, seen[id], "record %d, present throughout, was skipped", id)
				}
			}
			for id := range ch.aheadInserted {
				if _, gone := ch.deletedAfter[id]; !gone && match(live[id]) {
					require.True(t, seen[id], "record %d, inserted ahead of the cursor, was skipped", id)
				}
			}
			for _, id := range got {
				if b := live[id]; b != nil {
					require.True(t, match(b))
				}
			}
			// Each page is in order, and pages follow one another.
			var prev *testpb.Book
			all := map[int64]*testpb.Book{}
			for id, b := range live {
				all[id] = b
			}
			for _, id := range got {
				b := all[id]
				if b == nil {
					continue // deleted after it was returned
				}
				if prev != nil {
					require.LessOrEqual(t, cmp(prev, b), 0, "order broken at %d", id)
				}
				prev = b
			}
		})
	}
}

func liveOrNil(live map[int64]*testpb.Book, id int64) *testpb.Book { return live[id] }

func compareKeys(a, b []any) int {
	for i := range a {
		var r int
		switch x := a[i].(type) {
		case string:
			r = cmpString(x, b[i].(string))
		case int64:
			r = cmpInt(x, b[i].(int64))
		case int32:
			r = cmpInt(int64(x), int64(b[i].(int32)))
		}
		if r != 0 {
			return r
		}
	}
	return 0
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestCursorLimits(t *testing.T) {
	e := newEnv(t)
	books := loadLibrary(t, e)
	q := record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("available").Equals(true)}
	want := 0
	for _, b := range books {
		if b.Available {
			want++
		}
	}
	check := func(opts record.ExecuteOptions, reason record.StopReason) []page {
		pages := e.pages(q, opts, nil)
		got := flatten(pages)
		require.Len(t, got, want)
		require.Len(t, uniq(got), want)
		require.Greater(t, len(pages), 1)
		for _, p := range pages[:len(pages)-1] {
			require.Equal(t, reason, p.reason)
		}
		return pages
	}
	for _, p := range check(record.ExecuteOptions{ReturnLimit: 4}, record.ReturnLimitReached)[:1] {
		require.Len(t, p.ids, 4)
	}
	// A scan limit counts records read, matching or not.
	for _, p := range check(record.ExecuteOptions{ScanLimit: 6}, record.ScanLimitReached) {
		require.LessOrEqual(t, len(p.ids), 6)
	}
	check(record.ExecuteOptions{ByteLimit: 200}, record.ByteLimitReached)
	check(record.ExecuteOptions{TimeLimit: time.Nanosecond}, record.TimeLimitReached)
	// Index scans too.
	q = record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("year").GreaterThan(1900)}
	want = 0
	for _, b := range books {
		if b.Year > 1900 {
			want++
		}
	}
	check(record.ExecuteOptions{ScanLimit: 5}, record.ScanLimitReached)
	check(record.ExecuteOptions{ByteLimit: 100}, record.ByteLimitReached)
	// An in-memory sort pages by the last record returned.
	q = record.Query{RecordTypes: []string{"Book"}, Sort: record.Field("price"), InMemorySortLimit: 100}
	want = len(books)
	check(record.ExecuteOptions{ReturnLimit: 10}, record.ReturnLimitReached)
}

func uniq(ids []int64) []int64 {
	s := slices.Clone(ids)
	slices.Sort(s)
	return slices.Compact(s)
}

func TestInvalidContinuation(t *testing.T) {
	e := newEnv(t)
	loadLibrary(t, e)
	var cont []byte
	e.must(func(st *record.Store) error {
		cur, err := st.ExecuteQuery(record.Query{RecordTypes: []string{"Book"}}, record.ExecuteOptions{ReturnLimit: 2})
		require.NoError(t, err)
		_, err = cur.All()
		cont = cur.Continuation()
		return err
	})
	require.NotNil(t, cont)
	for _, c := range [][]byte{[]byte("garbage"), cont} {
		err := e.do(func(st *record.Store) error {
			cur, err := st.ExecuteQuery(record.Query{RecordTypes: []string{"Book"}, Sort: record.Field("year")}, record.ExecuteOptions{Continuation: c})
			if err != nil {
				return err
			}
			require.False(t, cur.Next())
			return cur.Err()
		})
		require.ErrorIs(t, err, record.ErrInvalidContinuation)
	}
}
