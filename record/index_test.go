package record_test

import (
	"context"
	"errors"
	"math"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/record/internal/testpb"
	"github.com/layerkit/layerkit/tuple"
)

// recorder is a transaction that remembers every write, to check what a save wrote.
type recorder struct {
	kv.Transaction
	sets, clears []string
	clearRanges  []kv.Range
	ops          []recordedOp // every write in issue order
}

// recordedOp is one write: "set", "clear", "clear range" or an atomic mutation's name.
type recordedOp struct {
	op         string
	key, value []byte
	end        []byte // of a range clear
}

func (r *recorder) Set(k, v []byte) {
	r.sets = append(r.sets, string(k))
	r.ops = append(r.ops, recordedOp{op: "set", key: k, value: v})
	r.Transaction.Set(k, v)
}

func (r *recorder) Clear(k []byte) {
	r.clears = append(r.clears, string(k))
	r.ops = append(r.ops, recordedOp{op: "clear", key: k})
	r.Transaction.Clear(k)
}

func (r *recorder) ClearRange(rg kv.Range) {
	r.clearRanges = append(r.clearRanges, rg)
	r.ops = append(r.ops, recordedOp{op: "clear range", key: rg.Begin, end: rg.End})
	r.Transaction.ClearRange(rg)
}

func (r *recorder) Atomic(op kv.MutationType, k, param []byte) {
	r.ops = append(r.ops, recordedOp{op: op.String(), key: k, value: param})
	r.Transaction.Atomic(op, k, param)
}

// record runs fn in a transaction through a recorder and returns the recorder of the attempt
// that committed.
func (e *env) record(fn func(st *record.Store) error) *recorder {
	e.t.Helper()
	rec, err := e.recordErr(fn)
	require.NoError(e.t, err)
	return rec
}

func (e *env) recordErr(fn func(st *record.Store) error) (*recorder, error) {
	var rec *recorder
	err := e.db.Transact(context.Background(), func(tr kv.Transaction) error {
		rec = &recorder{Transaction: tr}
		st, err := record.Open(context.Background(), rec, e.md, e.prefix)
		if err != nil {
			return err
		}
		return fn(st)
	})
	return rec, err
}

// indexEntries returns the entries of one index as (values..., pk remainder...) tuples.
func (e *env) indexEntries(name string) []tuple.Tuple {
	e.t.Helper()
	p := e.prefix.Pack(tuple.Tuple{int64(2), name})
	var out []tuple.Tuple
	for _, r := range e.dump() {
		if len(r.Key) > len(p) && string(r.Key[:len(p)]) == string(p) {
			t, err := tuple.Unpack(r.Key[len(p):])
			require.NoError(e.t, err)
			out = append(out, t)
		}
	}
	return out
}

func (e *env) indexKeys(rec *recorder) (sets, clears []string) {
	p := string(e.prefix.Pack(tuple.Tuple{int64(2)}))
	for _, k := range rec.sets {
		if len(k) > len(p) && k[:len(p)] == p {
			sets = append(sets, k)
		}
	}
	for _, k := range rec.clears {
		if len(k) > len(p) && k[:len(p)] == p {
			clears = append(clears, k)
		}
	}
	return sets, clears
}

