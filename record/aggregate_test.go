package record_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/record/internal/testpb"
	"github.com/layerkit/layerkit/tuple"
)

// aggregateIndexes are one index of each aggregate type on the test schema.
func aggregateIndexes() []record.Index {
	books := []string{"Book"}
	all := []string{"Book", "Author"}
	return []record.Index{
		{Name: "count_all", RecordTypes: all, Type: record.CountIndex, Expression: record.Ungrouped(record.Empty())},
		{Name: "count_by_type", RecordTypes: all, Type: record.CountIndex, Expression: record.GroupBy(record.Empty(), record.RecordTypeKey())},
		{Name: "count_by_author", RecordTypes: books, Type: record.CountIndex, Expression: record.GroupBy(record.Empty(), record.Field("author")), ClearWhenZero: true},
		{Name: "count_by_tag", RecordTypes: books, Type: record.CountIndex, Expression: record.GroupBy(record.Empty(), record.FanOut("tags"))},
		{Name: "count_updates", RecordTypes: books, Type: record.CountUpdatesIndex, Expression: record.Ungrouped(record.Empty())},
		{Name: "count_isbn", RecordTypes: books, Type: record.CountNotNullIndex, Expression: record.Ungrouped(record.Field("isbn"))},
		{Name: "sum_year_by_author", RecordTypes: books, Type: record.SumIndex, Expression: record.GroupBy(record.Field("year"), record.Field("author"))},
		{Name: "min_year", RecordTypes: books, Type: record.MinEverLongIndex, Expression: record.Ungrouped(record.Field("year"))},
		{Name: "max_year_by_author", RecordTypes: books, Type: record.MaxEverLongIndex, Expression: record.GroupBy(record.Field("year"), record.Field("author"))},
		{Name: "min_title", RecordTypes: books, Type: record.MinEverTupleIndex, Expression: record.Ungrouped(record.Concat(record.Field("title"), record.Field("year")))},
		{Name: "max_title_by_author", RecordTypes: books, Type: record.MaxEverTupleIndex, Expression: record.GroupBy(record.Field("title"), record.Field("author"))},
	}
}

func aggregateBuilder() *record.MetaDataBuilder {
	b := testBuilder()
	for _, ix := range aggregateIndexes() {
		b.AddIndex(ix)
	}
	return b
}

// Aggregate indexes as the Java Record Layer lays them out (AtomicMutationIndexMaintainer
// .updateIndexKeys, AtomicMutationIndexMaintainer.java:125-183; AtomicMutation.Standard
// .getMutationParam, AtomicMutation.java:153-215): the key is S+(2, index)+group (S+(2, index)
// itself without groups), counts and sums are 8-byte little-endian integers changed by ADD,
// _EVER_LONG by MIN/MAX of the 8-byte value, _EVER_TUPLE by BYTE_MIN/BYTE_MAX of the packed
// grouped values; ClearWhenZero adds a COMPARE_AND_CLEAR of zero.
func TestAggregateIndexLayout(t *testing.T) {
	md, err := aggregateBuilder().Build()
	require.NoError(t, err)
	e := newEnvWith(t, md)
	e.db.(kv.FaultInjector).InjectFaults(kv.Faults{})
	rec := e.record(func(st *record.Store) error {
		b := book("b1", 1, 1, "Dune", "Herbert", 1965, "sf", "classic")
		b.Isbn = proto.String("978-0441013593")
		_, err := st.SaveRecord(b)
		return err
	})
	var ops []string
	for _, o := range rec.ops {
		if o.op != "set" && o.op != "clear" && o.op != "clear range" {
			k, err := e.prefix.Unpack(o.key)
			require.NoError(t, err)
			ops = append(ops, o.op+" "+k.String()+" "+spaced(o.value))
		}
	}
	golden(t, "aggregate_mutations", joinLines(ops))

	e.must(func(st *record.Store) error {
		if _, err := st.SaveRecord(book("b1", 1, 2, "Emma", "Austen", 1815, "classic")); err != nil {
			return err
		}
		_, err := st.SaveRecord(&testpb.Author{Id: 1, Name: "Herbert"})
		return err
	})
	// An update moves the book from Herbert to Le Guin; a delete removes Austen's.
	e.must(func(st *record.Store) error {
		_, err := st.SaveRecord(book("b1", 1, 1, "Dune", "Le Guin", 1965, "sf"))
		return err
	})
	e.must(func(st *record.Store) error { _, err := st.Delete(bookPK("b1", 1, 2)); return err })
	golden(t, "aggregate_layout", layout(t, e.prefix, rowsUnder(e.prefix, e.dump(), int64(2))))

	e.must(func(st *record.Store) error {
		n, err := st.RecordCount()
		require.NoError(t, err)
		require.EqualValues(t, 2, n)
		n, err = st.RecordCountOfType("Book")
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		n, err = st.Count("count_by_author", tuple.Tuple{"Le Guin"})
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		n, err = st.Count("count_by_author", tuple.Tuple{"Austen"}) // cleared when zero
		require.NoError(t, err)
		require.EqualValues(t, 0, n)
		n, err = st.Count("count_updates", nil)
		require.NoError(t, err)
		require.EqualValues(t, 3, n, "two inserts and an update")
		n, err = st.Count("count_by_tag", nil) // every group
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		n, err = st.Sum("sum_year_by_author", tuple.Tuple{"Le Guin"})
		require.NoError(t, err)
		require.EqualValues(t, 1965, n)
		n, err = st.Sum("sum_year_by_author", tuple.Tuple{"Herbert"}) // kept at zero
		require.NoError(t, err)
		require.EqualValues(t, 0, n)
		v, ok, err := st.MinEver("min_year", nil)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, tuple.Tuple{int64(1815)}, v, "deleted records stay in an _EVER index")
		v, ok, err = st.MaxEver("max_title_by_author", tuple.Tuple{"Herbert"})
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, tuple.Tuple{"Dune"}, v)
		_, ok, err = st.MaxEver("max_title_by_author", tuple.Tuple{"Nobody"})
		require.NoError(t, err)
		require.False(t, ok)
		_, err = st.Sum("count_all", nil)
		require.ErrorIs(t, err, record.ErrInvalidQuery)
		return nil
	})
	// A disabled index answers nothing.
	e.must(func(st *record.Store) error { return st.SetIndexState("count_by_author", record.Disabled) })
	err = e.do(func(st *record.Store) error {
		_, err := st.Count("count_by_author", tuple.Tuple{"Le Guin"})
		return err
	})
	require.ErrorIs(t, err, record.ErrIndexNotReadable)
	e.must(func(st *record.Store) error { return st.RebuildIndex("count_by_author") })
}

