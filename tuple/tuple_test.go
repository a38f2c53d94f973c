package tuple_test

import (
	"bytes"
	"encoding/hex"
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/tuple"
)

// TestIntegerWidths: every Go integer type packs as the same value in int64 or uint64, which the
// official Go package refuses for int8..int32 and uint8..uint32.
func TestIntegerWidths(t *testing.T) {
	cases := []struct {
		in   any
		same any
	}{
		{int8(math.MinInt8), int64(math.MinInt8)}, {int8(math.MaxInt8), int64(math.MaxInt8)},
		{int16(math.MinInt16), int64(math.MinInt16)}, {int16(math.MaxInt16), int64(math.MaxInt16)},
		{int32(math.MinInt32), int64(math.MinInt32)}, {int32(math.MaxInt32), int64(math.MaxInt32)},
		{int(math.MinInt), int64(math.MinInt)}, {int(-1), int64(-1)},
		{uint8(math.MaxUint8), int64(math.MaxUint8)}, {uint16(math.MaxUint16), int64(math.MaxUint16)},
		{uint32(math.MaxUint32), int64(math.MaxUint32)}, {uint(math.MaxUint), normalized(uint64(math.MaxUint))},
		{uintptr(7), int64(7)}, {uint64(0), int64(0)},
		{big.NewInt(-300), int64(-300)}, {*big.NewInt(300), int64(300)},
	}
	for _, c := range cases {
		got := tuple.Tuple{c.in}.Pack()
		require.Equal(t, tuple.Tuple{c.same}.Pack(), got, "%T(%v)", c.in, c.in)
		dec, err := tuple.Unpack(got)
		require.NoError(t, err)
		require.Equal(t, tuple.Tuple{c.same}, dec, "%T(%v)", c.in, c.in)
		require.Zero(t, tuple.Compare(tuple.Tuple{c.in}, tuple.Tuple{c.same}))
	}
}

// normalized is the type Unpack returns for an unsigned value: int64 when it fits.
func normalized(v uint64) any {
	if v <= math.MaxInt64 {
		return int64(v)
	}
	return v
}

type (
	named      string
	namedBytes []byte
	namedInt   int16
	namedUint  uint8
	namedF32   float32
	namedF64   float64
	namedBool  bool
)

// TestNamedTypes: a value of a named type packs, orders and sizes as the basic type of its kind
// (the official package panics on them); Unpack returns the basic type.
func TestNamedTypes(t *testing.T) {
	cases := []struct{ in, basic any }{
		{named("a\x00b"), "a\x00b"},
		{namedBytes{0, 0xff}, []byte{0, 0xff}},
		{namedInt(-300), int64(-300)},
		{namedUint(200), int64(200)},
		{namedF32(-1.5), float32(-1.5)},
		{namedF32(math.Float32frombits(0x7fc00001)), math.Float32frombits(0x7fc00001)},
		{namedF64(math.Inf(-1)), math.Inf(-1)},
		{namedBool(true), true},
	}
	for _, c := range cases {
		in, want := tuple.Tuple{"k", c.in, tuple.Tuple{c.in}}, tuple.Tuple{"k", c.basic, tuple.Tuple{c.basic}}
		p := in.Pack()
		require.Equal(t, want.Pack(), p, "%T", c.in)
		require.Equal(t, len(p), in.PackedSize())
		dec, err := tuple.Unpack(p)
		require.NoError(t, err)
		requireSame(t, want, dec)
		require.Zero(t, tuple.Compare(in, want))
		require.Zero(t, tuple.Compare(in, dec))
	}
	require.Negative(t, tuple.Compare(tuple.Tuple{named("a")}, tuple.Tuple{"b"}))
	require.Negative(t, tuple.Compare(tuple.Tuple{namedInt(-1)}, tuple.Tuple{namedUint(0)}))
	require.Positive(t, tuple.Compare(tuple.Tuple{namedBool(true)}, tuple.Tuple{false}))
}

