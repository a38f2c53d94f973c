package record_test

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/record/internal/storepb"
	"github.com/layerkit/layerkit/record/internal/testpb"
	"github.com/layerkit/layerkit/tuple"
)

// Tests of the points where the bytes are the Java Record Layer's. Paths are relative to
// fdb-record-layer-core/src/main/java/com/apple/foundationdb/record/.

// put writes raw keys (a store as another client left it).
func (e *env) put(kvs ...kv.KeyValue) {
	e.t.Helper()
	_, err := kv.Transact(context.Background(), e.db, func(tr kv.Transaction) (any, error) {
		for _, r := range kvs {
			if r.Value == nil {
				tr.Clear(r.Key)
			} else {
				tr.Set(r.Key, r.Value)
			}
		}
		return nil, nil
	})
	require.NoError(e.t, err)
}

func (e *env) rel(elems ...any) []byte { return e.prefix.Pack(tuple.Tuple(elems)) }

// union returns the union message with field num holding msg.
func union(t testing.TB, num protowire.Number, msg proto.Message) []byte {
	inner, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	require.NoError(t, err)
	b := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendBytes(b, inner)
}

// An index on several record types keeps the whole primary key in its entries; one on a single
// type drops the primary-key columns already among its values. Java computes primary-key
// component positions only for the indexes of one record type (RecordMetaDataBuilder.java:1483-1486;
// FDBRecordStoreBase.indexEntryKey, Index.trimPrimaryKey).
func TestFormatMultiTypeIndexKeepsWholePrimaryKey(t *testing.T) {
	md, err := testBuilder().
		AddIndex(record.Index{Name: "all_by_id", RecordTypes: []string{"Book", "Author"}, Expression: record.Field("id")}).
		Build()
	require.NoError(t, err)
	e := newEnvWith(t, md)
	e.must(func(st *record.Store) error {
		if _, err := st.SaveRecord(book("b1", 3, 42, "Dune", "Herbert", 1965)); err != nil {
			return err
		}
		_, err := st.SaveRecord(&testpb.Author{Id: 7, Name: "Herbert"})
		return err
	})
	rows := e.dump()
	golden(t, "multi_type_index", layout(t, e.prefix, append(rowsUnder(e.prefix, rows, int64(2), "by_id"), rowsUnder(e.prefix, rows, int64(2), "all_by_id")...)))
	// The multi-type index serves queries over both types, each entry decoding to its record.
	e.must(func(st *record.Store) error {
		cur, err := st.ExecuteQuery(record.Query{Filter: record.Where("id").GreaterThan(1)}, record.ExecuteOptions{})
		require.NoError(t, err)
		recs, err := cur.All()
		require.NoError(t, err)
		require.Len(t, recs, 2)
		require.Equal(t, tuple.Tuple{int64(2), int64(7)}, recs[0].PrimaryKey)
		require.Equal(t, bookPK("b1", 3, 42), recs[1].PrimaryKey)
		return nil
	})
}

