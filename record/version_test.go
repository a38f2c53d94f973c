package record_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/record/internal/testpb"
	"github.com/layerkit/layerkit/tuple"
)

// versionedBuilder keeps record versions, with a VERSION index over all books and one per branch.
func versionedBuilder() *record.MetaDataBuilder {
	return testBuilder().SetStoreRecordVersions(true).
		AddIndex(record.Index{Name: "changes", RecordTypes: []string{"Book"}, Type: record.VersionIndex, Expression: record.VersionKey()}).
		AddIndex(record.Index{Name: "branch_changes", RecordTypes: []string{"Book"}, Type: record.VersionIndex, Expression: record.Concat(record.Field("branch"), record.VersionKey())})
}

// commit runs fn in a retried transaction and returns the versionstamp of the attempt that
// committed.
func (e *env) commit(fn func(st *record.Store) error) [10]byte {
	e.t.Helper()
	var f kv.Future[[10]byte]
	err := e.db.Transact(context.Background(), func(tr kv.Transaction) error {
		st, err := record.Open(context.Background(), tr, e.md, e.prefix)
		if err != nil {
			return err
		}
		f = tr.GetVersionstamp()
		return fn(st)
	})
	require.NoError(e.t, err)
	stamp, err := f.Get()
	require.NoError(e.t, err)
	return stamp
}

// withoutStamps replaces each commit version in rows by ten 0xcc bytes, so a golden file does not
// depend on when the test ran.
func withoutStamps(rows []kv.KeyValue, stamps ...[10]byte) []kv.KeyValue {
	out := make([]kv.KeyValue, len(rows))
	for i, r := range rows {
		for _, st := range stamps {
			r.Key = bytes.ReplaceAll(r.Key, st[:], bytes.Repeat([]byte{0xcc}, 10))
			r.Value = bytes.ReplaceAll(r.Value, st[:], bytes.Repeat([]byte{0xcc}, 10))
		}
		out[i] = r
	}
	return out
}

// Record versions: a save writes the packed tuple (versionstamp) at S+(1)+pk+(-1) with
// SET_VERSIONSTAMPED_VALUE (SplitHelper.writeVersion and packVersion, SplitHelper.java:229-250,
// 330-337), and a VERSION index entry holds the stamp in its key, written with
// SET_VERSIONSTAMPED_KEY (VersionIndexMaintainer.updateOneKeyAsync). Load returns the version.
func TestRecordVersions(t *testing.T) {
	md, err := versionedBuilder().Build()
	require.NoError(t, err)
	e := newEnvWith(t, md)
	e.db.(kv.FaultInjector).InjectFaults(kv.Faults{}) // the recorded writes are the first attempt's
	var saved []*record.Record
	rec := e.record(func(st *record.Store) error {
		for _, id := range []int64{1, 2} {
			r, err := st.SaveRecord(book("b1", 1, id, "t", "a", 1))
			if err != nil {
				return err
			}
			saved = append(saved, r)
		}
		// A record saved earlier in the transaction loads with its incomplete version.
		r, err := st.Load(bookPK("b1", 1, 1))
		require.NoError(t, err)
		require.Equal(t, tuple.IncompleteVersionstamp(0), *r.Version)
		return nil
	})
	require.Equal(t, tuple.IncompleteVersionstamp(0), *saved[0].Version)
	require.Equal(t, tuple.IncompleteVersionstamp(1), *saved[1].Version)
	var writes []string
	for _, o := range rec.ops {
		if o.op != "set" || !strings.HasPrefix(string(o.key), string(e.rel(int64(0)))) {
			k, _ := e.prefix.Unpack(o.key)
			if len(o.key) >= len(e.prefix.Bytes()) && o.op == kv.SetVersionstampedKey.String() {
				writes = append(writes, o.op+" "+hex.EncodeToString(o.key[len(e.prefix.Bytes()):])+" = "+hex.EncodeToString(o.value))
				continue
			}
			writes = append(writes, o.op+" "+k.String()+" = "+hex.EncodeToString(o.value))
		}
	}
	golden(t, "record_versions_writes", strings.Join(writes, "\n")+"\n")

	stamp := e.commit(func(st *record.Store) error { _, err := st.SaveRecord(book("b2", 1, 3, "t", "a", 1)); return err })
	e.must(func(st *record.Store) error {
		r, err := st.Load(bookPK("b2", 1, 3))
		require.NoError(t, err)
		require.Equal(t, record.CompleteVersion(tuple.IncompleteVersionstamp(0), stamp), *r.Version)
		return nil
	})
	var rows []kv.KeyValue
	for _, r := range e.dump() {
		if strings.Contains(string(r.Key), "b2") {
			rows = append(rows, r) // the rows of book 3, saved at stamp
		}
	}
	golden(t, "record_versions_layout", layout(t, e.prefix, withoutStamps(rows, stamp)))

	// An update moves the record to its new version: one entry per record in the VERSION index.
	stamp2 := e.commit(func(st *record.Store) error { _, err := st.SaveRecord(book("b2", 1, 3, "t2", "a", 1)); return err })
	e.must(func(st *record.Store) error {
		r, err := st.Load(bookPK("b2", 1, 3))
		require.NoError(t, err)
		require.Equal(t, record.CompleteVersion(tuple.IncompleteVersionstamp(0), stamp2), *r.Version)
		return nil
	})
	require.Len(t, e.indexEntries("changes"), 3)

	// Saving the identical record again still gives it a new version, as in Java.
	stamp3 := e.commit(func(st *record.Store) error { _, err := st.SaveRecord(book("b2", 1, 3, "t2", "a", 1)); return err })
	e.must(func(st *record.Store) error {
		r, err := st.Load(bookPK("b2", 1, 3))
		require.NoError(t, err)
		require.Equal(t, stamp3, r.Version.TransactionVersion)
		return nil
	})
}

