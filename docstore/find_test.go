package docstore_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/docstore"
)

func seedPeople(t *testing.T, e *env, c *docstore.Collection) {
	t.Helper()
	cities := []string{"Paris", "Rome", "Oslo"}
	var docs []any
	for i := 0; i < 30; i++ {
		docs = append(docs, docstore.M{"_id": i, "name": fmt.Sprintf("p%02d", i), "age": 20 + i%10, "city": cities[i%3],
			"tags": docstore.A{fmt.Sprintf("t%d", i%4), fmt.Sprintf("t%d", (i+1)%4)}})
	}
	_, err := c.InsertMany(ctx, e.db, docs)
	require.NoError(t, err)
}

func TestFindSortProjectSkipLimit(t *testing.T) {
	e := newEnv(t)
	c := e.coll("people")
	seedPeople(t, e, c)
	got := e.ids(c, docstore.M{"city": "Rome", "age": docstore.M{"$gte": 25}}, docstore.FindOptions{Sort: []string{"-age", "name"}})
	require.Equal(t, []any{int64(19), int64(28), int64(7), int64(16), int64(25)}, got)
	page, err := c.Find(ctx, e.db, docstore.M{"city": "Oslo"}, docstore.FindOptions{Sort: []string{"name"}, Skip: 2, Limit: 3, Projection: docstore.M{"name": 1, "_id": 0}})
	require.NoError(t, err)
	require.Len(t, page.Docs, 3)
	require.Equal(t, docstore.M{"name": "p08"}, page.Docs[0].Map())
	n, err := c.Count(ctx, e.db, docstore.M{"tags": "t1"})
	require.NoError(t, err)
	require.Equal(t, int64(16), n)
	vals, err := c.Distinct(ctx, e.db, "tags", docstore.M{"age": docstore.M{"$lt": 22}})
	require.NoError(t, err)
	require.Equal(t, []any{"t0", "t1", "t2", "t3"}, vals)
	vals, err = c.Distinct(ctx, e.db, "city", nil)
	require.NoError(t, err)
	require.Equal(t, []any{"Oslo", "Paris", "Rome"}, vals)
}

func TestProjection(t *testing.T) {
	e := newEnv(t)
	c := e.coll("p")
	_, err := c.Insert(ctx, e.db, docstore.M{"_id": 1, "a": docstore.A{docstore.M{"b": 1, "c": 2}, 3}, "d": docstore.M{"e": 1, "f": 2}, "g": 1})
	require.NoError(t, err)
	for _, tc := range []struct {
		proj string
		want docstore.M
	}{
		{`{"a.b": 1}`, docstore.M{"_id": int64(1), "a": []any{map[string]any{"b": int64(1)}}}},
		{`{"d.e": 1, "_id": 0}`, docstore.M{"d": map[string]any{"e": int64(1)}}},
		{`{"a.c": 0, "d": 0}`, docstore.M{"_id": int64(1), "a": []any{map[string]any{"b": int64(1)}, int64(3)}, "g": int64(1)}},
	} {
		page, err := c.Find(ctx, e.db, nil, docstore.FindOptions{Projection: tc.proj})
		require.NoError(t, err)
		require.Equal(t, tc.want, page.Docs[0].Map(), tc.proj)
	}
	_, err = c.Find(ctx, e.db, nil, docstore.FindOptions{Projection: `{"a": 1, "g": 0}`})
	require.ErrorIs(t, err, docstore.ErrInvalidFilter)
}

// Every page of a query, fetched in its own transaction with a continuation, adds up to the
// whole result without duplicates or gaps, for each kind of plan.
func TestContinuationsAcrossTransactions(t *testing.T) {
	e := newEnv(t)
	c := e.coll("people")
	seedPeople(t, e, c)
	require.NoError(t, c.CreateIndex(ctx, e.db, docstore.Index{Name: "by_city_age", Fields: []string{"city", "age"}}))
	require.NoError(t, c.CreateIndex(ctx, e.db, docstore.Index{Name: "by_tags", Fields: []string{"tags"}}))
	queries := []struct {
		filter any
		opts   docstore.FindOptions
		plan   string
	}{
		{nil, docstore.FindOptions{}, "CollScan(all)"},
		{docstore.M{"_id": docstore.M{"$gte": 5}}, docstore.FindOptions{Sort: []string{"-_id"}}, "CollScan(_id >= 5 reverse)"},
		{docstore.M{"city": "Paris"}, docstore.FindOptions{}, "IndexScan(by_city_age: city = \"Paris\")"},
		{docstore.M{"city": "Paris", "age": docstore.M{"$gt": 22}}, docstore.FindOptions{Sort: []string{"-age"}}, "reverse"},
		{docstore.M{"tags": docstore.M{"$gte": "t1"}}, docstore.FindOptions{}, "multikey"},
		{docstore.M{"age": docstore.M{"$lt": 25}}, docstore.FindOptions{Sort: []string{"name"}}, "Sort(name)"},
		{docstore.M{"_id": docstore.M{"$in": docstore.A{3, 1, 2, 9, 40}}}, docstore.FindOptions{}, "IDs(1, 2, 3, 9, 40)"},
	}
	for _, q := range queries {
		all := e.ids(c, q.filter, q.opts)
		require.NotEmpty(t, all)
		plan, err := c.Explain(ctx, e.db, q.filter, q.opts)
		require.NoError(t, err)
		require.Contains(t, plan.String(), q.plan)
		for _, size := range []int{1, 2, 7} {
			opts := q.opts
			opts.Limit = size
			paged, _ := e.pageAll(c, q.filter, opts)
			require.Equal(t, all, paged, "%s, pages of %d", plan, size)
		}
		// A scan limit pages too, whatever the matches.
		opts := q.opts
		opts.ScanLimit = 3
		paged, _ := e.pageAll(c, q.filter, opts)
		require.Equal(t, all, paged, "%s, scan limit", plan)
	}
	_, err := c.Find(ctx, e.db, docstore.M{"city": "Rome"}, docstore.FindOptions{Continuation: []byte("junk")})
	require.ErrorIs(t, err, docstore.ErrInvalidContinuation)
	page, err := c.Find(ctx, e.db, docstore.M{"city": "Paris"}, docstore.FindOptions{Limit: 1})
	require.NoError(t, err)
	_, err = c.Find(ctx, e.db, docstore.M{"city": "Rome"}, docstore.FindOptions{Continuation: page.Continuation})
	require.ErrorIs(t, err, docstore.ErrInvalidContinuation, "a continuation of another query")
}
