package kvtest

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
)

func atomicCases() []testCase {
	return []testCase{
		{"ByteSemantics", testAtomicByteSemantics},
		{"AppendIfFitsLimit", testAtomicAppendLimit},
		{"SignedAdd", testAtomicSignedAdd},
		{"Errors", testAtomicErrors},
		{"BlindAppendsCombine", testAtomicBlindAppendsCombine},
	}
}

// atomicVector is one atomic mutation with the value FoundationDB's documented rules give. The
// expected values are worked out by hand from those rules, not computed.
type atomicVector struct {
	op       kv.MutationType
	existing []byte // nil: the key is absent
	param    []byte
	want     []byte // nil: the key is absent afterwards
	why      string
}

func x(s ...byte) []byte { return append([]byte{}, s...) }

var atomicVectors = []atomicVector{
	// ADD: little-endian, the stored value fitted to the parameter's length, wrapping.
	{kv.Add, nil, x(1, 0), x(1, 0), "absent counts as zero"},
	{kv.Add, x(1), x(2), x(3), "one byte"},
	{kv.Add, x(0xff), x(1), x(0), "wraps at the parameter's length"},
	{kv.Add, x(0xff, 0), x(1, 0), x(0, 1), "carry into the next byte"},
	{kv.Add, x(0xff, 0xff), x(1, 0), x(0, 0), "carry out of the last byte is lost"},
	{kv.Add, x(1, 2, 3), x(1, 0), x(2, 2), "a longer value is truncated to the parameter"},
	{kv.Add, x(5), x(1, 0, 0, 0), x(6, 0, 0, 0), "a shorter value is zero-extended"},
	{kv.Add, x(), x(1, 2), x(1, 2), "an empty value counts as zero"},
	{kv.Add, x(9, 9), x(), x(), "an empty parameter gives an empty value"},
	{kv.Add, x(0x10, 0x27, 0, 0, 0, 0, 0, 0), x(0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), x(0x0e, 0x27, 0, 0, 0, 0, 0, 0), "10000 + (-2) in two's complement"},
	// BIT_AND: an absent value takes the parameter; otherwise fitted like ADD.
	{kv.BitAnd, nil, x(0x0f), x(0x0f), "absent takes the parameter"},
	{kv.BitAnd, x(0xff, 0x0f), x(0x0f, 0xff), x(0x0f, 0x0f), "byte by byte"},
	{kv.BitAnd, x(0xff), x(0xff, 0xff), x(0xff, 0), "a shorter value is zero-extended"},
	{kv.BitAnd, x(0xff, 0xff, 0xff), x(0xf0), x(0xf0), "a longer value is truncated"},
	{kv.BitAnd, x(), x(0xff), x(0), "an empty value is zero-extended"},
	// BIT_OR and BIT_XOR: absent counts as zero.
	{kv.BitOr, nil, x(0x0f), x(0x0f), "absent counts as zero"},
	{kv.BitOr, x(1), x(2, 0), x(3, 0), "zero-extended"},
	{kv.BitOr, x(0x0f, 0xf0, 0xaa), x(0x01), x(0x0f), "truncated"},
	{kv.BitXor, nil, x(0x0f), x(0x0f), "absent counts as zero"},
	{kv.BitXor, x(0xff, 0), x(0x0f, 0x0f), x(0xf0, 0x0f), "byte by byte"},
	{kv.BitXor, x(1), x(1), x(0), "to zero, not to absent"},
	// APPEND_IF_FITS.
	{kv.AppendIfFits, nil, []byte("ab"), []byte("ab"), "absent appends to nothing"},
	{kv.AppendIfFits, []byte("ab"), []byte("cd"), []byte("abcd"), "appends"},
	{kv.AppendIfFits, nil, x(), x(), "absent plus empty is an empty value"},
	// MAX and MIN: little-endian unsigned, the stored value fitted to the parameter.
	{kv.Max, nil, x(3, 0), x(3, 0), "absent takes the parameter"},
	{kv.Max, x(1, 0), x(2, 0), x(2, 0), "parameter larger"},
	{kv.Max, x(0, 1), x(0xff, 0), x(0, 1), "256 beats 255: the high byte is last"},
	{kv.Max, x(5), x(3, 0), x(5, 0), "the stored value wins zero-extended"},
	{kv.Max, x(1, 0, 1), x(2, 0), x(2, 0), "the stored value is truncated before comparing"},
	{kv.Max, x(5, 0, 0), x(3), x(5), "truncated and kept"},
	{kv.Min, nil, x(3, 0), x(3, 0), "absent takes the parameter"},
	{kv.Min, x(1, 0), x(2, 0), x(1, 0), "stored smaller"},
	{kv.Min, x(0, 1), x(0xff, 0), x(0xff, 0), "255 is below 256"},
	{kv.Min, x(5), x(3, 0), x(3, 0), "parameter smaller"},
	{kv.Min, x(5), x(7, 0), x(5, 0), "the stored value wins zero-extended"},
	{kv.Min, x(), x(5), x(0), "an empty value is zero"},
	// BYTE_MIN and BYTE_MAX: lexicographic; absent takes the parameter.
	{kv.ByteMin, nil, []byte("b"), []byte("b"), "absent takes the parameter"},
	{kv.ByteMin, []byte("b"), []byte("a"), []byte("a"), "parameter smaller"},
	{kv.ByteMin, []byte("ab"), []byte("b"), []byte("ab"), "lexicographic, not numeric"},
	{kv.ByteMin, []byte("a"), []byte("ab"), []byte("a"), "a prefix is smaller"},
	{kv.ByteMin, x(), []byte("a"), x(), "empty is smallest"},
	{kv.ByteMax, nil, []byte("a"), []byte("a"), "absent takes the parameter"},
	{kv.ByteMax, []byte("a"), []byte("b"), []byte("b"), "parameter larger"},
	{kv.ByteMax, []byte("b"), []byte("ab"), []byte("b"), "lexicographic, not by length"},
	{kv.ByteMax, []byte("ab"), []byte("a"), []byte("ab"), "longer with the same prefix is larger"},
	// COMPARE_AND_CLEAR.
	{kv.CompareAndClear, []byte("x"), []byte("x"), nil, "equal: cleared"},
	{kv.CompareAndClear, []byte("x"), []byte("y"), []byte("x"), "different: kept"},
	{kv.CompareAndClear, nil, []byte("x"), nil, "absent stays absent"},
	{kv.CompareAndClear, x(), x(), nil, "empty equals empty"},
	{kv.CompareAndClear, []byte("xy"), []byte("x"), []byte("xy"), "a prefix is not equal"},
}

