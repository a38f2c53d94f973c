package docstore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/docstore"
	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv/embedded"
)

// Each update operator, applied to a stored document and read back.
func TestUpdateOperators(t *testing.T) {
	clock := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	e := newEnvWith(t, testdb.Open(t), &docstore.Options{Clock: func() time.Time { return clock }})
	base := func() docstore.M {
		return docstore.M{"_id": 1, "n": 5, "f": 1.5, "s": "x", "o": docstore.M{"a": 1, "b": docstore.M{"c": 2}},
			"arr": docstore.A{1, 2, 3, 2}, "objs": docstore.A{docstore.M{"k": 1, "v": "a"}, docstore.M{"k": 2, "v": "b"}}}
	}
	cases := []struct {
		name   string
		update string
		check  func(t *testing.T, d docstore.M)
	}{
		{"set nested new", `{"$set": {"o.x.y": 7}}`, func(t *testing.T, d docstore.M) {
			require.Equal(t, map[string]any{"y": int64(7)}, d["o"].(map[string]any)["x"])
		}},
		{"set replaces object", `{"$set": {"o": 3}}`, func(t *testing.T, d docstore.M) { require.Equal(t, int64(3), d["o"]) }},
		{"set object with an _id field", `{"$set": {"o": {"_id": 5, "x": 1}}}`, func(t *testing.T, d docstore.M) {
			require.Equal(t, map[string]any{"_id": int64(5), "x": int64(1)}, d["o"])
		}},
		{"set array element", `{"$set": {"arr.1": "two"}}`, func(t *testing.T, d docstore.M) {
			require.Equal(t, []any{int64(1), "two", int64(3), int64(2)}, d["arr"])
		}},
		{"set pads array", `{"$set": {"arr.5": 9}}`, func(t *testing.T, d docstore.M) {
			require.Equal(t, []any{int64(1), int64(2), int64(3), int64(2), nil, int64(9)}, d["arr"])
		}},
		{"set in array of objects", `{"$set": {"objs.1.v": "B"}}`, func(t *testing.T, d docstore.M) {
			require.Equal(t, "B", d["objs"].([]any)[1].(map[string]any)["v"])
		}},
		{"unset", `{"$unset": {"o.b": ""}}`, func(t *testing.T, d docstore.M) { require.Equal(t, map[string]any{"a": int64(1)}, d["o"]) }},
		{"unset array element nulls it", `{"$unset": {"arr.0": ""}}`, func(t *testing.T, d docstore.M) { require.Nil(t, d["arr"].([]any)[0]) }},
		{"inc int", `{"$inc": {"n": 2, "new": 1}}`, func(t *testing.T, d docstore.M) {
			require.Equal(t, int64(7), d["n"])
			require.Equal(t, int64(1), d["new"])
		}},
		{"inc float", `{"$inc": {"n": 0.5}}`, func(t *testing.T, d docstore.M) { require.Equal(t, 5.5, d["n"]) }},
		{"mul", `{"$mul": {"f": 2, "missing": 3}}`, func(t *testing.T, d docstore.M) {
			require.Equal(t, 3.0, d["f"])
			require.Equal(t, int64(0), d["missing"])
		}},
		{"min max", `{"$min": {"n": 3}, "$max": {"f": 1.0, "s": "y"}}`, func(t *testing.T, d docstore.M) {
			require.Equal(t, int64(3), d["n"])
			require.Equal(t, 1.5, d["f"])
			require.Equal(t, "y", d["s"])
		}},
		{"min across types", `{"$min": {"s": 1}}`, func(t *testing.T, d docstore.M) { require.Equal(t, int64(1), d["s"], "numbers sort before strings") }},
		{"rename", `{"$rename": {"o.a": "top"}}`, func(t *testing.T, d docstore.M) {
			require.Equal(t, int64(1), d["top"])
			require.NotContains(t, d["o"], "a")
		}},
		{"setOnInsert ignored on update", `{"$setOnInsert": {"z": 1}}`, func(t *testing.T, d docstore.M) { require.NotContains(t, d, "z") }},
		{"currentDate", `{"$currentDate": {"at": true}}`, func(t *testing.T, d docstore.M) { require.Equal(t, clock, d["at"]) }},
		{"push", `{"$push": {"arr": 4}}`, func(t *testing.T, d docstore.M) { require.Len(t, d["arr"], 5) }},
		{"push each slice sort", `{"$push": {"arr": {"$each": [0, 9], "$sort": -1, "$slice": 3}}}`, func(t *testing.T, d docstore.M) {
			require.Equal(t, []any{int64(9), int64(3), int64(2)}, d["arr"])
		}},
		{"push each position", `{"$push": {"arr": {"$each": ["a"], "$position": 1}}}`, func(t *testing.T, d docstore.M) {
			require.Equal(t, []any{int64(1), "a", int64(2), int64(3), int64(2)}, d["arr"])
		}},
		{"push sort by field", `{"$push": {"objs": {"$each": [{"k": 0}], "$sort": {"k": -1}}}}`, func(t *testing.T, d docstore.M) {
			objs := d["objs"].([]any)
			require.Equal(t, int64(2), objs[0].(map[string]any)["k"])
			require.Equal(t, int64(0), objs[2].(map[string]any)["k"])
		}},
		{"push creates array", `{"$push": {"fresh": 1}}`, func(t *testing.T, d docstore.M) { require.Equal(t, []any{int64(1)}, d["fresh"]) }},
		{"pop last", `{"$pop": {"arr": 1}}`, func(t *testing.T, d docstore.M) { require.Equal(t, []any{int64(1), int64(2), int64(3)}, d["arr"]) }},
		{"pop first", `{"$pop": {"arr": -1}}`, func(t *testing.T, d docstore.M) { require.Equal(t, []any{int64(2), int64(3), int64(2)}, d["arr"]) }},
		{"pull value", `{"$pull": {"arr": 2}}`, func(t *testing.T, d docstore.M) { require.Equal(t, []any{int64(1), int64(3)}, d["arr"]) }},
		{"pull condition", `{"$pull": {"arr": {"$gte": 2}}}`, func(t *testing.T, d docstore.M) { require.Equal(t, []any{int64(1)}, d["arr"]) }},
		{"pull query", `{"$pull": {"objs": {"k": 1}}}`, func(t *testing.T, d docstore.M) { require.Len(t, d["objs"], 1) }},
		{"pullAll", `{"$pullAll": {"arr": [1, 3]}}`, func(t *testing.T, d docstore.M) { require.Equal(t, []any{int64(2), int64(2)}, d["arr"]) }},
		{"addToSet", `{"$addToSet": {"arr": {"$each": [3, 4, 4.0]}}}`, func(t *testing.T, d docstore.M) {
			require.Equal(t, []any{int64(1), int64(2), int64(3), int64(2), int64(4)}, d["arr"])
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := e.coll("u")
			_, err := c.DeleteMany(ctx, e.db, nil)
			require.NoError(t, err)
			_, err = c.Insert(ctx, e.db, base())
			require.NoError(t, err)
			res, err := c.UpdateOne(ctx, e.db, docstore.M{"_id": 1}, tc.update)
			require.NoError(t, err)
			require.Equal(t, 1, res.Matched)
			d, err := c.Get(ctx, e.db, 1)
			require.NoError(t, err)
			tc.check(t, d.Map())
		})
	}
}

