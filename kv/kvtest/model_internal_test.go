package kvtest

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
)

// The model's atomic mutations are written independently of kv.ApplyAtomic, which the engines
// use; both must agree with the hand-worked vectors and with each other on any input.

func TestModelAtomicVectors(t *testing.T) {
	for _, v := range atomicVectors {
		got, keep := modelAtomic(v.op, v.existing, v.existing != nil, v.param)
		if !keep {
			got = nil
		}
		require.Equal(t, hexs(v.want), hexs(got), "%v(%s, %s): %s", v.op, hexs(v.existing), hexs(v.param), v.why)
	}
}

func FuzzModelAtomicAgreesWithApplyAtomic(f *testing.F) {
	for _, v := range atomicVectors {
		f.Add(int(v.op), v.existing, v.existing != nil, v.param)
	}
	f.Fuzz(func(t *testing.T, op int, existing []byte, present bool, param []byte) {
		mt := modelAtomics[uint(op)%uint(len(modelAtomics))]
		if !present {
			existing = nil
		}
		want, keep := modelAtomic(mt, bytes.Clone(existing), present, bytes.Clone(param))
		got, gotPresent, err := kv.ApplyAtomic(mt, bytes.Clone(existing), present, bytes.Clone(param))
		require.NoError(t, err)
		require.Equal(t, keep, gotPresent, "%v(%x present=%v, %x): present", mt, existing, present, param)
		if keep {
			require.Equal(t, hexs(want), hexs(got), "%v(%x present=%v, %x)", mt, existing, present, param)
		}
	})
}

func TestResolveSelector(t *testing.T) {
	keys := []string{"b", "d", "f"}
	for _, c := range []struct {
		sel  kv.KeySelector
		want string
	}{
		{kv.FirstGreaterOrEqual([]byte("c")), "d"},
		{kv.FirstGreaterThan([]byte("d")), "f"},
		{kv.LastLessOrEqual([]byte("d")), "d"},
		{kv.LastLessThan([]byte("d")), "b"},
		{kv.LastLessThan([]byte("b")), ""},
		{kv.FirstGreaterThan([]byte("f")), "\xff"},
		{kv.FirstGreaterOrEqual([]byte("b")).Add(2), "f"},
		{kv.LastLessOrEqual([]byte("f")).Add(-3), ""},
	} {
		require.Equal(t, c.want, resolveSelector(c.sel, keys), "%v", c.sel)
	}
}
