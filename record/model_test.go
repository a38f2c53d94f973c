package record_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/record/internal/testpb"
	"github.com/layerkit/layerkit/tuple"
)

// Random saves, updates and deletes applied to the store and to a map, with commit faults on,
// random queries and the aggregate indexes compared against the map along the way; the
// consistency checker (which recounts every aggregate index) runs at the end.
func TestModelRandomOperations(t *testing.T) {
	rng := seededRand(t, 2)
	md, err := aggregateBuilder().Build()
	require.NoError(t, err)
	e := newEnvWith(t, md)
	model := map[int64]*testpb.Book{} // by id; ids are unique (by_id)
	authors := []string{"A", "B", "C", "D"}
	tags := []string{"x", "y", "z"}
	randBook := func(id int64) *testpb.Book {
		b := book(fmt.Sprintf("b%d", rng.IntN(3)), rng.Int64N(3), id, fmt.Sprintf("t%d", rng.IntN(5)), authors[rng.IntN(len(authors))], int32(1990+rng.IntN(10)))
		// Tags are distinct: a COUNT index over a repeated field counts a value listed twice
		// twice and an update that drops one copy leaves the count, as in Java.
		for k := rng.IntN(3); k > 0; k-- {
			if t := tags[rng.IntN(len(tags))]; !slices.Contains(b.Tags, t) {
				b.Tags = append(b.Tags, t)
			}
		}
		if rng.IntN(2) == 0 {
			b.Origin = &testpb.Address{City: authors[rng.IntN(len(authors))]}
		}
		if rng.IntN(10) == 0 {
			b.Blob = make([]byte, 100_000+rng.IntN(100_000)) // split records too
		}
		return b
	}
	queries := []struct {
		f record.Filter
		m func(*testpb.Book) bool
	}{
		{record.Where("author").Equals("B"), func(b *testpb.Book) bool { return b.Author == "B" }},
		{record.WhereAny("tags").Equals("y"), func(b *testpb.Book) bool { return slices.Contains(b.Tags, "y") }},
		{record.Where("year").GreaterThan(1995), func(b *testpb.Book) bool { return b.Year > 1995 }},
		{record.Nested("origin", record.Where("city").Equals("C")), func(b *testpb.Book) bool { return b.Origin != nil && b.Origin.City == "C" }},
		{record.And(record.Where("branch").Equals("b1"), record.Where("shelf").Equals(2)), func(b *testpb.Book) bool { return b.Branch == "b1" && b.Shelf == 2 }},
		{record.Where("id").Equals(7), func(b *testpb.Book) bool { return b.Id == 7 }},
	}
	for op := 0; op < 300; op++ {
		id := rng.Int64N(40)
		old := model[id]
		switch r := rng.IntN(10); {
		case r < 6: // save (a new book, or the same id elsewhere: a move)
			b := randBook(id)
			e.must(func(st *record.Store) error {
				if old != nil {
					if _, err := st.Delete(bookPK(old.Branch, old.Shelf, old.Id)); err != nil {
						return err
					}
				}
				_, err := st.SaveRecord(b)
				return err
			})
			model[id] = b
		case r < 8 && old != nil: // update in place
			b := proto.Clone(old).(*testpb.Book)
			b.Author = authors[rng.IntN(len(authors))]
			if t := tags[rng.IntN(len(tags))]; !slices.Contains(b.Tags, t) {
				b.Tags = append(b.Tags, t)
			}
			e.must(func(st *record.Store) error { _, err := st.Save(b, record.UpdateOnly); return err })
			model[id] = b
		case old != nil: // delete
			e.must(func(st *record.Store) error {
				ok, err := st.Delete(bookPK(old.Branch, old.Shelf, old.Id))
				if err == nil && !ok {
					// A retried delete whose first commit went through finds nothing: fine.
					return nil
				}
				return err
			})
			delete(model, id)
		}
		if op%25 == 24 {
			checkAggregates(t, e, model, authors, tags, op)
			for _, q := range queries {
				got, explain, err := e.run(record.Query{RecordTypes: []string{"Book"}, Filter: q.f})
				require.NoError(t, err)
				var want []int64
				for id, b := range model {
					if q.m(b) {
						want = append(want, id)
					}
				}
				slices.Sort(want)
				slices.Sort(got)
				require.Equal(t, want, got, "op %d, plan %s", op, explain)
			}
		}
	}
	require.NoError(t, record.Check(e.md, e.prefix)(context.Background(), e.db))
}

// checkAggregates compares the aggregate indexes, read in O(1) per group, with the model.
func checkAggregates(t *testing.T, e *env, model map[int64]*testpb.Book, authors, tags []string, op int) {
	e.must(func(st *record.Store) error {
		n, err := st.RecordCount()
		require.NoError(t, err)
		require.EqualValues(t, len(model), n, "op %d: record count", op)
		for _, a := range authors {
			var count, sum int64
			for _, b := range model {
				if b.Author == a {
					count++
					sum += int64(b.Year)
				}
			}
			got, err := st.Count("count_by_author", tuple.Tuple{a})
			require.NoError(t, err)
			require.Equal(t, count, got, "op %d: books by %s", op, a)
			got, err = st.Sum("sum_year_by_author", tuple.Tuple{a})
			require.NoError(t, err)
			require.Equal(t, sum, got, "op %d: years of %s", op, a)
		}
		for _, tag := range tags {
			var count int64
			for _, b := range model {
				if slices.Contains(b.Tags, tag) {
					count++
				}
			}
			got, err := st.Count("count_by_tag", tuple.Tuple{tag})
			require.NoError(t, err)
			require.Equal(t, count, got, "op %d: books tagged %s", op, tag)
		}
		return nil
	})
}