func TestUpdateErrors(t *testing.T) {
	e := newEnv(t)
	c := e.coll("u")
	_, err := c.Insert(ctx, e.db, docstore.M{"_id": 1, "s": "x", "n": int64(9223372036854775807), "arr": docstore.A{1}})
	require.NoError(t, err)
	for _, u := range []string{
		`{"$inc": {"s": 1}}`, `{"$inc": {"n": 1}}`, `{"$set": {"s.x": 1}}`, `{"$push": {"s": 1}}`,
		`{"$set": {"arr.x": 1}}`, `{"$bogus": {"a": 1}}`, `{"a": 1}`, `{"$set": {"a": 1, "a.b": 2}}`,
		`{"$set": {"_id": 2}}`, `{"$inc": {"a": "x"}}`, `{"$set": {"a..b": 1}}`, `{"$pop": {"arr": 2}}`,
		`{"$rename": {"a": 3}}`, `{"$set": {"$x": 1}}`, `{}`, `[1]`, `{"$set": {"x": {"$y": 1}}}`,
	} {
		_, err := c.UpdateOne(ctx, e.db, docstore.M{"_id": 1}, u)
		require.ErrorIs(t, err, docstore.ErrInvalidUpdate, u)
	}
	d, err := c.Get(ctx, e.db, 1)
	require.NoError(t, err)
	require.Equal(t, "x", d.Map()["s"], "failed updates changed nothing")
}

