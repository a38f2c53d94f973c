package kvtest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
)

func readWriteCases() []testCase {
	return []testCase{
		{"GetSet", testGetSet},
		{"Overwrite", testOverwrite},
		{"EmptyVersusAbsent", testEmptyVersusAbsent},
		{"Clear", testClear},
		{"ClearRange", testClearRange},
		{"UncommittedInvisible", testUncommittedInvisible},
		{"SnapshotIsolation", testSnapshotIsolation},
		{"AllOrNothing", testAllOrNothing},
		{"CallerOwnsSlices", testCallerOwnsSlices},
		{"ConcurrentUseOfTransaction", testConcurrentUse},
		{"Reset", testReset},
	}
}

func testGetSet(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "a", "1", "b", "2")
	tr := newTr(t, db)
	require.Equal(t, "1", string(get(t, tr, b("a"))))
	require.Equal(t, "2", string(get(t, tr, b("b"))))
	require.Nil(t, get(t, tr, b("c")), "absent key reads as nil")
	require.Nil(t, get(t, tr, b("a\x00")), "a key is exact: a\\x00 is not a")
}

func testOverwrite(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "k", "first")
	setKeys(t, db, "k", "second value")
	require.Equal(t, "second value", string(getDB(t, db, b("k"))))
	setKeys(t, db, "k", "x")
	require.Equal(t, "x", string(getDB(t, db, b("k"))), "a shorter value replaces a longer one entirely")
}

func testEmptyVersusAbsent(t *testing.T, s *suite) {
	db := s.db(t)
	write(t, db, func(tr kv.Transaction) {
		tr.Set(b("empty"), []byte{})
		tr.Set(b("nil"), nil)
	})
	tr := newTr(t, db)
	v := get(t, tr, b("empty"))
	require.NotNil(t, v, "an empty value is present: a non-nil empty slice")
	require.Len(t, v, 0)
	v = get(t, tr, b("nil"))
	require.NotNil(t, v, "Set with a nil value stores an empty value")
	require.Len(t, v, 0)
	require.Nil(t, get(t, tr, b("absent")))
	got := getRange(t, tr, kv.Range{Begin: b(""), End: b("z")}, kv.RangeOptions{})
	require.Equal(t, []string{"empty", "nil"}, keys(got), "empty values are rows of range reads")
	for _, r := range got {
		require.Len(t, r.Value, 0)
	}
	k, err := tr.GetKey(kv.FirstGreaterOrEqual(b("a"))).Get()
	require.NoError(t, err)
	require.Equal(t, "empty", string(k), "a key with an empty value exists for selectors")
}

func testClear(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "a", "1", "b", "2")
	write(t, db, func(tr kv.Transaction) {
		tr.Clear(b("a"))
		tr.Clear(b("never-written")) // clearing an absent key is no error
	})
	tr := newTr(t, db)
	require.Nil(t, get(t, tr, b("a")))
	require.Equal(t, "2", string(get(t, tr, b("b"))))
	require.Equal(t, []string{"b"}, keys(getRange(t, tr, kv.Range{Begin: b(""), End: b("z")}, kv.RangeOptions{})))
}

func testClearRange(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "a", "1", "b", "2", "b\x00", "3", "c", "4", "d", "5", "e", "6")
	write(t, db, func(tr kv.Transaction) {
		tr.ClearRange(kv.Range{Begin: b("b"), End: b("d")}) // begin included, end excluded
		tr.ClearRange(kv.Range{Begin: b("e"), End: b("e")}) // empty range: nothing
	})
	tr := newTr(t, db)
	require.Equal(t, []string{"a", "d", "e"}, keys(getRange(t, tr, kv.Range{Begin: b(""), End: b("z")}, kv.RangeOptions{})))
	write(t, db, func(tr kv.Transaction) {
		tr.ClearRange(kv.Range{Begin: b(""), End: []byte{0xff}}) // the whole user keyspace
	})
	require.Empty(t, getRange(t, newTr(t, db), kv.Range{Begin: b(""), End: []byte{0xff}}, kv.RangeOptions{}))
}

func testUncommittedInvisible(t *testing.T, s *suite) {
	db := s.db(t)
	w := newTr(t, db)
	w.Set(b("k"), b("v"))
	require.Nil(t, getDB(t, db, b("k")), "a write is invisible to other transactions before commit")
	require.NoError(t, w.Commit())
	require.Equal(t, "v", string(getDB(t, db, b("k"))), "a transaction started after the commit sees it")
}

