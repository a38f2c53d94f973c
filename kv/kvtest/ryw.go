package kvtest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
)

func rywCases() []testCase {
	return []testCase{
		{"Get", testRYWGet},
		{"Atomic", testRYWAtomic},
		{"GetKey", testRYWGetKey},
		{"Range", testRYWRange},
		{"Snapshot", testRYWSnapshot},
	}
}

func testRYWGet(t *testing.T, s *suite) {
	db := s.db(t)
	abcde(t, db)
	tr := newTr(t, db)
	tr.Set(b("a"), b("new"))
	require.Equal(t, "new", string(get(t, tr, b("a"))), "own Set")
	tr.Set(b("n"), b("created"))
	require.Equal(t, "created", string(get(t, tr, b("n"))), "own Set of a new key")
	tr.Clear(b("b"))
	require.Nil(t, get(t, tr, b("b")), "own Clear")
	tr.ClearRange(rng("c", "e"))
	require.Nil(t, get(t, tr, b("c")), "own ClearRange")
	require.Nil(t, get(t, tr, b("d")), "own ClearRange")
	require.Equal(t, "5", string(get(t, tr, b("e"))), "ClearRange end is excluded")
	tr.Set(b("c"), b("again"))
	require.Equal(t, "again", string(get(t, tr, b("c"))), "Set after ClearRange")
	tr.Clear(b("n"))
	require.Nil(t, get(t, tr, b("n")), "Clear after own Set")
	require.NoError(t, tr.Commit())
	require.Equal(t, []string{"a=new", "c=again", "e=5"}, rows(getRange(t, newTr(t, db), rng("", "\xff"), kv.RangeOptions{})))
}

func testRYWAtomic(t *testing.T, s *suite) {
	db := s.db(t)
	write(t, db, func(tr kv.Transaction) {
		tr.Set(b("n"), le64(10))
		tr.Set(b("s"), b("abc"))
	})
	tr := newTr(t, db)
	tr.Atomic(kv.Add, b("n"), le64(5))
	require.Equal(t, le64(15), get(t, tr, b("n")), "atomic op on a stored value")
	tr.Atomic(kv.Add, b("n"), le64(1))
	require.Equal(t, le64(16), get(t, tr, b("n")), "atomic ops stack")
	tr.Atomic(kv.Add, b("fresh"), le64(7))
	require.Equal(t, le64(7), get(t, tr, b("fresh")), "atomic op on an absent key")
	tr.Set(b("m"), le64(100))
	tr.Atomic(kv.Max, b("m"), le64(50))
	require.Equal(t, le64(100), get(t, tr, b("m")), "atomic op on the transaction's own Set")
	tr.ClearRange(rng("m", "n"))
	tr.Atomic(kv.BitAnd, b("m"), le64(3))
	require.Equal(t, le64(3), get(t, tr, b("m")), "atomic op after an own clear sees the key absent")
	tr.Atomic(kv.AppendIfFits, b("s"), b("def"))
	tr.Set(b("s2"), b("x"))
	tr.Atomic(kv.CompareAndClear, b("s2"), b("x"))
	require.Nil(t, get(t, tr, b("s2")), "COMPARE_AND_CLEAR that matches clears")
	tr.Atomic(kv.ByteMax, b("s"), b("abd"))
	require.Equal(t, "abd", string(get(t, tr, b("s"))), "BYTE_MAX after APPEND_IF_FITS")
	tr.Atomic(kv.Add, b("n"), le64(1))
	tr.Set(b("n"), le64(1))
	require.Equal(t, le64(1), get(t, tr, b("n")), "Set after an atomic op replaces it")
	require.NoError(t, tr.Commit())
	r := newTr(t, db)
	require.Equal(t, le64(1), get(t, r, b("n")))
	require.Equal(t, le64(7), get(t, r, b("fresh")))
	require.Equal(t, le64(3), get(t, r, b("m")))
	require.Equal(t, "abd", string(get(t, r, b("s"))))
	require.Nil(t, get(t, r, b("s2")))
}

