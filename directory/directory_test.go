package directory_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/layerkit/layerkit/directory"
	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/subspace"
	"github.com/layerkit/layerkit/tuple"
	"github.com/stretchr/testify/require"
)

// validFirstPrefixes are the 64 prefixes spec §3 allows for the first directory: 14 and 15 01
// to 15 3f.
func validFirstPrefix(p []byte) bool {
	return bytes.Equal(p, []byte{0x14}) || (len(p) == 2 && p[0] == 0x15 && p[1] >= 1 && p[1] <= 0x3f)
}

// TestCreateOrOpenEmptyDatabase guards spec §3 with the real random allocator and injected
// faults: whatever c is drawn, and however often the commit is retried, the database ends with
// exactly the five keys, consistent with the prefix.
func TestCreateOrOpenEmptyDatabase(t *testing.T) {
	ctx := context.Background()
	seen := map[string]bool{}
	for i := 0; i < 20; i++ {
		db := openDB(t)
		d, err := directory.CreateOrOpen(ctx, db, []string{"app"}, nil)
		require.NoError(t, err)
		p := prefixOf(t, d)
		require.True(t, validFirstPrefix(p), "prefix %x", p)
		seen[hex.EncodeToString(p)] = true
		require.Equal(t, []string{"app"}, d.GetPath())
		require.Equal(t, []byte{}, d.GetLayer())
		ph := hex.EncodeToString(p)
		esc := ph // no 00 bytes in a first-window prefix, so escaping changes nothing
		want := []string{
			"fe01" + esc + "00016c6179657200 = ''",
			"fe01fe0001686361001414 = 0100000000000000",
			"fe01fe0001686361001501" + ph + " = ''",
			"fe01fe000176657273696f6e00 = 010000000000000000000000",
			"fe01fe00140261707000 = " + ph,
		}
		require.Equal(t, want, dump(t, db))
	}
	// 20 uniform draws from 64 candidates repeat one value with probability about 1e-25.
	require.Greater(t, len(seen), 1, "the allocator always drew the same candidate")
}

// TestCreateOrOpenTrace guards the order of spec §3 and which reads are snapshot: every read,
// write and option of create_or_open(('app',)) on an empty database, in order, with c=55.
func TestCreateOrOpenTrace(t *testing.T) {
	ctx := context.Background()
	db := openExactDB(t)
	defer directory.SetCandidates(55)()
	tr, err := db.CreateTransaction()
	require.NoError(t, err)
	rec := newRecorder(tr, true)
	d, err := directory.CreateOrOpen(ctx, rec, []string{"app"}, nil)
	require.NoError(t, err)
	require.Equal(t, []byte{0x15, 0x37}, prefixOf(t, d))
	require.NoError(t, tr.Commit())
	want := []string{
		"get fe01fe000176657273696f6e00",                            // 1. version, read-only check
		"get fe01fe00140261707000",                                  // 2. root SUBDIRS 'app'
		"get fe01fe000176657273696f6e00",                            // 3. version again, write check...
		"set fe01fe000176657273696f6e00 = 010000000000000000000000", // ...writes it
		"snapshot getrange [fe01fe00016863610014" + "00, fe01fe00016863610014" + "ff) limit=1 reverse=true", // 4. start
		"atomic ADD fe01fe0001686361001414 0100000000000000",
		"snapshot get fe01fe0001686361001414",
		"snapshot getrange [fe01fe0001686361001400, fe01fe00016863610014ff) limit=1 reverse=true", // latest counter
		"get fe01fe00016863610015011537",                                                          // candidate, with conflict
		"next-write-no-write-conflict-range",
		"set fe01fe00016863610015011537 = ''",
		"write-conflict-key fe01fe00016863610015011537",
		"getrange [1537, 1538) limit=1 reverse=false",                      // 5. contents empty
		"snapshot getrange [fe00, fe01153700" + "00) limit=1 reverse=true", // is_prefix_free: node before
		"snapshot getrange [fe01153700, fe01153800) limit=1 reverse=false", // is_prefix_free: nodes inside
		"set fe01fe00140261707000 = 1537",                                  // 6. subdir entry
		"set fe01153700016c6179657200 = ''",                                // layer
	}
	require.Equal(t, want, *rec.log)
}

