package kv_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
)

func TestStrinc(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"a", "b"},
		{"ab", "ac"},
		{"a\xff", "b"},
		{"a\xff\xff", "b"},
		{"\x00", "\x01"},
		{"\xfe\xff", "\xff"},
		{"a\x00\xff", "a\x01"},
	} {
		in := []byte(c.in)
		got, err := kv.Strinc(in)
		require.NoError(t, err, "%q", c.in)
		require.Equal(t, c.want, string(got), "Strinc(%q)", c.in)
		require.Equal(t, c.in, string(in), "Strinc must not modify its argument")
	}
	for _, in := range []string{"", "\xff", "\xff\xff"} {
		_, err := kv.Strinc([]byte(in))
		require.ErrorIs(t, err, kv.ErrClientInvalidOperation, "Strinc(%q) has no answer", in)
		require.Contains(t, err.Error(), kv.Printable([]byte(in)), "the error names the key")
	}
}

func TestPrefixRange(t *testing.T) {
	prefix := []byte("p/\xff")
	r, err := kv.PrefixRange(prefix)
	require.NoError(t, err)
	require.Equal(t, "p/\xff", string(r.Begin))
	require.Equal(t, "p0", string(r.End))
	prefix[0] = 'q'
	require.Equal(t, "p/\xff", string(r.Begin), "the range does not alias the prefix")
	for _, k := range []string{"p/\xff", "p/\xff\x00", "p/\xff\xff\xff"} {
		require.True(t, r.Contains([]byte(k)), "%q", k)
	}
	for _, k := range []string{"p/", "p/\xfe", "p0", "q"} {
		require.False(t, r.Contains([]byte(k)), "%q", k)
	}
	_, err = kv.PrefixRange([]byte{0xff, 0xff})
	require.ErrorIs(t, err, kv.ErrClientInvalidOperation)
}

func TestKeyAfter(t *testing.T) {
	key := []byte("k")
	after := kv.KeyAfter(key)
	require.Equal(t, "k\x00", string(after))
	after[0] = 'x'
	require.Equal(t, "k", string(key), "KeyAfter does not alias its argument")
	require.Equal(t, "\x00", string(kv.KeyAfter(nil)), "the key after the empty key")
}

func TestRangeContains(t *testing.T) {
	r := kv.Range{Begin: []byte("b"), End: []byte("d")}
	require.True(t, r.Contains([]byte("b")), "begin is included")
	require.True(t, r.Contains([]byte("c\xff")))
	require.False(t, r.Contains([]byte("d")), "end is excluded")
	require.False(t, r.Contains([]byte("a\xff")))
	require.False(t, kv.Range{Begin: []byte("b"), End: []byte("b")}.Contains([]byte("b")), "an empty range holds nothing")
	require.Equal(t, `[b, d)`, r.String())
}

func TestPrintable(t *testing.T) {
	require.Equal(t, `abc\x00\xff\\ ~`, kv.Printable([]byte("abc\x00\xff\\ ~")))
	require.Equal(t, ``, kv.Printable(nil))
	require.Equal(t, `\x1f\x7f`, kv.Printable([]byte{0x1f, 0x7f}))
}

func TestKeySelectors(t *testing.T) {
	k := []byte("k")
	// FoundationDB's definitions: (key, orEqual, offset).
	require.Equal(t, kv.KeySelector{Key: k, OrEqual: false, Offset: 1}, kv.FirstGreaterOrEqual(k))
	require.Equal(t, kv.KeySelector{Key: k, OrEqual: true, Offset: 1}, kv.FirstGreaterThan(k))
	require.Equal(t, kv.KeySelector{Key: k, OrEqual: true, Offset: 0}, kv.LastLessOrEqual(k))
	require.Equal(t, kv.KeySelector{Key: k, OrEqual: false, Offset: 0}, kv.LastLessThan(k))
	s := kv.FirstGreaterOrEqual(k).Add(3)
	require.Equal(t, 4, s.Offset)
	require.Equal(t, 2, s.Add(-2).Offset)
	require.Equal(t, 4, s.Offset, "Add returns a new selector")
	require.Equal(t, `KeySelector(k\x00, orEqual=true, offset=-1)`, kv.LastLessOrEqual([]byte("k\x00")).Add(-1).String())

	b, e := kv.Range{Begin: []byte("a"), End: []byte("z")}.Selectors()
	require.Equal(t, kv.FirstGreaterOrEqual([]byte("a")), b)
	require.Equal(t, kv.FirstGreaterOrEqual([]byte("z")), e)
	sr := kv.SelectorRange{Begin: kv.LastLessThan(k), End: kv.FirstGreaterThan(k)}
	b, e = sr.Selectors()
	require.Equal(t, sr.Begin, b)
	require.Equal(t, sr.End, e)
}

func TestRangeOptionsZeroValue(t *testing.T) {
	var o kv.RangeOptions
	require.Zero(t, o.Limit, "no limit")
	require.False(t, o.Reverse)
	require.Equal(t, kv.StreamingIterator, o.Mode, "the zero mode is the iterator mode")
}