func testAtomicByteSemantics(t *testing.T, s *suite) {
	db := s.db(t)
	key := func(i int) []byte { return fmt.Appendf(nil, "atomic/%03d", i) }
	write(t, db, func(tr kv.Transaction) {
		for i, v := range atomicVectors {
			if v.existing != nil {
				tr.Set(key(i), v.existing)
			}
		}
	})
	// Each mutation is checked twice: read back inside its own transaction (read-your-writes)
	// and after commit (evaluated by the engine against the stored value).
	tr := newTr(t, db)
	for i, v := range atomicVectors {
		tr.Atomic(v.op, key(i), v.param)
		got := get(t, tr, key(i))
		require.Equal(t, hexs(v.want), hexs(got), "read-your-writes of %v(%s, %s): %s", v.op, hexs(v.existing), hexs(v.param), v.why)
	}
	require.NoError(t, tr.Commit())
	r := newTr(t, db)
	for i, v := range atomicVectors {
		got := get(t, r, key(i))
		require.Equal(t, hexs(v.want), hexs(got), "committed %v(%s, %s): %s", v.op, hexs(v.existing), hexs(v.param), v.why)
	}
	// The same mutations issued blind (no read in the transaction) give the same values.
	write(t, db, func(tr kv.Transaction) {
		tr.ClearRange(rng("atomic/", "atomic0"))
		for i, v := range atomicVectors {
			if v.existing != nil {
				tr.Set(key(i), v.existing)
			}
		}
	})
	write(t, db, func(tr kv.Transaction) {
		for i, v := range atomicVectors {
			tr.Atomic(v.op, key(i), v.param)
		}
	})
	r = newTr(t, db)
	for i, v := range atomicVectors {
		got := get(t, r, key(i))
		require.Equal(t, hexs(v.want), hexs(got), "blind %v(%s, %s): %s", v.op, hexs(v.existing), hexs(v.param), v.why)
	}
}

