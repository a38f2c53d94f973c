package kvtest

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
)

func limitCases() []testCase {
	return []testCase{
		{"KeySize", testLimitKeySize},
		{"ValueSize", testLimitValueSize},
		{"TransactionSize", testLimitTransactionSize},
		{"TransactionSizeAfterCoalescing", testLimitSizeCoalesced},
		{"TransactionSizeCountsConflictRanges", testLimitSizeConflictRanges},
		{"TransactionSizeCountsClears", testLimitSizeClears},
		{"TransactionSizeNotCheckedReadOnly", testLimitSizeReadOnly},
		{"SystemKeysWrite", testLimitSystemKeysWrite},
		{"SystemKeysRead", testLimitSystemKeysRead},
		{"InvertedRange", testLimitInvertedRange},
	}
}

func testLimitKeySize(t *testing.T, s *suite) {
	db := s.db(t)
	write(t, db, func(tr kv.Transaction) { tr.Set(repeat('k', kv.MaxKeySize), b("v")) })
	require.Equal(t, "v", string(getDB(t, db, repeat('k', kv.MaxKeySize))), "a key of exactly 10,000 bytes is allowed")

	tr := newTr(t, db)
	tr.Set(b("ok"), b("v"))
	tr.Set(repeat('k', kv.MaxKeySize+1), b("v"))
	_, err := tr.Get(b("ok")).Get()
	requireCode(t, kv.ErrKeyTooLarge, err, "the next read reports the invalid write")
	requireCode(t, kv.ErrKeyTooLarge, tr.Commit(), "and so does the commit")
	require.Nil(t, getDB(t, db, b("ok")), "nothing of the transaction is committed")
}

func testLimitValueSize(t *testing.T, s *suite) {
	db := s.db(t)
	write(t, db, func(tr kv.Transaction) { tr.Set(b("max"), repeat('v', kv.MaxValueSize)) })
	require.Len(t, getDB(t, db, b("max")), kv.MaxValueSize, "a value of exactly 100,000 bytes is allowed")

	tr := newTr(t, db)
	tr.Set(b("ok"), b("v"))
	tr.Set(b("big"), repeat('v', kv.MaxValueSize+1))
	_, err := tr.Get(b("ok")).Get()
	requireCode(t, kv.ErrValueTooLarge, err, "the next read reports the invalid write")
	requireCode(t, kv.ErrValueTooLarge, tr.Commit())
	require.Nil(t, getDB(t, db, b("ok")))
}

func testLimitTransactionSize(t *testing.T, s *suite) {
	db := s.db(t)
	tr := newTr(t, db)
	v := repeat('v', 99_000)
	for i := range 110 { // 110 * 99,000 bytes of values: 10.89 MB
		tr.Set(fmt.Appendf(nil, "big/%03d", i), v)
	}
	requireCode(t, kv.ErrTransactionTooLarge, tr.Commit())
	require.Empty(t, getRange(t, newTr(t, db), rng("big/", "big0"), kv.RangeOptions{Limit: 1}), "nothing is committed")

	tr = newTr(t, db)
	for i := range 50 { // 4.95 MB: well inside the limit
		tr.Set(fmt.Appendf(nil, "big/%03d", i), v)
	}
	require.NoError(t, tr.Commit())
}

func testLimitSystemKeysWrite(t *testing.T, s *suite) {
	db := s.db(t)
	for _, c := range []struct {
		name string
		fn   func(tr kv.Transaction)
	}{
		{"Set 0xff", func(tr kv.Transaction) { tr.Set([]byte{0xff}, b("v")) }},
		{"Set 0xff...", func(tr kv.Transaction) { tr.Set([]byte{0xff, 0x00, 'k'}, b("v")) }},
		{"Clear", func(tr kv.Transaction) { tr.Clear([]byte{0xff, 'k'}) }},
		{"ClearRange past 0xff", func(tr kv.Transaction) { tr.ClearRange(kv.Range{Begin: b("a"), End: []byte{0xff, 0x00}}) }},
		{"ClearRange inside the system keyspace", func(tr kv.Transaction) {
			tr.ClearRange(kv.Range{Begin: []byte{0xff, 'a'}, End: []byte{0xff, 'b'}})
		}},
		{"Atomic", func(tr kv.Transaction) { tr.Atomic(kv.Add, []byte{0xff, 'n'}, []byte{1}) }},
	} {
		tr := newTr(t, db)
		tr.Set(b("ok"), b("v"))
		c.fn(tr)
		requireCode(t, kv.ErrKeyOutsideLegalRange, tr.Commit(), c.name)
	}
	require.Nil(t, getDB(t, db, b("ok")))
	// A clear-range that ends exactly at 0xff stays in the user keyspace.
	write(t, db, func(tr kv.Transaction) { tr.ClearRange(kv.Range{Begin: b(""), End: []byte{0xff}}) })
}

func testLimitSystemKeysRead(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "a", "1")
	tr := newTr(t, db)
	_, err := tr.Get([]byte{0xff, 'k'}).Get()
	requireCode(t, kv.ErrKeyOutsideLegalRange, err, "Get of a system key")
	_, err = tr.GetRange(kv.Range{Begin: b("a"), End: []byte{0xff, 0x01}}, kv.RangeOptions{}).GetSlice()
	requireCode(t, kv.ErrKeyOutsideLegalRange, err, "a range read that ends past 0xff")
	require.Equal(t, []string{"a"}, keys(getRange(t, tr, kv.Range{Begin: b(""), End: []byte{0xff}}, kv.RangeOptions{})), "a range read that ends at 0xff is fine")
}

