package tuple_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/tuple"
)

var update = flag.Bool("update", false, "rewrite the hex of layerkit's own rows (lk-*) in testdata/vectors.golden")

// TestGoldenVectors packs and unpacks every vector of testdata/vectors.golden.
func TestGoldenVectors(t *testing.T) {
	vs := loadVectors(t)
	if *update {
		rewriteOwnVectors(t, vs)
		vs = loadVectors(t)
	}
	for _, v := range vs {
		t.Run("id="+v.id, func(t *testing.T) {
			if v.op != "decode" && v.op != "badutf8" {
				require.NotEmpty(t, v.hex+v.notation, "row has no hex; run with -update")
			}
			switch v.op {
			case "pack":
				require.Equal(t, v.hex, hex.EncodeToString(v.in.Pack()), "Pack %s", v.notation)
				got, err := v.in.AppendPack([]byte("prefix"))
				require.NoError(t, err)
				require.Equal(t, "prefix"+string(v.packed), string(got), "AppendPack")
				require.Equal(t, len(v.packed), v.in.PackedSize(), "PackedSize")
				has, err := v.in.HasIncompleteVersionstamp()
				require.NoError(t, err)
				require.False(t, has)
				dec, err := tuple.Unpack(v.packed)
				require.NoError(t, err)
				requireSame(t, v.want, dec, "Unpack %s", v.hex)
				require.Equal(t, v.packed, dec.Pack(), "re-Pack of the unpacked tuple")
				require.Zero(t, tuple.Compare(v.in, dec), "Compare(input, unpacked)")
			case "packvs":
				got, err := v.in.PackWithVersionstamp(v.prefix)
				require.NoError(t, err)
				require.Equal(t, v.hex, hex.EncodeToString(got), "PackWithVersionstamp")
				has, err := v.in.HasIncompleteVersionstamp()
				require.NoError(t, err)
				require.True(t, has)
				_, err = v.in.AppendPack(nil)
				require.ErrorIs(t, err, tuple.ErrIncompleteVersionstamp)
				require.PanicsWithError(t, err.Error(), func() { v.in.Pack() })
				// Without the offset and prefix, the key is the plain packing of the tuple.
				body := got[len(v.prefix) : len(got)-4]
				dec, err := tuple.Unpack(body)
				require.NoError(t, err)
				requireSame(t, v.want, dec)
				off := int(got[len(got)-4]) | int(got[len(got)-3])<<8 | int(got[len(got)-2])<<16 | int(got[len(got)-1])<<24
				require.Equal(t, bytes.Repeat([]byte{0xff}, 10), got[off:off+10], "offset %d points at the stamp", off)
				require.Equal(t, byte(0x33), got[off-1])
			case "decode":
				dec, err := tuple.Unpack(v.packed)
				require.NoError(t, err)
				requireSame(t, v.want, dec, "Unpack %s", v.hex)
				require.NotEqual(t, v.packed, dec.Pack(), "a decode-only row is a non-canonical form")
				require.Equal(t, v.in.Pack(), dec.Pack())
			case "badutf8":
				_, err := v.in.AppendPack(nil)
				require.ErrorIs(t, err, tuple.ErrInvalidUTF8)
				_, err = tuple.Unpack(v.packed)
				require.ErrorIs(t, err, tuple.ErrMalformed)
				require.ErrorIs(t, err, tuple.ErrInvalidUTF8)
				// The bytes are still checked: as byte strings, with the type code changed, the
				// payloads escape exactly as the official vector shows.
				var want []byte
				for _, e := range v.in {
					p := tuple.Tuple{[]byte(e.(string))}.Pack()
					p[0] = 0x02
					want = append(want, p...)
				}
				require.Equal(t, v.hex, hex.EncodeToString(want))
			default:
				t.Fatalf("unknown op %q", v.op)
			}
		})
	}
}

// rewriteOwnVectors recomputes the hex of the lk-* pack and packvs rows; spec rows are never
// touched.
func rewriteOwnVectors(t *testing.T, vs []vector) {
	byLine := map[int]vector{}
	for _, v := range vs {
		byLine[v.line] = v
	}
	data, err := os.ReadFile(vectorsFile)
	require.NoError(t, err)
	lines := strings.Split(string(data), "\n")
	for i, line := range lines {
		v, ok := byLine[i+1]
		if !ok || !v.own() || (v.op != "pack" && v.op != "packvs") {
			continue
		}
		cols := strings.Split(line, "\t")
		var b []byte
		if v.op == "pack" {
			b, err = v.in.AppendPack(nil)
		} else {
			b, err = v.in.PackWithVersionstamp(v.prefix)
		}
		require.NoError(t, err, "row %s", v.id)
		cols[4] = hex.EncodeToString(b)
		lines[i] = strings.Join(cols, "\t")
	}
	require.NoError(t, os.WriteFile(vectorsFile, []byte(strings.Join(lines, "\n")), 0o644))
}

// TestGoldenCompare checks that Compare orders every pair of vectors as their packed bytes do,
// both for the tuples as written and as unpacked.
func TestGoldenCompare(t *testing.T) {
	var ins, decs []tuple.Tuple
	var packed [][]byte
	for _, v := range loadVectors(t) {
		if v.op != "pack" {
			continue
		}
		dec, err := tuple.Unpack(v.packed)
		require.NoError(t, err)
		ins, decs, packed = append(ins, v.in), append(decs, dec), append(packed, v.packed)
	}
	for i := range packed {
		for j := range packed {
			want := bytes.Compare(packed[i], packed[j])
			require.Equal(t, want, tuple.Compare(ins[i], ins[j]), "%s vs %s", ins[i], ins[j])
			require.Equal(t, want, tuple.Compare(decs[i], decs[j]), "%s vs %s", decs[i], decs[j])
			require.Equal(t, want, tuple.Compare(ins[i], decs[j]), "%s vs %s", ins[i], decs[j])
		}
	}
	// Sorting with Compare puts the byte strings in order.
	idx := make([]int, len(decs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return tuple.Compare(decs[idx[a]], decs[idx[b]]) < 0 })
	for k := 1; k < len(idx); k++ {
		require.LessOrEqual(t, bytes.Compare(packed[idx[k-1]], packed[idx[k]]), 0)
	}
}

