package docstore_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/docstore"
	"github.com/layerkit/layerkit/kv"
)

func explain(t *testing.T, e *env, c *docstore.Collection, filter any, opts docstore.FindOptions) string {
	t.Helper()
	p, err := c.Explain(ctx, e.db, filter, opts)
	require.NoError(t, err)
	return p.String()
}

// The planner picks the index with the longest equality prefix, then a range, then the sort;
// sparse, partial and multikey indexes only where they cannot miss a match.
func TestPlanner(t *testing.T) {
	e := newEnv(t)
	c := e.coll("people")
	seedPeople(t, e, c)
	for _, ix := range []docstore.Index{
		{Name: "city", Fields: []string{"city"}},
		{Name: "city_age", Fields: []string{"city", "age"}},
		{Name: "name", Fields: []string{"name"}, Sparse: true},
		{Name: "adults", Fields: []string{"age"}, Partial: docstore.M{"age": docstore.M{"$gte": 25}}},
		{Name: "tags", Fields: []string{"tags"}},
	} {
		require.NoError(t, c.CreateIndex(ctx, e.db, ix))
	}
	for _, tc := range []struct {
		filter any
		opts   docstore.FindOptions
		want   string
	}{
		{docstore.M{"_id": 3}, docstore.FindOptions{}, `IDs(3) | Fetch`[:6]},
		{docstore.M{"city": "Rome"}, docstore.FindOptions{}, `IndexScan(city: city = "Rome") | Fetch | Filter({"city": {"$eq": "Rome"}})`},
		{docstore.M{"city": "Rome", "age": 21}, docstore.FindOptions{}, `IndexScan(city_age: city = "Rome", age = 21) | Fetch`},
		{docstore.M{"city": "Rome", "age": docstore.M{"$gt": 21, "$lte": 25}}, docstore.FindOptions{}, `IndexScan(city_age: city = "Rome", age > 21, age <= 25) | Fetch`},
		{docstore.M{"city": "Rome"}, docstore.FindOptions{Sort: []string{"-age"}}, `IndexScan(city_age: city = "Rome" reverse) | Fetch`},
		{docstore.M{"city": "Rome"}, docstore.FindOptions{Sort: []string{"age", "-name"}}, `| Sort(age, -name)`},
		{nil, docstore.FindOptions{Sort: []string{"name"}}, `CollScan(all) | Sort(name)`},
		{docstore.M{"name": docstore.M{"$gt": "p1"}}, docstore.FindOptions{}, `IndexScan(name: name > "p1") | Fetch`},
		{docstore.M{"name": nil}, docstore.FindOptions{}, `CollScan(all) | Filter`},
		{docstore.M{"age": 30}, docstore.FindOptions{}, `IndexScan(adults: age = 30) | Fetch`},
		{docstore.M{"age": 20}, docstore.FindOptions{}, `CollScan(all) | Filter`},
		{docstore.M{"age": docstore.M{"$gt": 26}}, docstore.FindOptions{}, `IndexScan(adults: age > 26) | Fetch`},
		{docstore.M{"tags": docstore.M{"$gt": "t1", "$lt": "t3"}}, docstore.FindOptions{}, `IndexScan(tags: tags > "t1" multikey) | Fetch`},
		{docstore.M{"tags": "t1"}, docstore.FindOptions{Sort: []string{"tags"}}, `Sort(tags)`},
		{docstore.M{"tags": docstore.A{"t1", "t2"}}, docstore.FindOptions{}, `CollScan(all)`},
		{docstore.M{"$or": docstore.A{docstore.M{"city": "Rome"}, docstore.M{"age": 3}}}, docstore.FindOptions{}, `CollScan(all) | Filter({"$or": [`},
	} {
		require.Contains(t, explain(t, e, c, tc.filter, tc.opts), tc.want, "%v %v", tc.filter, tc.opts)
	}
	// Each plan returns what a collection scan returns.
	for _, f := range []any{
		docstore.M{"city": "Rome", "age": docstore.M{"$gt": 21, "$lte": 25}},
		docstore.M{"name": docstore.M{"$gt": "p1"}},
		docstore.M{"age": docstore.M{"$gt": 26}},
		docstore.M{"tags": docstore.M{"$gt": "t1", "$lt": "t3"}},
	} {
		var want []any
		all, err := c.Find(ctx, e.db, nil, docstore.FindOptions{})
		require.NoError(t, err)
		pf, err := docstore.ParseFilter(f)
		require.NoError(t, err)
		for _, d := range all.Docs {
			if ok, _ := pf.Matches(d.Map()); ok {
				want = append(want, d.ID())
			}
		}
		got := e.ids(c, f, docstore.FindOptions{Sort: []string{"_id"}})
		require.Equal(t, want, got, "%v", f)
	}
}

