package record_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/record/internal/testpb"
	"github.com/layerkit/layerkit/tuple"
)

// Random saves, updates and deletes applied to the store and to a map, with random queries
// compared against the map along the way; the consistency checker runs at the end.
func TestModelRandomOperations(t *testing.T) {
	rng := testRNG(t, 2)
	e := newEnv(t)
	model := map[int64]*testpb.Book{} // by id; ids are unique (by_id)
	authors := []string{"A", "B", "C", "D"}
	tags := []string{"x", "y", "z"}
	randBook := func(id int64) *testpb.Book {
		b := book(fmt.Sprintf("b%d", rng.IntN(3)), rng.Int64N(3), id, fmt.Sprintf("t%d", rng.IntN(5)), authors[rng.IntN(len(authors))], int32(1990+rng.IntN(10)))
		for k := rng.IntN(3); k > 0; k-- {
			b.Tags = append(b.Tags, tags[rng.IntN(len(tags))])
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
					if _, err := st.Delete(tuple.Tuple{int64(1), old.Branch, old.Shelf, old.Id}); err != nil {
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
			b.Tags = append(b.Tags, tags[rng.IntN(len(tags))])
			e.must(func(st *record.Store) error { _, err := st.Save(b, record.UpdateOnly); return err })
			model[id] = b
		case old != nil: // delete
			e.must(func(st *record.Store) error {
				ok, err := st.Delete(tuple.Tuple{int64(1), old.Branch, old.Shelf, old.Id})
				if err == nil && !ok {
					// A retried delete whose first commit went through finds nothing: fine.
					return nil
				}
				return err
			})
			delete(model, id)
		}
		if op%25 == 24 {
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
	_ = kv.Range{}
}