// Field follows Java's FieldKeyExpression.evaluateMessage (expressions/FieldKeyExpression.java:
// 205-240): a field the message does not have — a proto3 scalar at its default value, an unset
// proto2 or proto3 optional — is null, in index entries and in primary keys; NOT_NULL
// (Key.Evaluated.NullStandin.NOT_NULL) gives the default value. A nested message that is unset
// evaluates its fields as null and its fan-outs as nothing (NestingKeyExpression.java:77-87).
func TestFormatFieldNullSemantics(t *testing.T) {
	md, err := record.NewMetaDataBuilder(testpb.File_records_proto).
		SetPrimaryKey("Book", record.Concat(record.Field("branch"), record.Field("shelf"), record.Field("id"))).
		SetPrimaryKey("Author", record.Field("id")).
		AddIndex(record.Index{Name: "year", RecordTypes: []string{"Book"}, Expression: record.Field("year")}).
		AddIndex(record.Index{Name: "year!", RecordTypes: []string{"Book"}, Expression: record.FieldNotNull("year")}).
		AddIndex(record.Index{Name: "isbn", RecordTypes: []string{"Book"}, Expression: record.Field("isbn")}).
		AddIndex(record.Index{Name: "city", RecordTypes: []string{"Book"}, Expression: record.Nest("origin", record.Field("city"))}).
		AddIndex(record.Index{Name: "phones", RecordTypes: []string{"Book"}, Expression: record.Nest("origin", record.FanOut("phones"))}).
		Build()
	require.NoError(t, err)
	e := newEnvWith(t, md)
	e.must(func(st *record.Store) error {
		// shelf 0, year 0, isbn unset, origin unset.
		if _, err := st.SaveRecord(&testpb.Book{Branch: "b", Shelf: 0, Id: 1}); err != nil {
			return err
		}
		// isbn set to "" has presence, so it is a value; origin set but empty.
		_, err := st.SaveRecord(&testpb.Book{Branch: "b", Shelf: 2, Id: 2, Year: 1999, Isbn: proto.String(""), Origin: &testpb.Address{}})
		return err
	})
	golden(t, "field_null_semantics", layout(t, e.prefix, e.dump()[1:]))

	// Proto2: an unset optional is null, one set to its default value is that value.
	md2, err := record.NewMetaDataBuilder(testpb.File_twice_proto).SetUnion("TwiceUnion").
		SetPrimaryKey("Thing", record.Field("id")).SetPrimaryKey("Other", record.Field("id")).
		AddIndex(record.Index{Name: "rank", RecordTypes: []string{"Thing"}, Expression: record.Field("rank")}).
		Build()
	require.NoError(t, err)
	e2 := newEnvWith(t, md2)
	e2.must(func(st *record.Store) error {
		if _, err := st.SaveRecord(&testpb.Thing{Id: proto.Int64(1)}); err != nil {
			return err
		}
		_, err := st.SaveRecord(&testpb.Thing{Id: proto.Int64(2), Rank: proto.Int32(0)})
		return err
	})
	require.Equal(t, []tuple.Tuple{{nil, int64(1)}, {int64(0), int64(2)}}, e2.indexEntries("rank"))
}

// A unique index that is WRITE_ONLY lets a violating save through and records the violation in
// both directions under S+(7, index)+values+pk with the other primary key as the value; deleting
// one of the records removes its key and then the last one (StandardIndexMaintainer.java:
// 488-560, FDBRecordStoreBase.uniquenessViolationKey). A READABLE index refuses the save.
func TestFormatUniqueViolationsWhileWriteOnly(t *testing.T) {
	e := newEnv(t)
	e.must(func(st *record.Store) error { return st.SetIndexState("by_id", record.WriteOnly) })
	e.must(func(st *record.Store) error { _, err := st.SaveRecord(book("b1", 1, 42, "A", "x", 1)); return err })
	e.must(func(st *record.Store) error { _, err := st.SaveRecord(book("b2", 2, 42, "B", "y", 2)); return err })
	e.must(func(st *record.Store) error { _, err := st.SaveRecord(book("b3", 3, 42, "C", "z", 3)); return err })
	golden(t, "unique_violations", layout(t, e.prefix, rowsUnder(e.prefix, e.dump(), int64(7))))
	e.must(func(st *record.Store) error {
		vs, err := st.UniquenessViolations("by_id", 0)
		require.NoError(t, err)
		// b1↔b2, then b3 against both: b3's own key is written twice, so it holds the last
		// one it met (the key is values+pk, as in Java).
		require.Len(t, vs, 3)
		return nil
	})
	// Rebuilding refuses to make it readable while the records violate it.
	err := e.do(func(st *record.Store) error { return st.RebuildIndex("by_id") })
	require.ErrorIs(t, err, record.ErrUniqueViolation)

	// Deleting b1 and b2 resolves everything: b3's keys go with the last of the others.
	e.must(func(st *record.Store) error { _, err := st.Delete(bookPK("b1", 1, 42)); return err })
	require.NotEmpty(t, rowsUnder(e.prefix, e.dump(), int64(7)))
	e.must(func(st *record.Store) error { _, err := st.Delete(bookPK("b2", 2, 42)); return err })
	require.Empty(t, rowsUnder(e.prefix, e.dump(), int64(7)))
	e.must(func(st *record.Store) error { return st.RebuildIndex("by_id") })

	// READABLE_UNIQUE_PENDING (code 3), as the Java online indexer leaves a unique index built
	// with violations: queries may scan it, new violations are refused, deletes clean up.
	e.put(kv.KeyValue{Key: e.rel(int64(5), "by_id"), Value: tuple.Tuple{int64(3)}.Pack()})
	e.must(func(st *record.Store) error {
		s, err := st.IndexState("by_id")
		require.NoError(t, err)
		require.Equal(t, record.ReadableUniquePending, s)
		p, err := st.Plan(record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("id").Equals(42)})
		require.NoError(t, err)
		require.Contains(t, p.Explain(), "IndexScan(by_id")
		return nil
	})
	err = e.do(func(st *record.Store) error { _, err := st.SaveRecord(book("b4", 4, 42, "D", "w", 4)); return err })
	require.ErrorIs(t, err, record.ErrUniqueViolation)
}