// TestIntegerBoundaries round-trips the values where the encoding changes length or type.
func TestIntegerBoundaries(t *testing.T) {
	two64 := new(big.Int).Lsh(big.NewInt(1), 64)
	var vals []*big.Int
	for n := uint(0); n <= 2048; n += 8 {
		p := new(big.Int).Lsh(big.NewInt(1), n)
		for _, d := range []int64{-1, 0, 1} {
			v := new(big.Int).Add(p, big.NewInt(d))
			vals = append(vals, v, new(big.Int).Neg(v))
		}
	}
	var prev []byte
	var prevV *big.Int
	sorted := make([]*big.Int, 0, len(vals))
	for _, v := range vals {
		if v.BitLen() <= 255*8 {
			sorted = append(sorted, v)
		}
	}
	// Sort by value and check that the packings come out in the same order.
	for i := 1; i < len(sorted); i++ {
		for j := i; j > 0 && sorted[j].Cmp(sorted[j-1]) < 0; j-- {
			sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
		}
	}
	for _, v := range sorted {
		b, err := tuple.Tuple{v}.AppendPack(nil)
		require.NoError(t, err, v)
		dec, err := tuple.Unpack(b)
		require.NoError(t, err, v)
		require.Len(t, dec, 1)
		switch d := dec[0].(type) {
		case int64:
			require.True(t, v.IsInt64())
			require.Equal(t, v.Int64(), d)
		case uint64:
			require.True(t, !v.IsInt64() && v.IsUint64())
			require.Equal(t, v.Uint64(), d)
		case *big.Int:
			require.False(t, v.IsInt64() || v.IsUint64())
			require.Zero(t, v.Cmp(d), "%v != %v", v, d)
		default:
			t.Fatalf("%v decoded as %T", v, d)
		}
		if prev != nil && prevV.Cmp(v) != 0 {
			require.Negative(t, bytes.Compare(prev, b), "%v !< %v", prevV, v)
			require.Negative(t, tuple.Compare(tuple.Tuple{prevV}, tuple.Tuple{v}))
		}
		prev, prevV = b, v
	}
	// 2^64-1 and -(2^64-1) use the 8-byte codes, as Java and Go do.
	max := new(big.Int).Sub(two64, big.NewInt(1))
	require.Equal(t, "1cffffffffffffffff", hex.EncodeToString(tuple.Tuple{max}.Pack()))
	require.Equal(t, "0c0000000000000000", hex.EncodeToString(tuple.Tuple{new(big.Int).Neg(max)}.Pack()))
	// 256 bytes of magnitude do not fit the length byte.
	huge := new(big.Int).Lsh(big.NewInt(1), 255*8)
	for _, v := range []*big.Int{huge, new(big.Int).Neg(huge)} {
		_, err := tuple.Tuple{"a", tuple.Tuple{v}}.AppendPack(nil)
		require.ErrorIs(t, err, tuple.ErrIntegerTooLarge)
		require.ErrorContains(t, err, "tuple: element 1.0: integer of 256 bytes")
	}
}