// TestReadOnlyOperationsNeverWrite guards spec §1: open, exists and list issue no write, and a
// CreateOrOpen of an existing directory writes nothing either.
func TestReadOnlyOperationsNeverWrite(t *testing.T) {
	ctx := context.Background()
	db := openExactDB(t)
	_, err := directory.CreateOrOpen(ctx, db, []string{"a", "b"}, nil)
	require.NoError(t, err)
	tr, err := db.CreateTransaction()
	require.NoError(t, err)
	rec := newRecorder(tr, true)
	_, err = directory.Open(ctx, rec, []string{"a", "b"}, nil)
	require.NoError(t, err)
	_, err = directory.Exists(ctx, rec, []string{"a", "x"})
	require.NoError(t, err)
	_, err = directory.List(ctx, rec, []string{"a"})
	require.NoError(t, err)
	_, err = directory.CreateOrOpen(ctx, rec, []string{"a", "b"}, []byte{})
	require.NoError(t, err)
	for _, op := range *rec.log {
		require.True(t, strings.HasPrefix(op, "get ") || strings.HasPrefix(op, "getrange ") || strings.HasPrefix(op, "snapshot get"),
			"unexpected operation %q", op)
	}
	tr.Cancel()
}

// TestInvalidInput guards that bad paths get an error, never a panic, and change nothing.
func TestInvalidInput(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	bad := []string{"ok", string([]byte{0xff, 0xfe})}
	_, err := directory.CreateOrOpen(ctx, db, bad, nil)
	require.ErrorIs(t, err, directory.ErrInvalidPath)
	_, err = directory.Create(ctx, db, bad, nil)
	require.ErrorIs(t, err, directory.ErrInvalidPath)
	_, err = directory.Open(ctx, db, bad, nil)
	require.ErrorIs(t, err, directory.ErrInvalidPath)
	_, err = directory.Exists(ctx, db, bad)
	require.ErrorIs(t, err, directory.ErrInvalidPath)
	_, err = directory.List(ctx, db, bad)
	require.ErrorIs(t, err, directory.ErrInvalidPath)
	_, err = directory.Move(ctx, db, []string{"a"}, bad)
	require.ErrorIs(t, err, directory.ErrInvalidPath)
	require.ErrorIs(t, directory.Root().Remove(ctx, db, bad), directory.ErrInvalidPath)
	_, err = directory.Root().RemoveIfExists(ctx, db, bad)
	require.ErrorIs(t, err, directory.ErrInvalidPath)
	_, err = directory.Root().CreatePrefix(ctx, db, bad, nil, []byte{1})
	require.ErrorIs(t, err, directory.ErrInvalidPath)
	require.Empty(t, dump(t, db))
}

// TestRoot guards the root's own methods: it cannot be moved, has the empty layer and path,
// and names with zero bytes and unicode round-trip.
func TestRoot(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	r := directory.Root()
	_, err := r.MoveTo(ctx, db, []string{"x"})
	require.ErrorIs(t, err, directory.ErrCannotMoveRoot)
	require.Equal(t, []byte{}, r.GetLayer())
	require.Empty(t, r.GetPath())
	names := []string{"nul\x00inside", "日本", ""}
	for _, n := range names {
		_, err := directory.CreateOrOpen(ctx, db, []string{"top", n}, nil)
		require.NoError(t, err)
	}
	got, err := directory.List(ctx, db, []string{"top"})
	require.NoError(t, err)
	require.Equal(t, []string{"", "nul\x00inside", "日本"}, got)
	d, err := directory.Open(ctx, db, []string{"top", "nul\x00inside"}, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"top", "nul\x00inside"}, d.GetPath())
}

