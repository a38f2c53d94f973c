package embedded_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
)

// model is a sorted map standing in for the database as one transaction should see it.
type model map[string][]byte

func (m model) keys() []string { return sortedKeys(m) }

// selector resolves a key selector the way FoundationDB defines it, clamped to ["", 0xff].
func (m model) selector(sel kv.KeySelector) []byte {
	keys := m.keys()
	// Index of the last key < sel.Key (or <= with OrEqual), then move Offset keys.
	i := sort.Search(len(keys), func(i int) bool {
		c := bytes.Compare([]byte(keys[i]), sel.Key)
		if sel.OrEqual {
			return c > 0
		}
		return c >= 0
	}) - 1
	i += sel.Offset
	switch {
	case i < 0:
		return []byte{}
	case i >= len(keys):
		return []byte{0xff}
	}
	return []byte(keys[i])
}

func (m model) rangeRead(b, e []byte, limit int, reverse bool) []kv.KeyValue {
	var out []kv.KeyValue
	for _, k := range m.keys() {
		if bytes.Compare([]byte(k), b) >= 0 && bytes.Compare([]byte(k), e) < 0 {
			out = append(out, kv.KeyValue{Key: []byte(k), Value: m[k]})
		}
	}
	if reverse {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

var modelOps = []kv.MutationType{kv.Add, kv.BitAnd, kv.BitOr, kv.BitXor, kv.AppendIfFits, kv.Max, kv.Min, kv.ByteMin, kv.ByteMax, kv.CompareAndClear}

// TestModelReadYourWrites applies random writes and reads inside transactions over a random
// committed state and compares every read, and the committed result, with a model. It guards
// the merge of snapshot and buffered writes: clears, range clears, atomic ops over stored and
// unknown values, limits, reverse reads, iterators and selectors.
func TestModelReadYourWrites(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 2))
	db := openMem(t, nil)
	ctx := context.Background()
	committed := model{}
	key := func() []byte {
		n := rng.IntN(3)
		k := make([]byte, n)
		for i := range k {
			k[i] = "abcdef"[rng.IntN(6)]
		}
		return k
	}
	value := func() []byte {
		v := make([]byte, rng.IntN(4))
		for i := range v {
			v[i] = byte(rng.IntN(4))
		}
		return v
	}
	rangeOf := func() (kv.Range, []byte, []byte) {
		b, e := key(), key()
		if bytes.Compare(b, e) > 0 {
			b, e = e, b
		}
		return kv.Range{Begin: b, End: e}, b, e
	}
	for round := range 150 {
		tr, err := db.CreateTransaction()
		require.NoError(t, err)
		m := model{}
		for k, v := range committed {
			m[k] = v
		}
		for step := range 40 {
			where := fmt.Sprintf("seed %d round %d step %d", seed, round, step)
			switch op := rng.IntN(10); op {
			case 0, 1:
				k, v := key(), value()
				tr.Set(k, v)
				m[string(k)] = v
			case 2:
				k := key()
				tr.Clear(k)
				delete(m, string(k))
			case 3:
				r, b, e := rangeOf()
				tr.ClearRange(r)
				for k := range m {
					if bytes.Compare([]byte(k), b) >= 0 && bytes.Compare([]byte(k), e) < 0 {
						delete(m, k)
					}
				}
			case 4:
				k, p := key(), value()
				typ := modelOps[rng.IntN(len(modelOps))]
				tr.Atomic(typ, k, p)
				old, present := m[string(k)]
				nv, np, err := kv.ApplyAtomic(typ, old, present, p)
				require.NoError(t, err)
				if np {
					if nv == nil {
						nv = []byte{}
					}
					m[string(k)] = nv
				} else {
					delete(m, string(k))
				}
			case 5, 6:
				k := key()
				v, err := tr.Get(k).Get()
				require.NoError(t, err, where)
				want := m[string(k)]
				require.Equal(t, want, v, "%s: get %q", where, k)
			case 7:
				r, b, e := rangeOf()
				limit, reverse := rng.IntN(4), rng.IntN(2) == 0
				got, err := tr.GetRange(r, kv.RangeOptions{Limit: limit, Reverse: reverse}).GetSlice()
				require.NoError(t, err, where)
				want := m.rangeRead(b, e, limit, reverse)
				require.Equal(t, len(want), len(got), "%s: range %s limit %d reverse %v: %v", where, r, limit, reverse, got)
				for i := range want {
					require.Equal(t, want[i], got[i], "%s: row %d", where, i)
				}
			case 8:
				r, b, e := rangeOf()
				reverse := rng.IntN(2) == 0
				it := tr.GetRange(r, kv.RangeOptions{Reverse: reverse}).Iterator()
				var got []kv.KeyValue
				for it.Next() {
					got = append(got, it.KeyValue())
				}
				require.NoError(t, it.Err(), where)
				want := m.rangeRead(b, e, 0, reverse)
				require.Equal(t, len(want), len(got), "%s: iterate %s reverse %v", where, r, reverse)
				for i := range want {
					require.Equal(t, want[i], got[i], "%s: row %d", where, i)
				}
			case 9:
				if rng.IntN(2) == 0 {
					sel := func() kv.KeySelector {
						return kv.KeySelector{Key: key(), OrEqual: rng.IntN(2) == 0, Offset: rng.IntN(5) - 2}
					}
					r := kv.SelectorRange{Begin: sel(), End: sel()}
					limit, reverse := rng.IntN(3), rng.IntN(2) == 0
					res := tr.GetRange(r, kv.RangeOptions{Limit: limit, Reverse: reverse})
					var got []kv.KeyValue
					if rng.IntN(2) == 0 {
						got, err = res.GetSlice()
					} else {
						it := res.Iterator()
						for it.Next() {
							got = append(got, it.KeyValue())
						}
						err = it.Err()
					}
					require.NoError(t, err, where)
					want := m.rangeRead(m.selector(r.Begin), m.selector(r.End), limit, reverse)
					require.Equal(t, len(want), len(got), "%s: range %v limit %d reverse %v: %v", where, r, limit, reverse, got)
					for i := range want {
						require.Equal(t, want[i], got[i], "%s: row %d", where, i)
					}
					break
				}
				sel := kv.KeySelector{Key: key(), OrEqual: rng.IntN(2) == 0, Offset: rng.IntN(5) - 2}
				got, err := tr.GetKey(sel).Get()
				require.NoError(t, err, where)
				require.Equal(t, m.selector(sel), got, "%s: %v", where, sel)
			}
		}
		if rng.IntN(4) == 0 {
			tr.Cancel()
			continue
		}
		require.NoError(t, tr.Commit(), "seed %d round %d", seed, round)
		committed = m
		got, err := kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) ([]kv.KeyValue, error) {
			return tr.GetRange(kv.Range{Begin: []byte{}, End: []byte{0xff}}, kv.RangeOptions{}).GetSlice()
		})
		require.NoError(t, err)
		want := committed.rangeRead([]byte{}, []byte{0xff}, 0, false)
		require.Equal(t, len(want), len(got), "seed %d round %d: committed state", seed, round)
		for i := range want {
			require.Equal(t, want[i], got[i], "seed %d round %d: committed row %d", seed, round, i)
		}
	}
}

// testSeed returns the seed of a random test, LAYERKIT_SEED when set (to replay a run), and
// logs it.
func testSeed(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("LAYERKIT_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d", seed)
	return seed
}
