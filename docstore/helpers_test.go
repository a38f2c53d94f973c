package docstore_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/directory"
	"github.com/layerkit/layerkit/docstore"
	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/subspace"
)

var ctx = context.Background()

// env is a test database with a docstore at ("test"); the consistency checker runs on it when
// the test ends.
type env struct {
	t  testing.TB
	db kv.Database
	ds *docstore.DB
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvWith(t, testdb.Open(t), nil)
}

func newEnvWith(t testing.TB, db kv.Database, opts *docstore.Options) *env {
	t.Helper()
	testdb.Check(t, db, "docstore", docstore.Check([]string{"test"}, opts))
	ds, err := docstore.Open(ctx, db, []string{"test"}, opts)
	require.NoError(t, err)
	return &env{t: t, db: db, ds: ds}
}

func (e *env) coll(name string) *docstore.Collection { return e.ds.Collection(name) }

// collSubspace returns the subspace (P) of a collection of the test docstore, for tests that
// read its keys raw.
func (e *env) collSubspace(name string) subspace.Subspace {
	e.t.Helper()
	dir, err := directory.Open(ctx, e.db, []string{"test", name}, nil)
	require.NoError(e.t, err)
	ss, err := dir.Subspace()
	require.NoError(e.t, err)
	return ss
}

// rawRows reads the keys from begin to end (nil: every key starting with begin).
func (e *env) rawRows(begin, end []byte) []kv.KeyValue {
	e.t.Helper()
	if end == nil {
		end = append(bytes.Clone(begin), 0xff)
	}
	rows, err := kv.ReadTransact(ctx, e.db, func(tr kv.ReadTransaction) ([]kv.KeyValue, error) {
		return tr.GetRange(kv.Range{Begin: begin, End: end}, kv.RangeOptions{}).GetSlice()
	})
	require.NoError(e.t, err)
	return rows
}

// find returns the _ids of a query's results, in order.
func (e *env) ids(c *docstore.Collection, filter any, opts docstore.FindOptions) []any {
	e.t.Helper()
	page, err := c.Find(ctx, e.db, filter, opts)
	require.NoError(e.t, err)
	out := []any{}
	for _, d := range page.Docs {
		out = append(out, d.ID())
	}
	return out
}

// docstoreFaults is a high rate of injected commit faults, for the tests that prove writes safe
// to retry.
var docstoreFaults = kv.Faults{NotCommitted: 0.1, UnknownApplied: 0.15, UnknownNotApplied: 0.1}

var noFaults = kv.Faults{}

// pageAll runs a query page by page, each page its own transaction, until the continuation
// runs out, and returns the _ids in order and the plan.
func (e *env) pageAll(c *docstore.Collection, filter any, opts docstore.FindOptions) ([]any, string) {
	e.t.Helper()
	got := []any{}
	plan := ""
	for i := 0; ; i++ {
		require.Less(e.t, i, 1000, "too many pages")
		page, err := c.Find(ctx, e.db, filter, opts)
		require.NoError(e.t, err, "query %v %+v", filter, opts)
		plan = page.Plan.String()
		for _, d := range page.Docs {
			got = append(got, d.ID())
		}
		if page.Continuation == nil {
			return got, plan
		}
		opts.Continuation = page.Continuation
	}
}