func testAtomicAppendLimit(t *testing.T, s *suite) {
	db := s.db(t)
	write(t, db, func(tr kv.Transaction) {
		tr.Set(b("full"), repeat('a', kv.MaxValueSize-1))
		tr.Set(b("fits"), repeat('a', kv.MaxValueSize-2))
	})
	write(t, db, func(tr kv.Transaction) {
		tr.Atomic(kv.AppendIfFits, b("full"), b("bc"))
		tr.Atomic(kv.AppendIfFits, b("fits"), b("bc"))
	})
	r := newTr(t, db)
	require.Equal(t, repeat('a', kv.MaxValueSize-1), get(t, r, b("full")), "an append past 100,000 bytes leaves the value unchanged")
	require.Equal(t, cat(repeat('a', kv.MaxValueSize-2), b("bc")), get(t, r, b("fits")), "an append to exactly 100,000 bytes fits")
}

func testAtomicSignedAdd(t *testing.T, s *suite) {
	db := s.db(t)
	write(t, db, func(tr kv.Transaction) { tr.Set(b("n"), le64(100)) })
	for _, d := range []int64{-1, -200, 50, 51} {
		write(t, db, func(tr kv.Transaction) { tr.Atomic(kv.Add, b("n"), le64(uint64(d))) })
	}
	require.Equal(t, int64(0), int64(fromLE(getDB(t, db, b("n")))), "100 - 1 - 200 + 50 + 51, as 64-bit two's complement")
}

func testAtomicErrors(t *testing.T, s *suite) {
	db := s.db(t)
	for _, c := range []struct {
		name  string
		op    kv.MutationType
		key   []byte
		param []byte
		want  kv.Error
	}{
		{"unknown type", kv.MutationType(99), b("k"), b("x"), kv.ErrInvalidMutationType},
		{"key too large", kv.Add, repeat('k', kv.MaxKeySize+1), x(1), kv.ErrKeyTooLarge},
		{"parameter too large", kv.BitOr, b("k"), repeat('p', kv.MaxValueSize+1), kv.ErrValueTooLarge},
		{"system key", kv.Add, []byte{0xff, 'k'}, x(1), kv.ErrKeyOutsideLegalRange},
	} {
		tr := newTr(t, db)
		tr.Set(b("k2"), b("v"))
		tr.Atomic(c.op, c.key, c.param)
		requireCode(t, c.want, tr.Commit(), c.name)
	}
	require.Nil(t, getDB(t, db, b("k2")), "a transaction with an invalid atomic op commits nothing")
}

// Consecutive atomic mutations of one type on a key whose value the transaction does not know are
// combined into one before they are sent (WriteMap.cpp, coalesceOver/coalesce). For
// APPEND_IF_FITS that changes the outcome: two appends are one append of both, made only if
// both fit.
func testAtomicBlindAppendsCombine(t *testing.T, s *suite) {
	db := s.db(t)
	base := repeat('a', kv.MaxValueSize-5)
	write(t, db, func(tr kv.Transaction) { tr.Set(b("app"), base) })
	tr := newTr(t, db)
	tr.Atomic(kv.AppendIfFits, b("app"), b("bcd")) // would fit alone
	tr.Atomic(kv.AppendIfFits, b("app"), b("efg")) // would not fit after it
	require.Equal(t, len(base), len(get(t, tr, b("app"))), "read back: the combined append does not fit, so nothing is appended")
	require.NoError(t, tr.Commit())
	require.Equal(t, base, getDB(t, db, b("app")), "committed: neither part was appended")

	tr = newTr(t, db)
	tr.Atomic(kv.AppendIfFits, b("app"), b("bc"))
	tr.Atomic(kv.AppendIfFits, b("app"), b("de"))
	require.NoError(t, tr.Commit())
	require.Equal(t, cat(base, b("bcde")), getDB(t, db, b("app")), "appends that fit together are both made")
}