func TestIndexMaintenanceDiffs(t *testing.T) {
	e := newEnv(t)
	// The recorder keeps the writes of the attempt that committed; a retry after a commit that
	// went through writes nothing, so exact write counts need the faults off.
	e.db.(kv.FaultInjector).InjectFaults(kv.Faults{})
	b := book("b1", 1, 1, "Dune", "Herbert", 1965, "sf", "classic", "sf")
	b.Origin = &testpb.Address{City: "Philadelphia"}
	b.Holders = []*testpb.Address{{City: "Oslo"}, {City: "Rome"}}
	rec := e.record(func(st *record.Store) error { _, err := st.SaveRecord(b); return err })
	sets, clears := e.indexKeys(rec)
	// author, id, year+title, 2 distinct tags, city, 2 holder cities.
	require.Len(t, sets, 8)
	require.Empty(t, clears)
	require.Equal(t, []tuple.Tuple{{"classic", int64(1), "b1", int64(1), int64(1)}, {"sf", int64(1), "b1", int64(1), int64(1)}}, e.indexEntries("by_tag"))

	// Changing a field no index reads writes the record and no index key.
	b2 := proto.Clone(b).(*testpb.Book)
	b2.Price = 12.5
	rec = e.record(func(st *record.Store) error { _, err := st.SaveRecord(b2); return err })
	sets, clears = e.indexKeys(rec)
	require.Empty(t, sets)
	require.Empty(t, clears)
	require.Len(t, rec.sets, 1, "only the record itself is written")

	// Saving an identical record writes nothing at all.
	rec = e.record(func(st *record.Store) error { _, err := st.SaveRecord(b2); return err })
	require.Empty(t, rec.sets)
	require.Empty(t, rec.clears)

	// Changing the tags touches only the entries that differ.
	b3 := proto.Clone(b2).(*testpb.Book)
	b3.Tags = []string{"classic", "desert"}
	b3.Author = "Frank Herbert"
	rec = e.record(func(st *record.Store) error { _, err := st.SaveRecord(b3); return err })
	sets, clears = e.indexKeys(rec)
	require.Len(t, sets, 2)   // desert, Frank Herbert
	require.Len(t, clears, 2) // sf, Herbert
	require.Equal(t, []tuple.Tuple{{"classic", int64(1), "b1", int64(1), int64(1)}, {"desert", int64(1), "b1", int64(1), int64(1)}}, e.indexEntries("by_tag"))
	require.Equal(t, []tuple.Tuple{{"Frank Herbert", int64(1), "b1", int64(1), int64(1)}}, e.indexEntries("by_author"))

	// Unsetting the nested message indexes a null city; clearing holders removes their entries.
	b4 := proto.Clone(b3).(*testpb.Book)
	b4.Origin = nil
	b4.Holders = nil
	e.must(func(st *record.Store) error { _, err := st.SaveRecord(b4); return err })
	require.Equal(t, []tuple.Tuple{{nil, int64(1), "b1", int64(1), int64(1)}}, e.indexEntries("by_city"))
	require.Empty(t, e.indexEntries("by_holder_city"))

	// Delete removes every entry.
	e.must(func(st *record.Store) error { _, err := st.Delete(bookPK("b1", 1, 1)); return err })
	for _, ix := range e.md.Indexes() {
		require.Empty(t, e.indexEntries(ix.Name), ix.Name)
	}
}

func TestUniqueIndex(t *testing.T) {
	e := newEnv(t)
	e.must(func(st *record.Store) error { _, err := st.SaveRecord(book("b1", 1, 42, "A", "x", 1)); return err })
	var rec *recorder
	err := e.db.Transact(context.Background(), func(tr kv.Transaction) error {
		rec = &recorder{Transaction: tr}
		st, err := record.Open(context.Background(), rec, e.md, e.prefix)
		if err != nil {
			return err
		}
		_, err = st.SaveRecord(book("b2", 9, 42, "B", "y", 2))
		return err
	})
	var uv *record.UniqueViolationError
	require.True(t, errors.As(err, &uv), "got %v", err)
	require.ErrorIs(t, err, record.ErrUniqueViolation)
	require.Equal(t, "by_id", uv.Index)
	require.Equal(t, tuple.Tuple{int64(42)}, uv.Values)
	require.Equal(t, bookPK("b1", 1, 42), uv.Existing)
	require.Equal(t, bookPK("b2", 9, 42), uv.New)
	require.Contains(t, err.Error(), `unique index "by_id"`)
	require.Contains(t, err.Error(), `(1, "b1", 1, 42)`)
	require.Contains(t, err.Error(), `(1, "b2", 9, 42)`)
	require.Empty(t, rec.sets, "a violating save writes nothing")
	require.Empty(t, rec.clears)

	// Re-saving the same record, or moving it so that the old entry goes away in the same
	// transaction, is not a violation.
	e.must(func(st *record.Store) error { _, err := st.SaveRecord(book("b1", 1, 42, "A2", "x", 1)); return err })
	e.must(func(st *record.Store) error {
		if _, err := st.Delete(bookPK("b1", 1, 42)); err != nil {
			return err
		}
		_, err := st.SaveRecord(book("b2", 9, 42, "B", "y", 2))
		return err
	})
	require.Equal(t, []tuple.Tuple{{int64(42), int64(1), "b2", int64(9)}}, e.indexEntries("by_id"))
}