func TestPackErrors(t *testing.T) {
	cases := []struct {
		t    tuple.Tuple
		kind error
		msg  string
	}{
		{tuple.Tuple{"ok", "bad\xff"}, tuple.ErrInvalidUTF8, `tuple: element 1: string "bad\xff" is not valid UTF-8`},
		{tuple.Tuple{1, tuple.Tuple{2, []any{"\xc0\x80"}}}, tuple.ErrInvalidUTF8, "tuple: element 1.1.0: string"},
		{tuple.Tuple{[2]byte{}}, tuple.ErrUnsupportedType, "tuple: element 0: [2]uint8 cannot be packed"},
		{tuple.Tuple{named("bad\xff")}, tuple.ErrInvalidUTF8, `tuple: element 0: string "bad\xff" is not valid UTF-8`},
		{tuple.Tuple{struct{}{}}, tuple.ErrUnsupportedType, "struct {} cannot be packed"},
		{tuple.Tuple{map[string]int{}}, tuple.ErrUnsupportedType, "map[string]int cannot be packed"},
		{tuple.Tuple{[]int{1}}, tuple.ErrUnsupportedType, "[]int cannot be packed"},
		{tuple.Tuple{(*big.Int)(nil)}, tuple.ErrUnsupportedType, "nil *big.Int"},
		{tuple.Tuple{complex(1, 2)}, tuple.ErrUnsupportedType, "complex128 cannot be packed"},
		{tuple.Tuple{tuple.IncompleteVersionstamp(0)}, tuple.ErrIncompleteVersionstamp, "element 0: incomplete versionstamp"},
	}
	for _, c := range cases {
		dst := []byte("keep")
		out, err := c.t.AppendPack(dst)
		require.ErrorIs(t, err, c.kind, "%v", c.t)
		require.ErrorContains(t, err, c.msg)
		require.Equal(t, "keep", string(out), "AppendPack returns dst unchanged on error")
		require.PanicsWithError(t, err.Error(), func() { c.t.Pack() })
		if c.kind != tuple.ErrIncompleteVersionstamp {
			_, err = c.t.PackWithVersionstamp(nil)
			require.ErrorIs(t, err, c.kind)
		}
	}
	// A long tuple (past Pack's stack buffer) reports the right index too.
	long := tuple.Tuple{strings.Repeat("x", 100), 1, 2, "bad\xff"}
	require.PanicsWithError(t, `tuple: element 3: string "bad\xff" is not valid UTF-8`, func() { long.Pack() })
	long = tuple.Tuple{strings.Repeat("x", 10), 1, tuple.Tuple{}, "bad\xff"}
	require.PanicsWithError(t, `tuple: element 3: string "bad\xff" is not valid UTF-8`, func() { long.Pack() })
}

func TestPackWithVersionstamp(t *testing.T) {
	vs := tuple.IncompleteVersionstamp(5)
	key, err := tuple.Tuple{"a", vs}.PackWithVersionstamp([]byte{0xaa})
	require.NoError(t, err)
	require.Equal(t, "aa02610033ffffffffffffffffffff000505000000", hex.EncodeToString(key))

	for _, bad := range []tuple.Tuple{
		{}, {"a"}, {tuple.Versionstamp{UserVersion: 1}},
		{vs, vs}, {vs, tuple.Tuple{vs}}, {[]any{vs}, tuple.Tuple{1, tuple.Tuple{vs}}},
	} {
		_, err := bad.PackWithVersionstamp([]byte("p"))
		require.ErrorIs(t, err, tuple.ErrVersionstampCount, "%v", bad)
	}
	has, err := tuple.Tuple{1, tuple.Tuple{[]any{vs}}}.HasIncompleteVersionstamp()
	require.NoError(t, err)
	require.True(t, has)
	has, err = tuple.Tuple{1, tuple.Versionstamp{}}.HasIncompleteVersionstamp()
	require.NoError(t, err)
	require.False(t, has)
	has, err = tuple.Tuple{vs, tuple.Tuple{vs}}.HasIncompleteVersionstamp()
	require.ErrorIs(t, err, tuple.ErrVersionstampCount)
	require.True(t, has)
}

func TestVersionstampAndUUID(t *testing.T) {
	v := tuple.IncompleteVersionstamp(0x0102)
	require.False(t, v.IsComplete())
	require.Equal(t, "ffffffffffffffffffff0102", hex.EncodeToString(v.Bytes()))
	require.Equal(t, `Versionstamp(\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff, 258)`, v.String())
	c := tuple.Versionstamp{TransactionVersion: [10]byte{0, 0, 0, 0, 0, 0, 0, 1, 0, 2}, UserVersion: 3}
	require.True(t, c.IsComplete())
	require.Equal(t, "000000000000000100020003", hex.EncodeToString(c.Bytes()))

	g := uuid.MustParse("1100aabb-ccdd-eeff-1100-aabbccddeeff")
	u := tuple.UUID(g)
	require.Equal(t, g.String(), u.String())
	require.Equal(t, tuple.Tuple{u}.Pack(), tuple.Tuple{g}.Pack())
	require.Zero(t, tuple.Compare(tuple.Tuple{u}, tuple.Tuple{g}))
}

