package docstore_test

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/docstore"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/tuple"
)

// docKeys returns how many keys the documents of collection name hold (roots and fields).
func (e *env) docKeys(name string) int {
	e.t.Helper()
	return len(e.rawRows(e.collSubspace(name).Pack(tuple.Tuple{int64(1)}), nil))
}

// An array packs into one value when its encoding takes at most 2 KiB ('A', a one-byte count,
// then 's', a two-byte length and the string: 5 bytes and the string), and is kept element by
// element one byte later; updates move it across the limit both ways, at the top level, inside
// an object and inside a larger array, and an index on its elements follows it.
func TestPackedArrayLimit(t *testing.T) {
	const fits = 2048 - 5
	for _, tc := range []struct {
		name, path string
		doc        func(arr docstore.A) docstore.M
		extraKeys  int // keys of the document besides its root and the array's own
	}{
		{"top", "arr", func(arr docstore.A) docstore.M { return docstore.M{"_id": 1, "arr": arr} }, 0},
		{"object", "o.arr", func(arr docstore.A) docstore.M { return docstore.M{"_id": 1, "o": docstore.M{"arr": arr}} }, 1},
		{"nested", "big.1", func(arr docstore.A) docstore.M {
			return docstore.M{"_id": 1, "big": docstore.A{strings.Repeat("b", 3000), arr}}
		}, 2},
	} {
		t.Run("in="+tc.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.coll(tc.name)
			require.NoError(t, c.CreateIndex(ctx, e.db, docstore.Index{Name: "elems", Fields: []string{tc.path}}))
			s := strings.Repeat("p", fits)
			check := func(want docstore.A, keys int) {
				t.Helper()
				require.Equal(t, keys+tc.extraKeys, e.docKeys(tc.name), "keys for an array of %d elements, the first %d bytes", len(want), len(want[0].(string)))
				d, err := c.Get(ctx, e.db, 1)
				require.NoError(t, err)
				got, ok := d.Get(tc.path)
				require.True(t, ok)
				require.Equal(t, []any(want), got)
				for _, el := range append(want, "absent") {
					page, err := c.Find(ctx, e.db, docstore.M{tc.path: el}, docstore.FindOptions{})
					require.NoError(t, err)
					require.Contains(t, page.Plan.String(), "elems")
					wantN := 1
					if el == "absent" {
						wantN = 0
					}
					require.Len(t, page.Docs, wantN, "index lookup of %.10q", el)
				}
			}
			_, err := c.Insert(ctx, e.db, tc.doc(docstore.A{s}))
			require.NoError(t, err)
			check(docstore.A{s}, 2) // root and the packed array

			_, err = c.UpdateByID(ctx, e.db, 1, docstore.M{"$set": docstore.M{tc.path + ".0": s + "q"}})
			require.NoError(t, err)
			check(docstore.A{s + "q"}, 3) // root, marker, one element

			_, err = c.UpdateByID(ctx, e.db, 1, docstore.M{"$set": docstore.M{tc.path + ".0": s}})
			require.NoError(t, err)
			check(docstore.A{s}, 2)

			_, err = c.UpdateByID(ctx, e.db, 1, docstore.M{"$push": docstore.M{tc.path: "x"}})
			require.NoError(t, err)
			check(docstore.A{s, "x"}, 4)

			_, err = c.UpdateByID(ctx, e.db, 1, docstore.M{"$pull": docstore.M{tc.path: "x"}})
			require.NoError(t, err)
			check(docstore.A{s}, 2)

			_, err = c.UpdateByID(ctx, e.db, 1, docstore.M{"$push": docstore.M{tc.path: docstore.M{"$each": docstore.A{"y", "z"}}}})
			require.NoError(t, err)
			check(docstore.A{s, "y", "z"}, 5)

			_, err = c.UpdateByID(ctx, e.db, 1, docstore.M{"$pop": docstore.M{tc.path: 1}})
			require.NoError(t, err)
			check(docstore.A{s, "y"}, 4)

			_, err = c.UpdateMany(ctx, e.db, docstore.M{tc.path: "y"}, docstore.M{"$pull": docstore.M{tc.path: "y"}})
			require.NoError(t, err)
			check(docstore.A{s}, 2)
		})
	}
}

// A field or _id holding a zero byte is stored right after the one it starts with ("a" then
// "a\x00b"): neither is taken for keys of the other.
func TestZeroByteNamesBesideArrays(t *testing.T) {
	e := newEnv(t)
	c := e.coll("zero")
	long := docstore.A{strings.Repeat("l", 3000), 1}
	docs := []any{
		docstore.M{"_id": "a", "a": docstore.A{1, 2}, "a\x00b": 3, "o": docstore.M{"x": docstore.A{"p"}, "x\x00": docstore.A{"q"}}},
		docstore.M{"_id": "a\x00b", "a": long, "a\x00": docstore.A{4}, "a\x00\x00": "z"},
		docstore.M{"_id": "a\x00", "a": "s"},
	}
	_, err := c.InsertMany(ctx, e.db, docs)
	require.NoError(t, err)
	for _, d := range docs {
		got, err := c.Get(ctx, e.db, d.(docstore.M)["_id"])
		require.NoError(t, err)
		cmp, err := docstore.Compare(got.Map(), d)
		require.NoError(t, err)
		require.Zero(t, cmp, "%q reads back as %q", d, got.Map())
	}
	for _, sort := range [][]string{{"_id"}, {"-_id"}} {
		page, err := c.Find(ctx, e.db, docstore.M{}, docstore.FindOptions{Sort: sort})
		require.NoError(t, err)
		require.Len(t, page.Docs, 3, "sort %v", sort)
	}
	_, err = c.UpdateByID(ctx, e.db, "a", docstore.M{"$push": docstore.M{"a": 3, "o.x": "r"}, "$inc": docstore.M{"a\x00b": 1}})
	require.NoError(t, err)
	d, err := c.Get(ctx, e.db, "a")
	require.NoError(t, err)
	require.Equal(t, map[string]any{"_id": "a", "a": []any{int64(1), int64(2), int64(3)}, "a\x00b": int64(4),
		"o": map[string]any{"x": []any{"p", "r"}, "x\x00": []any{"q"}}}, d.Map())
}

