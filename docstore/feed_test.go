package docstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/docstore"
	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/queue"
)

// Every write appears once in the change feed, in commit order, even with commit faults
// forcing retries; readers resume from a cursor and consumer groups advance theirs in their
// own transactions.
func TestChangeFeed(t *testing.T) {
	db := testdb.OpenEmbedded(t, &embedded.Options{})
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := newClock(start)
	e := newEnvWith(t, db, &docstore.Options{Clock: clock.now})
	c, err := e.ds.CreateCollection(ctx, db, "feed", docstore.CollectionOptions{ChangeFeed: true})
	require.NoError(t, err)
	require.NoError(t, c.CreateIndex(ctx, db, docstore.Index{Name: "ttl", Fields: []string{"at"}, TTL: true, ExpireAfter: time.Minute}))
	db.InjectFaults(docstoreFaults)
	_, err = c.Insert(ctx, db, docstore.M{"_id": 1, "a": 1, "o": docstore.M{"x": 1}})
	require.NoError(t, err)
	_, err = c.InsertMany(ctx, db, []any{docstore.M{"_id": 2}, docstore.M{"_id": 3, "at": start}})
	require.NoError(t, err)
	_, err = c.UpdateByID(ctx, db, 1, docstore.M{"$set": docstore.M{"a": 2, "o.x": 2, "o.y": 1}, "$inc": docstore.M{"n": 1}})
	require.NoError(t, err)
	_, err = c.UpdateByID(ctx, db, 1, docstore.M{"$set": docstore.M{"a": 2}}) // changes nothing: no entry
	require.NoError(t, err)
	require.NoError(t, c.Replace(ctx, db, 2, docstore.M{"b": 1}))
	_, err = c.UpdateMany(ctx, db, docstore.M{"_id": docstore.M{"$lte": 2}}, docstore.M{"$set": docstore.M{"z": true}})
	require.NoError(t, err)
	_, err = c.Delete(ctx, db, docstore.M{"_id": 2})
	require.NoError(t, err)
	clock.advance(2 * time.Minute)
	n, err := c.Sweep(ctx, db, docstore.SweepOptions{})
	require.NoError(t, err)
	db.InjectFaults(noFaults)
	require.Equal(t, 1, n)

	feed, err := c.ChangeFeed(ctx, db)
	require.NoError(t, err)
	var got []string
	cursor := queue.StreamStart
	for {
		changes, next, err := feed.Read(ctx, db, cursor, 3)
		require.NoError(t, err)
		if len(changes) == 0 {
			break
		}
		for _, ch := range changes {
			got = append(got, fmt.Sprintf("%s %v %v %v", ch.Op, ch.ID, ch.Paths, ch.Expired))
			want := start
			if ch.Expired {
				want = start.Add(2 * time.Minute)
			}
			require.Equal(t, want, ch.Time.UTC(), "entries carry the writer's clock")
		}
		cursor = next
	}
	require.Equal(t, []string{
		"insert 1 [] false",
		"insert 2 [] false",
		"insert 3 [] false",
		"update 1 [a n o.x o.y] false",
		"replace 2 [] false",
		"update 1 [z] false",
		"update 2 [z] false",
		"delete 2 [] false",
		"delete 3 [] true",
	}, got)

	// A consumer group: counts deletes exactly once, its cursor advancing with its work.
	g, err := feed.Group("deletes")
	require.NoError(t, err)
	deletes := []byte("deletes")
	for {
		n, err := kv.Transact(ctx, db, func(tr kv.Transaction) (int, error) {
			page, err := g.Read(ctx, tr, queue.ReadOptions{Limit: 4})
			if err != nil || len(page.Entries) == 0 {
				return 0, err
			}
			for _, en := range page.Entries {
				ch, err := docstore.DecodeChange(en)
				if err != nil {
					return 0, err
				}
				if ch.Op == docstore.OpDelete {
					tr.Atomic(kv.Add, deletes, []byte{1, 0, 0, 0, 0, 0, 0, 0})
				}
			}
			return len(page.Entries), g.Advance(ctx, tr, page.Cursor)
		})
		require.NoError(t, err)
		if n == 0 {
			break
		}
	}
	v, err := kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) ([]byte, error) { return tr.Get(deletes).Get() })
	require.NoError(t, err)
	require.Equal(t, byte(2), v[0])

	// Off: nothing more is appended.
	require.NoError(t, c.SetChangeFeed(ctx, db, false))
	_, err = c.Insert(ctx, db, docstore.M{"_id": 9})
	require.NoError(t, err)
	changes, _, err := feed.Read(ctx, db, cursor, 0)
	require.NoError(t, err)
	require.Empty(t, changes)
}
