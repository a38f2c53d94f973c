package docstore_test

import (
	"encoding/hex"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/docstore"
	"github.com/layerkit/layerkit/tuple"
)

var update = flag.Bool("update", false, "rewrite golden files")

// orderedValues are values in MongoDB's order; each inner list holds values that compare equal.
func orderedValues() [][]any {
	day := func(y int) time.Time { return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC) }
	return [][]any{
		{nil},
		{-1e300},
		{int64(math.MinInt64), -9.223372036854775808e18},
		{int64(-(1 << 53) - 1)},
		{int64(-(1 << 53)), -9007199254740992.0},
		{-1.5},
		{int64(-1), -1.0},
		{int64(0), 0.0, math.Copysign(0, -1)},
		{1e-300},
		{int64(1), 1.0},
		{1.5},
		{int64(1 << 53), 9007199254740992.0},
		{int64(1<<53 + 1)},
		{int64(math.MaxInt64 - 1)},
		{int64(math.MaxInt64)},
		{9.223372036854775807e18},
		{1e300},
		{""},
		{"A"},
		{"a"},
		{"a\x00"},
		{"ab"},
		{"é"},
		{docstore.M{}},
		{docstore.M{"a": nil}},
		{docstore.M{"a": 1}},
		{docstore.M{"a": 1, "b": 1}},
		{docstore.M{"b": 0}},
		{docstore.M{"a": "x"}},
		{docstore.A{}},
		{docstore.A{nil}},
		{docstore.A{1}},
		{docstore.A{1, 2}},
		{docstore.A{"a"}},
		{[]byte{}},
		{[]byte{0xff}},
		{[]byte{0, 0}},
		{make([]byte, 16)},
		{uuid.UUID{}},
		{uuid.MustParse("00000000-0000-0000-0000-000000000001")},
		{false},
		{true},
		{day(1960)},
		{day(1970)},
		{day(2030)},
	}
}

// MongoDB's type order, the same in index keys, in-memory sorts and comparisons, with the
// index keys' bytes kept in testdata/type_order.golden.
func TestTypeOrderGolden(t *testing.T) {
	e := newEnv(t)
	c := e.coll("order")
	require.NoError(t, c.CreateIndex(ctx, e.db, docstore.Index{Name: "v", Fields: []string{"v"}}))
	groups := orderedValues()
	rank := map[int64]int{}
	var docs []any
	id := int64(0)
	for g, vals := range groups {
		for _, v := range vals {
			rank[id] = g
			// Wrapped in an array, so that the index entry, the sort key and the distinct value
			// are the value itself even when it is an array.
			docs = append(docs, docstore.M{"_id": id, "v": docstore.A{v}, "w": docstore.A{v}})
			id++
		}
	}
	rand.Shuffle(len(docs), func(i, j int) { docs[i], docs[j] = docs[j], docs[i] })
	_, err := c.InsertMany(ctx, e.db, docs)
	require.NoError(t, err)

	// Index keys: read raw, in key order.
	ixPrefix := e.collSubspace("order").Pack(tuple.Tuple{int64(3), int64(1)})
	rows := e.rawRows(ixPrefix, nil)
	require.Len(t, rows, int(id))
	var golden strings.Builder
	prevRank, prevKey := -1, []byte(nil)
	for _, r := range rows {
		el, err := tuple.Unpack(r.Key[len(ixPrefix):])
		require.NoError(t, err)
		idv := rowID(t, el)
		g := rank[idv]
		require.GreaterOrEqual(t, g, prevRank, "index order at document %d", idv)
		valueKey := r.Key[len(ixPrefix) : len(r.Key)-len(el[len(el)-3:].Pack())]
		if g == prevRank {
			require.Equal(t, prevKey, valueKey, "equal values have equal keys (group %d)", g)
		} else {
			fmt.Fprintf(&golden, "%d\t%s\t%s\n", g, describeValue(groups[g][0]), hex.EncodeToString(valueKey))
		}
		prevRank, prevKey = g, valueKey
	}
	path := "testdata/type_order.golden"
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(golden.String()), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), golden.String())

	// The in-memory sort (on w, which has no index) agrees.
	page, err := c.Find(ctx, e.db, nil, docstore.FindOptions{Sort: []string{"w"}})
	require.NoError(t, err)
	prev := -1
	for _, d := range page.Docs {
		g := rank[d.ID().(int64)]
		require.GreaterOrEqual(t, g, prev)
		prev = g
	}
	// Comparisons (Distinct sorts with them, and keeps one of each equal group).
	vals, err := c.Distinct(ctx, e.db, "w", nil)
	require.NoError(t, err)
	require.Len(t, vals, len(groups))
	// $min across types keeps the smaller in type order.
	_, err = c.Insert(ctx, e.db, docstore.M{"_id": "m", "x": true})
	require.NoError(t, err)
	for g := len(groups) - 1; g >= 0; g-- {
		_, err := c.UpdateByID(ctx, e.db, "m", docstore.M{"$min": docstore.M{"x": groups[g][0]}})
		require.NoError(t, err)
	}
	d, err := c.Get(ctx, e.db, "m")
	require.NoError(t, err)
	require.Nil(t, d.Map()["x"], "null is the smallest")

	// An empty array sorts before null (MongoDB's rule for sort keys).
	_, err = c.Insert(ctx, e.db, docstore.M{"_id": "empty", "w": docstore.A{}})
	require.NoError(t, err)
	page, err = c.Find(ctx, e.db, nil, docstore.FindOptions{Sort: []string{"w"}, Limit: 1})
	require.NoError(t, err)
	require.Equal(t, "empty", page.Docs[0].ID())
}

// rowID reads the integer _id at the end of index key elements: (…, 30, float, remainder).
func rowID(t *testing.T, el tuple.Tuple) int64 {
	n := len(el)
	require.Equal(t, int64(30), el[n-3])
	return int64(el[n-2].(float64)) + el[n-1].(int64)
}

func describeValue(v any) string {
	switch x := v.(type) {
	case time.Time:
		return x.Format(time.RFC3339)
	case []byte:
		return fmt.Sprintf("bytes(%x)", x)
	case string:
		return fmt.Sprintf("%q", x)
	}
	return fmt.Sprintf("%v", v)
}
