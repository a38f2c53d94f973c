package record_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/record/internal/storepb"
	"github.com/layerkit/layerkit/record/internal/testpb"
	"github.com/layerkit/layerkit/tuple"
)

// bookPK is the primary key of a Book of testMetaData: (type key, branch, shelf, id), where a
// proto3 field at its default value is null, as Field evaluates it.
func bookPK(branch string, shelf, id int64) tuple.Tuple {
	pk := tuple.Tuple{int64(1), nil, nil, nil}
	if branch != "" {
		pk[1] = branch
	}
	if shelf != 0 {
		pk[2] = shelf
	}
	if id != 0 {
		pk[3] = id
	}
	return pk
}

func TestSaveLoadDeleteExists(t *testing.T) {
	e := newEnv(t)
	b := book("b1", 3, 42, "The Hobbit", "Tolkien", 1937, "fantasy")
	e.must(func(st *record.Store) error {
		rec, err := st.Save(b, record.InsertOnly)
		require.NoError(t, err)
		require.Equal(t, bookPK("b1", 3, 42), rec.PrimaryKey)
		return nil
	})
	e.must(func(st *record.Store) error {
		rec, err := st.Load(bookPK("b1", 3, 42))
		require.NoError(t, err)
		require.NotNil(t, rec)
		require.Equal(t, "Book", rec.Type.Name())
		require.True(t, proto.Equal(b, rec.Message), "loaded %v", rec.Message)
		ok, err := st.Exists(bookPK("b1", 3, 42))
		require.NoError(t, err)
		require.True(t, ok)
		missing, err := st.Load(bookPK("b1", 3, 43))
		require.NoError(t, err)
		require.Nil(t, missing)
		ok, err = st.Exists(bookPK("b1", 3, 43))
		require.NoError(t, err)
		require.False(t, ok)
		return nil
	})
	// Insert-only and update-only modes.
	// Inserting the identical record again succeeds (it is what a retry after
	// commit_unknown_result does); a different record under the same key is refused.
	e.must(func(st *record.Store) error { _, err := st.Save(b, record.InsertOnly); return err })
	err := e.do(func(st *record.Store) error {
		_, err := st.Save(book("b1", 3, 42, "Other", "Tolkien", 1937), record.InsertOnly)
		return err
	})
	require.ErrorIs(t, err, record.ErrRecordExists)
	err = e.do(func(st *record.Store) error {
		_, err := st.Save(book("b1", 3, 99, "x", "y", 1), record.UpdateOnly)
		return err
	})
	require.ErrorIs(t, err, record.ErrRecordNotFound)
	e.must(func(st *record.Store) error {
		b2 := proto.Clone(b).(*testpb.Book)
		b2.Title = "The Hobbit, or There and Back Again"
		_, err := st.Save(b2, record.UpdateOnly)
		return err
	})
	// A retry after a commit that went through finds nothing to delete, so "deleted" is
	// whether any attempt deleted the record.
	deleted := false
	e.must(func(st *record.Store) error {
		ok, err := st.Delete(bookPK("b1", 3, 42))
		deleted = deleted || ok
		return err
	})
	require.True(t, deleted)
	e.must(func(st *record.Store) error {
		ok, err := st.Delete(bookPK("b1", 3, 42))
		require.False(t, ok)
		return err
	})
	// Only the header is left: no record keys, no index entries.
	rows := e.dump()
	require.Len(t, rows, 1)
	require.Equal(t, e.prefix.Pack(tuple.Tuple{int64(0)}), rows[0].Key)
}

func TestUnknownRecordType(t *testing.T) {
	e := newEnv(t)
	err := e.do(func(st *record.Store) error { _, err := st.SaveRecord(&testpb.Stray{Id: 1}); return err })
	require.ErrorIs(t, err, record.ErrUnknownRecordType)
	require.ErrorContains(t, err, "layerkit.record.test.Stray")
}

