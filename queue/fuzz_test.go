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
		ok := func(err error) {
			if err != nil && !errors.Is(err, queue.ErrCorrupt) {
				t.Fatalf("%x: %v", raw, err)
			}
		}
		_, err := s.Read(ctx, db, queue.StreamStart, queue.ReadOptions{})
		ok(err)
		_, err = g.Read(ctx, db, queue.ReadOptions{})
		ok(err)
		_, err = s.Append(ctx, db, []byte("v"), &queue.AppendOptions{IdempotencyKey: []byte("k")})
		ok(err)
		if err := s.Check(ctx, db); err == nil && len(raw) != 12 {
			t.Fatalf("%x: the checker accepted a cursor of %d bytes", raw, len(raw))
		}
		if err := db.Transact(ctx, func(tr kv.Transaction) error {
			tr.ClearRange(prefix.Range())
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	})
}
