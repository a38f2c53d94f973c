package tuple_test

import (
	"bytes"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/tuple"
)

// seedInputs is every golden vector, its body (for versionstamp rows), each with its last byte
// removed, and the malformed rows: the seed corpus of both fuzz targets. Plain `go test` runs the
// targets over these seeds.
func seedInputs(tb testing.TB) [][]byte {
	var seeds [][]byte
	for _, v := range loadVectors(tb) {
		b := v.packed
		if v.op == "packvs" {
			b = b[len(v.prefix) : len(b)-4]
		}
		seeds = append(seeds, b)
		if len(b) > 0 {
			seeds = append(seeds, b[:len(b)-1])
		}
	}
	for _, r := range loadMalformed(tb) {
		seeds = append(seeds, r.b)
	}
	return seeds
}

// packAny packs a decoded tuple, which may hold one incomplete versionstamp, without the offset
// suffix. ok is false for a tuple that no packing can hold (two incomplete versionstamps).
func packAny(t tuple.Tuple) (b []byte, ok bool) {
	b, err := t.AppendPack(nil)
	if errors.Is(err, tuple.ErrIncompleteVersionstamp) {
		b, err = t.PackWithVersionstamp(nil)
		if err != nil {
			return nil, false
		}
		return b[:len(b)-4], true
	}
	return b, err == nil
}

// FuzzUnpack: arbitrary bytes never panic Unpack; whatever unpacks packs to bytes that unpack
// to the same tuple, and those bytes are canonical (they pack back to themselves).
func FuzzUnpack(f *testing.F) {
	for _, s := range seedInputs(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dec, err := tuple.Unpack(b)
		if err != nil {
			require.ErrorIs(t, err, tuple.ErrMalformed)
			require.Nil(t, dec)
			return
		}
		require.NotNil(t, dec)
		checkDecoded(t, dec)
		require.Zero(t, tuple.Compare(dec, dec))
		p, ok := packAny(dec)
		if !ok {
			has, err := dec.HasIncompleteVersionstamp()
			require.True(t, has)
			require.ErrorIs(t, err, tuple.ErrVersionstampCount)
			return
		}
		again, err := tuple.Unpack(p)
		require.NoError(t, err, "%x re-packed as %x", b, p)
		requireSame(t, dec, again, "%x", b)
		p2, _ := packAny(again)
		require.Equal(t, p, p2, "packing is canonical")
		require.Zero(t, tuple.Compare(dec, again))
	})
}

// checkDecoded asserts Unpack's output types: valid UTF-8 strings and only the documented types.
func checkDecoded(t *testing.T, tp tuple.Tuple) {
	for _, e := range tp {
		switch e := e.(type) {
		case string:
			require.True(t, utf8.ValidString(e), "%q", e)
		case tuple.Tuple:
			checkDecoded(t, e)
		case nil, []byte, int64, uint64, float32, float64, bool, tuple.UUID, tuple.Versionstamp:
		default:
			if _, ok := e.(interface{ IsInt64() bool }); !ok { // *big.Int
				t.Fatalf("unexpected decoded type %T", e)
			}
		}
	}
}

// FuzzOrder: for pairs of tuples, Compare's sign is bytes.Compare's sign of their packings. Each
// input is unpacked if it is a packed tuple, else used as the random source of a generated one.
func FuzzOrder(f *testing.F) {
	seeds := seedInputs(f)
	for i := range seeds {
		f.Add(seeds[i], seeds[(i+1)%len(seeds)])
		f.Add(seeds[i], seeds[(i+7)%len(seeds)])
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		ta, pa := fuzzTuple(a)
		tb, pb := fuzzTuple(b)
		want := bytes.Compare(pa, pb)
		require.Equal(t, want, tuple.Compare(ta, tb), "%v (%x) vs %v (%x)", ta, pa, tb, pb)
		require.Equal(t, -want, tuple.Compare(tb, ta))
		require.Zero(t, tuple.Compare(ta, ta))
		// Prefixes order first, and a shared prefix does not change the answer.
		shared := tuple.Tuple{"p", int64(1)}
		require.Equal(t, want, tuple.Compare(append(shared[:2:2], ta...), append(shared[:2:2], tb...)))
		if len(ta) > 0 {
			require.Equal(t, 1, tuple.Compare(ta, ta[:len(ta)-1]))
		}
	})
}

func fuzzTuple(b []byte) (tuple.Tuple, []byte) {
	if dec, err := tuple.Unpack(b); err == nil {
		if p, ok := packAny(dec); ok {
			return dec, p
		}
	}
	in, _ := gen{&byteSource{b}}.tuple(0)
	return in, in.Pack()
}
