package record_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/directory"
	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/record/internal/testpb"
	"github.com/layerkit/layerkit/tuple"
)

// A store opens in a read-only transaction, so reads work inside kv.ReadTransact; writes fail
// with ErrReadOnly, a missing store reads as empty, and a store that needs an upgrade says so.
func TestOpenReadOnly(t *testing.T) {
	md, err := aggregateBuilder().Build()
	require.NoError(t, err)
	e := newEnvWith(t, md)
	ctx := context.Background()
	read := func(fn func(st *record.Store) error) error {
		_, err := kv.ReadTransact(ctx, e.db, func(tr kv.ReadTransaction) (any, error) {
			st, err := record.OpenReadOnly(ctx, tr, e.md, e.prefix)
			if err != nil {
				return nil, err
			}
			return nil, fn(st)
		})
		return err
	}
	require.NoError(t, read(func(st *record.Store) error {
		rec, err := st.Load(bookPK("b", 1, 1))
		require.Nil(t, rec)
		return err
	}))
	require.Empty(t, e.dump(), "opening read-only wrote nothing")
	e.must(func(st *record.Store) error { _, err := st.SaveRecord(book("b", 1, 1, "t", "a", 1)); return err })
	require.NoError(t, read(func(st *record.Store) error {
		b, err := record.LoadAs[*testpb.Book](st, bookPK("b", 1, 1))
		require.NoError(t, err)
		require.Equal(t, "t", b.Title)
		cur, err := st.ExecuteQuery(record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("author").Equals("a")}, record.ExecuteOptions{})
		require.NoError(t, err)
		recs, err := cur.All()
		require.NoError(t, err)
		require.Len(t, recs, 1)
		n, err := st.RecordCount()
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		_, err = st.SaveRecord(book("b", 1, 2, "t", "a", 1))
		require.ErrorIs(t, err, record.ErrReadOnly)
		_, err = st.Delete(bookPK("b", 1, 1))
		require.ErrorIs(t, err, record.ErrReadOnly)
		require.ErrorIs(t, st.SetIndexState("by_tag", record.Disabled), record.ErrReadOnly)
		require.ErrorIs(t, st.DeleteAllRecords(), record.ErrReadOnly)
		require.ErrorIs(t, st.RebuildIndex("by_tag"), record.ErrReadOnly)
		return nil
	}))
	newer, err := aggregateBuilder().SetVersion(2).Build()
	require.NoError(t, err)
	e.md = newer
	require.ErrorIs(t, read(func(*record.Store) error { return nil }), record.ErrStoreNeedsUpgrade)
	e.must(func(*record.Store) error { return nil })
	require.NoError(t, read(func(*record.Store) error { return nil }))
}

// Load of a key whose record type key names another type than the record it holds fails
// clearly; LoadAs checks the type asked for.
func TestLoadOfAnotherRecordType(t *testing.T) {
	e := newEnv(t)
	e.must(func(st *record.Store) error { _, err := st.SaveRecord(book("b", 1, 1, "t", "a", 1)); return err })
	// An Author stored under a Book's key (as a buggy writer might leave it).
	e.put(kv.KeyValue{Key: e.rel(append(append(tuple.Tuple{int64(1)}, bookPK("b", 1, 2)...), int64(0))...), Value: union(t, 2, &testpb.Author{Id: 2})})
	err := e.do(func(st *record.Store) error { _, err := st.Load(bookPK("b", 1, 2)); return err })
	require.ErrorIs(t, err, record.ErrWrongRecordType)
	require.ErrorContains(t, err, `(1, "b", 1, 2) is a Book key, but it holds a Author`)
	e.put(kv.KeyValue{Key: e.rel(append(append(tuple.Tuple{int64(1)}, bookPK("b", 1, 2)...), int64(0))...)})
	err = e.do(func(st *record.Store) error {
		_, err := record.LoadAs[*testpb.Author](st, bookPK("b", 1, 1))
		return err
	})
	require.ErrorIs(t, err, record.ErrWrongRecordType)
	require.ErrorContains(t, err, "holds a Book, not a layerkit.record.test.Author")
}