// A record saved twice in one transaction keeps its first version; one whose VERSION index entry
// would move before commit, or that is deleted after being saved, is refused, since FoundationDB
// cannot clear a versionstamped key before commit.
func TestRecordVersionsWithinTransaction(t *testing.T) {
	md, err := versionedBuilder().Build()
	require.NoError(t, err)
	e := newEnvWith(t, md)
	e.must(func(st *record.Store) error {
		if _, err := st.SaveRecord(book("b1", 1, 1, "t", "a", 1)); err != nil {
			return err
		}
		r, err := st.SaveRecord(book("b1", 1, 1, "t2", "a", 1))
		require.NoError(t, err)
		require.Equal(t, tuple.IncompleteVersionstamp(0), *r.Version)
		r, err = st.SaveRecord(book("b1", 1, 2, "t", "a", 1))
		require.NoError(t, err)
		require.Equal(t, tuple.IncompleteVersionstamp(1), *r.Version)
		return nil
	})
	require.Len(t, e.indexEntries("changes"), 2)
	md2, err := versionedBuilder().SetVersion(2).
		AddIndex(record.Index{Name: "title_changes", RecordTypes: []string{"Book"}, Type: record.VersionIndex, Expression: record.Concat(record.Field("title"), record.VersionKey())}).
		Build()
	require.NoError(t, err)
	e.md = md2
	require.NoError(t, record.BuildIndex(context.Background(), e.db, e.md, e.prefix, "title_changes", record.IndexBuildOptions{}))
	err = e.do(func(st *record.Store) error {
		if _, err := st.SaveRecord(book("b1", 1, 5, "t", "a", 1)); err != nil {
			return err
		}
		_, err := st.SaveRecord(book("b1", 1, 5, "other title", "a", 1))
		return err
	})
	require.ErrorIs(t, err, record.ErrVersionPending)
	err = e.do(func(st *record.Store) error {
		if _, err := st.SaveRecord(book("b1", 1, 6, "t", "a", 1)); err != nil {
			return err
		}
		_, err := st.Delete(bookPK("b1", 1, 6))
		return err
	})
	require.ErrorIs(t, err, record.ErrVersionPending)
}

// Stores before format 6 keep versions as 12 raw bytes at S+(8)+pk
// (FDBRecordStore.saveVersionWithOldFormat, FDBRecordStore.java:673-684); opening them at
// format 6 or later moves the versions next to their records (addConvertRecordVersions,
// FDBRecordStore.java:5158-5178).
func TestRecordVersionsOldFormat(t *testing.T) {
	md, err := versionedBuilder().Build()
	require.NoError(t, err)
	e := newEnvWith(t, md)
	err = e.db.Transact(context.Background(), func(tr kv.Transaction) error {
		st, err := record.Open(context.Background(), tr, e.md, e.prefix, record.WithFormatVersion(5))
		if err != nil {
			return err
		}
		_, err = st.SaveRecord(book("b1", 1, 1, "t", "a", 1))
		return err
	})
	require.NoError(t, err)
	stamp, err := func() ([10]byte, error) {
		var v [10]byte
		err := e.db.Transact(context.Background(), func(tr kv.Transaction) error {
			st, err := record.Open(context.Background(), tr, e.md, e.prefix, record.WithFormatVersion(5))
			if err != nil {
				return err
			}
			r, err := st.Load(bookPK("b1", 1, 1))
			if err != nil {
				return err
			}
			v = r.Version.TransactionVersion
			return nil
		})
		return v, err
	}()
	require.NoError(t, err)
	rows := e.dump()
	golden(t, "record_versions_format5", layout(t, e.prefix, withoutStamps(append(rows[:1], append(rowsUnder(e.prefix, rows, int64(1)), rowsUnder(e.prefix, rows, int64(8))...)...), stamp)))

	// Opened at the default format: the version moves next to the record.
	e.must(func(st *record.Store) error {
		r, err := st.Load(bookPK("b1", 1, 1))
		require.NoError(t, err)
		require.Equal(t, stamp, r.Version.TransactionVersion)
		return nil
	})
	rows = e.dump()
	require.Empty(t, rowsUnder(e.prefix, rows, int64(8)))
	require.Len(t, rowsUnder(e.prefix, rows, int64(1)), 2)
}