// Disabling an index clears its entries, S+(3, index), its built-range set S+(6, index) and its
// violations S+(7, index) (FDBRecordStore.markIndexDisabled → clearIndexData,
// FDBRecordStore.java:5281-5291).
func TestFormatDisableClearsIndexData(t *testing.T) {
	e := newEnv(t)
	e.must(func(st *record.Store) error { _, err := st.SaveRecord(book("b1", 1, 1, "A", "x", 1)); return err })
	e.put(
		kv.KeyValue{Key: e.rel(int64(3), "by_id", "rank"), Value: []byte{1}},
		kv.KeyValue{Key: e.rel(int64(6), "by_id", []byte{0}), Value: []byte{0xff}},
		kv.KeyValue{Key: e.rel(int64(7), "by_id", int64(1), int64(1), "b1", int64(1)), Value: tuple.Tuple{int64(1), "b2", int64(1), int64(1)}.Pack()},
		kv.KeyValue{Key: e.rel(int64(6), "by_author", []byte{0}), Value: []byte{0xff}},
	)
	e.must(func(st *record.Store) error { return st.SetIndexState("by_id", record.Disabled) })
	rows := e.dump()
	for _, id := range []int64{2, 3, 6, 7} {
		require.Empty(t, rowsUnder(e.prefix, rows, id, "by_id"), "S+(%d, by_id)", id)
	}
	require.Len(t, rowsUnder(e.prefix, rows, int64(6), "by_author"), 1, "another index's range set stays")
	require.Equal(t, []byte{0x15, 0x02}, e.stateValue("by_id"))
}

// Unsigned integer fields are refused as Java refuses them (RecordMetaDataBuilder.java:668-675);
// AllowUnsignedFields keeps their exact values (no wrap to negative numbers) and marks the
// store's header as not readable by Java.
func TestFormatUnsignedFields(t *testing.T) {
	_, err := record.NewMetaDataBuilder(testpb.File_unsigned_proto).SetUnion("CounterUnion").
		SetPrimaryKey("Counter", record.Field("id")).Build()
	require.ErrorContains(t, err, `field "big" of layerkit.record.test.unsigned.Counter has unsigned type uint64`)
	md, err := record.NewMetaDataBuilder(testpb.File_unsigned_proto).SetUnion("CounterUnion").AllowUnsignedFields().
		SetPrimaryKey("Counter", record.Field("id")).
		AddIndex(record.Index{Name: "big", RecordTypes: []string{"Counter"}, Expression: record.Concat(record.Field("big"), record.Field("small"))}).
		Build()
	require.NoError(t, err)
	require.False(t, md.JavaCompatible())
	e := newEnvWith(t, md)
	e.must(func(st *record.Store) error {
		_, err := st.SaveRecord(&testpb.Counter{Id: 1, Small: math.MaxUint32, Big: math.MaxUint64, Fixed: 5})
		return err
	})
	golden(t, "unsigned", layout(t, e.prefix, append(e.dump()[:1], rowsUnder(e.prefix, e.dump(), int64(2))...)))
	e.must(func(st *record.Store) error {
		cur, err := st.ExecuteQuery(record.Query{Filter: record.Where("big").Equals(uint64(math.MaxUint64))}, record.ExecuteOptions{})
		require.NoError(t, err)
		recs, err := cur.All()
		require.NoError(t, err)
		require.Len(t, recs, 1)
		return nil
	})
}

