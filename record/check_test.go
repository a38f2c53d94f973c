package record_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/tuple"
)

// The checker recounts aggregate indexes and the record count key, and finds versions without
// records; each problem is named.
func TestCheckerFindsAggregateVersionAndCountProblems(t *testing.T) {
	md, err := aggregateBuilder().SetStoreRecordVersions(true).SetRecordCountKey(record.Field("branch")).
		AddIndex(record.Index{Name: "changes", RecordTypes: []string{"Book"}, Type: record.VersionIndex, Expression: record.VersionKey()}).
		Build()
	require.NoError(t, err)
	e := newEnvWith(t, md)
	e.must(func(st *record.Store) error {
		_, err := st.SaveRecord(book("b1", 1, 1, "Dune", "Herbert", 1965))
		return err
	})
	broken := []kv.KeyValue{
		{Key: e.rel(int64(2), "count_by_author", "Herbert"), Value: []byte{5, 0, 0, 0, 0, 0, 0, 0}},
		{Key: e.rel(int64(2), "sum_year_by_author", "Ghost"), Value: []byte{1, 0, 0, 0, 0, 0, 0, 0}},
		{Key: e.rel(int64(2), "max_year_by_author", "Herbert"), Value: []byte{1, 0, 0, 0, 0, 0, 0, 0}},
		{Key: e.rel(int64(4), "b1"), Value: []byte{2, 0, 0, 0, 0, 0, 0, 0}},
		{Key: e.rel(append(append(tuple.Tuple{int64(1)}, bookPK("b9", 1, 9)...), int64(-1))...), Value: tuple.Tuple{tuple.Versionstamp{UserVersion: 1}}.Pack()},
	}
	e.put(broken...)
	err = record.Check(e.md, e.prefix)(context.Background(), e.db)
	require.ErrorContains(t, err, `count index "count_by_author" group ("Herbert"): holds 5, the records give 1`)
	require.ErrorContains(t, err, `sum index "sum_year_by_author" group ("Ghost"): holds 1, the records give 0`)
	require.ErrorContains(t, err, `max_ever_long index "max_year_by_author" group ("Herbert"): holds 1, below the live maximum 1965`)
	require.ErrorContains(t, err, `record count of ("b1") is 2, the records number 1`)
	require.ErrorContains(t, err, `has a version but no data`)
	// Repair so the end-of-test check passes.
	e.put(
		kv.KeyValue{Key: broken[0].Key, Value: []byte{1, 0, 0, 0, 0, 0, 0, 0}},
		kv.KeyValue{Key: broken[1].Key},
		kv.KeyValue{Key: broken[2].Key, Value: []byte{0xad, 0x07, 0, 0, 0, 0, 0, 0}},
		kv.KeyValue{Key: broken[3].Key, Value: []byte{1, 0, 0, 0, 0, 0, 0, 0}},
		kv.KeyValue{Key: broken[4].Key},
	)
	require.NoError(t, record.Check(e.md, e.prefix)(context.Background(), e.db))
}