// Two transactions that each add the same unique value cannot both commit: the uniqueness read
// conflicts with the other's write.
func TestUniqueIndexConcurrent(t *testing.T) {
	e := newEnv(t)
	e.db.(kv.FaultInjector).InjectFaults(kv.Faults{})
	e.must(func(st *record.Store) error { return nil }) // create the store
	tr1, err := e.db.CreateTransaction()
	require.NoError(t, err)
	tr2, err := e.db.CreateTransaction()
	require.NoError(t, err)
	for i, tr := range []kv.Transaction{tr1, tr2} {
		st, err := record.Open(context.Background(), tr, e.md, e.prefix)
		require.NoError(t, err)
		_, err = st.SaveRecord(book("b", int64(i), 5, "t", "a", 1))
		require.NoError(t, err)
	}
	require.NoError(t, tr1.Commit())
	require.ErrorIs(t, tr2.Commit(), kv.ErrNotCommitted)
}

func TestIndexStates(t *testing.T) {
	e := newEnv(t)
	e.must(func(st *record.Store) error {
		for i := int64(0); i < 5; i++ {
			if _, err := st.SaveRecord(book("b", 1, i, "t", "a", 1, "tag")); err != nil {
				return err
			}
		}
		return nil
	})
	q := record.Query{RecordTypes: []string{"Book"}, Filter: record.WhereAny("tags").Equals("tag")}
	explain := func() string {
		var s string
		e.must(func(st *record.Store) error {
			p, err := st.Plan(q)
			s = p.Explain()
			return err
		})
		return s
	}
	require.Equal(t, `IndexScan(by_tag eq=("tag")) | Fetch`, explain())

	// WRITE_ONLY: maintained, not used by queries; the state key holds (1).
	e.must(func(st *record.Store) error { return st.SetIndexState("by_tag", record.WriteOnly) })
	require.Equal(t, []byte{0x15, 0x01}, e.stateValue("by_tag"))
	require.Equal(t, `Scan(records eq=(1)) | Filter(tags[*] == "tag")`, explain())
	e.must(func(st *record.Store) error { _, err := st.SaveRecord(book("b", 1, 9, "t", "a", 1, "tag")); return err })
	require.Len(t, e.indexEntries("by_tag"), 6)

	// DISABLED: entries cleared and no longer maintained.
	e.must(func(st *record.Store) error { return st.SetIndexState("by_tag", record.Disabled) })
	require.Equal(t, []byte{0x15, 0x02}, e.stateValue("by_tag"))
	require.Empty(t, e.indexEntries("by_tag"))
	e.must(func(st *record.Store) error {
		_, err := st.SaveRecord(book("b", 1, 10, "t", "a", 1, "tag"))
		return err
	})
	require.Empty(t, e.indexEntries("by_tag"))
	require.Equal(t, `Scan(records eq=(1)) | Filter(tags[*] == "tag")`, explain())

	// Only a rebuild makes it readable again.
	err := e.do(func(st *record.Store) error { return st.SetIndexState("by_tag", record.Readable) })
	require.ErrorContains(t, err, "rebuild it")
	e.must(func(st *record.Store) error { return st.RebuildIndex("by_tag") })
	require.Nil(t, e.stateValue("by_tag"))
	require.Len(t, e.indexEntries("by_tag"), 7)
	require.Equal(t, `IndexScan(by_tag eq=("tag")) | Fetch`, explain())

	err = e.do(func(st *record.Store) error { return st.SetIndexState("nope", record.Disabled) })
	require.ErrorIs(t, err, record.ErrUnknownIndex)
}

func (e *env) stateValue(name string) []byte {
	k := string(e.prefix.Pack(tuple.Tuple{int64(5), name}))
	for _, r := range e.dump() {
		if string(r.Key) == k {
			return r.Value
		}
	}
	return nil
}