func TestString(t *testing.T) {
	u := tuple.UUID(uuid.MustParse("1100aabb-ccdd-eeff-1100-aabbccddeeff"))
	tp := tuple.Tuple{"a", int64(1), nil, []byte("b\x00\\"), tuple.Tuple{true, 2.5}, u, float32(1.5), big.NewInt(-3), []any{}}
	require.Equal(t, `("a", 1, <nil>, b"b\x00\\", (true, 2.5), UUID(1100aabb-ccdd-eeff-1100-aabbccddeeff), 1.5, -3, ())`, tp.String())
	require.Equal(t, "()", tuple.Tuple{}.String())
}

func TestRange(t *testing.T) {
	tp := tuple.Tuple{"a", 1}
	r := tp.Range()
	p := tp.Pack()
	require.Equal(t, append(append([]byte{}, p...), 0x00), r.Begin)
	require.Equal(t, append(append([]byte{}, p...), 0xff), r.End)
	require.False(t, r.Contains(p), "the range holds only longer tuples")
	require.True(t, r.Contains(tuple.Tuple{"a", 1, nil}.Pack()))
	require.True(t, r.Contains(tuple.Tuple{"a", 1, tuple.IncompleteVersionstamp(0).Bytes()}.Pack()))
	require.False(t, r.Contains(tuple.Tuple{"a", 2}.Pack()))
	begin, end := tp.Selectors()
	require.Equal(t, kv.FirstGreaterOrEqual(r.Begin), begin)
	require.Equal(t, kv.FirstGreaterOrEqual(r.End), end)
	var _ kv.Ranger = tp

	empty := tuple.Tuple{}.Range()
	require.Equal(t, []byte{0x00}, empty.Begin)
	require.Equal(t, []byte{0xff}, empty.End)
}

// TestAppendPackAllocs: AppendPack into a buffer with room allocates nothing; Pack allocates once.
func TestAppendPackAllocs(t *testing.T) {
	for _, bt := range benchTuples {
		buf := make([]byte, 0, 256)
		allocs := testing.AllocsPerRun(100, func() {
			var err error
			buf, err = bt.t.AppendPack(buf[:0])
			require.NoError(t, err)
		})
		require.Zero(t, allocs, bt.name)
		require.Equal(t, 1.0, testing.AllocsPerRun(100, func() { bt.t.Pack() }), bt.name)
		p := bt.t.Pack()
		require.Equal(t, len(p), cap(p), "Pack sizes its result exactly")
		require.Equal(t, len(p), bt.t.PackedSize())
	}
	// Up to 256 bytes Pack allocates once; a longer tuple outgrows the stack buffer and is
	// packed again, exactly sized.
	long := tuple.Tuple{strings.Repeat("x", 200), 1, tuple.Tuple{"y", nil}, []byte{0}}
	require.Equal(t, 1.0, testing.AllocsPerRun(100, func() { long.Pack() }))
	require.Equal(t, len(long.Pack()), cap(long.Pack()))
	longer := tuple.Tuple{strings.Repeat("x", 300), 1, tuple.Tuple{"y", nil}, []byte{0}}
	require.Equal(t, 2.0, testing.AllocsPerRun(100, func() { longer.Pack() }))
	require.Equal(t, len(longer.Pack()), cap(longer.Pack()))
	require.Equal(t, longer.PackedSize(), len(longer.Pack()))
}

