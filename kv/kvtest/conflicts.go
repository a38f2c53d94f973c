package kvtest

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
)

func conflictCases() []testCase {
	return []testCase{
		{"ReadWrite", testConflictReadWrite},
		{"OtherKeyNoConflict", testConflictOtherKey},
		{"CommittedBeforeReadVersion", testConflictCommittedBefore},
		{"WriteOnlyNoConflict", testConflictWriteOnly},
		{"ReadOnlyCommitNoConflict", testConflictReadOnly},
		{"SnapshotReadsNoConflict", testConflictSnapshot},
		{"RangeRead", testConflictRangeRead},
		{"EmptyRangeRead", testConflictEmptyRangeRead},
		{"LimitedRangeRead", testConflictLimitedRangeRead},
		{"LimitedReverseRangeRead", testConflictLimitedReverseRangeRead},
		{"GetKey", testConflictGetKey},
		{"ClearRangeWrites", testConflictClearRange},
		{"AtomicWrites", testConflictAtomicWrites},
		{"AtomicNoReadConflict", testConflictAtomicNoRead},
		{"ReadConflictRange", testConflictExplicitRead},
		{"WriteConflictRange", testConflictExplicitWrite},
		{"SetNextWriteNoWriteConflictRange", testConflictNoWriteConflictRange},
		{"WatchReadsItsKey", testConflictWatch},
		{"RangeReadFromIssue", testConflictRangeReadFromIssue},
		{"PartlyConsumedIterator", testConflictPartlyConsumedIterator},
		{"ReadConflictOnOwnWrite", testConflictReadOnOwnWrite},
		{"VersionstampedKeyAlwaysConflicts", testConflictVersionstampedKey},
	}
}

// race runs the classic conflict scenario: tr reads with read (at a read version fixed before
// anything else), another transaction commits with other, then tr writes an unrelated key and
// commits. It returns tr's commit error.
func race(t *testing.T, db kv.Database, read func(tr kv.Transaction), other func(tr kv.Transaction)) error {
	t.Helper()
	tr := startTr(t, db)
	read(tr)
	write(t, db, other)
	tr.Set(b("zz-unrelated"), b("x"))
	return tr.Commit()
}

func requireConflict(t *testing.T, err error, msg string) {
	t.Helper()
	requireCode(t, kv.ErrNotCommitted, err, msg)
}

func testConflictReadWrite(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "k", "1")
	err := race(t, db,
		func(tr kv.Transaction) { get(t, tr, b("k")) },
		func(tr kv.Transaction) { tr.Set(b("k"), b("2")) })
	requireConflict(t, err, "a read of a key written after the read version conflicts")
	require.Nil(t, getDB(t, db, b("zz-unrelated")), "a conflicting commit applies nothing")
	err = race(t, db,
		func(tr kv.Transaction) { get(t, tr, b("absent")) },
		func(tr kv.Transaction) { tr.Set(b("absent"), b("now")) })
	requireConflict(t, err, "reading an absent key conflicts with its creation")
	err = race(t, db,
		func(tr kv.Transaction) { get(t, tr, b("k")) },
		func(tr kv.Transaction) { tr.Clear(b("k")) })
	requireConflict(t, err, "a read conflicts with a clear")
}

func testConflictOtherKey(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "k", "1")
	err := race(t, db,
		func(tr kv.Transaction) { get(t, tr, b("k")) },
		func(tr kv.Transaction) { tr.Set(b("k\x00"), b("2")); tr.Set(b("j"), b("2")) })
	require.NoError(t, err, "writes to keys that were not read do not conflict")
}

func testConflictCommittedBefore(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "k", "1")
	setKeys(t, db, "k", "2")
	tr := newTr(t, db)
	require.Equal(t, "2", string(get(t, tr, b("k"))))
	tr.Set(b("k"), b("3"))
	require.NoError(t, tr.Commit(), "a write committed before the read version is no conflict")
}

func testConflictWriteOnly(t *testing.T, s *suite) {
	db := s.db(t)
	tr := startTr(t, db)
	tr.Set(b("k"), b("mine"))
	setKeys(t, db, "k", "theirs")
	require.NoError(t, tr.Commit(), "a transaction that read nothing never conflicts")
	require.Equal(t, "mine", string(getDB(t, db, b("k"))), "the later commit wins")
}