// A type listed twice in the union is written under the field named _<Type>, else the one with
// the largest number (RecordMetaDataBuilder.remapUnionField, RecordMetaDataBuilder.java:878-888);
// its record type key is the smallest number (metadata/RecordType.java:171-181).
func TestFormatUnionTypeListedTwice(t *testing.T) {
	md, err := record.NewMetaDataBuilder(testpb.File_twice_proto).SetUnion("TwiceUnion").
		SetPrimaryKey("Thing", record.Concat(record.RecordTypeKey(), record.Field("id"))).
		SetPrimaryKey("Other", record.Concat(record.RecordTypeKey(), record.Field("id"))).
		Build()
	require.NoError(t, err)
	e := newEnvWith(t, md)
	e.must(func(st *record.Store) error {
		if _, err := st.SaveRecord(&testpb.Thing{Id: proto.Int64(1), Name: proto.String("t")}); err != nil {
			return err
		}
		_, err := st.SaveRecord(&testpb.Other{Id: proto.Int64(2)})
		return err
	})
	golden(t, "union_twice", layout(t, e.prefix, e.dump()[1:]))
	// Every listed field decodes: a record Java wrote under old_thing (1) loads as a Thing.
	e.put(kv.KeyValue{Key: e.rel(int64(1), int64(1), int64(9), int64(0)), Value: union(t, 1, &testpb.Thing{Id: proto.Int64(9)})})
	e.must(func(st *record.Store) error {
		rec, err := st.Load(tuple.Tuple{int64(1), int64(9)})
		require.NoError(t, err)
		require.Equal(t, "Thing", rec.Type.Name())
		return nil
	})
}

// A save replaces the record's whole key range: an update clears S+(1)+pk+(…) before writing, so
// no version (suffix -1) or chunk another client left survives (SplitHelper.saveWithSplit,
// clearPreviousSplitRecord: SplitHelper.java:141-170, 348-380).
func TestFormatSaveReplacesWholeRecordRange(t *testing.T) {
	e := newEnv(t)
	e.must(func(st *record.Store) error { _, err := st.SaveRecord(book("b1", 1, 1, "A", "x", 1)); return err })
	pk := bookPK("b1", 1, 1)
	stale := []kv.KeyValue{
		{Key: e.rel(append(append(tuple.Tuple{int64(1)}, pk...), int64(-1))...), Value: tuple.Tuple{tuple.Versionstamp{UserVersion: 1}}.Pack()},
		{Key: e.rel(append(append(tuple.Tuple{int64(1)}, pk...), int64(7))...), Value: []byte("stale chunk")},
	}
	e.put(stale...)
	e.must(func(st *record.Store) error { _, err := st.SaveRecord(book("b1", 1, 1, "A2", "x", 1)); return err })
	golden(t, "save_replaces_range", layout(t, e.prefix, rowsUnder(e.prefix, e.dump(), int64(1))))
}

// DeleteAllRecords clears what Java's deleteAllRecords clears: from S+(1) up to the index-state
// space, and from its end to the end of the store (FDBRecordStore.java:1913-1927).
func TestFormatDeleteAllRecords(t *testing.T) {
	e := newEnv(t)
	e.must(func(st *record.Store) error { _, err := st.SaveRecord(book("b1", 1, 1, "A", "x", 1)); return err })
	e.must(func(st *record.Store) error { return st.SetIndexState("by_tag", record.WriteOnly) })
	var planted []kv.KeyValue
	for _, id := range []int64{1, 2, 3, 4, 6, 7, 8, 9, 10, 42} {
		planted = append(planted, kv.KeyValue{Key: e.rel(id, "x"), Value: []byte{1}})
	}
	e.put(planted...)
	e.must(func(st *record.Store) error { return st.DeleteAllRecords() })
	golden(t, "delete_all_records", layout(t, e.prefix, e.dump()))
}

// legacyEnv is a store written by another client at format version format (Java before format 5
// wrote unsplit records at S+(1)+pk without a suffix when its metadata did not split long
// records), with book 1 in it.
func legacyEnv(t *testing.T, format int32, split bool) *env {
	md, err := testBuilder().SetSplitLongRecords(split).Build()
	require.NoError(t, err)
	e := newEnvWith(t, md)
	key := e.rel(int64(1), int64(1), "b1", int64(1), int64(1))
	if split {
		key = e.rel(int64(1), int64(1), "b1", int64(1), int64(1), int64(0))
	}
	b := book("b1", 1, 1, "Old", "x", 1900)
	header, err := proto.Marshal(&storepb.DataStoreInfo{FormatVersion: proto.Int32(format), MetaDataversion: proto.Int32(1), LastUpdateTime: proto.Uint64(1)})
	require.NoError(t, err)
	entries := []kv.KeyValue{
		{Key: e.rel(int64(0)), Value: header},
		{Key: key, Value: union(t, 1, b)},
		{Key: e.rel(int64(2), "by_author", "x", int64(1), "b1", int64(1), int64(1)), Value: []byte{}},
		{Key: e.rel(int64(2), "by_id", int64(1), int64(1), "b1", int64(1)), Value: []byte{}},
		{Key: e.rel(int64(2), "by_year_title", int64(1900), "Old", int64(1), "b1", int64(1), int64(1)), Value: []byte{}},
		{Key: e.rel(int64(2), "by_city", nil, int64(1), "b1", int64(1), int64(1)), Value: []byte{}},
	}
	e.put(entries...)
	return e
}