func TestUpsertAndFindOneAndUpdate(t *testing.T) {
	e := newEnv(t)
	c := e.coll("u")
	res, err := c.Upsert(ctx, e.db, docstore.M{"name": "a", "kind.main": "k"}, docstore.M{"$inc": docstore.M{"n": 1}, "$setOnInsert": docstore.M{"created": true}})
	require.NoError(t, err)
	require.NotNil(t, res.UpsertedID)
	res, err = c.Upsert(ctx, e.db, docstore.M{"name": "a"}, docstore.M{"$inc": docstore.M{"n": 1}, "$setOnInsert": docstore.M{"created": false}})
	require.NoError(t, err)
	require.Nil(t, res.UpsertedID)
	require.Equal(t, 1, res.Modified)
	d, err := c.FindOne(ctx, e.db, docstore.M{"name": "a"}, docstore.FindOptions{})
	require.NoError(t, err)
	require.Equal(t, int64(2), d.Map()["n"])
	require.Equal(t, true, d.Map()["created"])
	require.Equal(t, map[string]any{"main": "k"}, d.Map()["kind"])

	before, err := c.FindOneAndUpdate(ctx, e.db, docstore.M{"name": "a"}, docstore.M{"$inc": docstore.M{"n": 10}}, docstore.FindOneAndUpdateOptions{})
	require.NoError(t, err)
	require.Equal(t, int64(2), before.Map()["n"])
	after, err := c.FindOneAndUpdate(ctx, e.db, docstore.M{"name": "a"}, docstore.M{"$inc": docstore.M{"n": 10}}, docstore.FindOneAndUpdateOptions{ReturnAfter: true, Projection: docstore.M{"n": 1, "_id": 0}})
	require.NoError(t, err)
	require.Equal(t, docstore.M{"n": int64(22)}, after.Map())
	_, err = c.FindOneAndUpdate(ctx, e.db, docstore.M{"name": "zz"}, docstore.M{"$inc": docstore.M{"n": 1}}, docstore.FindOneAndUpdateOptions{})
	require.ErrorIs(t, err, docstore.ErrNotFound)
}

// Non-idempotent updates given the database are applied exactly once, however many commits end
// in commit_unknown_result.
func TestIncrementExactlyOnceUnderFaults(t *testing.T) {
	db := testdb.OpenEmbedded(t, &embedded.Options{})
	e := newEnvWith(t, db, nil)
	c := e.coll("counters")
	_, err := c.Insert(ctx, db, docstore.M{"_id": "c", "n": 0})
	require.NoError(t, err)
	db.InjectFaults(docstoreFaults)
	for i := 0; i < 200; i++ {
		_, err := c.UpdateByID(ctx, db, "c", docstore.M{"$inc": docstore.M{"n": 1}, "$push": docstore.M{"log": i}})
		require.NoError(t, err)
	}
	db.InjectFaults(noFaults)
	d, err := c.Get(ctx, db, "c")
	require.NoError(t, err)
	require.Equal(t, int64(200), d.Map()["n"])
	require.Len(t, d.Map()["log"], 200)
}

// A partial update whose path runs through a large (split) string fails cleanly, and one that
// replaces it writes the new value.
func TestUpdateThroughSplitValue(t *testing.T) {
	e := newEnv(t)
	c := e.coll("big")
	big := make([]byte, 250_000)
	for i := range big {
		big[i] = 'a' + byte(i%26)
	}
	_, err := c.Insert(ctx, e.db, docstore.M{"_id": 1, "s": string(big), "n": 1})
	require.NoError(t, err)
	_, err = c.UpdateByID(ctx, e.db, 1, docstore.M{"$set": docstore.M{"s.x": 1}})
	require.ErrorIs(t, err, docstore.ErrInvalidUpdate)
	_, err = c.UpdateByID(ctx, e.db, 1, docstore.M{"$set": docstore.M{"s": "small"}})
	require.NoError(t, err)
	d, err := c.Get(ctx, e.db, 1)
	require.NoError(t, err)
	require.Equal(t, "small", d.Map()["s"])
	_, err = c.UpdateByID(ctx, e.db, 1, docstore.M{"$set": docstore.M{"s": string(big[:150_000])}})
	require.NoError(t, err)
	d, err = c.Get(ctx, e.db, 1)
	require.NoError(t, err)
	require.Equal(t, string(big[:150_000]), d.Map()["s"])
}