type malformedRow struct {
	id, why string
	b       []byte
}

func loadMalformed(tb testing.TB) []malformedRow {
	tb.Helper()
	f, err := os.Open("testdata/malformed.golden")
	require.NoError(tb, err)
	defer f.Close()
	var rows []malformedRow
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		require.Len(tb, cols, 3, line)
		b, err := hex.DecodeString(cols[1])
		require.NoError(tb, err, line)
		rows = append(rows, malformedRow{cols[0], cols[2], b})
	}
	require.NoError(tb, sc.Err())
	return rows
}

// TestMalformed: each of the Java binding's 20 malformed sequences is an error, not a panic and
// not a value.
func TestMalformed(t *testing.T) {
	rows := loadMalformed(t)
	require.Len(t, rows, 20)
	for _, r := range rows {
		t.Run("id="+r.id, func(t *testing.T) {
			var got tuple.Tuple
			var err error
			require.NotPanics(t, func() { got, err = tuple.Unpack(r.b) })
			require.Error(t, err, "%s (%x) unpacked to %v", r.why, r.b, got)
			require.ErrorIs(t, err, tuple.ErrMalformed)
			require.Nil(t, got)
			require.True(t, strings.HasPrefix(err.Error(), "tuple: malformed packed tuple at byte "), err.Error())
		})
	}
}

// TestTruncated: every valid vector with its last byte removed fails to unpack (the Java
// binding's cantUnpackSequencesWithLastCharacter), unless its last element is a one-byte element
// (a top-level null, 0, false, true): then the cut leaves a whole, shorter tuple, which must be
// the original without that element. Every shorter prefix either fails or packs back to itself.
func TestTruncated(t *testing.T) {
	failed, shorter := 0, 0
	for _, v := range loadVectors(t) {
		if len(v.packed) == 0 || v.op == "badutf8" {
			continue
		}
		b := v.packed
		if v.op == "packvs" {
			b = b[len(v.prefix) : len(b)-4]
		}
		cut := b[:len(b)-1]
		var got tuple.Tuple
		var err error
		require.NotPanics(t, func() { got, err = tuple.Unpack(cut) }, "id=%s", v.id)
		last := v.in[len(v.in)-1]
		if oneByte := v.op == "pack" && len(tuple.Tuple{last}.Pack()) == 1; oneByte {
			require.NoError(t, err, "id=%s", v.id)
			requireSame(t, v.want[:len(v.want)-1], got, "id=%s", v.id)
			shorter++
		} else {
			require.ErrorIs(t, err, tuple.ErrMalformed, "id=%s: %x unpacked to %v", v.id, cut, got)
			require.Nil(t, got)
			failed++
		}
		for k := range b {
			require.NotPanics(t, func() { got, err = tuple.Unpack(b[:k]) }, "id=%s k=%d", v.id, k)
			if err == nil && v.op != "decode" { // decode rows are not canonical
				require.Equal(t, b[:k], repack(t, got), "id=%s k=%d", v.id, k)
			}
		}
	}
	t.Logf("%d truncated vectors fail, %d end in a one-byte element and unpack to the shorter tuple", failed, shorter)
	require.Greater(t, failed, 80)
}

// repack packs t, which may hold an incomplete versionstamp, without the offset suffix.
func repack(tb testing.TB, t tuple.Tuple) []byte {
	if has, _ := t.HasIncompleteVersionstamp(); has {
		b, err := t.PackWithVersionstamp(nil)
		require.NoError(tb, err)
		return b[:len(b)-4]
	}
	return t.Pack()
}

// TestUnpackErrors names the problem and where.
func TestUnpackErrors(t *testing.T) {
	for _, c := range []struct{ hex, msg string }{
		{"01deadc0de", "at byte 0: byte string has no terminating 00"},
		{"1501" + "0268656c6c6f", "at byte 2: string has no terminating 00"},
		{"0275746608c00100", "at byte 0: string is not valid UTF-8"},
		{"050268656c6c6f00", "at byte 0: nested tuple has no terminating 00"},
		{"14" + "1601", "at byte 1: integer needs 2 bytes, have 1"},
		{"1d090102", "at byte 0: big integer needs 9 bytes, have 2"},
		{"0bf6", "at byte 0: big integer needs 9 bytes, have 0"},
		{"1d", "at byte 0: big integer has no length byte"},
		{"03", "at byte 0: unknown or unsupported type code 0x03"},
		{"25", "unknown or unsupported type code 0x25"},
		{"0a", "unknown or unsupported type code 0x0a"},
		{"1e", "unknown or unsupported type code 0x1e"},
		{"40", "unknown or unsupported type code 0x40"},
		{"0500ff", "at byte 0: nested tuple has no terminating 00"},
		{"0500", ""},
		{"0000", ""}, // two top-level nulls
	} {
		b, err := hex.DecodeString(c.hex)
		require.NoError(t, err)
		_, err = tuple.Unpack(b)
		if c.msg == "" {
			require.NoError(t, err, c.hex)
			continue
		}
		require.ErrorContains(t, err, c.msg, c.hex)
		require.True(t, errors.Is(err, tuple.ErrMalformed))
	}
}
