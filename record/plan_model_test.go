package record_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/record/internal/testpb"
	"github.com/layerkit/layerkit/subspace"
	"github.com/layerkit/layerkit/tuple"
)

// modelFilter is a filter with its meaning in Go.
type modelFilter struct {
	f record.Filter
	m func(*testpb.Book) bool
}

// Random queries made of equalities, INs, ORs and ANDs over indexed fields (and some that are
// not indexed), with and without a sort and required fields, run page by page (each page in its
// own transaction, resumed from the continuation) and compared with the books a full scan with
// the same filter selects. The plans must include every multi-scan kind.
func TestModelMultiScanPlans(t *testing.T) {
	rng := seededRand(t, 3)
	e := newEnvWith(t, plannerMetaData(t))
	authors := []string{"A", "B", "C", "D", "E"}
	tags := []string{"w", "x", "y", "z"}
	cities := []string{"Oslo", "Rome", "Paris"}
	var books []*testpb.Book
	for i := int64(0); i < 150; i++ {
		b := book(fmt.Sprintf("b%d", rng.IntN(3)), rng.Int64N(4), i, fmt.Sprintf("t%d", rng.IntN(4)), authors[rng.IntN(len(authors))], int32(1960+rng.IntN(10)))
		for _, tg := range tags {
			if rng.IntN(3) == 0 {
				b.Tags = append(b.Tags, tg)
			}
		}
		if rng.IntN(3) > 0 {
			b.Origin = &testpb.Address{City: cities[rng.IntN(len(cities))]}
		}
		b.Price = float64(rng.IntN(100))
		books = append(books, b)
	}
	e.must(func(st *record.Store) error {
		for _, b := range books {
			if _, err := st.SaveRecord(b); err != nil {
				return err
			}
		}
		return nil
	})
	pick := func(list []string, n int) []string {
		out := slices.Clone(list)
		rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
		return out[:n]
	}
	atom := func() modelFilter {
		switch rng.IntN(9) {
		case 0:
			a := authors[rng.IntN(len(authors))]
			return modelFilter{record.Where("author").Equals(a), func(b *testpb.Book) bool { return b.Author == a }}
		case 1:
			as := pick(authors, 1+rng.IntN(3))
			vals := make([]any, len(as))
			for i, a := range as {
				vals[i] = a
			}
			return modelFilter{record.Where("author").In(vals...), func(b *testpb.Book) bool { return slices.Contains(as, b.Author) }}
		case 2:
			y := int32(1960 + rng.IntN(10))
			return modelFilter{record.Where("year").Equals(y), func(b *testpb.Book) bool { return b.Year == y }}
		case 3:
			ys := []any{int32(1960 + rng.IntN(10)), int32(1960 + rng.IntN(10))}
			return modelFilter{record.Where("year").In(ys...), func(b *testpb.Book) bool { return b.Year == ys[0] || b.Year == ys[1] }}
		case 4:
			tg := tags[rng.IntN(len(tags))]
			return modelFilter{record.WhereAny("tags").Equals(tg), func(b *testpb.Book) bool { return slices.Contains(b.Tags, tg) }}
		case 5:
			c := cities[rng.IntN(len(cities))]
			return modelFilter{record.Nested("origin", record.Where("city").Equals(c)), func(b *testpb.Book) bool { return b.Origin != nil && b.Origin.City == c }}
		case 6:
			p := float64(rng.IntN(100))
			return modelFilter{record.Where("price").GreaterThan(p), func(b *testpb.Book) bool { return b.Price > p }}
		case 7:
			br := fmt.Sprintf("b%d", rng.IntN(3))
			return modelFilter{record.Where("branch").Equals(br), func(b *testpb.Book) bool { return b.Branch == br }}
		default:
			s := rng.Int64N(4)
			// A proto3 field at its default value is null, which equals nothing (as in Java).
			return modelFilter{record.Where("shelf").Equals(s), func(b *testpb.Book) bool { return b.Shelf == s && s != 0 }}
		}
	}
	and := func(fs ...modelFilter) modelFilter {
		rf := make([]record.Filter, len(fs))
		for i, f := range fs {
			rf[i] = f.f
		}
		return modelFilter{record.And(rf...), func(b *testpb.Book) bool {
			for _, f := range fs {
				if !f.m(b) {
					return false
				}
			}
			return true
		}}
	}
	or := func(fs ...modelFilter) modelFilter {
		rf := make([]record.Filter, len(fs))
		for i, f := range fs {
			rf[i] = f.f
		}
		return modelFilter{record.Or(rf...), func(b *testpb.Book) bool {
			for _, f := range fs {
				if f.m(b) {
					return true
				}
			}
			return false
		}}
	}
	filter := func() modelFilter {
		switch rng.IntN(7) {
		case 0:
			return atom()
		case 1:
			return and(atom(), atom())
		case 2:
			return and(atom(), atom(), atom())
		case 3:
			return or(atom(), atom())
		case 4:
			return or(atom(), atom(), atom())
		case 5:
			return or(and(atom(), atom()), atom())
		default:
			return and(atom(), or(atom(), atom()))
		}
	}
	kinds := map[string]int{}
	for q := 0; q < 200; q++ {
		mf := filter()
		query := record.Query{RecordTypes: []string{"Book"}, Filter: mf.f, Reverse: rng.IntN(2) == 0}
		var sortKey func(*testpb.Book) int64
		switch rng.IntN(3) {
		case 1:
			query.Sort, sortKey = record.Field("year"), func(b *testpb.Book) int64 { return int64(b.Year) }
		case 2:
			query.Sort, sortKey = record.Field("author"), func(b *testpb.Book) int64 { return int64(b.Author[0]) }
		}
		query.InMemorySortLimit = 1000
		if rng.IntN(3) == 0 {
			query.RequiredFields = []record.KeyExpression{record.Field("author"), record.Field("id")}
		}
		opts := record.ExecuteOptions{ReturnLimit: 1 + rng.IntN(7)}
		if rng.IntN(4) == 0 {
			opts = record.ExecuteOptions{ScanLimit: 1 + rng.IntN(7)}
		}
		var explain string
		e.must(func(st *record.Store) error {
			p, err := st.Plan(query)
			explain = p.String()
			return err
		})
		for _, k := range []string{"Union[", "InJoin[", "InUnion[", "Intersection[", "Covering(", "Sort("} {
			if strings.Contains(explain, k) {
				kinds[k]++
			}
		}
		var got []*record.Record
		for _, pg := range e.recordPages(query, opts) {
			got = append(got, pg...)
		}
		want := []int64{}
		for _, b := range books {
			if mf.m(b) {
				want = append(want, b.Id)
			}
		}
		ids := make([]int64, len(got))
		for i, r := range got {
			bk := r.Message.(*testpb.Book)
			ids[i] = bk.Id
			orig := books[bk.Id]
			if r.Partial {
				require.Equal(t, orig.Author, bk.Author, "covering record %d, plan %s", bk.Id, explain)
			} else {
				require.Equal(t, orig.Title, bk.Title, "record %d, plan %s", bk.Id, explain)
			}
			if i > 0 && sortKey != nil {
				prev := books[ids[i-1]]
				c := cmp.Compare(sortKey(prev), sortKey(orig))
				if query.Reverse {
					c = -c
				}
				require.LessOrEqual(t, c, 0, "query %d (%s): order broken at %d", q, explain, bk.Id)
			}
		}
		require.Len(t, uniq(ids), len(ids), "query %d (%s) returned a record twice: %v", q, explain, ids)
		slices.Sort(ids)
		require.Equal(t, want, ids, "query %d: filter %s, plan %s", q, mf.f, explain)
	}
	t.Logf("plan kinds: %v", kinds)
	for _, k := range []string{"Union[", "InJoin[", "InUnion[", "Intersection[", "Covering("} {
		require.Positive(t, kinds[k], "no query was planned with %s", k)
	}
}