func testConflictReadOnly(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "k", "1")
	tr := startTr(t, db)
	get(t, tr, b("k"))
	setKeys(t, db, "k", "2")
	require.NoError(t, tr.Commit(), "a read-only transaction commits without a conflict check")
}

func testConflictSnapshot(t *testing.T, s *suite) {
	db := s.db(t)
	abcde(t, db)
	err := race(t, db,
		func(tr kv.Transaction) {
			snap := tr.Snapshot()
			get(t, snap, b("a"))
			get(t, snap, b("absent"))
			getKey(t, snap, kv.FirstGreaterThan(b("b")))
			getRange(t, snap, rng("", "\xff"), kv.RangeOptions{})
			getRange(t, snap, rng("b", "d"), kv.RangeOptions{Limit: 1, Reverse: true})
		},
		func(tr kv.Transaction) {
			tr.Set(b("a"), b("x"))
			tr.Set(b("absent"), b("x"))
			tr.Set(b("bb"), b("x"))
			tr.Clear(b("c"))
		})
	require.NoError(t, err, "snapshot reads add no read conflicts")
}

func testConflictRangeRead(t *testing.T, s *suite) {
	db := s.db(t)
	abcde(t, db)
	err := race(t, db,
		func(tr kv.Transaction) { getRange(t, tr, rng("b", "d"), kv.RangeOptions{}) },
		func(tr kv.Transaction) { tr.Set(b("bb"), b("phantom")) })
	requireConflict(t, err, "a key inserted into a range that was read conflicts")
	err = race(t, db,
		func(tr kv.Transaction) { getRange(t, tr, rng("b", "d"), kv.RangeOptions{}) },
		func(tr kv.Transaction) { tr.Set(b("d"), b("x")); tr.Set(b("a"), b("x")) })
	require.NoError(t, err, "writes outside [begin, end) do not conflict")
	err = race(t, db,
		func(tr kv.Transaction) { getRange(t, tr, rng("b", "d"), kv.RangeOptions{Reverse: true}) },
		func(tr kv.Transaction) { tr.Clear(b("b")) })
	requireConflict(t, err, "a reverse range read conflicts over its range")
}

func testConflictEmptyRangeRead(t *testing.T, s *suite) {
	db := s.db(t)
	abcde(t, db)
	err := race(t, db,
		func(tr kv.Transaction) {
			require.Empty(t, getRange(t, tr, rng("p", "q"), kv.RangeOptions{}))
		},
		func(tr kv.Transaction) { tr.Set(b("p5"), b("x")) })
	requireConflict(t, err, "a range read that returned nothing still conflicts with inserts into it")
}

// fresh empties db and loads a..e, so that an earlier scenario's writes do not change what the
// next one reads. (It reuses the database: on a shared store a second open would not clear it.)
func fresh(t *testing.T, db kv.Database) kv.Database {
	write(t, db, func(tr kv.Transaction) { tr.ClearRange(rng("", "\xff")) })
	abcde(t, db)
	return db
}

func testConflictLimitedRangeRead(t *testing.T, s *suite) {
	db := s.db(t)
	read := func(tr kv.Transaction) {
		require.Equal(t, []string{"a", "b"}, keys(getRange(t, tr, rng("a", "z"), kv.RangeOptions{Limit: 2})))
	}
	err := race(t, fresh(t, db), read, func(tr kv.Transaction) { tr.Set(b("bb"), b("x")); tr.Set(b("c"), b("x")); tr.Set(b("y"), b("x")) })
	require.NoError(t, err, "a limited range read conflicts only on the part it returned")
	err = race(t, fresh(t, db), read, func(tr kv.Transaction) { tr.Set(b("a5"), b("x")) })
	requireConflict(t, err, "an insert between rows returned by a limited read conflicts")
	err = race(t, fresh(t, db), read, func(tr kv.Transaction) { tr.Set(b("b"), b("x")) })
	requireConflict(t, err, "a write to the last row returned conflicts")
}

