package docstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// randPackable returns a random normalised value, nested up to depth levels.
func randPackable(rng *rand.Rand, depth int) any {
	switch k := rng.IntN(14); {
	case k < 2 && depth > 0:
		arr := make([]any, rng.IntN(5))
		for i := range arr {
			arr[i] = randPackable(rng, depth-1)
		}
		return arr
	case k < 4 && depth > 0:
		obj := map[string]any{}
		for i := rng.IntN(5); i > 0; i-- {
			obj[fmt.Sprintf("f%d", rng.IntN(8))] = randPackable(rng, depth-1)
		}
		return obj
	case k == 4:
		return nil
	case k == 5:
		return rng.IntN(2) == 0
	case k == 6:
		return rng.Int64() >> rng.IntN(64)
	case k == 7:
		return []int64{math.MinInt64, math.MaxInt64, 0, -1}[rng.IntN(4)]
	case k == 8:
		return rng.NormFloat64() * math.Pow(10, float64(rng.IntN(40)-20))
	case k == 9:
		return strings.Repeat("é\x00x", rng.IntN(6))
	case k == 10:
		b := make([]byte, rng.IntN(20))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return b
	case k == 11:
		var u uuid.UUID
		u[0], u[15] = byte(rng.IntN(256)), byte(rng.IntN(256))
		return u
	case k == 12:
		return time.UnixMilli(rng.Int64N(1<<45) - 1<<44).UTC()
	}
	return fmt.Sprint(rng.IntN(1000))
}

// Packed arrays read back as the values written, types included, and an array packs exactly
// when its encoding fits packLimit.
func TestPackedArrayRoundTrip(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := 0; i < 3000; i++ {
		arr := make([]any, rng.IntN(12))
		for j := range arr {
			arr[j] = randPackable(rng, 4)
		}
		if rng.IntN(20) == 0 {
			arr = append(arr, strings.Repeat("L", packLimit-rng.IntN(40)))
		}
		full := binary.AppendUvarint([]byte{valPacked}, uint64(len(arr)))
		for _, e := range arr {
			full, _ = appendElem(full, e, math.MaxInt)
		}
		enc, ok := appendPackedArray(nil, arr)
		if ok != (len(full) <= packLimit) || ok != packs(arr) || ok && string(enc) != string(full) {
			t.Fatalf("packed %v: ok %v with %d bytes, whole encoding %d bytes", arr, ok, len(enc), len(full))
		}
		if !ok {
			continue
		}
		back, err := decodePackedArray(string(enc))
		if err != nil {
			t.Fatalf("%v: %v", arr, err)
		}
		if !sameValue(back, arr) {
			t.Fatalf("%v read back as %v", arr, back)
		}
	}
}

// FuzzPackedArray: any bytes decode as a packed array or fail with ErrCorrupt; what decodes
// encodes again to a value that decodes the same.
func FuzzPackedArray(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20; i++ {
		enc, ok := appendPackedArray(nil, []any{randPackable(rng, 3), randPackable(rng, 3)})
		if ok {
			f.Add(enc)
		}
	}
	f.Add([]byte{valPacked, 1, valObject, 2, 1, 'b', valNull, 1, 'a', valNull})
	f.Add([]byte{valPacked, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 || b[0] != valPacked {
			return
		}
		arr, err := decodePackedArray(string(b))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%x: %v", b, err)
			}
			return
		}
		enc, _ := appendPackedArray(nil, arr)
		again, err := decodePackedArray(string(enc))
		if err != nil || !sameValue(again, arr) {
			t.Fatalf("%x decodes as %v, which encodes as %x, which decodes as %v (%v)", b, arr, enc, again, err)
		}
	})
}
