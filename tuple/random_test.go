package tuple_test

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/tuple"
)

// randSource is where the generator draws from: math/rand for the property test, the fuzzer's
// bytes for FuzzOrder.
type randSource interface{ Uint64() uint64 }

// byteSource turns fuzz input into numbers; past the end it yields zeros.
type byteSource struct{ b []byte }

func (s *byteSource) Uint64() uint64 {
	var buf [8]byte
	n := copy(buf[:], s.b)
	s.b = s.b[n:]
	return binary.LittleEndian.Uint64(buf[:])
}

type gen struct{ r randSource }

func (g gen) intn(n int) int { return int(g.r.Uint64() % uint64(n)) }

// tuple returns a random tuple (in, the Go values to pack) and what Unpack must return (want).
// Nesting stops at depth 3.
func (g gen) tuple(depth int) (in, want tuple.Tuple) {
	n := g.intn(6)
	in, want = make(tuple.Tuple, n), make(tuple.Tuple, n)
	for i := range n {
		in[i], want[i] = g.elem(depth)
	}
	return in, want
}

func (g gen) bytes(max int) []byte {
	b := make([]byte, g.intn(max+1))
	for i := range b {
		// Favour the bytes that matter to the escaping: 00 and ff.
		switch g.intn(4) {
		case 0:
			b[i] = 0
		case 1:
			b[i] = 0xff
		default:
			b[i] = byte(g.r.Uint64())
		}
	}
	return b
}

func (g gen) string() string {
	runes := []rune{0, 'a', 'z', 0x7f, 0x80, 0xff, 0x100, 0x7ff, 0x800, 0xfffd, 0xffff, 0x10000, 0x10ffff}
	var b []byte
	for range g.intn(8) {
		if g.intn(2) == 0 {
			b = utf8.AppendRune(b, runes[g.intn(len(runes))])
		} else {
			r := rune(g.intn(0x110000))
			if !utf8.ValidRune(r) {
				r = 'x'
			}
			b = utf8.AppendRune(b, r)
		}
	}
	return string(b)
}

func (g gen) elem(depth int) (in, want any) {
	switch g.intn(15) {
	case 0:
		return nil, nil
	case 1:
		b := g.bytes(12)
		if g.intn(4) == 0 {
			return namedBytes(b), slices.Clone(b)
		}
		return b, slices.Clone(b)
	case 2:
		s := g.string()
		if g.intn(4) == 0 {
			return named(s), s
		}
		return s, s
	case 3:
		if depth >= 3 {
			return false, false
		}
		a, b := g.tuple(depth + 1)
		if g.intn(4) == 0 {
			return []any(a), b
		}
		return a, b
	case 4: // int64 of every length
		v := int64(g.r.Uint64() >> g.intn(64))
		if g.intn(2) == 0 {
			v = -v
		}
		return g.intWidth(v), v
	case 5: // uint64 above MaxInt64
		v := g.r.Uint64() | 1<<63
		if strconv.IntSize == 64 && g.intn(2) == 0 {
			return uint(v), v
		}
		return v, v
	case 6: // beyond 64 bits, up to 255 bytes
		mag := new(big.Int).SetBytes(append([]byte{1 + byte(g.intn(255))}, g.bytes(40)...))
		mag.Lsh(mag, 64)
		if g.intn(2) == 0 {
			mag.Neg(mag)
		}
		return mag, mag
	case 7: // *big.Int holding a small value
		v := int64(g.r.Uint64() >> g.intn(64))
		if g.intn(2) == 0 {
			v = -v
		}
		return big.NewInt(v), v
	case 8:
		f := math.Float32frombits(uint32(g.r.Uint64()))
		if g.intn(2) == 0 {
			f = []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), 1.5, -2.25}[g.intn(6)]
		}
		return f, f
	case 9:
		f := math.Float64frombits(g.r.Uint64())
		if g.intn(2) == 0 {
			f = []float64{0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.NaN(), 1e-310, -7}[g.intn(7)]
		}
		return f, f
	case 10:
		b := g.intn(2) == 0
		return b, b
	case 11:
		var u tuple.UUID
		binary.BigEndian.PutUint64(u[:8], g.r.Uint64())
		binary.BigEndian.PutUint64(u[8:], g.r.Uint64())
		if g.intn(2) == 0 {
			return uuid.UUID(u), u
		}
		return u, u
	case 12:
		var v tuple.Versionstamp
		binary.BigEndian.PutUint64(v.TransactionVersion[:8], g.r.Uint64()>>g.intn(64))
		binary.BigEndian.PutUint16(v.TransactionVersion[8:], uint16(g.r.Uint64()))
		v.UserVersion = uint16(g.r.Uint64())
		if !v.IsComplete() {
			v.TransactionVersion[0] = 0
		}
		return v, v
	case 13: // near the integer boundaries
		edges := []int64{0, 1, -1, 255, -255, 256, -256, math.MaxInt64, math.MinInt64, math.MinInt64 + 1, 1<<32 - 1, -(1<<32 - 1)}
		v := edges[g.intn(len(edges))]
		return v, v
	default:
		s := g.string()
		return []byte(s), []byte(s)
	}
}