// recordPages runs q page by page, each page in its own transaction, and returns the records
// of each page.
func (e *env) recordPages(q record.Query, opts record.ExecuteOptions) [][]*record.Record {
	e.t.Helper()
	var out [][]*record.Record
	for n := 0; ; n++ {
		var recs []*record.Record
		var cont []byte
		e.must(func(st *record.Store) error {
			cur, err := st.ExecuteQuery(q, opts)
			if err != nil {
				return err
			}
			recs, err = cur.All()
			cont = cur.Continuation()
			return err
		})
		out = append(out, recs)
		if cont == nil {
			return out
		}
		require.Less(e.t, n, 10_000, "paging does not end")
		opts.Continuation = cont
	}
}

// Paging through union, intersection, in-join and in-union plans while other transactions
// insert and delete books between pages: as for single scans, every matching book present
// throughout is returned once, none after its deletion, books inserted ahead of the cursor are
// returned, and the plan's order holds.
func TestMergeContinuationsUnderConcurrentChanges(t *testing.T) {
	pk := func(b *testpb.Book) []any { return []any{b.Branch, b.Shelf, b.Id} }
	plans := []struct {
		name  string
		q     record.Query
		match func(*testpb.Book) bool
		key   func(*testpb.Book) []any // the plan's order
		kind  string
	}{
		{"union", record.Query{RecordTypes: []string{"Book"}, Filter: record.Or(record.Where("author").Equals("A"), record.WhereAny("tags").Equals("x"))},
			func(b *testpb.Book) bool { return b.Author == "A" || slices.Contains(b.Tags, "x") }, pk, "Union["},
		{"union reverse", record.Query{RecordTypes: []string{"Book"}, Filter: record.Or(record.Where("author").Equals("A"), record.Where("author").Equals("B")), Sort: record.Field("year"), Reverse: true},
			func(b *testpb.Book) bool { return b.Author == "A" || b.Author == "B" }, func(b *testpb.Book) []any { return append([]any{b.Year}, pk(b)...) }, "Union["},
		{"intersection", record.Query{RecordTypes: []string{"Book"}, Filter: record.And(record.Where("year").Equals(1961), record.WhereAny("tags").Equals("x"))},
			func(b *testpb.Book) bool { return b.Year == 1961 && slices.Contains(b.Tags, "x") }, pk, "Intersection["},
		{"in-join", record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("author").In("A", "C")},
			func(b *testpb.Book) bool { return b.Author == "A" || b.Author == "C" }, func(b *testpb.Book) []any { return append([]any{b.Author}, pk(b)...) }, "InJoin["},
		{"in-union", record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("author").In("A", "C"), Sort: record.Field("year")},
			func(b *testpb.Book) bool { return b.Author == "A" || b.Author == "C" }, func(b *testpb.Book) []any { return append([]any{b.Year}, pk(b)...) }, "InUnion["},
	}
	for _, pl := range plans {
		t.Run(pl.name, func(t *testing.T) {
			rng := seededRand(t, 4)
			e := newEnvWith(t, plannerMetaData(t))
			randBook := func(id int64) *testpb.Book {
				b := book(fmt.Sprintf("b%d", rng.IntN(4)), rng.Int64N(5), id, "t", []string{"A", "B", "C"}[rng.IntN(3)], int32(1960+rng.IntN(3)))
				if rng.IntN(2) == 0 {
					b.Tags = []string{"x"}
				}
				return b
			}
			live := map[int64]*testpb.Book{}
			var first []*testpb.Book
			for i := int64(0); i < 80; i++ {
				b := randBook(i)
				first = append(first, b)
				live[i] = b
			}
			e.must(func(st *record.Store) error {
				p, err := st.Plan(pl.q)
				if err != nil {
					return err
				}
				require.Contains(t, p.Explain(), pl.kind)
				for _, b := range first {
					if _, err := st.SaveRecord(b); err != nil {
						return err
					}
				}
				return nil
			})
			cmpBooks := func(a, b *testpb.Book) int {
				r := compareKeys(pl.key(a), pl.key(b))
				if pl.q.Reverse {
					r = -r
				}
				return r
			}
			initial := cloneBooks(live)
			ch := newChurn(live)
			next := int64(1000)
			pages := e.pages(pl.q, record.ExecuteOptions{ReturnLimit: 3}, func(n int, last *testpb.Book) {
				var ins []*testpb.Book
				for k := 0; k < 3; k++ {
					ins = append(ins, randBook(next))
					next++
				}
				ch.apply(e, rng, n, last, ins, cmpBooks)
			})
			seen := map[int64]bool{}
			var prev *testpb.Book
			for i, pg := range pages {
				for _, id := range pg.ids {
					require.False(t, seen[id], "book %d returned twice", id)
					seen[id] = true
					if n, ok := ch.deletedAfter[id]; ok {
						require.LessOrEqual(t, i, n, "book %d returned on page %d after its deletion", id, i)
					}
					b := initial[id]
					if b == nil {
						b = live[id]
					}
					if b == nil {
						continue // inserted and deleted while paging
					}
					require.True(t, pl.match(b), "book %d does not match", id)
					if prev != nil {
						require.LessOrEqual(t, cmpBooks(prev, b), 0, "order broken at %d", id)
					}
					prev = b
				}
			}
			for id, b := range initial {
				if _, gone := ch.deletedAfter[id]; !gone && pl.match(b) {
					require.True(t, seen[id], "book %d, present throughout, was skipped", id)
				}
			}
			for id := range ch.aheadInserted {
				if b := live[id]; b != nil && pl.match(b) {
					require.True(t, seen[id], "book %d, inserted ahead of the cursor, was skipped", id)
				}
			}
		})
	}
}

