package tuple_test

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/tuple"
)

// vector is one row of testdata/vectors.golden.
type vector struct {
	id, op   string
	prefix   []byte
	notation string
	in       tuple.Tuple // the tuple as written: the Go types the notation names
	want     tuple.Tuple // the tuple Unpack must return
	hex      string
	packed   []byte
	note     string
	line     int
}

func (v vector) own() bool { return strings.HasPrefix(v.id, "lk-") }

const vectorsFile = "testdata/vectors.golden"

// loadVectors reads the golden vectors; it fails the test on any row it cannot parse.
func loadVectors(tb testing.TB) []vector {
	tb.Helper()
	f, err := os.Open(vectorsFile)
	require.NoError(tb, err)
	defer f.Close()
	var vs []vector
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		require.Len(tb, cols, 6, "%s:%d", vectorsFile, n)
		v := vector{id: cols[0], op: cols[1], notation: cols[3], hex: cols[4], note: cols[5], line: n}
		v.prefix, err = hex.DecodeString(cols[2])
		require.NoError(tb, err, "%s:%d prefix", vectorsFile, n)
		v.packed, err = hex.DecodeString(cols[4])
		require.NoError(tb, err, "%s:%d hex", vectorsFile, n)
		v.in, v.want, err = parseTuple(cols[3])
		require.NoError(tb, err, "%s:%d tuple %s", vectorsFile, n, cols[3])
		vs = append(vs, v)
	}
	require.NoError(tb, sc.Err())
	require.GreaterOrEqual(tb, len(vs), 95)
	return vs
}

// parseTuple parses the tuple notation of spec/tuple.md (plus layerkit's Go-typed inputs) into
// the tuple to pack and the tuple Unpack must return.
func parseTuple(s string) (in, want tuple.Tuple, err error) {
	p := &notationParser{s: s}
	in, want, err = p.tuple()
	if err == nil && p.i != len(s) {
		err = fmt.Errorf("trailing text at %d: %q", p.i, s[p.i:])
	}
	return in, want, err
}

type notationParser struct {
	s string
	i int
}

func (p *notationParser) tuple() (in, want tuple.Tuple, err error) {
	if !strings.HasPrefix(p.s[p.i:], "(") {
		return nil, nil, fmt.Errorf("want ( at %d", p.i)
	}
	p.i++
	in, want = tuple.Tuple{}, tuple.Tuple{}
	for {
		if strings.HasPrefix(p.s[p.i:], ")") {
			p.i++
			return in, want, nil
		}
		if len(in) > 0 {
			if !strings.HasPrefix(p.s[p.i:], ", ") {
				return nil, nil, fmt.Errorf("want , at %d", p.i)
			}
			p.i += 2
		}
		a, b, err := p.elem()
		if err != nil {
			return nil, nil, err
		}
		in, want = append(in, a), append(want, b)
	}
}

// token returns the text up to the next ',' or ')' (not inside quotes).
func (p *notationParser) token() string {
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != ',' && p.s[p.i] != ')' {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *notationParser) quoted() (string, error) {
	start := p.i
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		return "", fmt.Errorf("want \" at %d", p.i)
	}
	for p.i++; p.i < len(p.s); p.i++ {
		switch p.s[p.i] {
		case '\\':
			p.i++
		case '"':
			p.i++
			return strconv.Unquote(p.s[start:p.i])
		}
	}
	return "", fmt.Errorf("unterminated string at %d", start)
}

