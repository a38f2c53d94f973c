package record_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/record/internal/testpb"
	"github.com/layerkit/layerkit/tuple"
)

// tenantBuilder keys books by (type, branch, id) and indexes them by branch first, as a store of
// several tenants (branches) would, so that one tenant's records and entries are ranges.
func tenantBuilder() *record.MetaDataBuilder {
	books := []string{"Book"}
	return record.NewMetaDataBuilder(testpb.File_records_proto).SetStoreRecordVersions(true).
		SetPrimaryKey("Book", record.Concat(record.RecordTypeKey(), record.Field("branch"), record.Field("id"))).
		SetPrimaryKey("Author", record.Concat(record.RecordTypeKey(), record.Field("id"))).
		SetRecordCountKey(record.Concat(record.RecordTypeKey(), record.Field("branch"))).
		AddIndex(record.Index{Name: "branch_author", RecordTypes: books, Expression: record.Concat(record.Field("branch"), record.Field("author"))}).
		AddIndex(record.Index{Name: "branch_count", RecordTypes: books, Type: record.CountIndex, Expression: record.GroupBy(record.Empty(), record.Field("branch"))}).
		AddIndex(record.Index{Name: "branch_years", RecordTypes: books, Type: record.SumIndex, Expression: record.GroupBy(record.Field("year"), record.Field("branch"))}).
		AddIndex(record.Index{Name: "branch_changes", RecordTypes: books, Type: record.VersionIndex, Expression: record.Concat(record.Field("branch"), record.VersionKey())}).
		AddIndex(record.Index{Name: "author_name", RecordTypes: []string{"Author"}, Expression: record.Field("name")})
}

// DeleteRecordsWhere clears one tenant with range clears: records, versions, counts and the
// entries of every index, which all start with the branch (FDBRecordStore.RecordsWhereDeleter,
// StandardIndexMaintainer.deleteWhere).
func TestDeleteRecordsWhere(t *testing.T) {
	md, err := tenantBuilder().Build()
	require.NoError(t, err)
	e := newEnvWith(t, md)
	e.must(func(st *record.Store) error {
		for i, br := range []string{"b1", "b1", "b2", "b3"} {
			if _, err := st.SaveRecord(book(br, 0, int64(i+1), "t", "a", int32(1900+i))); err != nil {
				return err
			}
		}
		_, err := st.SaveRecord(&testpb.Author{Id: 1, Name: "a"})
		return err
	})
	rec := e.record(func(st *record.Store) error { return st.DeleteRecordsWhere(tuple.Tuple{int64(1), "b1"}) })
	require.Empty(t, rec.sets, "no record is read or rewritten")
	for _, o := range rec.ops {
		require.Contains(t, []string{"clear range", "clear"}, o.op) // the count key is one key
	}
	e.must(func(st *record.Store) error {
		n, err := st.Count("branch_count", tuple.Tuple{"b1"})
		require.NoError(t, err)
		require.EqualValues(t, 0, n)
		n, err = st.Count("branch_count", tuple.Tuple{"b2"})
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		n, err = st.RecordCountFromKey(tuple.Tuple{int64(1), "b2"})
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		cur, err := st.ExecuteQuery(record.Query{RecordTypes: []string{"Book"}}, record.ExecuteOptions{})
		require.NoError(t, err)
		recs, err := cur.All()
		require.NoError(t, err)
		require.Len(t, recs, 2)
		a, err := st.Load(tuple.Tuple{int64(2), int64(1)})
		require.NoError(t, err)
		require.NotNil(t, a, "other record types stay")
		return nil
	})
	// The whole type at once.
	e.must(func(st *record.Store) error { return st.DeleteRecordsWhere(tuple.Tuple{int64(1)}) })
	require.Empty(t, e.indexEntries("branch_author"))
	require.Len(t, e.indexEntries("author_name"), 1)
}

// An index whose entries under the prefix are not one range refuses the delete, naming itself,
// and nothing is deleted.
func TestDeleteRecordsWhereRefusals(t *testing.T) {
	md, err := tenantBuilder().SetVersion(2).
		AddIndex(record.Index{Name: "by_title", RecordTypes: []string{"Book"}, Expression: record.Field("title")}).
		Build()
	require.NoError(t, err)
	e := newEnvWith(t, md)
	e.must(func(st *record.Store) error { _, err := st.SaveRecord(book("b1", 0, 1, "t", "a", 1)); return err })
	err = e.do(func(st *record.Store) error { return st.DeleteRecordsWhere(tuple.Tuple{int64(1), "b1"}) })
	require.ErrorIs(t, err, record.ErrInvalidQuery)
	require.ErrorContains(t, err, `index "by_title" on title does not start with the primary-key columns branch`)
	err = e.do(func(st *record.Store) error { return st.DeleteRecordsWhere(tuple.Tuple{int64(9)}) })
	require.ErrorContains(t, err, "names no record type")
	err = e.do(func(st *record.Store) error { return st.DeleteRecordsWhere(nil) })
	require.ErrorContains(t, err, "use DeleteAllRecords")
	e.must(func(st *record.Store) error {
		ok, err := st.Exists(tuple.Tuple{int64(1), "b1", int64(1)})
		require.True(t, ok)
		return err
	})

	// Without type keys, the prefix applies to every type, whose keys must begin alike.
	md2, err := record.NewMetaDataBuilder(testpb.File_twice_proto).SetUnion("TwiceUnion").
		SetPrimaryKey("Thing", record.Field("id")).SetPrimaryKey("Other", record.Field("id")).
		AddIndex(record.Index{Name: "thing_count", RecordTypes: []string{"Thing", "Other"}, Type: record.CountIndex, Expression: record.GroupBy(record.Empty(), record.Field("id"))}).
		Build()
	require.NoError(t, err)
	e2 := newEnvWith(t, md2)
	e2.must(func(st *record.Store) error {
		for i := int64(1); i <= 3; i++ {
			if _, err := st.SaveRecord(&testpb.Thing{Id: proto.Int64(i)}); err != nil {
				return err
			}
		}
		return nil
	})
	e2.must(func(st *record.Store) error { return st.DeleteRecordsWhere(tuple.Tuple{int64(2)}) })
	e2.must(func(st *record.Store) error {
		n, err := st.Count("thing_count", nil)
		require.NoError(t, err)
		require.EqualValues(t, 2, n)
		n, err = st.Count("thing_count", tuple.Tuple{int64(2)})
		require.NoError(t, err)
		require.EqualValues(t, 0, n)
		return nil
	})
}