func cloneBooks(m map[int64]*testpb.Book) map[int64]*testpb.Book {
	out := make(map[int64]*testpb.Book, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// FuzzPlanContinuationState: the position a continuation holds for each kind of plan node
// (scans, IN joins and unions, unions, intersections, covering scans, in-memory sorts),
// replaced by arbitrary tuple bytes, never panics: the page resumes somewhere or fails with
// ErrInvalidContinuation.
func FuzzPlanContinuationState(f *testing.F) {
	md := plannerMetaData(f)
	db := testdb.OpenEmbedded(f, &embedded.Options{})
	prefix := subspace.Sub("fuzz")
	ctx := context.Background()
	queries := []record.Query{
		{RecordTypes: []string{"Book"}, Filter: record.Where("author").In("A", "B")},
		{RecordTypes: []string{"Book"}, Filter: record.Where("author").In("A", "B"), Sort: record.Field("year")},
		{RecordTypes: []string{"Book"}, Filter: record.Or(record.Where("author").Equals("A"), record.WhereAny("tags").Equals("x"))},
		{RecordTypes: []string{"Book"}, Filter: record.And(record.Where("year").Equals(1), record.WhereAny("tags").Equals("x"))},
		{RecordTypes: []string{"Book"}, Filter: record.Where("year").Equals(1), RequiredFields: []record.KeyExpression{record.Field("id")}},
		{RecordTypes: []string{"Book"}, Sort: record.Field("price"), InMemorySortLimit: 100},
	}
	err := db.Transact(ctx, func(tr kv.Transaction) error {
		st, err := record.Open(ctx, tr, md, prefix)
		if err != nil {
			return err
		}
		for i := int64(0); i < 12; i++ {
			b := book("b", i%3, i, "t", []string{"A", "B", "C"}[i%3], 1, "x")
			if _, err := st.SaveRecord(b); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(f, err)
	// A real continuation of each query: its kind and hash are kept, its position fuzzed.
	heads := make([]tuple.Tuple, len(queries))
	for i, q := range queries {
		err := db.Transact(ctx, func(tr kv.Transaction) error {
			st, err := record.Open(ctx, tr, md, prefix)
			if err != nil {
				return err
			}
			cur, err := st.ExecuteQuery(q, record.ExecuteOptions{ReturnLimit: 1})
			if err != nil {
				return err
			}
			if _, err := cur.All(); err != nil {
				return err
			}
			t, err := tuple.Unpack(cur.Continuation())
			if err != nil {
				return err
			}
			heads[i] = t
			f.Add(tuple.Tuple{t[2]}.Pack())
			return nil
		})
		require.NoError(f, err)
	}
	f.Add(tuple.Tuple{tuple.Tuple{nil, nil}}.Pack())
	f.Add(tuple.Tuple{tuple.Tuple{int64(5), []byte{1}}}.Pack())
	f.Fuzz(func(t *testing.T, state []byte) {
		st, err := tuple.Unpack(state)
		if err != nil || len(st) != 1 {
			return
		}
		for i, q := range queries {
			cont := tuple.Tuple{heads[i][0], heads[i][1], st[0]}.Pack()
			err := db.Transact(ctx, func(tr kv.Transaction) error {
				s, err := record.Open(ctx, tr, md, prefix)
				if err != nil {
					return err
				}
				cur, err := s.ExecuteQuery(q, record.ExecuteOptions{Continuation: cont, ReturnLimit: 3})
				if err != nil {
					return err
				}
				_, err = cur.All()
				return err
			})
			if err != nil && !errors.Is(err, record.ErrInvalidContinuation) {
				t.Fatalf("query %d, position %v: %v", i, st[0], err)
			}
		}
	})
}