// intWidth returns v as a random Go integer type that holds it.
func (g gen) intWidth(v int64) any {
	switch {
	case v >= math.MinInt8 && v <= math.MaxInt8 && g.intn(3) == 0:
		return int8(v)
	case v >= math.MinInt16 && v <= math.MaxInt16 && g.intn(3) == 0:
		return int16(v)
	case v >= math.MinInt32 && v <= math.MaxInt32 && g.intn(3) == 0:
		return int32(v)
	case v >= 0 && v <= math.MaxUint32 && g.intn(3) == 0:
		return uint32(v)
	case v >= 0 && v <= math.MaxUint16 && g.intn(3) == 0:
		return uint16(v)
	case v >= 0 && v <= math.MaxUint8 && g.intn(3) == 0:
		return uint8(v)
	case v >= math.MinInt && v <= math.MaxInt && g.intn(2) == 0:
		return int(v)
	}
	return v
}

func propertySeed(t *testing.T) uint64 {
	if s := os.Getenv("LAYERKIT_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err)
		return seed
	}
	return rand.Uint64()
}

// TestRandomTuples: 10,000 random tuples of every type, nested to depth 3, round-trip through
// Pack and Unpack, and sort the same way by Compare (written or unpacked) as by their bytes.
// The seed is logged; LAYERKIT_SEED=<seed> replays a run.
func TestRandomTuples(t *testing.T) {
	seed := propertySeed(t)
	t.Logf("seed %d (replay with LAYERKIT_SEED=%d)", seed, seed)
	g := gen{rand.New(rand.NewPCG(seed, 0))}
	const n = 10000
	ins, decs := make([]tuple.Tuple, n), make([]tuple.Tuple, n)
	packed := make([][]byte, n)
	buf := make([]byte, 0, 1024)
	for i := range n {
		in, want := g.tuple(0)
		p := in.Pack()
		require.Equal(t, len(p), in.PackedSize(), "%v", in)
		var err error
		buf, err = in.AppendPack(buf[:0])
		require.NoError(t, err)
		require.Equal(t, p, buf, "AppendPack == Pack for %v", in)
		dec, err := tuple.Unpack(p)
		require.NoError(t, err, "%v packed as %x", in, p)
		requireSame(t, want, dec, "seed %d tuple %d", seed, i)
		require.Equal(t, p, dec.Pack())
		require.Zero(t, tuple.Compare(in, dec))
		if len(p) > 0 {
			_, err := tuple.Unpack(p[:len(p)-1])
			if err == nil {
				last := in[len(in)-1]
				require.Len(t, tuple.Tuple{last}.Pack(), 1, "%x without its last byte unpacked", p)
			}
		}
		ins[i], decs[i], packed[i] = in, dec, p
	}
	// Sort by bytes; Compare must agree on every adjacent pair and on random pairs.
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return bytes.Compare(packed[a], packed[b]) })
	for k := 1; k < n; k++ {
		a, b := idx[k-1], idx[k]
		want := bytes.Compare(packed[a], packed[b])
		require.Equal(t, want, tuple.Compare(ins[a], ins[b]), "%v vs %v", ins[a], ins[b])
		require.Equal(t, want, tuple.Compare(decs[a], decs[b]), "%v vs %v", decs[a], decs[b])
		require.Equal(t, -want, tuple.Compare(decs[b], ins[a]))
	}
	for range n {
		a, b := g.intn(n), g.intn(n)
		require.Equal(t, bytes.Compare(packed[a], packed[b]), tuple.Compare(ins[a], decs[b]), "%v vs %v", ins[a], decs[b])
	}
	// And sorting the unpacked tuples with Compare gives the byte order.
	byCompare := slices.Clone(decs)
	slices.SortStableFunc(byCompare, tuple.Compare)
	for k := range byCompare {
		require.Equal(t, packed[idx[k]], byCompare[k].Pack(), "position %d", k)
	}
}