// A store below format 5 whose metadata does not split long records is upgraded with
// omit_unsplit_record_suffix set, and keeps reading and writing records without the suffix
// (FDBRecordStore.checkRebuild, FDBRecordStore.java:4898-4916; SplitHelper.saveWithSplit:
// "splitLongRecords || !omitUnsplitSuffix"). With split records the flag stays unset.
func TestFormatOmitUnsplitSuffixUpgrade(t *testing.T) {
	for _, split := range []bool{false, true} {
		e := legacyEnv(t, 3, split)
		e.must(func(st *record.Store) error {
			require.Equal(t, record.DefaultFormatVersion, st.Info().FormatVersion)
			require.Equal(t, !split, st.Info().OmitUnsplitSuffix)
			rec, err := st.Load(bookPK("b1", 1, 1))
			require.NoError(t, err)
			require.Equal(t, "Old", rec.Message.(*testpb.Book).Title)
			_, err = st.SaveRecord(book("b1", 1, 2, "New", "y", 2000))
			return err
		})
		name := "legacy_format3_unsplit"
		if split {
			name = "legacy_format3_split"
		}
		golden(t, name, layout(t, e.prefix, append(e.dump()[:1], rowsUnder(e.prefix, e.dump(), int64(1))...)))
		e.must(func(st *record.Store) error {
			cur, err := st.ExecuteQuery(record.Query{RecordTypes: []string{"Book"}}, record.ExecuteOptions{})
			require.NoError(t, err)
			recs, err := cur.All()
			require.NoError(t, err)
			require.Len(t, recs, 2)
			ok, err := st.Delete(bookPK("b1", 1, 1))
			require.NoError(t, err)
			require.True(t, ok)
			return nil
		})
	}
	// A record too large for one value is refused when the metadata does not split.
	e := legacyEnv(t, 3, false)
	err := e.do(func(st *record.Store) error { _, err := st.SaveRecord(sizedBook(5, 100_001)); return err })
	require.ErrorIs(t, err, record.ErrRecordTooLarge)
}

// Header format versions 1 to 15 open (a store keeps a version newer than the default); 16 and
// 0 do not (FormatVersion.java: validateFormatVersion).
func TestFormatVersions(t *testing.T) {
	for _, v := range []int32{1, 2, 4, 5, 8, 9, 12, 15} {
		e := legacyEnv(t, v, true)
		e.must(func(st *record.Store) error {
			require.Equal(t, max(int(v), record.DefaultFormatVersion), st.Info().FormatVersion, "from %d", v)
			rec, err := st.Load(bookPK("b1", 1, 1))
			require.NoError(t, err)
			require.NotNil(t, rec)
			return nil
		})
	}
	for _, v := range []int32{0, 16} {
		e := legacyEnv(t, v, true)
		err := e.do(func(*record.Store) error { return nil })
		if v == 0 {
			require.ErrorIs(t, err, record.ErrCorruptStore)
		} else {
			require.ErrorIs(t, err, record.ErrStoreTooNew)
			require.ErrorContains(t, err, "format version 16, newer than 15")
		}
		e.put(kv.KeyValue{Key: e.rel(int64(0))}) // so the end-of-test check skips the store
		e.put(kv.KeyValue{Key: e.rel(int64(1), int64(1), "b1", int64(1), int64(1), int64(0))})
		for _, n := range []string{"by_author", "by_id", "by_year_title", "by_city"} {
			_, err := kv.Transact(context.Background(), e.db, func(tr kv.Transaction) (any, error) {
				tr.ClearRange(kv.Range{Begin: e.rel(int64(2), n), End: append(e.rel(int64(2), n), 0xff)})
				return nil, nil
			})
			require.NoError(t, err)
		}
	}
	// WithFormatVersion chooses the version of new stores.
	e := newEnv(t)
	err := e.db.Transact(context.Background(), func(tr kv.Transaction) error {
		st, err := record.Open(context.Background(), tr, e.md, e.prefix, record.WithFormatVersion(15))
		if err != nil {
			return err
		}
		require.Equal(t, 15, st.Info().FormatVersion)
		return nil
	})
	require.NoError(t, err)
}