// Opening a store with newer metadata that adds an index does what the Java Record Layer's
// checkVersion does by default: it builds the index at once when the records it covers are
// known to be few (none: this package keeps no record count yet), makes it READABLE without a
// build when it covers only record types newer than the store, and marks it DISABLED otherwise.
func TestMetaDataUpgradeIndexStates(t *testing.T) {
	newIndex := func(v int, ix record.Index) *record.MetaData {
		md, err := testBuilder().SetVersion(v).AddIndex(ix).Build()
		require.NoError(t, err)
		return md
	}
	// Authors only: the index on books, whose keys start with the type key, has nothing to
	// read, so it is built (empty) and READABLE.
	e := newEnv(t)
	e.must(func(st *record.Store) error { _, err := st.SaveRecord(&testpb.Author{Id: 1, Name: "A"}); return err })
	e.md = newIndex(2, record.Index{Name: "by_title", RecordTypes: []string{"Book"}, Expression: record.Field("title")})
	require.Equal(t, record.Readable, e.state("by_title"))

	// Ten books: DISABLED until built.
	e = newEnv(t)
	e.must(func(st *record.Store) error {
		for i := 0; i < 10; i++ {
			if _, err := st.SaveRecord(book("b", 1, int64(i), "title", "a", int32(i))); err != nil {
				return err
			}
		}
		return nil
	})
	e.md = newIndex(2, record.Index{Name: "by_title", RecordTypes: []string{"Book"}, Expression: record.Field("title")})
	require.Equal(t, record.Disabled, e.state("by_title"))
	require.Empty(t, e.indexEntries("by_title"))
	require.NoError(t, record.BuildIndex(context.Background(), e.db, e.md, e.prefix, "by_title", record.IndexBuildOptions{}))
	require.Equal(t, record.Readable, e.state("by_title"))
	require.Len(t, e.indexEntries("by_title"), 10)

	// Changing the index (a new last-modified version) disables and clears it again.
	e.md = newIndex(3, record.Index{Name: "by_title", RecordTypes: []string{"Book"}, Expression: record.Concat(record.Field("title"), record.Field("year")), AddedVersion: 2, LastModifiedVersion: 3})
	require.Equal(t, record.Disabled, e.state("by_title"))
	require.Empty(t, e.indexEntries("by_title"))

	// With the Java Record Layer's older default, WRITE_ONLY instead, with nothing built.
	e.md = newIndex(5, record.Index{Name: "by_title", RecordTypes: []string{"Book"}, Expression: record.Concat(record.Field("title"), record.Field("isbn")), AddedVersion: 2, LastModifiedVersion: 5})
	var counted int64
	err := e.db.Transact(context.Background(), func(tr kv.Transaction) error {
		st, err := record.Open(context.Background(), tr, e.md, e.prefix, record.WithIndexStates(func(ix *record.Index, count func() (int64, error), onNew bool) (record.IndexState, error) {
			var err error
			counted, err = count()
			require.False(t, onNew)
			if err != nil {
				return 0, err
			}
			return record.WriteOnlyIfTooManyRecords(ix, count, onNew)
		}))
		if err != nil {
			return err
		}
		s, err := st.IndexState("by_title")
		require.Equal(t, record.WriteOnly, s)
		return err
	})
	require.NoError(t, err)
	require.EqualValues(t, math.MaxInt64, counted, "without a count, a non-empty store has too many records")
	require.Empty(t, e.indexEntries("by_title"))
	require.Empty(t, e.rangeSet("by_title"))

	// An index on a record type newer than the store is READABLE at once.
	md, err := testBuilder().SetVersion(6).SetSinceVersion("Author", 6).
		AddIndex(record.Index{Name: "by_title", RecordTypes: []string{"Book"}, Expression: record.Concat(record.Field("title"), record.Field("isbn")), AddedVersion: 2, LastModifiedVersion: 5}).
		AddIndex(record.Index{Name: "author_id", RecordTypes: []string{"Author"}, Expression: record.Field("id")}).Build()
	require.NoError(t, err)
	e.md = md
	require.Equal(t, record.Readable, e.state("author_id"))
	require.Equal(t, record.WriteOnly, e.state("by_title"))

	// With a COUNT index over every type, the count is known: ten books are few enough to
	// build the new index at once.
	e = newEnv(t)
	v1, err := testBuilder().AddIndex(record.Index{Name: "count_all", RecordTypes: []string{"Book", "Author"}, Type: record.CountIndex, Expression: record.Ungrouped(record.Empty())}).Build()
	require.NoError(t, err)
	e.md = v1
	e.fill(seededRand(t, 12), 10)
	v2, err := testBuilder().SetVersion(2).AddIndex(record.Index{Name: "count_all", RecordTypes: []string{"Book", "Author"}, Type: record.CountIndex, Expression: record.Ungrouped(record.Empty()), AddedVersion: 1}).
		AddIndex(record.Index{Name: "by_title", RecordTypes: []string{"Book"}, Expression: record.Field("title")}).Build()
	require.NoError(t, err)
	e.md = v2
	require.Equal(t, record.Readable, e.state("by_title"))
	require.Len(t, e.indexEntries("by_title"), 10)
}