// TestSubspaceUse guards that a directory's subspace holds keys under its prefix, that Remove
// clears them, and that a partition root refuses to be used as a subspace while its children
// do not.
func TestSubspaceUse(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	d, err := directory.CreateOrOpen(ctx, db, []string{"app"}, nil)
	require.NoError(t, err)
	ss, err := d.Subspace()
	require.NoError(t, err)
	_, err = kv.Transact(ctx, db, func(tr kv.Transaction) (struct{}, error) {
		tr.Set(ss.Pack(tuple.Tuple{"k"}), []byte("v"))
		return struct{}{}, nil
	})
	require.NoError(t, err)
	require.NoError(t, d.Remove(ctx, db, nil))
	for _, line := range dump(t, db) {
		require.False(t, strings.HasPrefix(line, hex.EncodeToString(ss.Bytes())), "left behind: %s", line)
	}

	p, err := directory.CreateOrOpen(ctx, db, []string{"part"}, []byte("partition"))
	require.NoError(t, err)
	require.True(t, p.IsPartition())
	_, err = p.Subspace()
	require.ErrorIs(t, err, directory.ErrPartitionRoot)
	child, err := p.CreateOrOpen(ctx, db, []string{"c"}, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"part", "c"}, child.GetPath())
	cs, err := child.Subspace()
	require.NoError(t, err)
	// The child's prefix lies inside the partition's, which the root's entry for "part" holds.
	entry := append([]byte{0xfe, 0x01, 0xfe, 0x00}, tuple.Tuple{0, "part"}.Pack()...)
	partPrefix, err := kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) ([]byte, error) { return tr.Get(entry).Get() })
	require.NoError(t, err)
	require.NotEmpty(t, partPrefix)
	require.True(t, bytes.HasPrefix(cs.Bytes(), partPrefix), "child prefix %x outside partition %x", cs.Bytes(), partPrefix)
	require.Greater(t, len(cs.Bytes()), len(partPrefix))
	require.NotEqual(t, byte(0xfe), cs.Bytes()[len(partPrefix)], "child prefix inside the partition's node subspace")
}

// TestCustomLayer guards NewDirectoryLayer: metadata under the node subspace, contents under
// the content subspace, and nothing written elsewhere.
func TestCustomLayer(t *testing.T) {
	ctx := context.Background()
	l := directory.NewDirectoryLayer(subspace.FromBytes([]byte{0x05, 0xfe}), subspace.FromBytes([]byte{0x05}), false)
	db := openDB(t, l)
	d, err := l.CreateOrOpen(ctx, db, []string{"x", "y"}, nil)
	require.NoError(t, err)
	p := prefixOf(t, d)
	require.True(t, bytes.HasPrefix(p, []byte{0x05}))
	require.False(t, bytes.HasPrefix(p, []byte{0x05, 0xfe}))
	for _, line := range dump(t, db) {
		require.True(t, strings.HasPrefix(line, "05"), "key outside the layer: %s", line)
	}
	// The root node is NS + pack((NS,)), and the version key hangs off it.
	require.Contains(t, dump(t, db), "05fe0105fe000176657273696f6e00 = 010000000000000000000000")
	ok, err := directory.Exists(ctx, db, []string{"x"})
	require.NoError(t, err)
	require.False(t, ok, "the default layer must not see the custom layer's directories")
	_, err = l.CreatePrefix(ctx, db, []string{"m"}, nil, []byte{0x05, 0x01})
	require.ErrorIs(t, err, directory.ErrManualPrefixesNotAllowed)
}