// The keys and values follow the Java Record Layer's layout byte for byte.
func TestKeyLayout(t *testing.T) {
	e := newEnv(t)
	b := book("b1", 3, 42, "The Hobbit", "Tolkien", 1937)
	e.must(func(st *record.Store) error { _, err := st.SaveRecord(b); return err })
	p := hex.EncodeToString(e.prefix.Bytes())
	require.Equal(t, "02617070000273746f726500", p) // ("app", "store")
	got := map[string]string{}
	for _, r := range e.dump() {
		got[hex.EncodeToString(r.Key)[len(p):]] = hex.EncodeToString(r.Value)
	}
	inner, err := proto.Marshal(b)
	require.NoError(t, err)
	union := "0a" + hex.EncodeToString([]byte{byte(len(inner))}) + hex.EncodeToString(inner)
	want := map[string]string{
		// S+(1)+(1, "b1", 3, 42)+(0): the union message with field 1 (Book) set.
		"1501" + "1501" + "02623100" + "1503" + "152a" + "14": union,
		// S+(2, "by_author")+("Tolkien")+(1, "b1", 3, 42): values then the whole primary key.
		"1502" + "02" + hex.EncodeToString([]byte("by_author")) + "00" + "02" + hex.EncodeToString([]byte("Tolkien")) + "00" + "1501" + "02623100" + "1503" + "152a": "",
		// S+(2, "by_id")+(42)+(1, "b1", 3): id is indexed, so it is not repeated.
		"1502" + "02" + hex.EncodeToString([]byte("by_id")) + "00" + "152a" + "1501" + "02623100" + "1503": "",
		// S+(2, "by_year_title")+(1937, "The Hobbit")+(1, "b1", 3, 42).
		"1502" + "02" + hex.EncodeToString([]byte("by_year_title")) + "00" + "1607 91" + "02" + hex.EncodeToString([]byte("The Hobbit")) + "00" + "1501" + "02623100" + "1503" + "152a": "",
		// Unset origin: a null city.
		"1502" + "02" + hex.EncodeToString([]byte("by_city")) + "00" + "00" + "1501" + "02623100" + "1503" + "152a": "",
	}
	hdr := got["14"]
	delete(got, "14")
	for k, v := range want {
		delete(want, k)
		want[string(bytes.ReplaceAll([]byte(k), []byte(" "), nil))] = v
	}
	require.Equal(t, want, got)
	raw, err := hex.DecodeString(hdr)
	require.NoError(t, err)
	var info storepb.DataStoreInfo
	require.NoError(t, proto.Unmarshal(raw, &info))
	require.EqualValues(t, record.DefaultFormatVersion, info.GetFormatVersion())
	require.EqualValues(t, 1, info.GetMetaDataversion())
	require.NotZero(t, info.GetLastUpdateTime())
	require.False(t, info.GetOmitUnsplitRecordSuffix())
}

func TestStoreHeaderVersions(t *testing.T) {
	e := newEnv(t)
	e.must(func(st *record.Store) error { _, err := st.SaveRecord(book("b", 1, 1, "t", "a", 1)); return err })
	// Older metadata than the store: refused.
	v2, err := testBuilder().SetVersion(2).Build()
	require.NoError(t, err)
	e.md = v2
	e.must(func(st *record.Store) error {
		require.Equal(t, 2, st.Info().MetaDataVersion)
		require.Equal(t, record.DefaultFormatVersion, st.Info().FormatVersion)
		require.WithinDuration(t, time.Now(), st.Info().LastUpdate, time.Minute)
		return nil
	})
	e.md = testMetaData(t)
	err = e.do(func(st *record.Store) error { return nil })
	require.ErrorIs(t, err, record.ErrStoreTooNew)
	require.ErrorContains(t, err, "metadata version 2, newer than 1")
	e.md = v2
}

func TestOpenRefusesNonStorePrefix(t *testing.T) {
	e := newEnv(t)
	_, err := kv.Transact(context.Background(), e.db, func(tr kv.Transaction) (any, error) {
		tr.Set(e.prefix.Pack(tuple.Tuple{"junk"}), []byte("x"))
		return nil, nil
	})
	require.NoError(t, err)
	err = e.do(func(st *record.Store) error { return nil })
	require.ErrorIs(t, err, record.ErrStoreNotEmpty)
	_, err = kv.Transact(context.Background(), e.db, func(tr kv.Transaction) (any, error) {
		tr.ClearRange(e.prefix.Range())
		return nil, nil
	})
	require.NoError(t, err)
}

func TestDeleteAllRecords(t *testing.T) {
	e := newEnv(t)
	e.must(func(st *record.Store) error {
		for i := int64(0); i < 20; i++ {
			if _, err := st.SaveRecord(book("b", 1, i, "t", "a", 1, "x", "y")); err != nil {
				return err
			}
		}
		_, err := st.SaveRecord(&testpb.Author{Id: 7, Name: "A"})
		return err
	})
	e.must(func(st *record.Store) error { return st.SetIndexState("by_tag", record.WriteOnly) })
	e.must(func(st *record.Store) error { return st.DeleteAllRecords() })
	rows := e.dump()
	// The header and the index state survive.
	require.Len(t, rows, 2)
	e.must(func(st *record.Store) error {
		s, err := st.IndexState("by_tag")
		require.NoError(t, err)
		require.Equal(t, record.WriteOnly, s)
		n, err := st.ExecuteQuery(record.Query{}, record.ExecuteOptions{})
		require.NoError(t, err)
		all, err := n.All()
		require.NoError(t, err)
		require.Empty(t, all)
		return nil
	})
}
