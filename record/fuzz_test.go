package record_test

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/record/internal/storepb"
	"github.com/layerkit/layerkit/subspace"
	"github.com/layerkit/layerkit/tuple"
)

// FuzzContinuation: arbitrary continuation bytes never panic; they resume the plan or fail with
// ErrInvalidContinuation.
func FuzzContinuation(f *testing.F) {
	f.Add([]byte(nil))
	f.Add([]byte("garbage"))
	f.Add(tuple.Tuple{"k", int64(1), []byte{1, 2}}.Pack())
	f.Add(tuple.Tuple{"o", int64(1), int64(-1)}.Pack())
	md := testMetaData(f)
	db := testdb.OpenEmbedded(f, &embedded.Options{})
	prefix := subspace.Sub("fuzz")
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, cont []byte) {
		for _, q := range []record.Query{{RecordTypes: []string{"Book"}}, {RecordTypes: []string{"Book"}, Sort: record.Field("year")}, {Sort: record.Field("id"), InMemorySortLimit: 10, RecordTypes: []string{"Book"}}} {
			err := db.Transact(ctx, func(tr kv.Transaction) error {
				st, err := record.Open(ctx, tr, md, prefix)
				if err != nil {
					return err
				}
				cur, err := st.ExecuteQuery(q, record.ExecuteOptions{Continuation: cont, ReturnLimit: 3})
				if err != nil {
					return err
				}
				_, err = cur.All()
				return err
			})
			if err != nil && !errors.Is(err, record.ErrInvalidContinuation) {
				t.Fatalf("continuation %x: %v", cont, err)
			}
		}
	})
}

// FuzzStoredRecord: arbitrary bytes stored as a record never panic a load; they decode or fail
// with ErrCorruptStore, or ErrWrongRecordType for a record of another type than the key's.
func FuzzStoredRecord(f *testing.F) {
	f.Add([]byte{0x0a, 0x00})
	f.Add([]byte{0x12, 0x02, 0x08, 0x01})
	f.Add([]byte{0x0a, 0x05, 0x01})
	md := testMetaData(f)
	db := testdb.OpenEmbedded(f, &embedded.Options{})
	prefix := subspace.Sub("fuzz")
	ctx := context.Background()
	pk := tuple.Tuple{int64(1), "b", int64(1), int64(1)}
	f.Fuzz(func(t *testing.T, raw []byte) {
		err := db.Transact(ctx, func(tr kv.Transaction) error {
			st, err := record.Open(ctx, tr, md, prefix)
			if err != nil {
				return err
			}
			tr.Set(prefix.Pack(append(tuple.Tuple{int64(1)}, append(pk, int64(0))...)), raw)
			_, err = st.Load(pk)
			tr.Cancel()
			return err
		})
		if err != nil && !errors.Is(err, record.ErrCorruptStore) && !errors.Is(err, record.ErrWrongRecordType) && !errors.Is(err, kv.ErrTransactionCancelled) {
			t.Fatalf("record %x: %v", raw, err)
		}
	})
}

// FuzzStoreHeader: arbitrary bytes as the store header never panic Open; it opens the store, or
// fails with an error saying why (corrupt, too new, locked, or using what this package cannot
// honour).
func FuzzStoreHeader(f *testing.F) {
	for _, h := range []*storepb.DataStoreInfo{
		{FormatVersion: proto.Int32(3), MetaDataversion: proto.Int32(1)},
		{FormatVersion: proto.Int32(15), MetaDataversion: proto.Int32(1), OmitUnsplitRecordSuffix: proto.Bool(true), Cacheable: proto.Bool(false)},
		{FormatVersion: proto.Int32(9), MetaDataversion: proto.Int32(1), RecordCountKey: &storepb.KeyExpression{Field: &storepb.Field{FieldName: proto.String("id"), FanType: storepb.Field_SCALAR.Enum()}}},
		{FormatVersion: proto.Int32(14), StoreLockState: &storepb.DataStoreInfo_StoreLockState{}},
	} {
		b, err := proto.Marshal(h)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0xff, 0x01})
	md := testMetaData(f)
	db := testdb.OpenEmbedded(f, &embedded.Options{})
	prefix := subspace.Sub("fuzz-header")
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw []byte) {
		err := db.Transact(ctx, func(tr kv.Transaction) error {
			tr.Set(prefix.Pack(tuple.Tuple{int64(0)}), raw)
			st, err := record.Open(ctx, tr, md, prefix)
			if err == nil {
				_, err = st.Load(bookPK("b", 1, 1))
			}
			tr.Cancel()
			return err
		})
		switch {
		case err == nil, errors.Is(err, kv.ErrTransactionCancelled), errors.Is(err, record.ErrCorruptStore),
			errors.Is(err, record.ErrStoreTooNew), errors.Is(err, record.ErrStoreLocked), errors.Is(err, record.ErrUnsupportedStore):
		default:
			t.Fatalf("header %x: %v", raw, err)
		}
	})
}

// FuzzRecordVersion: arbitrary bytes as a record's version never panic a load; they decode or
// fail with ErrCorruptStore.
func FuzzRecordVersion(f *testing.F) {
	f.Add(tuple.Tuple{tuple.Versionstamp{UserVersion: 3}}.Pack())
	f.Add([]byte{0x33, 0x01})
	f.Add([]byte{})
	md, err := versionedBuilder().Build()
	if err != nil {
		f.Fatal(err)
	}
	db := testdb.OpenEmbedded(f, &embedded.Options{})
	prefix := subspace.Sub("fuzz-version")
	ctx := context.Background()
	pk := bookPK("b", 1, 1)
	f.Fuzz(func(t *testing.T, raw []byte) {
		err := db.Transact(ctx, func(tr kv.Transaction) error {
			st, err := record.Open(ctx, tr, md, prefix)
			if err != nil {
				return err
			}
			tr.Set(prefix.Pack(append(tuple.Tuple{int64(1)}, append(pk, int64(0))...)), union(t, 1, book("b", 1, 1, "t", "a", 1)))
			tr.Set(prefix.Pack(append(tuple.Tuple{int64(1)}, append(pk, int64(-1))...)), raw)
			_, err = st.Load(pk)
			tr.Cancel()
			return err
		})
		if err != nil && !errors.Is(err, record.ErrCorruptStore) && !errors.Is(err, kv.ErrTransactionCancelled) {
			t.Fatalf("version %x: %v", raw, err)
		}
	})
}