func TestUnpackCopies(t *testing.T) {
	in := tuple.Tuple{[]byte("abc"), "def", []byte{0, 1}}.Pack()
	dec, err := tuple.Unpack(in)
	require.NoError(t, err)
	for i := range in {
		in[i] = 0xee
	}
	require.Equal(t, tuple.Tuple{[]byte("abc"), "def", []byte{0, 1}}, dec)
	lib := tuple.Tuple{"lib", 2, 5, 201}.Pack()
	allocs := testing.AllocsPerRun(100, func() {
		_, err := tuple.Unpack(lib)
		require.NoError(t, err)
	})
	require.LessOrEqual(t, allocs, 5.0)
	empty, err := tuple.Unpack(nil)
	require.NoError(t, err)
	require.NotNil(t, empty)
	require.Empty(t, empty)
}

// TestCompareMixedTypes: types order by type code, integers of any width by value, floats in
// IEEE total order; ties break on length.
func TestCompareMixedTypes(t *testing.T) {
	u := tuple.UUID{1}
	ordered := []tuple.Tuple{
		{},
		{nil},
		{nil, nil},
		{[]byte{}},
		{[]byte{0}},
		{[]byte{0, 0}},
		{[]byte{1}},
		{""},
		{"\x00"},
		{"a"},
		{"a", nil},
		{"a\x00"},
		{tuple.Tuple{}},
		{tuple.Tuple{nil}},
		{tuple.Tuple{nil}, nil},
		{[]any{nil, nil}},
		{tuple.Tuple{int8(1)}},
		{new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), 100))},
		{int64(math.MinInt64)},
		{int8(-1)},
		{uint8(0)},
		{big.NewInt(1)},
		{uint64(math.MaxUint64)},
		{new(big.Int).Lsh(big.NewInt(1), 64)},
		{float32(math.Inf(-1))},
		{float32(math.Copysign(0, -1))},
		{float32(0)},
		{float32(math.NaN())},
		{math.Float64frombits(0xfff8000000000000)}, // negative NaN
		{math.Inf(-1)},
		{-1.5},
		{math.Copysign(0, -1)},
		{0.0},
		{math.SmallestNonzeroFloat64},
		{math.Inf(1)},
		{math.NaN()},
		{false},
		{true},
		{tuple.UUID{}},
		{u},
		{uuid.UUID{2}},
		{tuple.Versionstamp{}},
		{tuple.Versionstamp{UserVersion: 1}},
		{tuple.IncompleteVersionstamp(0)},
	}
	packed := make([][]byte, len(ordered))
	for i, tp := range ordered {
		has, _ := tp.HasIncompleteVersionstamp()
		if has {
			b, err := tp.PackWithVersionstamp(nil)
			require.NoError(t, err)
			packed[i] = b[:len(b)-4]
		} else {
			packed[i] = tp.Pack()
		}
	}
	for i := range ordered {
		for j := range ordered {
			want := bytes.Compare(packed[i], packed[j])
			require.Equal(t, want, tuple.Compare(ordered[i], ordered[j]), "%v vs %v", ordered[i], ordered[j])
			if i < j {
				require.Negative(t, want, "list order %v vs %v", ordered[i], ordered[j])
			}
		}
	}
	require.Panics(t, func() { tuple.Compare(tuple.Tuple{struct{}{}}, tuple.Tuple{1}) })
}

// TestDeepNesting: Unpack decodes up to MaxDepth levels and refuses deeper input with an error
// instead of exhausting the stack.
func TestDeepNesting(t *testing.T) {
	deep := func(n int) []byte {
		return append(bytes.Repeat([]byte{0x05}, n), bytes.Repeat([]byte{0x00}, n)...)
	}
	ok := deep(tuple.MaxDepth)
	dec, err := tuple.Unpack(ok)
	require.NoError(t, err)
	require.Equal(t, ok, dec.Pack())
	_, err = tuple.Unpack(deep(tuple.MaxDepth + 1))
	require.ErrorIs(t, err, tuple.ErrMalformed)
	require.ErrorContains(t, err, "nested more than 10000 deep")
	_, err = tuple.Unpack(bytes.Repeat([]byte{0x05}, 1<<20))
	require.ErrorIs(t, err, tuple.ErrMalformed)
}