func testSnapshotIsolation(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "a", "old", "b", "old")
	r := startTr(t, db)
	require.Equal(t, "old", string(get(t, r, b("a"))))
	write(t, db, func(tr kv.Transaction) {
		tr.Set(b("a"), b("new"))
		tr.Set(b("b"), b("new"))
		tr.Set(b("c"), b("new"))
		tr.Clear(b("x"))
	})
	// Everything r reads is as of its read version, fixed before the write committed.
	require.Equal(t, "old", string(get(t, r, b("a"))))
	require.Equal(t, "old", string(get(t, r, b("b"))), "a key first read after the commit still reads at the read version")
	require.Nil(t, get(t, r, b("c")))
	require.Equal(t, []string{"a=old", "b=old"}, rows(getRange(t, r, kv.Range{Begin: b(""), End: b("z")}, kv.RangeOptions{})))
	require.Equal(t, []string{"a=old", "b=old"}, rows(getRange(t, r.Snapshot(), kv.Range{Begin: b(""), End: b("z")}, kv.RangeOptions{})))
}

func testAllOrNothing(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "a", "1")
	tr := newTr(t, db)
	tr.Set(b("a"), b("2"))
	tr.Set(b("b"), b("2"))
	tr.Set([]byte{0xff, 'x'}, b("bad")) // fails the whole transaction
	require.Error(t, tr.Commit())
	r := newTr(t, db)
	require.Equal(t, "1", string(get(t, r, b("a"))), "a failed commit applies nothing")
	require.Nil(t, get(t, r, b("b")))
}

func testCallerOwnsSlices(t *testing.T, s *suite) {
	db := s.db(t)
	tr := newTr(t, db)
	key, val := b("k1"), b("v1")
	tr.Set(key, val)
	key[1], val[1] = '2', 'x' // the caller may reuse its slices once Set returns
	require.Equal(t, "v1", string(get(t, tr, b("k1"))), "read-your-writes must not alias the caller's slices")
	require.Nil(t, get(t, tr, b("k2")))
	rk := b("r")
	tr.ClearRange(kv.Range{Begin: rk, End: b("s")})
	rk[0] = 'a'
	tr.Set(b("r1"), b("x"))
	tr.Atomic(kv.Add, b("n"), val[:1])
	val[0] = 0
	require.NoError(t, tr.Commit())

	r := newTr(t, db)
	require.Equal(t, "v1", string(get(t, r, b("k1"))))
	require.Nil(t, get(t, r, b("k2")))
	require.Equal(t, "v", string(get(t, r, b("n"))), "the atomic parameter was copied when Atomic was called")
	// Slices returned by reads belong to the caller.
	v := get(t, r, b("k1"))
	v[0] = 'Z'
	require.Equal(t, "v1", string(get(t, r, b("k1"))))
	got := getRange(t, r, kv.Range{Begin: b(""), End: b("z")}, kv.RangeOptions{})
	require.NotEmpty(t, got)
	got[0].Key[0], got[0].Value[0] = 'Z', 'Z'
	require.Equal(t, []string{"k1=v1", "n=v", "r1=x"}, rows(getRange(t, r, kv.Range{Begin: b(""), End: b("z")}, kv.RangeOptions{})))
}

func testConcurrentUse(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "base", "1")
	tr := newTr(t, db)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				k := fmt.Appendf(nil, "g%d/%02d", g, i)
				tr.Set(k, k)
				v, err := tr.Get(k).Get()
				if err != nil || string(v) != string(k) {
					errs <- fmt.Errorf("goroutine %d: Get(%s) = %q, %v after its own Set", g, k, v, err)
					return
				}
				if _, err := tr.Get(b("base")).Get(); err != nil {
					errs <- err
					return
				}
				if _, err := tr.GetRange(kv.Range{Begin: b("g"), End: b("h")}, kv.RangeOptions{Limit: 5}).GetSlice(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, tr.Commit())
	got := getRange(t, newTr(t, db), kv.Range{Begin: b("g"), End: b("h")}, kv.RangeOptions{})
	require.Len(t, got, 160, "every concurrent write of the transaction was committed")
}

func testReset(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "a", "1")
	tr := startTr(t, db)
	rv1, err := tr.GetReadVersion().Get()
	require.NoError(t, err)
	tr.Set(b("b"), b("2"))
	setKeys(t, db, "a", "changed")
	tr.Reset()
	require.Nil(t, get(t, tr, b("b")), "Reset discards the transaction's writes")
	require.Equal(t, "changed", string(get(t, tr, b("a"))), "Reset takes a new read version")
	rv2, err := tr.GetReadVersion().Get()
	require.NoError(t, err)
	require.Greater(t, rv2, rv1)
	tr.Set(b("c"), b("3"))
	require.NoError(t, tr.Commit())
	r := newTr(t, db)
	require.Nil(t, get(t, r, b("b")), "writes before Reset are never committed")
	require.Equal(t, "3", string(get(t, r, b("c"))))
}