// Store locks (DataStoreInfo.store_lock_state, FDBRecordStore.validateStoreLockState): a
// FULL_STORE lock refuses Open, FORBID_RECORD_UPDATE refuses saves and deletes but not reads,
// and from format 14 an unknown lock state refuses Open. An index in WRITE_ONLY_WITH_QUEUE,
// whose queue this package does not keep, refuses record writes.
func TestFormatLocksAndQueueState(t *testing.T) {
	lock := func(e *env, format int32, state storepb.DataStoreInfo_StoreLockState_State) {
		h, err := proto.Marshal(&storepb.DataStoreInfo{FormatVersion: proto.Int32(format), MetaDataversion: proto.Int32(1),
			StoreLockState: &storepb.DataStoreInfo_StoreLockState{LockState: state.Enum(), Reason: proto.String("maintenance")}})
		require.NoError(t, err)
		e.put(kv.KeyValue{Key: e.rel(int64(0)), Value: h})
	}
	e := newEnv(t)
	e.must(func(st *record.Store) error { _, err := st.SaveRecord(book("b1", 1, 1, "A", "x", 1)); return err })
	lock(e, 9, storepb.DataStoreInfo_StoreLockState_FORBID_RECORD_UPDATE)
	err := e.do(func(st *record.Store) error { _, err := st.SaveRecord(book("b1", 1, 2, "B", "x", 1)); return err })
	require.ErrorIs(t, err, record.ErrStoreLocked)
	require.ErrorContains(t, err, `"maintenance"`)
	err = e.do(func(st *record.Store) error { _, err := st.Delete(bookPK("b1", 1, 1)); return err })
	require.ErrorIs(t, err, record.ErrStoreLocked)
	e.must(func(st *record.Store) error {
		rec, err := st.Load(bookPK("b1", 1, 1))
		require.NotNil(t, rec)
		return err
	})
	lock(e, 9, storepb.DataStoreInfo_StoreLockState_FULL_STORE)
	require.ErrorIs(t, e.do(func(*record.Store) error { return nil }), record.ErrStoreLocked)
	lock(e, 14, storepb.DataStoreInfo_StoreLockState_UNSPECIFIED)
	require.ErrorIs(t, e.do(func(*record.Store) error { return nil }), record.ErrStoreLocked)
	lock(e, 9, storepb.DataStoreInfo_StoreLockState_UNSPECIFIED)
	e.must(func(*record.Store) error { return nil })

	e.put(kv.KeyValue{Key: e.rel(int64(5), "by_tag"), Value: tuple.Tuple{int64(4)}.Pack()})
	err = e.do(func(st *record.Store) error { _, err := st.SaveRecord(book("b1", 1, 3, "C", "x", 1)); return err })
	require.ErrorIs(t, err, record.ErrUnsupportedStore)
	require.ErrorContains(t, err, `index "by_tag" is WRITE_ONLY_WITH_QUEUE`)
	e.put(kv.KeyValue{Key: e.rel(int64(5), "by_tag"), Value: tuple.Tuple{int64(9)}.Pack()})
	require.ErrorIs(t, e.do(func(*record.Store) error { return nil }), record.ErrCorruptStore)
	e.put(kv.KeyValue{Key: e.rel(int64(5), "by_tag")})
}