func testRYWGetKey(t *testing.T, s *suite) {
	db := s.db(t)
	abcde(t, db)
	tr := newTr(t, db)
	tr.Set(b("bb"), b("x"))
	require.Equal(t, "bb", getKey(t, tr, kv.FirstGreaterThan(b("b"))), "own Set is a key for selectors")
	require.Equal(t, "bb", getKey(t, tr, kv.LastLessThan(b("c"))))
	tr.Clear(b("c"))
	require.Equal(t, "d", getKey(t, tr, kv.FirstGreaterOrEqual(b("c"))), "own Clear removes a key for selectors")
	require.Equal(t, "d", getKey(t, tr, kv.FirstGreaterOrEqual(b("bb")).Add(1)))
	tr.ClearRange(rng("d", "f"))
	require.Equal(t, "\\xff", kv.Printable(b(getKey(t, tr, kv.FirstGreaterThan(b("bb"))))), "own ClearRange removes every key in it")
	require.Equal(t, "bb", getKey(t, tr, kv.LastLessOrEqual(b("z"))))
	tr.Atomic(kv.Add, b("z"), []byte{1})
	require.Equal(t, "z", getKey(t, tr, kv.LastLessOrEqual(b("z"))), "an atomic op on an absent key creates it")
	require.Equal(t, "a", getKey(t, tr, kv.LastLessOrEqual(b("bb")).Add(-2)))
}

func testRYWRange(t *testing.T, s *suite) {
	db := s.db(t)
	abcde(t, db)
	write(t, db, func(tr kv.Transaction) { tr.Set(b("f"), b("eq")) })
	tr := newTr(t, db)
	tr.Set(b("a"), b("A"))               // overwrite
	tr.Set(b("bb"), b("new"))            // insert
	tr.Clear(b("c"))                     // clear
	tr.ClearRange(rng("d", "e"))         // clear-range
	tr.Atomic(kv.Add, b("e"), []byte{1}) // atomic on a stored value: '5' + 1 = '6'
	tr.Atomic(kv.BitOr, b("g"), b("G"))  // atomic on an absent key
	tr.Atomic(kv.CompareAndClear, b("f"), b("eq"))
	want := []string{"a=A", "b=2", "bb=new", "e=6", "g=G"}
	all := rng("", "\xff")
	require.Equal(t, want, rows(getRange(t, tr, all, kv.RangeOptions{})))
	require.Equal(t, []string{"g=G", "e=6", "bb=new", "b=2", "a=A"}, rows(getRange(t, tr, all, kv.RangeOptions{Reverse: true})))
	require.Equal(t, want[:3], rows(getRange(t, tr, all, kv.RangeOptions{Limit: 3})))
	require.Equal(t, []string{"g=G", "e=6"}, rows(getRange(t, tr, all, kv.RangeOptions{Limit: 2, Reverse: true})))
	require.Equal(t, []string{"bb=new", "e=6"}, rows(getRange(t, tr, rng("b\x00", "f"), kv.RangeOptions{})))
	sel := kv.SelectorRange{Begin: kv.FirstGreaterThan(b("b")), End: kv.LastLessOrEqual(b("g"))}
	require.Equal(t, []string{"bb=new", "e=6"}, rows(getRange(t, tr, sel, kv.RangeOptions{})))
	it := tr.GetRange(all, kv.RangeOptions{}).Iterator()
	var got []kv.KeyValue
	for it.Next() {
		got = append(got, it.KeyValue())
	}
	require.NoError(t, it.Err())
	require.Equal(t, want, rows(got), "the iterator sees own writes too")
	// A write after a range read is seen by the next read.
	tr.Set(b("c"), b("back"))
	require.Equal(t, []string{"b=2", "bb=new", "c=back"}, rows(getRange(t, tr, rng("b", "d"), kv.RangeOptions{})))
	require.NoError(t, tr.Commit())
	require.Equal(t, []string{"a=A", "b=2", "bb=new", "c=back", "e=6", "g=G"}, rows(getRange(t, newTr(t, db), all, kv.RangeOptions{})))
}

func testRYWSnapshot(t *testing.T, s *suite) {
	db := s.db(t)
	abcde(t, db)
	tr := newTr(t, db)
	tr.Set(b("a"), b("A"))
	tr.Clear(b("b"))
	tr.Atomic(kv.Add, b("c"), []byte{1})
	snap := tr.Snapshot()
	require.Equal(t, "A", string(get(t, snap, b("a"))))
	require.Nil(t, get(t, snap, b("b")))
	require.Equal(t, "4", string(get(t, snap, b("c"))))
	require.Equal(t, "c", getKey(t, snap, kv.FirstGreaterThan(b("a"))))
	require.Equal(t, []string{"a=A", "c=4", "d=4"}, rows(getRange(t, snap, rng("a", "e"), kv.RangeOptions{})))
}