func testConflictLimitedReverseRangeRead(t *testing.T, s *suite) {
	db := s.db(t)
	read := func(tr kv.Transaction) {
		require.Equal(t, []string{"e", "d"}, keys(getRange(t, tr, rng("a", "z"), kv.RangeOptions{Limit: 2, Reverse: true})))
	}
	err := race(t, fresh(t, db), read, func(tr kv.Transaction) { tr.Set(b("c"), b("x")); tr.Set(b("cc"), b("x")) })
	require.NoError(t, err, "a limited reverse read conflicts only on the part it returned")
	err = race(t, fresh(t, db), read, func(tr kv.Transaction) { tr.Set(b("dd"), b("x")) })
	requireConflict(t, err, "an insert between returned rows conflicts")
	err = race(t, fresh(t, db), read, func(tr kv.Transaction) { tr.Set(b("y"), b("x")) })
	requireConflict(t, err, "an insert after the last row but before the range end conflicts")
}

func testConflictGetKey(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "a", "1", "c", "2")
	err := race(t, db,
		func(tr kv.Transaction) { require.Equal(t, "c", getKey(t, tr, kv.FirstGreaterOrEqual(b("b")))) },
		func(tr kv.Transaction) { tr.Set(b("b5"), b("x")) })
	requireConflict(t, err, "a key inserted where it would change a selector's result conflicts")
	err = race(t, db,
		func(tr kv.Transaction) { require.Equal(t, "a", getKey(t, tr, kv.LastLessThan(b("b")))) },
		func(tr kv.Transaction) { tr.Set(b("a5"), b("x")) })
	requireConflict(t, err, "the same holds backwards")
}

func testConflictClearRange(t *testing.T, s *suite) {
	db := s.db(t)
	abcde(t, db)
	err := race(t, db,
		func(tr kv.Transaction) { get(t, tr, b("m")) },
		func(tr kv.Transaction) { tr.ClearRange(rng("f", "z")) })
	requireConflict(t, err, "a clear-range writes its whole range, present keys or not")
}

func testConflictAtomicWrites(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "n", "\x01")
	err := race(t, db,
		func(tr kv.Transaction) { get(t, tr, b("n")) },
		func(tr kv.Transaction) { tr.Atomic(kv.Add, b("n"), []byte{1}) })
	requireConflict(t, err, "an atomic op is a write for conflicts")
}

func testConflictAtomicNoRead(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "n", "\x01")
	tr := startTr(t, db)
	tr.Atomic(kv.Add, b("n"), []byte{1})
	tr.Atomic(kv.Max, b("m"), []byte{1})
	tr.Atomic(kv.ByteMin, b("s"), b("zz"))
	tr.Atomic(kv.CompareAndClear, b("c"), b("x"))
	write(t, db, func(o kv.Transaction) {
		o.Set(b("n"), []byte{5})
		o.Set(b("m"), []byte{7})
		o.Set(b("s"), b("aa"))
		o.Set(b("c"), b("x"))
	})
	require.NoError(t, tr.Commit(), "atomic ops add no read conflict")
	r := newTr(t, db)
	require.Equal(t, []byte{6}, get(t, r, b("n")), "the atomic op applies to the value current at commit")
	require.Equal(t, []byte{7}, get(t, r, b("m")))
	require.Equal(t, "aa", string(get(t, r, b("s"))))
	require.Nil(t, get(t, r, b("c")))
}

func testConflictExplicitRead(t *testing.T, s *suite) {
	db := s.db(t)
	err := race(t, db,
		func(tr kv.Transaction) { require.NoError(t, tr.AddReadConflictRange(rng("m", "n"))) },
		func(tr kv.Transaction) { tr.Set(b("m5"), b("x")) })
	requireConflict(t, err, "a write into an added read conflict range conflicts")
	err = race(t, db,
		func(tr kv.Transaction) { require.NoError(t, tr.AddReadConflictRange(rng("m", "n"))) },
		func(tr kv.Transaction) { tr.Set(b("n"), b("x")); tr.Set(b("l"), b("x")) })
	require.NoError(t, err, "the range's end is excluded")
	err = race(t, db,
		func(tr kv.Transaction) { require.NoError(t, tr.AddReadConflictKey(b("k"))) },
		func(tr kv.Transaction) { tr.Set(b("k"), b("x")) })
	requireConflict(t, err, "a write to an added read conflict key conflicts")
	err = race(t, db,
		func(tr kv.Transaction) { require.NoError(t, tr.AddReadConflictKey(b("k"))) },
		func(tr kv.Transaction) { tr.Set(b("k\x00"), b("x")) })
	require.NoError(t, err, "a read conflict key covers that key only")
}