func (p *notationParser) elem() (in, want any, err error) {
	rest := p.s[p.i:]
	switch {
	case strings.HasPrefix(rest, "("):
		return p.tuple()
	case strings.HasPrefix(rest, "list("):
		p.i += 4
		a, b, err := p.tuple()
		return []any(a), b, err
	case strings.HasPrefix(rest, `b:"`):
		p.i += 2
		s, err := p.quoted()
		return []byte(s), []byte(s), err
	case strings.HasPrefix(rest, `s:"`):
		p.i += 2
		s, err := p.quoted()
		return s, s, err
	}
	tok := p.token()
	kind, val, _ := strings.Cut(tok, ":")
	switch kind {
	case "null":
		return nil, nil, nil
	case "true", "false":
		return kind == "true", kind == "true", nil
	case "int", "bigint":
		n, ok := new(big.Int).SetString(val, 10)
		if !ok {
			return nil, nil, fmt.Errorf("bad integer %q", val)
		}
		norm := normInt(n)
		if kind == "bigint" {
			return n, norm, nil
		}
		if _, isBig := norm.(*big.Int); isBig {
			return nil, nil, fmt.Errorf("int: %s does not fit int64/uint64", val)
		}
		return norm, norm, nil
	case "i8", "i16", "i32", "goint":
		size := map[string]int{"i8": 8, "i16": 16, "i32": 32, "goint": strconv.IntSize}[kind]
		n, err := strconv.ParseInt(val, 10, size)
		if err != nil {
			return nil, nil, err
		}
		in := map[string]any{"i8": int8(n), "i16": int16(n), "i32": int32(n), "goint": int(n)}[kind]
		return in, n, nil
	case "u8", "u16", "u32", "gouint":
		size := map[string]int{"u8": 8, "u16": 16, "u32": 32, "gouint": strconv.IntSize}[kind]
		n, err := strconv.ParseUint(val, 10, size)
		if err != nil {
			return nil, nil, err
		}
		in := map[string]any{"u8": uint8(n), "u16": uint16(n), "u32": uint32(n), "gouint": uint(n)}[kind]
		return in, normInt(new(big.Int).SetUint64(n)), nil
	case "f32":
		f, err := strconv.ParseFloat(val, 32)
		return float32(f), float32(f), err
	case "f64":
		f, err := strconv.ParseFloat(val, 64)
		return f, f, err
	case "f32bits":
		u, err := strconv.ParseUint(val, 16, 32)
		f := math.Float32frombits(uint32(u))
		return f, f, err
	case "f64bits":
		u, err := strconv.ParseUint(val, 16, 64)
		f := math.Float64frombits(u)
		return f, f, err
	case "uuid", "gouuid":
		u, err := uuid.Parse(val)
		if kind == "gouuid" {
			return u, tuple.UUID(u), err
		}
		return tuple.UUID(u), tuple.UUID(u), err
	case "vs":
		tv, uv, _ := strings.Cut(val, ":")
		b, err := hex.DecodeString(tv)
		if err != nil || len(b) != 10 {
			return nil, nil, fmt.Errorf("bad versionstamp %q", val)
		}
		u, err := strconv.ParseUint(uv, 10, 16)
		var v tuple.Versionstamp
		copy(v.TransactionVersion[:], b)
		v.UserVersion = uint16(u)
		return v, v, err
	case "vsinc":
		u, err := strconv.ParseUint(val, 10, 16)
		v := tuple.IncompleteVersionstamp(uint16(u))
		return v, v, err
	}
	return nil, nil, fmt.Errorf("unknown element %q", tok)
}

// normInt is the Go type Unpack returns for an integer: int64, else uint64, else *big.Int.
func normInt(n *big.Int) any {
	switch {
	case n.IsInt64():
		return n.Int64()
	case n.IsUint64():
		return n.Uint64()
	}
	return n
}

// sameTuple reports whether two decoded tuples hold the same types and values; unlike
// reflect.DeepEqual it treats a NaN as equal to a NaN with the same bits.
func sameTuple(a, b tuple.Tuple) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !sameElem(a[i], b[i]) {
			return false
		}
	}
	return true
}

func sameElem(x, y any) bool {
	if reflect.TypeOf(x) != reflect.TypeOf(y) {
		return false
	}
	switch x := x.(type) {
	case tuple.Tuple:
		return sameTuple(x, y.(tuple.Tuple))
	case float32:
		return math.Float32bits(x) == math.Float32bits(y.(float32))
	case float64:
		return math.Float64bits(x) == math.Float64bits(y.(float64))
	case *big.Int:
		return x.Cmp(y.(*big.Int)) == 0
	}
	return reflect.DeepEqual(x, y)
}

func requireSame(t testing.TB, want, got tuple.Tuple, msgAndArgs ...any) {
	t.Helper()
	if !sameTuple(want, got) {
		require.Fail(t, fmt.Sprintf("tuples differ\nwant %#v\n got %#v", want, got), msgAndArgs...)
	}
}