// The record count key: S+(4)+value holds an 8-byte little-endian count changed by atomic ADD
// on insert and delete (FDBRecordStore.addRecordCount, FDBRecordStore.java:602-615), and the
// header records the key as Java serializes it (record_key_expression.proto; DataStoreInfo
// field 4, FDBRecordStore.checkPossiblyRebuildRecordCounts, FDBRecordStore.java:5341-5377).
func TestFormatRecordCountKey(t *testing.T) {
	md, err := testBuilder().SetRecordCountKey(record.Field("branch")).Build()
	require.NoError(t, err)
	e := newEnvWith(t, md)
	e.must(func(st *record.Store) error {
		for i, br := range []string{"b1", "b1", "b2"} {
			if _, err := st.SaveRecord(book(br, 1, int64(i+1), "t", "a", 1)); err != nil {
				return err
			}
		}
		_, err := st.SaveRecord(&testpb.Author{Id: 1, Name: "a"}) // no branch: counted under null
		return err
	})
	e.must(func(st *record.Store) error {
		_, err := st.SaveRecord(book("b1", 1, 1, "t2", "a", 1)) // an update counts nothing
		return err
	})
	e.must(func(st *record.Store) error { _, err := st.Delete(bookPK("b1", 1, 2)); return err })
	rows := e.dump()
	golden(t, "record_count_key", layout(t, e.prefix, append(rows[:1], rowsUnder(e.prefix, rows, int64(4))...)))
	e.must(func(st *record.Store) error {
		n, err := st.RecordCountFromKey(tuple.Tuple{"b1"})
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		return nil
	})

	// A store whose header has a count key is maintained by it even when the metadata has none
	// (same metadata version: nothing is rebuilt).
	e.md = testMetaData(t)
	e.must(func(st *record.Store) error {
		require.Equal(t, "branch", st.Info().RecordCountKey.String())
		_, err := st.SaveRecord(book("b2", 1, 9, "t", "a", 1))
		return err
	})
	e.must(func(st *record.Store) error {
		n, err := st.RecordCountFromKey(tuple.Tuple{"b2"})
		require.NoError(t, err)
		require.EqualValues(t, 2, n)
		return nil
	})
	// Newer metadata with another key: the counts are rebuilt in the opening transaction.
	md3, err := testBuilder().SetVersion(2).SetRecordCountKey(record.Empty()).Build()
	require.NoError(t, err)
	e.md = md3
	e.must(func(st *record.Store) error {
		n, err := st.RecordCountFromKey(tuple.Tuple{})
		require.NoError(t, err)
		require.EqualValues(t, 4, n)
		return nil
	})
	require.Len(t, rowsUnder(e.prefix, e.dump(), int64(4)), 1)

	// A header count key this package cannot evaluate refuses the store.
	h, err := proto.Marshal(&storepb.DataStoreInfo{FormatVersion: proto.Int32(9), MetaDataversion: proto.Int32(2),
		RecordCountKey: &storepb.KeyExpression{Value: []byte{0x18, 0x01}}})
	require.NoError(t, err)
	e.put(kv.KeyValue{Key: e.rel(int64(0)), Value: h})
	err = e.do(func(*record.Store) error { return nil })
	require.ErrorIs(t, err, record.ErrUnsupportedStore)
	require.ErrorContains(t, err, "record count key")
	e.put(kv.KeyValue{Key: e.rel(int64(0))})
	_, err = kv.Transact(context.Background(), e.db, func(tr kv.Transaction) (any, error) {
		tr.ClearRange(e.prefix.Range())
		return nil, nil
	})
	require.NoError(t, err)
}

// The user version hook is the Java Record Layer's UserVersionChecker.checkUserVersion: it
// receives the stored user version (-1 for a new store), its result is kept in the header, and an
// older one fails (FDBRecordStore.checkUserVersion, FDBRecordStore.java:2700-2740).
func TestFormatUserVersion(t *testing.T) {
	e := newEnv(t)
	open := func(fn record.UserVersionFunc) error {
		return e.db.Transact(context.Background(), func(tr kv.Transaction) error {
			_, err := record.Open(context.Background(), tr, e.md, e.prefix, record.WithUserVersion(fn))
			return err
		})
	}
	var seen []int
	require.NoError(t, open(func(stored int) (int, error) { seen = append(seen, stored); return 3, nil }))
	// The first attempt sees no stored version; a retry after a commit_unknown_result that was
	// applied sees 3, which the hook must accept (it runs once per attempt).
	require.Equal(t, -1, seen[0])
	require.NoError(t, open(func(stored int) (int, error) { seen = append(seen, stored); return 3, nil }))
	require.Equal(t, 3, seen[len(seen)-1])
	err := open(func(int) (int, error) { return 2, nil })
	require.ErrorIs(t, err, record.ErrStaleUserVersion)
	boom := errors.New("migration failed")
	require.ErrorIs(t, open(func(int) (int, error) { return 0, boom }), boom)
	e.must(func(st *record.Store) error {
		require.Equal(t, 3, st.Info().UserVersion)
		return nil
	})
}

