package record_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/record/internal/testpb"
	"github.com/layerkit/layerkit/tuple"
)

// sizedBook returns a book whose stored union message is exactly size bytes.
func sizedBook(id int64, size int) *testpb.Book {
	b := book("big", 1, id, "t", "a", 1)
	for n := size - 16; ; n-- {
		b.Blob = bytes.Repeat([]byte{byte(id)}, n)
		inner := proto.Size(b)
		if got := 1 + protowire.SizeVarint(uint64(inner)) + inner; got <= size {
			if got < size {
				panic(fmt.Sprintf("cannot size a book to %d bytes (got %d)", size, got))
			}
			return b
		}
	}
}

// recordSuffixes returns the chunk suffixes stored for a primary key.
func (e *env) recordSuffixes(pk tuple.Tuple) []int64 {
	e.t.Helper()
	p := e.prefix.Pack(append(tuple.Tuple{int64(1)}, pk...))
	var out []int64
	for _, r := range e.dump() {
		if bytes.HasPrefix(r.Key, p) {
			tail, err := tuple.Unpack(r.Key[len(p):])
			require.NoError(e.t, err)
			out = append(out, tail[0].(int64))
			require.LessOrEqual(e.t, len(r.Value), 100_000)
		}
	}
	return out
}

func TestSplitRecords(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		size   int
		chunks []int64
	}{
		{99_999, []int64{0}},
		{100_000, []int64{0}},
		{100_001, []int64{1, 2}},
		{1_000_000, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
	}
	for i, c := range cases {
		b := sizedBook(int64(i), c.size)
		e.must(func(st *record.Store) error {
			rec, err := st.SaveRecord(b)
			require.NoError(t, err)
			require.Equal(t, c.size, rec.Size)
			require.Equal(t, c.size > 100_000, rec.Split)
			return nil
		})
		pk := bookPK("big", 1, int64(i))
		require.Equal(t, c.chunks, e.recordSuffixes(pk), "size %d", c.size)
		e.must(func(st *record.Store) error {
			rec, err := st.Load(pk)
			require.NoError(t, err)
			require.Equal(t, c.size, rec.Size)
			require.True(t, proto.Equal(b, rec.Message))
			return nil
		})
	}
	// A scan reassembles split records too.
	e.must(func(st *record.Store) error {
		cur, err := st.ExecuteQuery(record.Query{RecordTypes: []string{"Book"}}, record.ExecuteOptions{})
		require.NoError(t, err)
		all, err := cur.All()
		require.NoError(t, err)
		require.Len(t, all, len(cases))
		for i, r := range all {
			require.Equal(t, cases[i].size, r.Size)
		}
		return nil
	})
}

// Large → small → large → small leaves exactly the chunks of the current version.
func TestSplitRecordResize(t *testing.T) {
	e := newEnv(t)
	pk := bookPK("big", 1, 7)
	steps := []struct {
		size   int
		chunks []int64
	}{
		{1_000_000, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{500, []int64{0}},
		{250_000, []int64{1, 2, 3}},
		{100_001, []int64{1, 2}},
		{100_000, []int64{0}},
	}
	for _, s := range steps {
		b := sizedBook(7, s.size)
		e.must(func(st *record.Store) error { _, err := st.SaveRecord(b); return err })
		require.Equal(t, s.chunks, e.recordSuffixes(pk), "after saving %d bytes", s.size)
		e.must(func(st *record.Store) error {
			rec, err := st.Load(pk)
			require.NoError(t, err)
			require.True(t, proto.Equal(b, rec.Message))
			return nil
		})
	}
	e.must(func(st *record.Store) error {
		b := sizedBook(7, 300_000)
		if _, err := st.SaveRecord(b); err != nil {
			return err
		}
		_, err := st.Delete(pk)
		return err
	})
	require.Empty(t, e.recordSuffixes(pk))
}

// A record-extent scan, forward and backward and one record per page, returns split and unsplit
// records (with their versions) next to each other exactly as loads do.
func TestScanSplitRecordsWithVersions(t *testing.T) {
	md, err := testBuilder().SetStoreRecordVersions(true).Build()
	require.NoError(t, err)
	e := newEnvWith(t, md)
	sizes := []int{300_000, 50, 100_001, 70, 90, 250_000}
	var pks []tuple.Tuple
	for i, size := range sizes {
		b := sizedBook(int64(i), size)
		b.Shelf = int64(i % 2)
		e.must(func(st *record.Store) error { _, err := st.SaveRecord(b); return err })
		pks = append(pks, bookPK(b.Branch, b.Shelf, b.Id))
	}
	want := map[string]*record.Record{}
	e.must(func(st *record.Store) error {
		for _, pk := range pks {
			rec, err := st.Load(pk)
			if err != nil {
				return err
			}
			require.NotNil(t, rec, "record %v", pk)
			require.NotNil(t, rec.Version)
			want[fmt.Sprint(pk)] = rec
		}
		return nil
	})
	for _, reverse := range []bool{false, true} {
		q := record.Query{RecordTypes: []string{"Book"}, Sort: record.Field("branch"), Reverse: reverse}
		for _, limit := range []int{0, 1} {
			var got []*record.Record
			var cont []byte
			for first := true; first || cont != nil; first = false {
				e.must(func(st *record.Store) error {
					cur, err := st.ExecuteQuery(q, record.ExecuteOptions{Continuation: cont, ReturnLimit: limit})
					if err != nil {
						return err
					}
					recs, err := cur.All()
					got = append(got, recs...)
					cont = cur.Continuation()
					return err
				})
			}
			require.Len(t, got, len(sizes), "reverse %v, limit %d", reverse, limit)
			for i, rec := range got {
				if i > 0 {
					c := tuple.Compare(got[i-1].PrimaryKey, rec.PrimaryKey)
					require.Equal(t, reverse, c > 0, "order at %d (reverse %v)", i, reverse)
				}
				w := want[fmt.Sprint(rec.PrimaryKey)]
				require.NotNil(t, w, "unexpected record %v", rec.PrimaryKey)
				require.Equal(t, w.Size, rec.Size)
				require.Equal(t, w.Split, rec.Split)
				require.Equal(t, *w.Version, *rec.Version)
				require.True(t, proto.Equal(w.Message, rec.Message), "record %v", rec.PrimaryKey)
			}
		}
	}
}
