package docstore

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/layerkit/layerkit/tuple"
)

// The key appenders write what the tuple package packs.
func TestKeyAppendersMatchTuple(t *testing.T) {
	for _, s := range []string{"", "a", "field", "a\x00b", "\x00", "\x00\x00", "é", "long name with spaces"} {
		if got, want := appendKeyString(nil, s), (tuple.Tuple{s}).Pack(); !bytes.Equal(got, want) {
			t.Errorf("string %q: %x, want %x", s, got, want)
		}
	}
	for _, i := range []int{0, 1, 2, 255, 256, 65535, 65536, 1 << 24, 1<<31 - 1} {
		if got, want := appendKeyIndex(nil, i), (tuple.Tuple{int64(i)}).Pack(); !bytes.Equal(got, want) {
			t.Errorf("index %d: %x, want %x", i, got, want)
		}
	}
}

// tupleKey is the key form of a value built as a tuple.Tuple, the reference appendKey's bytes
// must equal.
func tupleKey(t tuple.Tuple, v any) tuple.Tuple {
	switch x := v.(type) {
	case undefined:
		return append(t, int64(tagUndefined))
	case nil:
		return append(t, int64(tagNull))
	case int64, float64:
		f, r := numberParts(x)
		return append(t, int64(tagNumber), f, r)
	case string:
		return append(t, int64(tagString), x)
	case map[string]any:
		inner := tuple.Tuple{}
		for _, k := range sortedKeys(x) {
			n := len(inner)
			inner = tupleKey(append(inner, int64(typeTag(x[k])), k), x[k])
			inner = append(inner[:n+2], inner[n+3:]...) // the payload without its tag
		}
		return append(t, int64(tagObject), inner)
	case []any:
		inner := tuple.Tuple{}
		for _, e := range x {
			inner = tupleKey(inner, e)
		}
		return append(t, int64(tagArray), inner)
	case []byte, uuid.UUID:
		sub, data := binaryParts(x)
		return append(t, int64(tagBinary), int64(len(data)), int64(sub), data)
	case bool:
		return append(t, int64(tagBool), x)
	case time.Time:
		return append(t, int64(tagDate), x.UnixMilli())
	}
	panic(fmt.Sprintf("tupleKey of %T", v))
}

// Key forms written element by element are the bytes the tuple package packs, and read back.
func TestKeyFormMatchesTuple(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	values := []any{undefined{}, nil, int64(0), int64(-1), int64(255), int64(256), int64(-256), int64(-257),
		int64(math.MinInt64), int64(math.MaxInt64), int64(math.MinInt64 + 1), 0.0, -1.5, math.MaxFloat64, -math.SmallestNonzeroFloat64,
		"", "a\x00b", []byte{0, 0xff, 0}, uuid.UUID{1}, true, false, time.UnixMilli(-5).UTC(), map[string]any{}, []any{},
		map[string]any{"a": nil, "b": []any{undefined{}, map[string]any{"c": "d\x00"}}}}
	for i := 0; i < 3000; i++ {
		values = append(values, randPackable(rng, 4))
	}
	for _, v := range values {
		want := tupleKey(nil, v).Pack()
		got := appendKey([]byte{0x42}, v)
		if !bytes.Equal(got[1:], want) {
			t.Fatalf("%#v: %x, want %x", v, got[1:], want)
		}
		n, err := skipKeyValue(append(got[1:], 0x99))
		if err != nil || n != len(want) {
			t.Fatalf("%#v: skipped %d of %d bytes (%v)", v, n, len(want), err)
		}
	}
	for i := 0; i < 3000; i++ {
		v := rng.Int64() >> rng.IntN(64)
		if rng.IntN(2) == 0 {
			v = -v
		}
		b := appendTupleInt(nil, v)
		if want := (tuple.Tuple{v}).Pack(); !bytes.Equal(b, want) {
			t.Fatalf("%d: %x, want %x", v, b, want)
		}
		if got, n, err := readTupleInt(b); err != nil || got != v || n != len(b) {
			t.Fatalf("%d read back as %d (%d bytes, %v)", v, got, n, err)
		}
	}
	for _, id := range []any{int64(0), int64(-7), int64(math.MinInt64), int64(math.MaxInt64), int64(1<<53 + 1), "", "x\x00y", []byte{}, []byte{0, 1}, uuid.UUID{9}} {
		b := appendKey(nil, id)
		got, n, err := readIDKey(append(b, 0x14))
		if err != nil || n != len(b) || !sameValue(got, id) {
			t.Fatalf("_id %#v read back as %#v (%d of %d bytes, %v)", id, got, n, len(b), err)
		}
	}
}