// A cacheable store bumps FoundationDB's \xff/metadataVersion (SET_VERSIONSTAMPED_VALUE, the
// commit's versionstamp as the value) whenever its header or an index state changes
// (FDBRecordStore.updateStoreHeaderAsync and updateIndexState, FDBRecordContext
// .setMetaDataVersionStamp).
func TestFormatCacheableBumpsMetadataVersion(t *testing.T) {
	e := newEnv(t)
	e.db.(kv.FaultInjector).InjectFaults(kv.Faults{})
	e.must(func(*record.Store) error { return nil })
	// A store Java marked cacheable.
	h, err := proto.Marshal(&storepb.DataStoreInfo{FormatVersion: proto.Int32(9), MetaDataversion: proto.Int32(1), Cacheable: proto.Bool(true)})
	require.NoError(t, err)
	e.put(kv.KeyValue{Key: e.rel(int64(0)), Value: h})
	bumped := func(rec *recorder) {
		t.Helper()
		last := rec.ops[len(rec.ops)-1]
		require.Equal(t, kv.SetVersionstampedValue.String(), last.op)
		require.Equal(t, []byte("\xff/metadataVersion"), last.key)
		require.Equal(t, make([]byte, 14), last.value)
	}
	rec, err := e.recordErr(func(st *record.Store) error { return st.SetIndexState("by_tag", record.WriteOnly) })
	require.NoError(t, err)
	bumped(rec)
	rec, err = e.recordErr(func(st *record.Store) error { return st.SetStateCacheable(false) })
	require.NoError(t, err)
	bumped(rec)
	e.must(func(st *record.Store) error {
		require.False(t, st.Info().Cacheable)
		s, err := st.IndexState("by_tag")
		require.Equal(t, record.WriteOnly, s)
		return err
	})
	// Not cacheable: no bump.
	rec = e.record(func(st *record.Store) error { return st.SetIndexState("by_tag", record.Disabled) })
	require.NotEqual(t, kv.SetVersionstampedValue.String(), rec.ops[len(rec.ops)-1].op)
}

// DataStoreInfo.record_count_state (format 11): WRITE_ONLY keeps the counts but does not read
// them, DISABLED stops maintaining them (FDBRecordStore.addRecordCount, getSnapshotRecordCount).
func TestFormatRecordCountState(t *testing.T) {
	md, err := testBuilder().SetRecordCountKey(record.Empty()).Build()
	require.NoError(t, err)
	e := newEnvWith(t, md)
	e.must(func(st *record.Store) error { _, err := st.SaveRecord(book("b1", 1, 1, "t", "a", 1)); return err })
	setState := func(state storepb.DataStoreInfo_RecordCountState) {
		h, err := proto.Marshal(&storepb.DataStoreInfo{FormatVersion: proto.Int32(11), MetaDataversion: proto.Int32(1),
			RecordCountKey: &storepb.KeyExpression{Empty: &storepb.Empty{}}, RecordCountState: state.Enum()})
		require.NoError(t, err)
		e.put(kv.KeyValue{Key: e.rel(int64(0)), Value: h})
	}
	setState(storepb.DataStoreInfo_WRITE_ONLY)
	e.must(func(st *record.Store) error {
		if _, err := st.SaveRecord(book("b1", 1, 2, "t", "a", 1)); err != nil {
			return err
		}
		_, err := st.RecordCountFromKey(tuple.Tuple{})
		require.ErrorIs(t, err, record.ErrIndexNotReadable)
		return nil
	})
	setState(storepb.DataStoreInfo_READABLE)
	e.must(func(st *record.Store) error {
		n, err := st.RecordCount()
		require.NoError(t, err)
		require.EqualValues(t, 2, n, "WRITE_ONLY kept counting")
		return nil
	})
	setState(storepb.DataStoreInfo_DISABLED)
	e.must(func(st *record.Store) error { _, err := st.SaveRecord(book("b1", 1, 3, "t", "a", 1)); return err })
	require.Equal(t, []byte{2, 0, 0, 0, 0, 0, 0, 0}, rowsUnder(e.prefix, e.dump(), int64(4))[0].Value, "DISABLED counts nothing")
	setState(storepb.DataStoreInfo_READABLE) // the end-of-test check compares the counts
	e.put(kv.KeyValue{Key: e.rel(int64(4)), Value: []byte{3, 0, 0, 0, 0, 0, 0, 0}})
}