func joinLines(lines []string) string {
	out := ""
	for _, l := range lines {
		out += l + "\n"
	}
	return out
}

// MAX_EVER_VERSION keeps the newest version per group with SET_VERSIONSTAMPED_VALUE of the
// packed grouped values (AtomicMutationIndexMaintainer.java:159-170).
func TestMaxEverVersionIndex(t *testing.T) {
	md, err := testBuilder().SetStoreRecordVersions(true).
		AddIndex(record.Index{Name: "newest_by_author", RecordTypes: []string{"Book"}, Type: record.MaxEverVersionIndex, Expression: record.GroupBy(record.VersionKey(), record.Field("author"))}).
		Build()
	require.NoError(t, err)
	e := newEnvWith(t, md)
	stamp := e.commit(func(st *record.Store) error {
		for i := int64(1); i <= 3; i++ {
			if _, err := st.SaveRecord(book("b", 1, i, "t", "Herbert", 1)); err != nil {
				return err
			}
		}
		return nil
	})
	e.must(func(st *record.Store) error {
		v, ok, err := st.MaxEver("newest_by_author", tuple.Tuple{"Herbert"})
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, tuple.Tuple{record.CompleteVersion(tuple.IncompleteVersionstamp(2), stamp)}, v)
		return nil
	})
	golden(t, "max_ever_version", layout(t, e.prefix, withoutStamps(rowsUnder(e.prefix, e.dump(), int64(2), "newest_by_author"), stamp)))
}

// The aggregate types check their definitions as Java's validator does
// (AtomicMutationIndexMaintainerFactory.getIndexValidator), and values they cannot take fail the
// save before anything is written.
func TestAggregateIndexErrors(t *testing.T) {
	cases := []struct {
		ix   record.Index
		want string
	}{
		{record.Index{Name: "x", RecordTypes: []string{"Book"}, Type: record.CountIndex, Expression: record.Field("author")}, "needs a GroupBy expression"},
		{record.Index{Name: "x", RecordTypes: []string{"Book"}, Type: record.CountIndex, Expression: record.GroupBy(record.Field("year"))}, "takes no grouped value"},
		{record.Index{Name: "x", RecordTypes: []string{"Book"}, Type: record.SumIndex, Expression: record.GroupBy(record.Field("title"))}, "title, which is not an integer field of Book"},
		{record.Index{Name: "x", RecordTypes: []string{"Book"}, Type: record.SumIndex, Expression: record.GroupBy(record.Concat(record.Field("year"), record.Field("shelf")))}, "exactly one grouped value, not 2"},
		{record.Index{Name: "x", RecordTypes: []string{"Book"}, Type: record.MaxEverTupleIndex, Expression: record.GroupBy(record.Empty(), record.Field("author"))}, "needs a grouped value"},
		{record.Index{Name: "x", RecordTypes: []string{"Book"}, Type: record.MaxEverVersionIndex, Expression: record.GroupBy(record.Field("year"))}, "needs the version once among its grouped columns"},
		{record.Index{Name: "x", RecordTypes: []string{"Book"}, Type: record.MinEverTupleIndex, Expression: record.GroupBy(record.Field("year")), ClearWhenZero: true}, "does not support ClearWhenZero"},
		{record.Index{Name: "x", RecordTypes: []string{"Book"}, Type: record.ValueIndex, Expression: record.GroupBy(record.Field("year"))}, "only aggregate indexes take"},
		{record.Index{Name: "x", RecordTypes: []string{"Book"}, Type: record.CountIndex, Expression: record.Ungrouped(record.Empty()), Unique: true}, "cannot be unique"},
	}
	for _, c := range cases {
		_, err := testBuilder().AddIndex(c.ix).Build()
		require.ErrorContains(t, err, c.want, "%+v", c.ix)
	}
	md, err := testBuilder().AddIndex(record.Index{Name: "max_shelf", RecordTypes: []string{"Book"}, Type: record.MaxEverLongIndex, Expression: record.Ungrouped(record.Field("shelf"))}).Build()
	require.NoError(t, err)
	e := newEnvWith(t, md)
	e.must(func(*record.Store) error { return nil })
	rec, err := e.recordErr(func(st *record.Store) error { _, err := st.SaveRecord(book("b", -4, 1, "t", "a", 1)); return err })
	require.ErrorContains(t, err, "negative value -4")
	require.Empty(t, rec.ops, "a refused save writes nothing")
}