// Writes take their keys and values from pooled buffers: documents written one after another
// in one transaction, and by concurrent writers, each keep their own bytes, and documents handed
// to the caller do not change when later writes reuse the buffers.
func TestPooledBuffersNotShared(t *testing.T) {
	e := newEnv(t)
	// Created first, so that the writers test buffer reuse only (racing creators have their own
	// test, TestWritersRaceToCreateACollection).
	c, err := e.ds.CreateCollection(ctx, e.db, "pool", docstore.CollectionOptions{})
	require.NoError(t, err)
	doc := func(w, i int) docstore.M {
		tag := fmt.Sprintf("w%di%d", w, i)
		return docstore.M{"_id": tag, "s": strings.Repeat(tag, 20), "n": i, "arr": docstore.A{tag, w, docstore.M{"k": tag}},
			"o": docstore.M{"t": tag, "long": docstore.A{strings.Repeat(tag, 500), tag}}}
	}
	const writers, perTx, txs = 4, 5, 4
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for x := 0; x < 2*txs; x++ {
				_, err := kv.Transact(ctx, e.db, func(tr kv.Transaction) (any, error) {
					for i := x % txs * perTx; i < (x%txs+1)*perTx; i++ {
						var err error
						if x < txs {
							_, err = c.Insert(ctx, tr, doc(w, i))
						} else {
							_, err = c.UpdateByID(ctx, tr, fmt.Sprintf("w%di%d", w, i), docstore.M{"$set": docstore.M{"u": fmt.Sprint(w, i)}})
						}
						if err != nil {
							return nil, err
						}
					}
					return nil, nil
				})
				if err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for w, err := range errs {
		require.NoError(t, err, "writer %d", w)
	}
	first, err := c.Get(ctx, e.db, "w0i0")
	require.NoError(t, err)
	kept := fmt.Sprint(first.Map())
	for w := 0; w < writers; w++ {
		for i := 0; i < perTx*txs; i++ {
			want := doc(w, i)
			want["u"] = fmt.Sprint(w, i)
			got, err := c.Get(ctx, e.db, want["_id"])
			require.NoError(t, err)
			cmp, err := docstore.Compare(got.Map(), want)
			require.NoError(t, err)
			require.Zero(t, cmp, "%v reads back as %v", want, got.Map())
		}
	}
	_, err = c.UpdateMany(ctx, e.db, docstore.M{}, docstore.M{"$set": docstore.M{"s": "overwritten", "arr.0": "gone"}})
	require.NoError(t, err)
	require.Equal(t, kept, fmt.Sprint(first.Map()), "a document read earlier changed under later writes")
}

// A collection whose header says format 1 (arrays element by element, before packing) is
// refused by reads, writes and the checker with ErrUnsupportedFormat, not taken for corrupt
// data; it can be dropped.
func TestFormatOneRefused(t *testing.T) {
	e := newEnv(t)
	c := e.coll("old")
	_, err := c.Insert(ctx, e.db, docstore.M{"_id": 1, "tags": docstore.A{"a", "b"}})
	require.NoError(t, err)
	header := e.collSubspace("old").Pack(tuple.Tuple{int64(0)})
	_, err = kv.Transact(ctx, e.db, func(tr kv.Transaction) (any, error) {
		raw, err := tr.Get(header).Get()
		if err != nil {
			return nil, err
		}
		require.Contains(t, string(raw), `"format":2`)
		tr.Set(header, bytes.Replace(raw, []byte(`"format":2`), []byte(`"format":1`), 1))
		return nil, nil
	})
	require.NoError(t, err)

	fresh, err := docstore.Open(ctx, e.db, []string{"test"}, nil) // no cached header
	require.NoError(t, err)
	old := fresh.Collection("old")
	_, err = old.Get(ctx, e.db, 1)
	require.ErrorIs(t, err, docstore.ErrUnsupportedFormat)
	require.NotErrorIs(t, err, docstore.ErrCorrupt)
	require.ErrorContains(t, err, `collection "old" is stored in format 1; this version reads format 2 only`)
	_, err = old.Insert(ctx, e.db, docstore.M{"_id": 2})
	require.ErrorIs(t, err, docstore.ErrUnsupportedFormat)
	_, err = c.UpdateByID(ctx, e.db, 1, docstore.M{"$push": docstore.M{"tags": "c"}}) // a handle that had the header
	require.ErrorIs(t, err, docstore.ErrUnsupportedFormat)
	require.ErrorIs(t, old.Check(ctx, e.db), docstore.ErrUnsupportedFormat)

	dropped, err := fresh.DropCollection(ctx, e.db, "old")
	require.NoError(t, err)
	require.True(t, dropped)
}
