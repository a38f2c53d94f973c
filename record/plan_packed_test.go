package record_test

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/record/internal/testpb"
	"github.com/layerkit/layerkit/subspace"
	"github.com/layerkit/layerkit/tuple"
)

// TestNonCanonicalEntryKey checks plans over an index entry whose primary key is packed in a
// longer form than its canonical one (an integer with a leading zero byte, which decoders
// accept): fetches and merges use the packed primary key of an entry only when it is the
// canonical form, so the record is still found, a union returns it once and an intersection
// finds it in both scans. (The entry is alone in its range of the index: a longer form may sort
// elsewhere than its tuple among neighbours, which no merge can make up for.)
func TestNonCanonicalEntryKey(t *testing.T) {
	md, err := testBuilder().AddIndex(record.Index{Name: "by_year", RecordTypes: []string{"Book"}, Expression: record.Field("year")}).Build()
	require.NoError(t, err)
	// No consistency checker: the altered entry is not the one a save writes.
	e := &env{t: t, db: testdb.Open(t), md: md, prefix: subspace.Sub("app", "store")}
	books := []*testpb.Book{
		book("x", 1, 7, "T7", "A", 1965),
		book("x", 1, 8, "T8", "A", 1970),
		book("x", 1, 9, "T9", "B", 1966),
	}
	e.must(func(st *record.Store) error {
		for _, b := range books {
			if _, err := st.SaveRecord(b); err != nil {
				return err
			}
		}
		return nil
	})
	// Rewrite the by_year entry of book 7 with its id 7 packed as 16 00 07 instead of 15 07.
	ixPrefix := e.prefix.Pack(tuple.Tuple{int64(2), "by_year"})
	err = e.db.Transact(context.Background(), func(tr kv.Transaction) error {
		canonical := append(tuple.Tuple{int64(1965)}.Pack(), bookPK("x", 1, 7).Pack()...)
		key := append(append([]byte(nil), ixPrefix...), canonical...)
		v, err := tr.Get(key).Get()
		require.NoError(t, err)
		require.NotNil(t, v, "the entry of book 7")
		require.True(t, bytes.HasSuffix(key, []byte{0x15, 0x07}))
		long := append(append([]byte(nil), key[:len(key)-2]...), 0x16, 0x00, 0x07)
		tr.Clear(key)
		tr.Set(long, v)
		return nil
	})
	require.NoError(t, err)

	ids := func(q record.Query, explain string) []int64 {
		t.Helper()
		var out []int64
		e.must(func(st *record.Store) error {
			plan, err := st.Plan(q)
			require.NoError(t, err)
			require.Contains(t, plan.Explain(), explain)
			recs, err := st.Execute(plan, record.ExecuteOptions{}).All()
			require.NoError(t, err)
			out = out[:0]
			for _, r := range recs {
				out = append(out, r.Message.(*testpb.Book).Id)
			}
			return nil
		})
		slices.Sort(out)
		return out
	}
	require.Equal(t, []int64{7}, ids(record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("year").Equals(1965)}, "IndexScan(by_year"))
	require.Equal(t, []int64{7, 8}, ids(record.Query{RecordTypes: []string{"Book"}, Filter: record.Or(record.Where("author").Equals("A"), record.Where("year").Equals(1965))}, "Union[pk]"))
	require.Equal(t, []int64{7}, ids(record.Query{RecordTypes: []string{"Book"}, Filter: record.And(record.Where("author").Equals("A"), record.Where("year").Equals(1965))}, "Intersection[pk]"))
}