// Record types whose primary keys do not start with RecordTypeKey share one key space: a save of
// one type over another's record is refused, naming both (Java's ERROR_IF_RECORD_TYPE_CHANGED),
// unless UpsertAnyType asks for it; the old record's index entries go with it.
func TestSaveOverAnotherRecordType(t *testing.T) {
	md, err := record.NewMetaDataBuilder(testpb.File_records_proto).
		SetPrimaryKey("Book", record.Field("id")).
		SetPrimaryKey("Author", record.Field("id")).
		AddIndex(record.Index{Name: "by_title", RecordTypes: []string{"Book"}, Expression: record.Field("title")}).
		AddIndex(record.Index{Name: "by_name", RecordTypes: []string{"Author"}, Expression: record.Field("name")}).
		Build()
	require.NoError(t, err)
	e := newEnvWith(t, md)
	e.must(func(st *record.Store) error { _, err := st.SaveRecord(book("b", 1, 7, "Dune", "a", 1)); return err })
	err = e.do(func(st *record.Store) error {
		_, err := st.SaveRecord(&testpb.Author{Id: 7, Name: "Herbert"})
		return err
	})
	require.ErrorIs(t, err, record.ErrRecordTypeChanged)
	require.ErrorContains(t, err, "save of Author (7) over the Book stored under that primary key")
	err = e.do(func(st *record.Store) error {
		_, err := st.Save(&testpb.Author{Id: 7, Name: "Herbert"}, record.UpdateOnly)
		return err
	})
	require.ErrorIs(t, err, record.ErrRecordTypeChanged)
	e.must(func(st *record.Store) error {
		_, err := st.Save(&testpb.Author{Id: 7, Name: "Herbert"}, record.UpsertAnyType)
		return err
	})
	require.Empty(t, e.indexEntries("by_title"))
	require.Equal(t, []tuple.Tuple{{"Herbert", int64(7)}}, e.indexEntries("by_name"))
}

// PrimaryKeyOf builds a type's primary key from values, type key included, with proto3 defaults
// as null as Save stores them.
func TestPrimaryKeyOf(t *testing.T) {
	md := testMetaData(t)
	rt := md.RecordType("Book")
	require.EqualValues(t, 1, rt.TypeKey())
	pk, err := rt.PrimaryKeyOf("b1", 3, int64(42))
	require.NoError(t, err)
	require.Equal(t, tuple.Tuple{int64(1), "b1", int64(3), int64(42)}, pk)
	pk, err = rt.PrimaryKeyOf("", 0, 42)
	require.NoError(t, err)
	require.Equal(t, tuple.Tuple{int64(1), nil, nil, int64(42)}, pk)
	_, err = rt.PrimaryKeyOf("b1", 3)
	require.ErrorContains(t, err, "takes 3 values, got 2")
	_, err = rt.PrimaryKeyOf("b1", "three", 4)
	require.ErrorContains(t, err, "column shelf")
	e := newEnvWith(t, md)
	e.must(func(st *record.Store) error {
		rec, err := st.SaveRecord(book("", 0, 42, "t", "a", 1))
		require.NoError(t, err)
		pk, err := rt.PrimaryKeyOf("", 0, 42)
		require.NoError(t, err)
		require.Equal(t, rec.PrimaryKey, pk)
		b, err := record.LoadAs[*testpb.Book](st, pk)
		require.NoError(t, err)
		require.NotNil(t, b)
		return nil
	})
	// FieldNotNull keeps the default value.
	md2, err := record.NewMetaDataBuilder(testpb.File_records_proto).
		SetPrimaryKey("Book", record.Concat(record.RecordTypeKey(), record.FieldNotNull("shelf"), record.Field("id"))).
		SetPrimaryKey("Author", record.Concat(record.RecordTypeKey(), record.Field("id"))).Build()
	require.NoError(t, err)
	pk, err = md2.RecordType("Book").PrimaryKeyOf(0, 5)
	require.NoError(t, err)
	require.Equal(t, tuple.Tuple{int64(1), int64(0), int64(5)}, pk)
}

// A directory is a store prefix as it is; the root of a partition is refused.
func TestDirectoryAsStorePrefix(t *testing.T) {
	ctx := context.Background()
	db := testdb.Open(t)
	md := testMetaData(t)
	dir, err := directory.CreateOrOpen(ctx, db, []string{"library", "store"}, nil)
	require.NoError(t, err)
	testdb.Check(t, db, "record", record.Check(md, dir))
	err = db.Transact(ctx, func(tr kv.Transaction) error {
		st, err := record.Open(ctx, tr, md, dir)
		if err != nil {
			return err
		}
		_, err = st.SaveRecord(book("b", 1, 1, "t", "a", 1))
		return err
	})
	require.NoError(t, err)
	rows, err := kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) ([]kv.KeyValue, error) {
		return tr.GetRange(dir, kv.RangeOptions{}).GetSlice()
	})
	require.NoError(t, err)
	require.NotEmpty(t, rows)
	part, err := directory.CreateOrOpen(ctx, db, []string{"tenant"}, []byte("partition"))
	require.NoError(t, err)
	err = db.Transact(ctx, func(tr kv.Transaction) error {
		_, err := record.Open(ctx, tr, md, part)
		return err
	})
	require.ErrorIs(t, err, directory.ErrPartitionRoot)
}