func TestIndexKinds(t *testing.T) {
	e := newEnv(t)
	c := e.coll("k")
	require.NoError(t, c.CreateIndex(ctx, e.db, docstore.Index{Name: "ab", Fields: []string{"a", "b"}}))
	require.NoError(t, c.CreateIndex(ctx, e.db, docstore.Index{Name: "u", Fields: []string{"u"}, Unique: true, Sparse: true}))
	_, err := c.Insert(ctx, e.db, docstore.M{"_id": 1, "a": docstore.A{1, 2}, "b": docstore.A{3}})
	require.ErrorIs(t, err, docstore.ErrTooManyIndexEntries, "parallel arrays")
	many := make(docstore.A, docstore.MaxIndexEntriesPerDocument+1)
	for i := range many {
		many[i] = i
	}
	_, err = c.Insert(ctx, e.db, docstore.M{"_id": 1, "a": many})
	require.ErrorIs(t, err, docstore.ErrTooManyIndexEntries)
	_, err = c.Insert(ctx, e.db, docstore.M{"_id": 1, "a": many[:1000]})
	require.NoError(t, err)
	// Sparse unique: documents without the field do not collide.
	_, err = c.Insert(ctx, e.db, docstore.M{"_id": 2})
	require.NoError(t, err)
	_, err = c.Insert(ctx, e.db, docstore.M{"_id": 3, "u": 1})
	require.NoError(t, err)
	_, err = c.Insert(ctx, e.db, docstore.M{"_id": 4, "u": 1.0})
	require.ErrorIs(t, err, docstore.ErrDuplicateKey, "1 and 1.0 are one key")
	_, err = c.UpdateByID(ctx, e.db, 2, docstore.M{"$set": docstore.M{"u": 1}})
	require.ErrorIs(t, err, docstore.ErrDuplicateKey)
	infos, err := c.Indexes(ctx, e.db)
	require.NoError(t, err)
	require.Len(t, infos, 2)
	require.True(t, infos[0].Multikey)
	require.False(t, infos[1].Multikey)
	require.True(t, infos[0].Readable)

	err = c.CreateIndex(ctx, e.db, docstore.Index{Name: "ab", Fields: []string{"b"}})
	require.ErrorIs(t, err, docstore.ErrIndexExists)
	require.NoError(t, c.CreateIndex(ctx, e.db, docstore.Index{Name: "ab", Fields: []string{"a", "b"}}), "the same definition again")
	for _, bad := range []docstore.Index{{}, {Name: "x"}, {Name: "x", Fields: []string{"a", "a"}}, {Name: "x", Fields: []string{"a", "b"}, TTL: true}, {Name: "x", Fields: []string{"a"}, Partial: "{"}} {
		require.ErrorIs(t, c.CreateIndex(ctx, e.db, bad), docstore.ErrInvalidIndex, "%+v", bad)
	}
	ok, err := c.DropIndex(ctx, e.db, "ab")
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = c.DropIndex(ctx, e.db, "ab")
	require.NoError(t, err)
	require.False(t, ok)
}

