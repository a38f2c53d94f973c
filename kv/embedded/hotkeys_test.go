package embedded_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
)

// TestModelHotKeyReverseReads commits thousands of small transactions that mostly rewrite,
// clear and range-clear a few hot keys, and after each checks reverse reads (range reads with
// and without limits, iterators, key selectors that look backwards) against a model, from new
// transactions and from transactions that started many commits earlier. It guards the reverse
// reads that stop before a hot key's versions and read it forwards (hotkeys.go); the test fails
// if no key ever became hot, so it cannot pass without taking that path.
func TestModelHotKeyReverseReads(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 3))
	db := openMem(t, nil)
	ctx := context.Background()

	keys := []string{"a", "b", "c", "c\x00", "d", "e", "f", "g", "h"}
	hot := []string{"c", "e", "g"}
	key := func() string {
		if rng.IntN(10) < 8 {
			return hot[rng.IntN(len(hot))]
		}
		return keys[rng.IntN(len(keys))]
	}
	bound := func() []byte {
		k := []byte(keys[rng.IntN(len(keys))])
		if rng.IntN(3) == 0 {
			k = append(k, 0)
		}
		return k
	}
	committed := model{}
	// Transactions kept open across commits, with the state they must see.
	type old struct {
		tr kv.Transaction
		m  model
	}
	var olds []old
	hotSeen := 0

	check := func(tr kv.Transaction, m model, where string) {
		switch rng.IntN(3) {
		case 0:
			b, e := bound(), bound()
			if bytes.Compare(b, e) > 0 {
				b, e = e, b
			}
			limit := rng.IntN(4)
			got, err := tr.Snapshot().GetRange(kv.Range{Begin: b, End: e}, kv.RangeOptions{Limit: limit, Reverse: true}).GetSlice()
			require.NoError(t, err, where)
			want := m.rangeRead(b, e, limit, true)
			require.Equal(t, fmt.Sprint(want), fmt.Sprint(got), "%s: reverse [%q, %q) limit %d", where, b, e, limit)
		case 1:
			b, e := bound(), bound()
			if bytes.Compare(b, e) > 0 {
				b, e = e, b
			}
			it := tr.Snapshot().GetRange(kv.Range{Begin: b, End: e}, kv.RangeOptions{Reverse: true}).Iterator()
			var got []kv.KeyValue
			for it.Next() {
				got = append(got, it.KeyValue())
			}
			require.NoError(t, it.Err(), where)
			require.Equal(t, fmt.Sprint(m.rangeRead(b, e, 0, true)), fmt.Sprint(got), "%s: reverse iterator [%q, %q)", where, b, e)
		default:
			sel := kv.KeySelector{Key: bound(), OrEqual: rng.IntN(2) == 0, Offset: -rng.IntN(3)}
			got, err := tr.Snapshot().GetKey(sel).Get()
			require.NoError(t, err, where)
			require.Equal(t, string(m.selector(sel)), string(got), "%s: %+v", where, sel)
		}
	}

	for round := range 3000 {
		where := fmt.Sprintf("seed %d round %d", seed, round)
		next := model{}
		for k, v := range committed {
			next[k] = v
		}
		require.NoError(t, db.Transact(ctx, func(tr kv.Transaction) error {
			for range 1 + rng.IntN(2) {
				k := key()
				switch rng.IntN(20) {
				case 0:
					tr.Clear([]byte(k))
					delete(next, k)
				case 1:
					b, e := bound(), bound()
					if bytes.Compare(b, e) > 0 {
						b, e = e, b
					}
					tr.ClearRange(kv.Range{Begin: b, End: e})
					for mk := range next {
						if mk >= string(b) && mk < string(e) {
							delete(next, mk)
						}
					}
				default:
					v := []byte(strconv.Itoa(round))
					tr.Set([]byte(k), v)
					next[k] = v
				}
			}
			return nil
		}), where)
		committed = next
		hotSeen = max(hotSeen, embedded.HotKeyCount(db))

		tr, err := db.CreateTransaction()
		require.NoError(t, err)
		for range 3 {
			check(tr, committed, where)
		}
		if len(olds) < 4 && rng.IntN(100) == 0 {
			olds = append(olds, old{tr, committed})
		} else {
			tr.Cancel()
		}
		for i, o := range olds {
			check(o.tr, o.m, fmt.Sprintf("%s, old transaction %d", where, i))
		}
		if round%700 == 699 {
			// Versions move to an sstable and the registry starts over.
			require.NoError(t, embedded.Flush(db))
		}
		if round%500 == 499 {
			for _, o := range olds {
				o.tr.Cancel()
			}
			olds = nil
		}
	}
	require.Positive(t, hotSeen, "no key became hot: the test did not reach the reverse reads it guards")
}

// TestHotEmptyKeyReverseRead guards the reverse reads of a hot empty key, which is read with
// First instead of a seek (Pebble's invariant checks reject a seek to the empty key). It does
// not flush: under -race Pebble's checks also reject an sstable that starts with the empty key.
func TestHotEmptyKeyReverseRead(t *testing.T) {
	db := openMem(t, nil)
	ctx := context.Background()
	for i := range 200 {
		set(t, db, "", strconv.Itoa(i))
		set(t, db, "b", strconv.Itoa(i))
	}
	read := func(end string) []kv.KeyValue {
		rows, err := kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) ([]kv.KeyValue, error) {
			return tr.GetRange(kv.Range{Begin: []byte{}, End: []byte(end)}, kv.RangeOptions{Limit: 1, Reverse: true}).GetSlice()
		})
		require.NoError(t, err)
		return rows
	}
	for range 3 { // the first read learns that the key is hot
		require.Equal(t, []kv.KeyValue{{Key: []byte{}, Value: []byte("199")}}, read("a"))
		require.Equal(t, []kv.KeyValue{{Key: []byte("b"), Value: []byte("199")}}, read("c"))
	}
	require.Positive(t, embedded.HotKeyCount(db))
	require.NoError(t, db.Transact(ctx, func(tr kv.Transaction) error {
		tr.Clear([]byte{})
		return nil
	}))
	require.Empty(t, read("a"))
	require.Equal(t, []kv.KeyValue{{Key: []byte("b"), Value: []byte("199")}}, read("c"))
}