// TestWritesInOneTransaction guards composition: several directory operations in the caller's
// transaction see each other's writes and commit together, allocating distinct prefixes.
func TestWritesInOneTransaction(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	got, err := kv.Transact(ctx, db, func(tr kv.Transaction) ([]string, error) {
		var out []string
		for i := 0; i < 100; i++ {
			d, err := directory.CreateOrOpen(ctx, tr, []string{"batch", fmt.Sprint(i)}, nil)
			if err != nil {
				return nil, err
			}
			ss, err := d.Subspace()
			if err != nil {
				return nil, err
			}
			out = append(out, string(ss.Bytes()))
		}
		return out, nil
	})
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, p := range got {
		require.False(t, seen[p], "prefix %x handed out twice", p)
		seen[p] = true
	}
	names, err := directory.List(ctx, db, []string{"batch"})
	require.NoError(t, err)
	require.Len(t, names, 100)
}

// TestWindowAdvanceTrace guards the order of spec §2 step 2 when the window moves: the old
// counters are cleared with a write conflict, the old marks without one, then the new window
// is counted and a candidate drawn from it.
func TestWindowAdvanceTrace(t *testing.T) {
	ctx := context.Background()
	db := openExactDB(t)
	defer directory.SetCandidates(2)()
	_, err := kv.Transact(ctx, db, func(tr kv.Transaction) (struct{}, error) {
		tr.Set(mustHex(t, "fe01fe0001686361001414"), mustHex(t, "1f00000000000000"))
		return struct{}{}, nil
	})
	require.NoError(t, err)
	tr, err := db.CreateTransaction()
	require.NoError(t, err)
	rec := newRecorder(tr, true)
	d, err := directory.CreateOrOpen(ctx, rec, []string{"w"}, nil)
	require.NoError(t, err)
	require.Equal(t, []byte{0x15, 0x42}, prefixOf(t, d))
	require.NoError(t, tr.Commit())
	log := *rec.log
	first := -1
	for i, op := range log {
		if strings.HasPrefix(op, "atomic") {
			first = i
			break
		}
	}
	require.GreaterOrEqual(t, first, 1)
	want := []string{
		"snapshot getrange [fe01fe0001686361001400, fe01fe00016863610014ff) limit=1 reverse=true",
		"atomic ADD fe01fe0001686361001414 0100000000000000",
		"snapshot get fe01fe0001686361001414",
		"clearrange [fe01fe00016863610014, fe01fe000168636100141540)",
		"next-write-no-write-conflict-range",
		"clearrange [fe01fe0001686361001501, fe01fe00016863610015011540)",
		"atomic ADD fe01fe000168636100141540 0100000000000000",
		"snapshot get fe01fe000168636100141540",
		"snapshot getrange [fe01fe0001686361001400, fe01fe00016863610014ff) limit=1 reverse=true",
		"get fe01fe00016863610015011542",
		"next-write-no-write-conflict-range",
		"set fe01fe00016863610015011542 = ''",
		"write-conflict-key fe01fe00016863610015011542",
	}
	require.Equal(t, want, log[first-1:first-1+len(want)])
}

// A transaction that wrote versionstamped keys inside a directory's contents can still open
// directories: the overlap checks read only the node subspace, so they never meet keys the
// transaction cannot read before it commits (accessed_unreadable, 1036).
func TestOpenAfterVersionstampedWrites(t *testing.T) {
	ctx := context.Background()
	db := testdb.Open(t)
	d, err := directory.CreateOrOpen(ctx, db, []string{"feed"}, nil)
	require.NoError(t, err)
	_, err = directory.CreateOrOpen(ctx, db, []string{"other"}, nil)
	require.NoError(t, err)
	require.NoError(t, db.Transact(ctx, func(tr kv.Transaction) error {
		// The key's bytes: the directory's prefix, ten placeholder bytes, the offset (LE32).
		key := append(append(d.Bytes(), make([]byte, 10)...), byte(len(d.Bytes())), 0, 0, 0)
		tr.Atomic(kv.SetVersionstampedKey, key, []byte("entry"))
		for _, path := range [][]string{{"feed"}, {"other"}} {
			if _, err := directory.Open(ctx, tr, path, nil); err != nil {
				return err
			}
		}
		_, err := directory.CreateOrOpen(ctx, tr, []string{"third"}, nil)
		return err
	}))
}