// An index built online over existing documents while writers run, stopped part way (as a
// crash would) and resumed, ends with exactly the entries its documents call for.
func TestOnlineIndexBuild(t *testing.T) {
	e := newEnv(t)
	c := e.coll("big")
	var docs []any
	for i := 0; i < 500; i++ {
		docs = append(docs, docstore.M{"_id": i, "v": i % 37, "tags": docstore.A{i % 5, i % 7}})
	}
	_, err := c.InsertMany(ctx, e.db, docs)
	require.NoError(t, err)
	// Both indexes in one transaction, retried as any caller's would be (the test database
	// injects commit faults).
	require.NoError(t, e.db.Transact(ctx, func(tr kv.Transaction) error {
		if err := c.CreateIndex(ctx, tr, docstore.Index{Name: "v", Fields: []string{"v"}}); err != nil {
			return err
		}
		return c.CreateIndex(ctx, tr, docstore.Index{Name: "tags", Fields: []string{"tags"}})
	}))
	infos, err := c.Indexes(ctx, e.db)
	require.NoError(t, err)
	require.False(t, infos[0].Readable, "500 documents are too many to index inside the caller's transaction")
	require.Contains(t, explain(t, e, c, docstore.M{"v": 3}, docstore.FindOptions{}), "CollScan", "a building index is not used")

	// Two batches, then a "crash".
	require.NoError(t, c.BuildIndex(ctx, e.db, "v", docstore.BuildOptions{BatchDocs: 50, MaxBatches: 2}))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 100; i++ {
			id := (i * 7) % 520
			var err error
			switch i % 3 {
			case 0:
				_, err = c.UpdateByID(ctx, e.db, id, docstore.M{"$set": docstore.M{"v": i, "tags": docstore.A{i}}})
			case 1:
				_, err = c.Delete(ctx, e.db, docstore.M{"_id": id})
			default:
				_, err = c.Insert(ctx, e.db, docstore.M{"_id": fmt.Sprint("new", i), "v": i})
			}
			if err != nil {
				t.Error(err)
			}
		}
	}()
	require.NoError(t, c.BuildIndex(ctx, e.db, "v", docstore.BuildOptions{BatchDocs: 40}))
	require.NoError(t, c.BuildIndex(ctx, e.db, "tags", docstore.BuildOptions{BatchDocs: 64}))
	wg.Wait()
	require.NoError(t, c.Check(ctx, e.db))
	require.Contains(t, explain(t, e, c, docstore.M{"v": 3}, docstore.FindOptions{}), "IndexScan(v")
	n, err := c.Count(ctx, e.db, docstore.M{"v": 3})
	require.NoError(t, err)
	var want int64
	all, err := c.Find(ctx, e.db, nil, docstore.FindOptions{})
	require.NoError(t, err)
	for _, d := range all.Docs {
		if v, _ := d.Get("v"); v == int64(3) {
			want++
		}
	}
	require.Equal(t, want, n)
}

// A unique index whose build meets a duplicate is dropped, and the error says why.
func TestUniqueBuildFailureDropsIndex(t *testing.T) {
	e := newEnv(t)
	c := e.coll("dups")
	_, err := c.InsertMany(ctx, e.db, []any{docstore.M{"_id": 1, "k": "a"}, docstore.M{"_id": 2, "k": "a"}})
	require.NoError(t, err)
	err = c.CreateIndex(ctx, e.db, docstore.Index{Name: "k", Fields: []string{"k"}, Unique: true})
	require.ErrorIs(t, err, docstore.ErrDuplicateKey)
	infos, err := c.Indexes(ctx, e.db)
	require.NoError(t, err)
	require.Empty(t, infos)
}

func TestSchemaValidation(t *testing.T) {
	e := newEnv(t)
	c, err := e.ds.CreateCollection(ctx, e.db, "valid", docstore.CollectionOptions{Schema: `{
		"type": "object", "required": ["name"],
		"properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}, "born": {"type": "string", "format": "date-time"}}
	}`})
	require.NoError(t, err)
	_, err = c.Insert(ctx, e.db, docstore.M{"_id": 1, "name": "a", "age": 3})
	require.NoError(t, err)
	_, err = c.Insert(ctx, e.db, docstore.M{"_id": 2, "age": 3})
	require.ErrorIs(t, err, docstore.ErrValidation)
	_, err = c.UpdateByID(ctx, e.db, 1, docstore.M{"$set": docstore.M{"age": -1}})
	require.ErrorIs(t, err, docstore.ErrValidation)
	_, err = c.UpdateByID(ctx, e.db, 1, docstore.M{"$inc": docstore.M{"age": 1}})
	require.NoError(t, err)
	err = c.Replace(ctx, e.db, 1, docstore.M{"name": 5})
	require.ErrorIs(t, err, docstore.ErrValidation)
	_, err = e.ds.CreateCollection(ctx, e.db, "valid", docstore.CollectionOptions{})
	require.ErrorIs(t, err, docstore.ErrCollectionExists)
	_, err = e.ds.CreateCollection(ctx, e.db, "bad", docstore.CollectionOptions{Schema: `{"type": 12}`})
	require.ErrorIs(t, err, docstore.ErrInvalidSchema)
	_, err = e.ds.CreateCollection(ctx, e.db, "remote", docstore.CollectionOptions{Schema: `{"$ref": "https://example.com/schema.json"}`})
	require.ErrorIs(t, err, docstore.ErrInvalidSchema, "nothing is loaded from outside")
	names, err := e.ds.ListCollections(ctx, e.db)
	require.NoError(t, err)
	require.Equal(t, []string{"valid"}, names)
	ok, err := e.ds.DropCollection(ctx, e.db, "valid")
	require.NoError(t, err)
	require.True(t, ok)
	_, err = c.Get(ctx, e.db, 1)
	require.ErrorIs(t, err, docstore.ErrNotFound)
}