func testConflictExplicitWrite(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "k", "1")
	err := race(t, db,
		func(tr kv.Transaction) { get(t, tr, b("k")) },
		func(tr kv.Transaction) {
			require.NoError(t, tr.AddWriteConflictRange(rng("j", "l")))
			tr.Set(b("other"), b("x"))
		})
	requireConflict(t, err, "an added write conflict range conflicts with readers as a write would")
	require.Equal(t, "1", string(getDB(t, db, b("k"))), "a write conflict range writes nothing")
	err = race(t, db,
		func(tr kv.Transaction) { get(t, tr, b("k")) },
		func(tr kv.Transaction) {
			require.NoError(t, tr.AddWriteConflictKey(b("k")))
			tr.Set(b("other"), b("x"))
		})
	requireConflict(t, err, "an added write conflict key conflicts")
	err = race(t, db,
		func(tr kv.Transaction) { get(t, tr, b("k")) },
		func(tr kv.Transaction) {
			require.NoError(t, tr.AddWriteConflictKey(b("k\x00")))
			tr.Set(b("other"), b("x"))
		})
	require.NoError(t, err, "a write conflict key covers that key only")
}

func testConflictNoWriteConflictRange(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "k", "1", "k2", "1")
	err := race(t, db,
		func(tr kv.Transaction) { get(t, tr, b("k")) },
		func(tr kv.Transaction) {
			tr.SetNextWriteNoWriteConflictRange()
			tr.Set(b("k"), b("2"))
		})
	require.NoError(t, err, "a write after SetNextWriteNoWriteConflictRange makes no write conflict")
	require.Equal(t, "2", string(getDB(t, db, b("k"))), "the write itself is applied")

	err = race(t, db,
		func(tr kv.Transaction) { get(t, tr, b("k2")) },
		func(tr kv.Transaction) {
			tr.SetNextWriteNoWriteConflictRange()
			tr.Set(b("k"), b("3"))
			tr.Set(b("k2"), b("3"))
		})
	requireConflict(t, err, "only the next write is exempt")

	err = race(t, db,
		func(tr kv.Transaction) { getRange(t, tr, rng("k", "l"), kv.RangeOptions{}) },
		func(tr kv.Transaction) {
			tr.SetNextWriteNoWriteConflictRange()
			tr.ClearRange(rng("k", "l"))
		})
	require.NoError(t, err, "the option applies to ClearRange too")
	require.Nil(t, getDB(t, db, b("k")))
}

// A watch reads its key (ReadYourWrites.actor.cpp, RYWImpl::watch reads it with
// Snapshot::False), so it adds a read conflict on the key as a Get does.
func testConflictWatch(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "k", "1")
	var w kv.Watch
	err := race(t, db,
		func(tr kv.Transaction) { w = tr.Watch(b("k")) },
		func(tr kv.Transaction) { tr.Set(b("k"), b("2")) })
	requireConflict(t, err, "a watch conflicts with a write of its key after the read version")
	t.Cleanup(w.Cancel)
	requireCode(t, kv.ErrNotCommitted, w.Wait(context.Background()), "and its watch fails with the commit's error")
}

// A range read conflicts from the moment it is issued, consumed or not: FoundationDB's Go binding
// fetches the first batch when GetRange is called (bindings/go range.go, getRange issues the
// first future), and the read-your-writes layer adds the batch's conflict range when it arrives.
func testConflictRangeReadFromIssue(t *testing.T, s *suite) {
	db := s.db(t)
	abcde(t, db)
	err := race(t, db,
		func(tr kv.Transaction) { _ = tr.GetRange(rng("a", "z"), kv.RangeOptions{}) },
		func(tr kv.Transaction) { tr.Set(b("a"), b("x")) })
	requireConflict(t, err, "a GetRange never consumed still conflicts on its first rows")
	err = race(t, db,
		func(tr kv.Transaction) { _ = tr.Snapshot().GetRange(rng("a", "z"), kv.RangeOptions{}) },
		func(tr kv.Transaction) { tr.Set(b("a"), b("y")) })
	require.NoError(t, err, "a snapshot range read never conflicts")
}