// A former index's data is cleared when a store is opened with metadata that removed it: its
// entries, state, build range set and build data.
func TestFormerIndexDataCleared(t *testing.T) {
	e := newEnv(t)
	e.fill(seededRand(t, 10), 30)
	e.must(func(st *record.Store) error { return st.SetIndexState("by_author", record.WriteOnly) })
	before := len(e.dump())
	require.NotEmpty(t, e.rangeSet("by_author"))
	require.NotNil(t, e.stateValue("by_author"))
	b := record.NewMetaDataBuilder(testpb.File_records_proto).SetVersion(2).
		SetPrimaryKey("Book", record.Concat(record.RecordTypeKey(), record.Field("branch"), record.Field("shelf"), record.Field("id"))).
		SetPrimaryKey("Author", record.Concat(record.RecordTypeKey(), record.Field("id")))
	for _, ix := range e.md.Indexes() {
		if ix.Name != "by_author" {
			b.AddIndex(*ix)
		}
	}
	md, err := b.AddFormerIndex(record.FormerIndex{Name: "by_author", AddedVersion: 1, RemovedVersion: 2}).Build()
	require.NoError(t, err)
	tagKeys := 0
	p := e.prefix.Pack(tuple.Tuple{int64(2), "by_author"})
	for _, r := range e.dump() {
		if string(r.Key[:min(len(p), len(r.Key))]) == string(p) {
			tagKeys++
		}
	}
	require.Positive(t, tagKeys)
	e.md = md
	e.must(func(st *record.Store) error { return nil })
	require.Empty(t, e.indexEntries("by_author"))
	require.Empty(t, e.rangeSet("by_author"))
	require.Nil(t, e.stateValue("by_author"))
	require.Len(t, e.dump(), before-tagKeys-2) // the entries, the range set key and the state key
}

// The checker finds entries without records and records without entries.
func TestCheckerFindsProblems(t *testing.T) {
	e := newEnv(t)
	e.must(func(st *record.Store) error { _, err := st.SaveRecord(book("b", 1, 1, "t", "a", 1)); return err })
	stray := e.prefix.Pack(tuple.Tuple{int64(2), "by_author", "ghost", int64(1), "b", int64(1), int64(99)})
	lost := e.prefix.Pack(tuple.Tuple{int64(2), "by_id", int64(1), int64(1), "b", int64(1)})
	_, err := kv.Transact(context.Background(), e.db, func(tr kv.Transaction) (any, error) {
		tr.Set(stray, nil)
		tr.Clear(lost)
		return nil, nil
	})
	require.NoError(t, err)
	err = record.Check(e.md, e.prefix)(context.Background(), e.db)
	require.ErrorContains(t, err, `index "by_author" entry ("ghost") → (1, "b", 1, 99) has no record`)
	require.ErrorContains(t, err, `index "by_id" lacks entry (1) → (1, "b", 1, 1)`)
	// Repair so the end-of-test check passes.
	_, err = kv.Transact(context.Background(), e.db, func(tr kv.Transaction) (any, error) {
		tr.Clear(stray)
		tr.Set(lost, nil)
		return nil, nil
	})
	require.NoError(t, err)
	sort.Strings(nil)
}
