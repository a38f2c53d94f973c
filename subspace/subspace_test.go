package subspace_test

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/subspace"
	"github.com/layerkit/layerkit/tuple"
)

// TestOfficialString is the official Go binding's subspace test (spec vector 81): the prefix of
// Sub([]byte("hello"), "world", 42, 0x99) and how it prints.
func TestOfficialString(t *testing.T) {
	s := subspace.Sub([]byte("hello"), "world", 42, 0x99)
	require.Equal(t, "0168656c6c6f0002776f726c6400152a1599", hex.EncodeToString(s.Bytes()))
	require.Equal(t, `Subspace(rawPrefix=\x01hello\x00\x02world\x00\x15*\x15\x99)`, s.String())
}

func TestPackUnpack(t *testing.T) {
	s := subspace.FromBytes([]byte{0xfe}).Sub("users")
	require.Equal(t, "fe02757365727300", hex.EncodeToString(s.Bytes()))
	key := s.Pack(tuple.Tuple{int64(42), "email"})
	require.Equal(t, append(s.Bytes(), tuple.Tuple{42, "email"}.Pack()...), key)
	require.Equal(t, len(key), cap(key), "Pack sizes the key exactly")
	got, err := s.Unpack(key)
	require.NoError(t, err)
	require.Equal(t, tuple.Tuple{int64(42), "email"}, got)
	require.True(t, s.Contains(key))

	// Sub is the same as packing the elements under the prefix.
	require.Equal(t, s.Pack(tuple.Tuple{"a", 1}), s.Sub("a", 1).Bytes())
	require.Equal(t, s.Pack(tuple.Tuple{"a", 1, nil}), s.Sub("a").Sub(1).Pack(tuple.Tuple{nil}))

	// Keys outside, and keys that are not packed tuples.
	_, err = s.Unpack([]byte{0xfe, 0x02, 'u'})
	require.ErrorIs(t, err, subspace.ErrKeyOutside)
	require.ErrorContains(t, err, `key \xfe\x02u, prefix \xfe\x02users\x00`)
	require.False(t, s.Contains([]byte{0xfe}))
	_, err = s.Unpack(append(s.Bytes(), 0x15, 0x01, 0x03))
	require.ErrorIs(t, err, tuple.ErrMalformed)
	require.EqualError(t, err, `subspace: key \xfe\x02users\x00\x15\x01\x03 after the 8-byte prefix: tuple: malformed packed tuple at byte 2: unknown or unsupported type code 0x03`)
	empty, err := s.Unpack(s.Bytes())
	require.NoError(t, err)
	require.Empty(t, empty)
	require.True(t, s.Contains(s.Bytes()))
}

func TestFromBytesCopies(t *testing.T) {
	raw := []byte("abc")
	s := subspace.FromBytes(raw)
	raw[0] = 'x'
	require.Equal(t, []byte("abc"), s.Bytes())
	// Appending to Bytes never writes into the subspace's prefix.
	b := s.Bytes()
	_ = append(b, 'z')
	c := append(s.Bytes(), 'q')
	require.Equal(t, []byte("abcq"), c)
	require.Equal(t, []byte("abc"), s.Bytes())
	require.Equal(t, "Subspace(rawPrefix=abc)", s.String())
}

func TestRange(t *testing.T) {
	s := subspace.Sub("app", 7)
	r := s.Range()
	p := s.Bytes()
	require.Equal(t, append(bytes.Clone(p), 0x00), r.Begin)
	require.Equal(t, append(bytes.Clone(p), 0xff), r.End)
	require.False(t, r.Contains(p), "the range does not hold the prefix itself")
	require.True(t, r.Contains(s.Pack(tuple.Tuple{nil})))
	require.True(t, r.Contains(s.Pack(tuple.Tuple{tuple.Versionstamp{TransactionVersion: [10]byte{0xff}}})))
	require.False(t, r.Contains(subspace.Sub("app", 8).Bytes()))
	begin, end := s.Selectors()
	require.Equal(t, kv.FirstGreaterOrEqual(r.Begin), begin)
	require.Equal(t, kv.FirstGreaterOrEqual(r.End), end)
	var _ kv.Ranger = s

	var whole subspace.Subspace
	require.Equal(t, kv.Range{Begin: []byte{0x00}, End: []byte{0xff}}, whole.Range())
	require.Empty(t, whole.Bytes())
	require.Equal(t, tuple.Tuple{"x"}.Pack(), whole.Pack(tuple.Tuple{"x"}))
}

// TestPackWithVersionstamp is the Java binding's subspace case (spec vector 80).
func TestPackWithVersionstamp(t *testing.T) {
	s := subspace.Sub("prefix")
	key, err := s.PackWithVersionstamp(tuple.Tuple{tuple.IncompleteVersionstamp(1)})
	require.NoError(t, err)
	require.Equal(t, "027072656669780033ffffffffffffffffffff000109000000", hex.EncodeToString(key))
	_, err = s.PackWithVersionstamp(tuple.Tuple{"no stamp"})
	require.ErrorIs(t, err, tuple.ErrVersionstampCount)
}

func TestPackPanics(t *testing.T) {
	s := subspace.Sub("a")
	require.Panics(t, func() { s.Pack(tuple.Tuple{"\xff"}) })
	require.Panics(t, func() { s.Sub(struct{}{}) })
	require.Panics(t, func() { subspace.Sub(tuple.IncompleteVersionstamp(0)) })
}

func TestPackAllocs(t *testing.T) {
	s := subspace.Sub("app", "users")
	// One allocation for a key of up to 256 bytes; a longer one is packed twice (two).
	for _, c := range []struct {
		t      tuple.Tuple
		allocs float64
	}{
		{tuple.Tuple{"lib", 2, 5, 201}, 1},
		{tuple.Tuple{strings.Repeat("long", 50), tuple.Tuple{1, nil}}, 1},
		{tuple.Tuple{strings.Repeat("long", 100), tuple.Tuple{1, nil}}, 2},
	} {
		tp := c.t
		require.Equal(t, c.allocs, testing.AllocsPerRun(100, func() { s.Pack(tp) }), "%v", tp)
		key := s.Pack(tp)
		require.Equal(t, append(bytes.Clone(s.Bytes()), tp.Pack()...), key)
		require.Equal(t, len(key), cap(key))
	}
}

func BenchmarkPack(b *testing.B) {
	s := subspace.Sub("app", "users")
	tp := tuple.Tuple{"lib", 2, 5, 201}
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Pack(tp)
	}
}
