package kvtest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
)

func selectorCases() []testCase {
	return []testCase{
		{"Constructors", testSelectorConstructors},
		{"Offsets", testSelectorOffsets},
		{"PastTheEnds", testSelectorPastTheEnds},
		{"EmptyDatabase", testSelectorEmptyDatabase},
	}
}

type selCase struct {
	sel  kv.KeySelector
	want string
}

// checkSelectors resolves each selector as the first read of a fresh transaction from newTr, then
// again in one transaction that has resolved the others, plain and snapshot.
func checkSelectors(t *testing.T, newTr func() kv.ReadTransaction, cases []selCase) {
	t.Helper()
	shared := newTr()
	for _, c := range cases {
		require.Equal(t, c.want, kv.Printable(b(getKey(t, newTr(), c.sel))), "GetKey(%v) first in a transaction", c.sel)
		require.Equal(t, c.want, kv.Printable(b(getKey(t, newTr().Snapshot(), c.sel))), "snapshot GetKey(%v) first in a transaction", c.sel)
		require.Equal(t, c.want, kv.Printable(b(getKey(t, shared, c.sel))), "GetKey(%v)", c.sel)
		require.Equal(t, c.want, kv.Printable(b(getKey(t, shared.Snapshot(), c.sel))), "snapshot GetKey(%v)", c.sel)
	}
}

func trOf(t *testing.T, db kv.Database) func() kv.ReadTransaction {
	return func() kv.ReadTransaction { return newTr(t, db) }
}

// bdf loads the keys b, d and f.
func bdf(t *testing.T, db kv.Database) { setKeys(t, db, "b", "1", "d", "2", "f", "3") }

func testSelectorConstructors(t *testing.T, s *suite) {
	db := s.db(t)
	bdf(t, db)
	checkSelectors(t, trOf(t, db), []selCase{
		{kv.FirstGreaterOrEqual(b("d")), "d"},
		{kv.FirstGreaterOrEqual(b("c")), "d"},
		{kv.FirstGreaterOrEqual(b("a")), "b"},
		{kv.FirstGreaterOrEqual(b("")), "b"},
		{kv.FirstGreaterThan(b("d")), "f"},
		{kv.FirstGreaterThan(b("c")), "d"},
		{kv.FirstGreaterThan(b("")), "b"},
		{kv.LastLessOrEqual(b("d")), "d"},
		{kv.LastLessOrEqual(b("e")), "d"},
		{kv.LastLessOrEqual(b("z")), "f"},
		{kv.LastLessThan(b("d")), "b"},
		{kv.LastLessThan(b("e")), "d"},
		{kv.LastLessThan(b("\xff")), "f"},
	})
}

func testSelectorOffsets(t *testing.T, s *suite) {
	db := s.db(t)
	bdf(t, db)
	checkSelectors(t, trOf(t, db), []selCase{
		{kv.FirstGreaterOrEqual(b("b")).Add(1), "d"},
		{kv.FirstGreaterOrEqual(b("b")).Add(2), "f"},
		{kv.FirstGreaterOrEqual(b("c")).Add(1), "f"},
		{kv.FirstGreaterThan(b("b")).Add(-1), "b"},
		{kv.FirstGreaterThan(b("b")).Add(1), "f"},
		{kv.LastLessOrEqual(b("f")).Add(-1), "d"},
		{kv.LastLessOrEqual(b("f")).Add(-2), "b"},
		{kv.LastLessOrEqual(b("e")).Add(1), "f"},
		{kv.LastLessThan(b("f")).Add(1), "f"},
		{kv.LastLessThan(b("f")).Add(-1), "b"},
		{kv.KeySelector{Key: b("c"), OrEqual: false, Offset: 3}, "\\xff"},
		{kv.KeySelector{Key: b("d"), OrEqual: true, Offset: 0}, "d"},
	})
}

func testSelectorPastTheEnds(t *testing.T, s *suite) {
	db := s.db(t)
	bdf(t, db)
	checkSelectors(t, trOf(t, db), []selCase{
		// Past the last key: 0xff, the end of the user keyspace.
		{kv.FirstGreaterOrEqual(b("g")), "\\xff"},
		{kv.FirstGreaterThan(b("f")), "\\xff"},
		{kv.FirstGreaterOrEqual(b("b")).Add(3), "\\xff"},
		{kv.FirstGreaterOrEqual(b("b")).Add(50), "\\xff"},
		{kv.LastLessOrEqual(b("f")).Add(1), "\\xff"},
		// Before the first key: the empty key.
		{kv.LastLessThan(b("b")), ""},
		{kv.LastLessOrEqual(b("a")), ""},
		{kv.LastLessOrEqual(b("d")).Add(-2), ""},
		{kv.FirstGreaterOrEqual(b("b")).Add(-1), ""},
		{kv.FirstGreaterOrEqual(b("b")).Add(-50), ""},
		// Resolving backwards from the empty key stays at the start of the keyspace.
		{kv.LastLessThan(b("")), ""},
		{kv.LastLessOrEqual(b("")), ""},
		{kv.LastLessThan(b("")).Add(-3), ""},
		{kv.FirstGreaterOrEqual(b("")).Add(-1), ""},
		// A nil key is the empty key.
		{kv.LastLessThan(nil), ""},
		{kv.LastLessThan(nil).Add(-3), ""},
		{kv.LastLessOrEqual(nil), ""},
		{kv.FirstGreaterOrEqual(nil), "b"},
		{kv.FirstGreaterThan(nil), "b"},
	})
	withAtomic := func() kv.ReadTransaction {
		tr := newTr(t, db)
		tr.Atomic(kv.BitXor, b("h"), x(0))
		return tr
	}
	checkSelectors(t, withAtomic, []selCase{
		{kv.LastLessThan(b("")), ""},
		{kv.LastLessThan(b("")).Add(-3), ""},
		{kv.LastLessThan(nil), ""},
		{kv.LastLessOrEqual(b("z")), "h"},
		{kv.LastLessThan(b("\xff")).Add(1), "\\xff"},
	})
}

func testSelectorEmptyDatabase(t *testing.T, s *suite) {
	db := s.db(t)
	checkSelectors(t, trOf(t, db), []selCase{
		{kv.FirstGreaterOrEqual(b("")), "\\xff"},
		{kv.FirstGreaterThan(b("m")), "\\xff"},
		{kv.LastLessThan(b("\xff")), ""},
		{kv.LastLessOrEqual(b("m")), ""},
	})
}
