package record_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/record/internal/testpb"
)

// TestInMemorySortContinuationUnderChanges guards the continuation of an in-memory sort: it
// names the last record returned (sort key and primary key), so a page resumed after inserts and
// deletes starts strictly after that record. An offset would skip or repeat records here.
func TestInMemorySortContinuationUnderChanges(t *testing.T) {
	e := newEnv(t)
	priced := func(id int64, price float64) *testpb.Book {
		b := book("B", 1, id, "t", "a", 2000)
		b.Price = price
		return b
	}
	e.must(func(st *record.Store) error {
		for i := int64(1); i <= 30; i++ {
			if _, err := st.SaveRecord(priced(i, float64(i))); err != nil {
				return err
			}
		}
		return nil
	})
	q := record.Query{RecordTypes: []string{"Book"}, Sort: record.Field("price"), InMemorySortLimit: 100}
	readPage := func(cont []byte) (ids []int64, next []byte) {
		e.must(func(st *record.Store) error {
			cur, err := st.ExecuteQuery(q, record.ExecuteOptions{ReturnLimit: 5, Continuation: cont})
			if err != nil {
				return err
			}
			recs, err := cur.All()
			if err != nil {
				return err
			}
			ids = ids[:0]
			for _, r := range recs {
				ids = append(ids, r.Message.(*testpb.Book).Id)
			}
			next = cur.Continuation()
			return nil
		})
		return ids, next
	}

	first, cont := readPage(nil)
	require.Equal(t, []int64{1, 2, 3, 4, 5}, first)
	require.NotNil(t, cont)

	// Between pages: delete a returned record and the next one due, insert records before and
	// after the position, and two that tie with the last returned price on either side of its
	// primary key.
	e.must(func(st *record.Store) error {
		for _, id := range []int64{3, 6} {
			if _, err := st.Delete(bookPK("B", 1, id)); err != nil {
				return err
			}
		}
		for _, b := range []*testpb.Book{priced(100, 2.5), priced(101, 10.5), priced(0, 5), priced(1000, 5)} {
			if _, err := st.SaveRecord(b); err != nil {
				return err
			}
		}
		return nil
	})

	var rest []int64
	for cont != nil {
		var ids []int64
		ids, cont = readPage(cont)
		rest = append(rest, ids...)
	}
	want := []int64{1000, 7, 8, 9, 10, 101}
	for i := int64(11); i <= 30; i++ {
		want = append(want, i)
	}
	require.Equal(t, want, rest, "pages after the changes must continue strictly after (price 5, id 5)")
}
