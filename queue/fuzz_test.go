package queue_test

import (
	"context"
	"errors"
	"testing"

	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/queue"
	"github.com/layerkit/layerkit/subspace"
)

// FuzzParseEntryID: any text parses to an ID whose String is the text in lower case, or fails
// with ErrInvalidID.
func FuzzParseEntryID(f *testing.F) {
	f.Add("000000000000000900010002")
	f.Add("FFFFFFFFFFFFFFFFFFFFFFFF")
	f.Add("0")
	f.Add("zz0000000000000900010002")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := queue.ParseEntryID(s)
		if err != nil {
			if !errors.Is(err, queue.ErrInvalidID) {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		back, err := queue.ParseEntryID(id.String())
		if err != nil || back != id {
			t.Fatalf("%q: round trip gave %v, %v", s, back, err)
		}
	})
}

// FuzzStoredEntry: arbitrary bytes stored as a stream entry, a group cursor or an idempotency
// record never panic a read; they decode or fail with ErrCorrupt.
func FuzzStoredEntry(f *testing.F) {
	f.Add([]byte{1, 0x80, 0x01, 'x'})
	f.Add([]byte{1})
	f.Add([]byte{2, 0})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	// An idempotency record as a queue's EnqueueMany writes it (with a count): a stream has none.
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3})
	db := testdb.OpenEmbedded(f, &embedded.Options{})
	prefix := subspace.Sub("fuzz")
	s, err := queue.NewStream(prefix, nil)
	if err != nil {
		f.Fatal(err)
	}
	g, err := s.Group("g")
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	id := queue.EntryID{0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0}
	entryKey := append(prefix.Pack(nil), append([]byte{0x15, 1, 0x33}, id[:]...)...)
	groupKey := prefix.Pack([]any{6, "g"})
	idemKey := prefix.Pack([]any{4, []byte("k")})
	f.Fuzz(func(t *testing.T, raw []byte) {
		if err := db.Transact(ctx, func(tr kv.Transaction) error {
			tr.Set(entryKey, raw)
			tr.Set(groupKey, raw)
			tr.Set(idemKey, raw)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		ok := func(err error) { corruptOrNil(t, raw, err) }
		_, err := s.Read(ctx, db, queue.StreamStart, queue.ReadOptions{})
		ok(err)
		_, err = g.Read(ctx, db, queue.ReadOptions{})
		ok(err)
		_, err = s.Append(ctx, db, []byte("v"), &queue.AppendOptions{IdempotencyKey: []byte("k")})
		ok(err)
		if err := s.Check(ctx, db); err == nil && len(raw) != 12 {
			t.Fatalf("%x: the checker accepted a cursor of %d bytes", raw, len(raw))
		}
		clearPrefix(t, db, prefix)
	})
}

// FuzzStoredMessage: arbitrary bytes stored as a queue message (in the queue and as a dead
// letter), as a counter or as an idempotency record never panic a peek, receive, get, stats,
// redrive or keyed enqueue; they decode or fail with ErrCorrupt (or, for a well-formed record of
// another number of messages, the enqueue fails with ErrInvalidArgument).
func FuzzStoredMessage(f *testing.F) {
	f.Add([]byte{0x28, 0x01})
	f.Add([]byte{0x0a, 0x01, 'x', 0x28, 0x03, 0x38, 0x01})
	f.Add([]byte{0x28, 0x09})
	f.Add([]byte{0xff, 0xff})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2})
	db := testdb.OpenEmbedded(f, &embedded.Options{})
	prefix := subspace.Sub("fuzzq")
	q, err := queue.NewQueue(prefix, nil)
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	id := queue.EntryID{0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if err := db.Transact(ctx, func(tr kv.Transaction) error {
			tr.Set(prefix.Pack([]any{1, id.Versionstamp()}), raw)
			tr.Set(prefix.Pack([]any{2, 0, 0, id.Versionstamp()}), nil)
			tr.Set(prefix.Pack([]any{3, id.Versionstamp()}), raw)
			tr.Set(prefix.Pack([]any{6, 1}), raw)
			tr.Set(prefix.Pack([]any{10, 0}), nil)
			tr.Set(prefix.Pack([]any{4, []byte("k")}), raw)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		ok := func(err error) { corruptOrNil(t, raw, err) }
		_, err := q.Peek(ctx, db, queue.PeekOptions{})
		ok(err)
		_, _, err = q.Get(ctx, db, id)
		ok(err)
		_, err = q.Stats(ctx, db)
		ok(err)
		_, err = q.PeekDead(ctx, db, queue.PeekOptions{})
		ok(err)
		ls, err := q.Receive(ctx, db, queue.ReceiveOptions{Max: 2})
		ok(err)
		if len(ls) > 0 {
			ok(q.Ack(ctx, db, ls...))
		}
		_, err = q.Redrive(ctx, db, queue.RedriveOptions{})
		ok(err)
		fm, err := q.EnqueueMany(ctx, db, [][]byte{[]byte("a"), []byte("b")}, &queue.EnqueueOptions{IdempotencyKey: []byte("k")})
		if errors.Is(err, queue.ErrInvalidArgument) && (len(raw) == 20 || len(raw) == 24) {
			err = nil // a well-formed record of 1 message (20 bytes) or of n > 2 (24 bytes), not of these 2
		}
		ok(err)
		if err == nil && fm != nil {
			if ids, err := fm.Get(); err == nil && len(ids) != 2 {
				t.Fatalf("%x: %d IDs for two messages", raw, len(ids))
			}
		}
		_ = q.Check(ctx, db)
		clearPrefix(t, db, prefix)
	})
}

// clearPrefix removes every key under prefix.
func clearPrefix(t *testing.T, db kv.Database, prefix subspace.Subspace) {
	t.Helper()
	if err := db.Transact(context.Background(), func(tr kv.Transaction) error {
		tr.ClearRange(kv.Range{Begin: prefix.Bytes(), End: append(prefix.Bytes(), 0xff)})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// corruptOrNil fails the test unless err is nil or wraps ErrCorrupt.
func corruptOrNil(t *testing.T, raw []byte, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, queue.ErrCorrupt) {
		t.Fatalf("%x: %v", raw, err)
	}
}