func testLimitInvertedRange(t *testing.T, s *suite) {
	db := s.db(t)
	abcde(t, db)
	tr := newTr(t, db)
	require.Empty(t, getRange(t, tr, rng("d", "b"), kv.RangeOptions{}), "reading an inverted range gives no rows, as in FoundationDB")
	requireCode(t, kv.ErrInvertedRange, tr.AddReadConflictRange(rng("d", "b")))
	requireCode(t, kv.ErrInvertedRange, tr.AddWriteConflictRange(rng("d", "b")))

	tr = newTr(t, db)
	tr.Set(b("ok"), b("v"))
	tr.ClearRange(rng("d", "b"))
	requireCode(t, kv.ErrInvertedRange, tr.Commit(), "an inverted clear-range fails the transaction")
	require.Nil(t, getDB(t, db, b("ok")))
	require.Equal(t, []string{"a", "b", "c", "d", "e"}, keys(getRange(t, newTr(t, db), rng("", "\xff"), kv.RangeOptions{})))
}

// The size limit counts what FoundationDB's client sends at commit (NativeAPI.actor.cpp,
// Transaction::getSize, checked in commitMutations): the mutations after the write map combined
// them, so a key set many times counts once and sets erased by a later clear count not at all.
func testLimitSizeCoalesced(t *testing.T, s *suite) {
	db := s.db(t)
	v := repeat('v', 99_000)
	tr := newTr(t, db)
	for range 106 { // 10.5 MB written, one 99 KB value sent
		tr.Set(b("same"), v)
	}
	require.NoError(t, tr.Commit(), "repeated sets of one key count once")

	tr = newTr(t, db)
	for i := range 106 { // 10.5 MB written, then erased
		tr.Set(fmt.Appendf(nil, "gone/%03d", i), v)
	}
	tr.ClearRange(rng("gone/", "gone0"))
	tr.Set(b("kept"), b("x"))
	require.NoError(t, tr.Commit(), "sets erased by a later clear count not at all")
	require.Empty(t, getRange(t, newTr(t, db), rng("gone/", "gone0"), kv.RangeOptions{}))
	require.Equal(t, "x", string(getDB(t, db, b("kept"))))
}

// conflictKey returns a key of about 5,000 bytes, distinct for each i and tag.
func conflictKey(tag string, i int, fill byte) []byte {
	return append(fmt.Appendf(nil, "%s/%04d/", tag, i), fills[fill][:5_000]...)
}

// fills holds the bytes conflict keys are made of, made once.
var fills = map[byte][]byte{'a': repeat('a', 9_980), 'b': repeat('b', 9_980)}

// Read and write conflict ranges count towards the limit as mutations do, so a transaction of few
// bytes written but many large conflict ranges fails with 2101. (That the limit is not reached
// earlier is checked by the sizes that fit in the other subtests.)
func testLimitSizeConflictRanges(t *testing.T, s *suite) {
	db := s.db(t)
	explicit := func(n int) error {
		tr := newTr(t, db)
		for i := range n { // each range about 10 KB: two 5 KB keys, disjoint from the others
			require.NoError(t, tr.AddReadConflictRange(kv.Range{Begin: conflictKey("r", i, 'a'), End: conflictKey("r", i, 'b')}))
		}
		tr.Set(b("small"), b("x"))
		return tr.Commit()
	}
	requireCode(t, kv.ErrTransactionTooLarge, explicit(1_050), "10.5 MB of read conflict ranges do not fit")

	tr := newTr(t, db)
	for i := range 525 { // each read adds [key, key+0x00): about 20 KB for a 10 KB key
		key := append(fmt.Appendf(nil, "g/%04d/", i), fills['a']...)
		_, err := tr.Get(key).Get()
		require.NoError(t, err, "read %d", i)
	}
	tr.Set(b("small"), b("x"))
	requireCode(t, kv.ErrTransactionTooLarge, tr.Commit(), "the read conflict ranges of 525 reads of 10 KB keys")

	tr = newTr(t, db)
	for i := range 1_050 {
		require.NoError(t, tr.AddWriteConflictRange(kv.Range{Begin: conflictKey("w", i, 'a'), End: conflictKey("w", i, 'b')}))
	}
	requireCode(t, kv.ErrTransactionTooLarge, tr.Commit(), "10.5 MB of write conflict ranges")
}

// A range clear counts its two keys, and its write conflict range two more.
func testLimitSizeClears(t *testing.T, s *suite) {
	db := s.db(t)
	clears := func(n int) error {
		tr := newTr(t, db)
		for i := range n { // each clear about 20 KB with its conflict range
			tr.ClearRange(kv.Range{Begin: conflictKey("c", i, 'a'), End: conflictKey("c", i, 'b')})
		}
		return tr.Commit()
	}
	require.NoError(t, clears(450), "9 MB of clears fit")
	requireCode(t, kv.ErrTransactionTooLarge, clears(525), "10.5 MB of clears do not")
}

// A transaction that writes nothing is not sent at all (commitMutations returns at once), so its
// read conflict ranges are never checked against the limit.
func testLimitSizeReadOnly(t *testing.T, s *suite) {
	db := s.db(t)
	tr := newTr(t, db)
	for i := range 1_050 {
		require.NoError(t, tr.AddReadConflictRange(kv.Range{Begin: conflictKey("r", i, 'a'), End: conflictKey("r", i, 'b')}))
	}
	require.NoError(t, tr.Commit(), "10.5 MB of read conflict ranges in a read-only transaction")
}
