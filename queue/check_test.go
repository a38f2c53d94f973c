package queue_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/queue"
	"github.com/layerkit/layerkit/subspace"
	"github.com/layerkit/layerkit/tuple"
)

// The stream checker finds each kind of damage it is meant to find.
func TestStreamCheckFindsDamage(t *testing.T) {
	prefix := subspace.Sub("damaged")
	s, err := queue.NewStream(prefix, nil)
	require.NoError(t, err)
	id := queue.EntryID{0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0}
	entry := func(id queue.EntryID) []byte { return prefix.Pack(tuple.Tuple{1, id.Versionstamp()}) }
	for _, c := range []struct {
		name  string
		write func(tr kv.Transaction)
		want  string
	}{
		{"bad entry value", func(tr kv.Transaction) { tr.Set(entry(id), []byte{9}) }, "unknown format"},
		{"entry key with a suffix", func(tr kv.Transaction) { tr.Set(append(entry(id), 0x14), []byte{1, 0}) }, "is not a versionstamp"},
		{"stray key", func(tr kv.Transaction) { tr.Set(prefix.Pack(tuple.Tuple{42}), nil) }, "not part of a stream's layout"},
		{"short cursor", func(tr kv.Transaction) { tr.Set(prefix.Pack(tuple.Tuple{6, "g"}), []byte{1}) }, `cursor of group "g"`},
		{"entry before the trim point", func(tr kv.Transaction) {
			tr.Set(entry(id), []byte{1, 0})
			tr.Set(prefix.Pack(tuple.Tuple{7}), queue.StreamEnd[:])
		}, "orders before the trim point"},
		{"idempotency record without expiry entry", func(tr kv.Transaction) {
			tr.Set(prefix.Pack(tuple.Tuple{4, []byte("k")}), make([]byte, 20))
		}, "lacks its expiry entry"},
		{"expiry entry without record", func(tr kv.Transaction) {
			tr.Set(prefix.Pack(tuple.Tuple{5, 100, []byte("k")}), nil)
		}, "has no record with that expiry"},
		{"bad trigger", func(tr kv.Transaction) { tr.Set(prefix.Pack(tuple.Tuple{8}), []byte{1}) }, "trigger of 1 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := testdb.OpenEmbedded(t, &embedded.Options{})
			_, err := s.Append(ctx, db, []byte("fine"), nil)
			require.NoError(t, err)
			require.NoError(t, s.Check(ctx, db), "a healthy stream passes")
			require.NoError(t, db.Transact(ctx, func(tr kv.Transaction) error { c.write(tr); return nil }))
			err = queue.CheckStream(prefix)(ctx, db)
			require.ErrorContains(t, err, c.want)
			require.ErrorContains(t, err, "stream at")
		})
	}
}

// The queue checker finds each kind of damage it is meant to find.
func TestQueueCheckFindsDamage(t *testing.T) {
	prefix := subspace.Sub("damaged")
	key := func(elems ...any) []byte { return prefix.Pack(tuple.Tuple(elems)) }
	for _, c := range []struct {
		name  string
		write func(tr kv.Transaction, m queue.Message)
		want  string
	}{
		{"counter off", func(tr kv.Transaction, m queue.Message) {
			tr.Set(key(6, int(queue.Ready)), []byte{5, 0, 0, 0, 0, 0, 0, 0})
		}, "ready counter is 5, a recount finds 1"},
		{"message without its schedule key", func(tr kv.Transaction, m queue.Message) {
			tr.Clear(key(2, 0, m.VisibleAt.UnixMilli(), m.ID.Versionstamp()))
		}, "lacks its schedule key"},
		{"schedule key without message", func(tr kv.Transaction, m queue.Message) {
			tr.Set(key(2, 0, int64(7), queue.EntryID{9}.Versionstamp()), nil)
		}, "belongs to no message"},
		{"dead and live", func(tr kv.Transaction, m queue.Message) {
			tr.Set(key(3, m.ID.Versionstamp()), []byte{0x28, 4})
		}, "both in the queue and dead"},
		{"lane not registered", func(tr kv.Transaction, m queue.Message) {
			tr.Clear(key(10, 0))
		}, "not registered"},
		{"undecodable message", func(tr kv.Transaction, m queue.Message) {
			tr.Set(key(1, m.ID.Versionstamp()), []byte{0xff})
		}, "corrupt data"},
		{"stray key", func(tr kv.Transaction, m queue.Message) { tr.Set(key("x"), nil) }, "not part of a queue's layout"},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := testdb.OpenEmbedded(t, &embedded.Options{})
			q, err := queue.NewQueue(prefix, nil)
			require.NoError(t, err)
			f, err := q.Enqueue(ctx, db, []byte("fine"), nil)
			require.NoError(t, err)
			id, err := f.Get()
			require.NoError(t, err)
			m, ok, err := q.Get(ctx, db, id)
			require.NoError(t, err)
			require.True(t, ok)
			require.NoError(t, q.Check(ctx, db), "a healthy queue passes")
			require.NoError(t, db.Transact(ctx, func(tr kv.Transaction) error { c.write(tr, m); return nil }))
			err = queue.Check(prefix)(ctx, db)
			require.ErrorContains(t, err, c.want)
			require.ErrorContains(t, err, "queue at")
		})
	}
}