// ChangesSince returns exactly the records changed after a version, in pages.
func TestChangesSince(t *testing.T) {
	md, err := versionedBuilder().Build()
	require.NoError(t, err)
	e := newEnvWith(t, md)
	for i := int64(1); i <= 10; i++ {
		e.must(func(st *record.Store) error {
			_, err := st.SaveRecord(book("b"+strconv.Itoa(int(i%2)), 1, i, "t", "a", 1))
			return err
		})
	}
	versions := map[int64]tuple.Versionstamp{}
	e.must(func(st *record.Store) error {
		for i := int64(1); i <= 10; i++ {
			r, err := st.Load(bookPK("b"+strconv.Itoa(int(i%2)), 1, i))
			require.NoError(t, err)
			versions[i] = *r.Version
		}
		return nil
	})
	since := versions[4]
	got := e.changes("changes", nil, &since, 3)
	require.Equal(t, []int64{5, 6, 7, 8, 9, 10}, got)
	require.Equal(t, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, e.changes("changes", nil, nil, 4))
	require.Equal(t, []int64{5, 7, 9}, e.changes("branch_changes", tuple.Tuple{"b1"}, &since, 2))
	// An update moves a record past the others.
	e.must(func(st *record.Store) error { _, err := st.SaveRecord(book("b1", 1, 3, "t2", "a", 1)); return err })
	require.Equal(t, []int64{5, 6, 7, 8, 9, 10, 3}, e.changes("changes", nil, &since, 0))

	err = e.do(func(st *record.Store) error {
		_, err := st.ChangesSince("by_author", nil, nil, record.ExecuteOptions{})
		return err
	})
	require.ErrorContains(t, err, `index "by_author" is a value index, not a version index`)
	err = e.do(func(st *record.Store) error {
		_, err := st.ChangesSince("branch_changes", nil, nil, record.ExecuteOptions{})
		return err
	})
	require.ErrorContains(t, err, "column 0 of index \"branch_changes\" is branch, not the version")
	// A query sorted by version is served by the VERSION index.
	e.must(func(st *record.Store) error {
		p, err := st.Plan(record.Query{RecordTypes: []string{"Book"}, Sort: record.VersionKey()})
		require.NoError(t, err)
		require.Equal(t, "IndexScan(changes) | Fetch", p.Explain())
		return nil
	})
}

// changes reads every page of ChangesSince (page records a page; 0: one page) and returns the ids.
func (e *env) changes(index string, group tuple.Tuple, since *tuple.Versionstamp, page int) []int64 {
	e.t.Helper()
	var ids []int64
	var cont []byte
	for {
		e.must(func(st *record.Store) error {
			cur, err := st.ChangesSince(index, group, since, record.ExecuteOptions{ReturnLimit: page, Continuation: cont})
			if err != nil {
				return err
			}
			for cur.Next() {
				ids = append(ids, cur.Record().Message.(*testpb.Book).Id)
			}
			cont = cur.Continuation()
			return cur.Err()
		})
		if cont == nil {
			return ids
		}
	}
}

// Random saves and deletes with commit faults on; after each, "changed since V" for a random
// earlier version V returns exactly the live records whose version is after V.
func TestModelChangesSince(t *testing.T) {
	rng := seededRand(t, 3)
	md, err := versionedBuilder().Build()
	require.NoError(t, err)
	e := newEnvWith(t, md)
	live := map[int64]tuple.Versionstamp{}
	var seen []tuple.Versionstamp
	for op := 0; op < 120; op++ {
		id := rng.Int64N(15) + 1
		if _, ok := live[id]; ok && rng.IntN(4) == 0 {
			e.must(func(st *record.Store) error { _, err := st.Delete(bookPK("b", 1, id)); return err })
			delete(live, id)
		} else {
			b := book("b", 1, id, "t"+strconv.Itoa(rng.IntN(3)), "a", 1)
			e.must(func(st *record.Store) error { _, err := st.SaveRecord(b); return err })
			e.must(func(st *record.Store) error {
				r, err := st.Load(bookPK("b", 1, id))
				if err != nil {
					return err
				}
				live[id] = *r.Version
				seen = append(seen, *r.Version)
				return nil
			})
		}
		if op%10 == 9 {
			since := seen[rng.IntN(len(seen))]
			var want []int64
			for id, v := range live {
				if tuple.Compare(tuple.Tuple{v}, tuple.Tuple{since}) > 0 {
					want = append(want, id)
				}
			}
			slices.SortFunc(want, func(a, b int64) int { return tuple.Compare(tuple.Tuple{live[a]}, tuple.Tuple{live[b]}) })
			require.Equal(t, want, e.changes("changes", nil, &since, 1+rng.IntN(4)), "op %d", op)
		}
	}
}
