package kv_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
)

func by(s ...byte) []byte { return append([]byte{}, s...) }

// applyVectors are worked out by hand from FoundationDB's documented rules (fdb_c atomic
// operations): little-endian integers, the stored value zero-extended or truncated to the
// parameter's length, an absent value as zero except for BIT_AND, MIN and the BYTE ops, which
// take the parameter.
var applyVectors = []struct {
	op          kv.MutationType
	existing    []byte // nil: absent
	param, want []byte // want nil: absent afterwards
}{
	{kv.Add, nil, by(1, 0), by(1, 0)},
	{kv.Add, by(0xff), by(1), by(0)},
	{kv.Add, by(0xff, 0), by(1, 0), by(0, 1)},
	{kv.Add, by(0xff, 0xff), by(1, 0), by(0, 0)},
	{kv.Add, by(1, 2, 3), by(1, 0), by(2, 2)},
	{kv.Add, by(5), by(1, 0, 0, 0), by(6, 0, 0, 0)},
	{kv.Add, by(), by(1, 2), by(1, 2)},
	{kv.Add, by(9, 9), by(), by()},
	{kv.Add, by(0x10, 0x27, 0, 0, 0, 0, 0, 0), by(0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), by(0x0e, 0x27, 0, 0, 0, 0, 0, 0)},
	{kv.BitAnd, nil, by(0x0f), by(0x0f)},
	{kv.BitAnd, by(0xff, 0x0f), by(0x0f, 0xff), by(0x0f, 0x0f)},
	{kv.BitAnd, by(0xff), by(0xff, 0xff), by(0xff, 0)},
	{kv.BitAnd, by(0xff, 0xff, 0xff), by(0xf0), by(0xf0)},
	{kv.BitAnd, by(), by(0xff), by(0)},
	{kv.BitOr, nil, by(0x0f), by(0x0f)},
	{kv.BitOr, by(1), by(2, 0), by(3, 0)},
	{kv.BitOr, by(0x0f, 0xf0, 0xaa), by(0x01), by(0x0f)},
	{kv.BitXor, nil, by(0x0f), by(0x0f)},
	{kv.BitXor, by(0xff, 0), by(0x0f, 0x0f), by(0xf0, 0x0f)},
	{kv.BitXor, by(1), by(1), by(0)},
	{kv.AppendIfFits, nil, []byte("ab"), []byte("ab")},
	{kv.AppendIfFits, []byte("ab"), []byte("cd"), []byte("abcd")},
	{kv.AppendIfFits, nil, by(), by()},
	{kv.AppendIfFits, []byte("ab"), by(), []byte("ab")},
	{kv.Max, nil, by(3, 0), by(3, 0)},
	{kv.Max, by(1, 0), by(2, 0), by(2, 0)},
	{kv.Max, by(0, 1), by(0xff, 0), by(0, 1)},
	{kv.Max, by(5), by(3, 0), by(5, 0)},
	{kv.Max, by(1, 0, 1), by(2, 0), by(2, 0)},
	{kv.Max, by(5, 0, 0), by(3), by(5)},
	{kv.Min, nil, by(3, 0), by(3, 0)},
	{kv.Min, by(1, 0), by(2, 0), by(1, 0)},
	{kv.Min, by(0, 1), by(0xff, 0), by(0xff, 0)},
	{kv.Min, by(5), by(3, 0), by(3, 0)},
	{kv.Min, by(5), by(7, 0), by(5, 0)},
	{kv.Min, by(), by(5), by(0)},
	{kv.ByteMin, nil, []byte("b"), []byte("b")},
	{kv.ByteMin, []byte("b"), []byte("a"), []byte("a")},
	{kv.ByteMin, []byte("ab"), []byte("b"), []byte("ab")},
	{kv.ByteMin, []byte("a"), []byte("ab"), []byte("a")},
	{kv.ByteMin, by(), []byte("a"), by()},
	{kv.ByteMax, nil, []byte("a"), []byte("a")},
	{kv.ByteMax, []byte("a"), []byte("b"), []byte("b")},
	{kv.ByteMax, []byte("b"), []byte("ab"), []byte("b")},
	{kv.ByteMax, []byte("ab"), []byte("a"), []byte("ab")},
	{kv.CompareAndClear, []byte("x"), []byte("x"), nil},
	{kv.CompareAndClear, []byte("x"), []byte("y"), []byte("x")},
	{kv.CompareAndClear, nil, []byte("x"), nil},
	{kv.CompareAndClear, by(), by(), nil},
	{kv.CompareAndClear, []byte("xy"), []byte("x"), []byte("xy")},
}

