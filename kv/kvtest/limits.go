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