// A partly consumed iterator conflicts on the batches it fetched, not on the rest of its range.
// FoundationDB's first batch of an iterator-mode read is 4,096 bytes (fdb_c.cpp,
// validate_and_update_parameters), so a write 1,900 rows of 100-byte values further does not
// conflict with a read that took one row.
func testConflictPartlyConsumedIterator(t *testing.T, s *suite) {
	db := s.db(t)
	value := repeat('v', 100)
	write(t, db, func(tr kv.Transaction) {
		for i := range 2000 {
			tr.Set(fmt.Appendf(nil, "it/%04d", i), value)
		}
	})
	read := func(tr kv.Transaction) {
		it := tr.GetRange(rng("it/", "it0"), kv.RangeOptions{}).Iterator()
		require.True(t, it.Next())
		require.NoError(t, it.Err())
	}
	err := race(t, db, read, func(tr kv.Transaction) { tr.Set(b("it/1900"), b("x")) })
	require.NoError(t, err, "rows far beyond the fetched batch are not read")
	err = race(t, db, read, func(tr kv.Transaction) { tr.Set(b("it/0000"), b("x")) })
	requireConflict(t, err, "the row returned conflicts")
	err = race(t, db, read, func(tr kv.Transaction) { tr.Set(b("it/0001"), b("x")) })
	requireConflict(t, err, "so does the next row, fetched in the same batch though not returned")
}

// An explicit read conflict on keys the transaction already wrote is dropped, as the
// read-your-writes layer drops every read of its own writes (ReadYourWrites.actor.cpp,
// addReadConflictRange goes through updateConflictMap).
func testConflictReadOnOwnWrite(t *testing.T, s *suite) {
	db := s.db(t)
	err := race(t, db,
		func(tr kv.Transaction) {
			tr.Set(b("k"), b("mine"))
			require.NoError(t, tr.AddReadConflictKey(b("k")))
		},
		func(tr kv.Transaction) { tr.Set(b("k"), b("theirs")) })
	require.NoError(t, err, "a read conflict key the transaction wrote before adds nothing")
	overCleared := func(other string) error {
		return race(t, db,
			func(tr kv.Transaction) {
				tr.ClearRange(rng("m", "n"))
				require.NoError(t, tr.AddReadConflictRange(rng("l", "o")))
			},
			func(tr kv.Transaction) { tr.Set(b(other), b("theirs")) })
	}
	require.NoError(t, overCleared("m5"), "nor a read conflict range over a range it cleared")
	requireConflict(t, overCleared("n5"), "the rest of the range still conflicts")
}

// A versionstamped key gets a write conflict range on its final key at the commit proxy
// (CommitProxyServer.actor.cpp, addTransaction), so SetNextWriteNoWriteConflictRange cannot
// remove it; the option is still used up by that write.
func testConflictVersionstampedKey(t *testing.T, s *suite) {
	db := s.db(t)
	err := race(t, db,
		func(tr kv.Transaction) { require.Empty(t, getRange(t, tr, rng("vs/", "vs0"), kv.RangeOptions{})) },
		func(tr kv.Transaction) {
			tr.SetNextWriteNoWriteConflictRange()
			tr.Atomic(kv.SetVersionstampedKey, cat(b("vs/"), placeholder, le32(3)), b("v"))
		})
	requireConflict(t, err, "a versionstamped key conflicts with a read of where it lands")
	setKeys(t, db, "k", "1")
	err = race(t, db,
		func(tr kv.Transaction) { get(t, tr, b("k")) },
		func(tr kv.Transaction) {
			tr.SetNextWriteNoWriteConflictRange()
			tr.Atomic(kv.SetVersionstampedKey, cat(b("vt/"), placeholder, le32(3)), b("v"))
			tr.Set(b("k"), b("2"))
		})
	requireConflict(t, err, "the versionstamped key used up the option: the next write conflicts")
}
