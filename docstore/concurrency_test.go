package docstore_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/docstore"
	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
)

// Two transactions updating different fields of one document both commit; two updating the
// same field conflict, and the retry loop applies both; a transaction that read the whole
// document conflicts with any field update.
func TestFieldLevelConflicts(t *testing.T) {
	db := testdb.OpenEmbedded(t, &embedded.Options{})
	e := newEnvWith(t, db, nil)
	c := e.coll("docs")
	require.NoError(t, c.CreateIndex(ctx, db, docstore.Index{Name: "by_a", Fields: []string{"a"}}))
	_, err := c.Insert(ctx, db, docstore.M{"_id": "d", "a": 1, "b": 1, "nested": docstore.M{"x": 1, "y": 1}, "n": 0})
	require.NoError(t, err)

	begin := func() kv.Transaction {
		tr, err := db.CreateTransaction()
		require.NoError(t, err)
		return tr
	}
	update := func(tr kv.Transaction, u docstore.M) {
		res, err := c.UpdateByID(ctx, tr, "d", u)
		require.NoError(t, err)
		require.Equal(t, 1, res.Modified)
	}

	// Different top-level fields, one of them indexed.
	t1, t2 := begin(), begin()
	update(t1, docstore.M{"$set": docstore.M{"a": 2}})
	update(t2, docstore.M{"$set": docstore.M{"b": 2}})
	require.NoError(t, t1.Commit())
	require.NoError(t, t2.Commit(), "disjoint fields do not conflict")

	// Different fields inside one object.
	t1, t2 = begin(), begin()
	update(t1, docstore.M{"$set": docstore.M{"nested.x": 2}})
	update(t2, docstore.M{"$inc": docstore.M{"nested.y": 5}})
	require.NoError(t, t1.Commit())
	require.NoError(t, t2.Commit(), "disjoint nested fields do not conflict")

	d, err := c.Get(ctx, db, "d")
	require.NoError(t, err)
	require.Equal(t, docstore.M{"_id": "d", "a": int64(2), "b": int64(2), "nested": map[string]any{"x": int64(2), "y": int64(6)}, "n": int64(0)}, d.Map())

	// The same field conflicts.
	t1, t2 = begin(), begin()
	update(t1, docstore.M{"$inc": docstore.M{"n": 1}})
	update(t2, docstore.M{"$inc": docstore.M{"n": 1}})
	require.NoError(t, t1.Commit())
	require.ErrorIs(t, t2.Commit(), kv.ErrNotCommitted, "the same field conflicts")

	// A whole-document read conflicts with a field update.
	t1, t2 = begin(), begin()
	_, err = c.Get(ctx, t1, "d")
	require.NoError(t, err)
	_, err = c.Insert(ctx, t1, docstore.M{"_id": "other"}) // t1 writes something, so it checks conflicts
	require.NoError(t, err)
	update(t2, docstore.M{"$set": docstore.M{"b": 3}})
	require.NoError(t, t2.Commit())
	require.ErrorIs(t, t1.Commit(), kv.ErrNotCommitted, "a whole-document read conflicts")

	// Retried through the database, concurrent increments of one field all apply.
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				_, err := c.UpdateByID(ctx, db, "d", docstore.M{"$inc": docstore.M{"n": 1}})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	d, err = c.Get(ctx, db, "d")
	require.NoError(t, err)
	require.Equal(t, int64(81), d.Map()["n"])
}

// A unique index admits one document per key under 8 concurrent writers, with commit faults on.
func TestUniqueIndexConcurrentWriters(t *testing.T) {
	e := newEnv(t)
	c := e.coll("users")
	require.NoError(t, c.CreateIndex(ctx, e.db, docstore.Index{Name: "email", Fields: []string{"email"}, Unique: true}))
	const writers, rounds = 8, 10
	wins := make([]int, rounds)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				_, err := c.Insert(ctx, e.db, docstore.M{"_id": fmt.Sprintf("w%d-r%d", w, r), "email": fmt.Sprintf("user%d@example.com", r)})
				switch {
				case err == nil:
					mu.Lock()
					wins[r]++
					mu.Unlock()
				case errors.Is(err, docstore.ErrDuplicateKey):
				default:
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	for r, n := range wins {
		require.Equal(t, 1, n, "round %d", r)
	}
	n, err := c.Count(ctx, e.db, nil)
	require.NoError(t, err)
	require.Equal(t, int64(rounds), n)
}

// Writers racing to create a collection by their first write, each inserting and then updating
// in one transaction, all commit: a transaction whose handle saw another's creation and opens
// the collection's directory again does not trip over its own versionstamped writes (1036).
func TestWritersRaceToCreateACollection(t *testing.T) {
	for round := range 5 {
		db := testdb.OpenEmbedded(t, &embedded.Options{})
		e := newEnvWith(t, db, nil)
		name := fmt.Sprint("race", round)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for w := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := e.coll(name)
				for i := range 5 {
					id := fmt.Sprintf("w%di%d", w, i)
					errs[w] = db.Transact(ctx, func(tr kv.Transaction) error {
						if _, err := c.Insert(ctx, tr, docstore.M{"_id": id, "n": i}); err != nil {
							return err
						}
						_, err := c.UpdateByID(ctx, tr, id, docstore.M{"$set": docstore.M{"u": w}})
						return err
					})
					if errs[w] != nil {
						return
					}
				}
			}()
		}
		wg.Wait()
		for w, err := range errs {
			require.NoError(t, err, "writer %d", w)
		}
		n, err := e.coll(name).Count(ctx, db, docstore.M{"u": docstore.M{"$exists": true}})
		require.NoError(t, err)
		require.Equal(t, int64(20), n)
	}
}
