package directory_test

import (
	"context"
	"testing"

	"github.com/layerkit/layerkit/directory"
	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
)

// FuzzDamagedMetadata writes arbitrary key/value pairs into the node subspace of a small valid
// tree and runs every operation over it: damaged metadata must produce errors, never a panic or
// a loop. The input is a sequence of records: key length, key, value length, value (lengths
// one byte each); keys are placed under 0xfe.
func FuzzDamagedMetadata(f *testing.F) {
	// A cycle: the child "x" of the root points back at the prefix 15 01 of "a", whose node
	// lists itself as its own child.
	f.Add([]byte("\x06\x01\x15\x01\x00\x14\x02\x02\x15\x01"))
	// A short version value, and a child entry with an empty prefix.
	f.Add([]byte("\x0c\x01\xfe\x00\x01version\x00\x02\x01\x00\x08\x01\xfe\x00\x14\x02z\x00\x00"))
	// A layer key with a non-tuple child entry.
	f.Add([]byte("\x05\x01\x15\x01\x00\x14\x01\xff"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		db := testdb.OpenEmbedded(t, &embedded.Options{})
		if _, err := directory.CreateOrOpen(ctx, db, []string{"a", "b"}, nil); err != nil {
			t.Fatal(err)
		}
		_, err := kv.Transact(ctx, db, func(tr kv.Transaction) (struct{}, error) {
			for rest := data; len(rest) > 0; {
				n := int(rest[0])
				rest = rest[1:]
				if n > len(rest) {
					break
				}
				key := append([]byte{0xfe}, rest[:n]...)
				rest = rest[n:]
				var value []byte
				if len(rest) > 0 {
					m := int(rest[0])
					rest = rest[1:]
					if m > len(rest) {
						m = len(rest)
					}
					value, rest = rest[:m], rest[m:]
				}
				tr.Set(key, value)
			}
			return struct{}{}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		paths := [][]string{{}, {"a"}, {"a", "b"}, {"x"}, {"a", "x", "y"}, {"z"}}
		for _, p := range paths {
			_, _ = directory.Open(ctx, db, p, nil)
			_, _ = directory.Exists(ctx, db, p)
			_, _ = directory.List(ctx, db, p)
			_, _ = directory.CreateOrOpen(ctx, db, append(append([]string{}, p...), "new"), nil)
		}
		_, _ = directory.Move(ctx, db, []string{"a"}, []string{"m"})
		_, _ = directory.Root().RemoveIfExists(ctx, db, []string{"x"})
		_, _ = directory.Root().RemoveIfExists(ctx, db, []string{"a"})
		_ = directory.Check(ctx, db)
	})
}