func TestApplyAtomic(t *testing.T) {
	for _, v := range applyVectors {
		name := fmt.Sprintf("%v(%x present=%v, %x)", v.op, v.existing, v.existing != nil, v.param)
		existing, param := bytes.Clone(v.existing), bytes.Clone(v.param)
		got, present, err := kv.ApplyAtomic(v.op, existing, v.existing != nil, param)
		require.NoError(t, err, name)
		require.Equal(t, v.want != nil, present, "%s: present", name)
		if v.want != nil {
			require.Equal(t, fmt.Sprintf("%x", v.want), fmt.Sprintf("%x", got), name)
		}
		// The result must not alias the inputs: engines keep it while callers reuse their slices.
		for i := range got {
			got[i] ^= 0xff
		}
		require.Equal(t, v.existing, existing, "%s: existing modified through the result", name)
		require.Equal(t, v.param, param, "%s: param modified through the result", name)
	}
}

func TestApplyAtomicAppendLimit(t *testing.T) {
	full := bytes.Repeat([]byte{'a'}, kv.MaxValueSize-1)
	got, present, err := kv.ApplyAtomic(kv.AppendIfFits, full, true, []byte("bc"))
	require.NoError(t, err)
	require.True(t, present)
	require.Equal(t, full, got, "an append past the value limit leaves the value unchanged")

	fits := bytes.Repeat([]byte{'a'}, kv.MaxValueSize-2)
	got, present, err = kv.ApplyAtomic(kv.AppendIfFits, fits, true, []byte("bc"))
	require.NoError(t, err)
	require.True(t, present)
	require.Len(t, got, kv.MaxValueSize, "an append to exactly the limit fits")
}

func TestApplyAtomicRefusesOthers(t *testing.T) {
	for _, op := range []kv.MutationType{kv.SetVersionstampedKey, kv.SetVersionstampedValue, kv.MutationType(0), kv.MutationType(99)} {
		_, _, err := kv.ApplyAtomic(op, nil, false, []byte{1})
		require.ErrorIs(t, err, kv.ErrInvalidMutationType, "%v", op)
	}
}

func TestMutationTypes(t *testing.T) {
	// FoundationDB's numbers and names (fdb_c_options: MutationType).
	want := map[kv.MutationType]string{
		2: "ADD", 6: "BIT_AND", 7: "BIT_OR", 8: "BIT_XOR", 9: "APPEND_IF_FITS", 12: "MAX", 13: "MIN",
		14: "SET_VERSIONSTAMPED_KEY", 15: "SET_VERSIONSTAMPED_VALUE", 16: "BYTE_MIN", 17: "BYTE_MAX",
		20: "COMPARE_AND_CLEAR",
	}
	for op, name := range want {
		require.True(t, op.Valid(), "%d", int(op))
		require.Equal(t, name, op.String())
	}
	require.Equal(t, kv.Add, kv.MutationType(2))
	require.Equal(t, kv.CompareAndClear, kv.MutationType(20))
	for _, op := range []kv.MutationType{0, 1, 3, 4, 5, 10, 11, 18, 19, 21, -1} {
		require.False(t, op.Valid(), "%d is not a mutation type of the contract", int(op))
		require.Equal(t, fmt.Sprintf("MutationType(%d)", int(op)), op.String())
	}
	require.Equal(t, 10_000, kv.MaxKeySize)
	require.Equal(t, 100_000, kv.MaxValueSize)
	require.Equal(t, 10_000_000, kv.MaxTransactionSize)
}
