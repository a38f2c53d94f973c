package directory_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/directory"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/subspace"
)

// TestDamagedNodeMessages guards the messages of the refusals testdata/damaged.txt shows: each
// names the directory, its prefix and what is wrong with it, and wraps ErrCorrupt.
func TestDamagedNodeMessages(t *testing.T) {
	ctx := context.Background()
	db := openExactDB(t)
	defer directory.SetCandidates(1, 2)()
	_, err := directory.CreateOrOpen(ctx, db, []string{"a"}, nil)
	require.NoError(t, err)
	_, err = directory.CreateOrOpen(ctx, db, []string{"b"}, nil)
	require.NoError(t, err)
	entry := mustHex(t, "fe01fe0014026300") // the root's child entry "c"
	for _, c := range []struct {
		prefix, node string // the entry's value, and a node written for it ("" for none)
		want         string
	}{
		{"", "", `directory: corrupt directory metadata: directory ("c") has an empty prefix`},
		{"ff02", "", `directory: corrupt directory metadata: directory ("c") has prefix \xff\x02, which lies in the system keyspace`},
		{"fe05", "", `directory: corrupt directory metadata: directory ("c") has prefix \xfe\x05, which lies inside the node subspace \xfe`},
		{"150105", "fe0115010500016c6179657200",
			`directory: corrupt directory metadata: directory ("c") has prefix \x15\x01\x05, which lies inside the prefix \x15\x01 of another directory`},
		{"15", "fe011500016c6179657200",
			`directory: corrupt directory metadata: directory ("c") has prefix \x15, which contains the prefix of another directory (node key \xfe\x01\x15\x01\x00\x01layer\x00)`},
	} {
		_, err := kv.Transact(ctx, db, func(tr kv.Transaction) (struct{}, error) {
			tr.Set(entry, mustHex(t, c.prefix))
			if c.node != "" {
				tr.Set(mustHex(t, c.node), []byte{})
			}
			return struct{}{}, nil
		})
		require.NoError(t, err)
		_, err = directory.Open(ctx, db, []string{"c"}, nil)
		require.ErrorIs(t, err, directory.ErrCorrupt)
		require.EqualError(t, err, c.want)
		require.ErrorIs(t, directory.Root().Remove(ctx, db, []string{"c"}), directory.ErrCorrupt)
		_, err = kv.Transact(ctx, db, func(tr kv.Transaction) (struct{}, error) {
			tr.Clear(entry)
			if c.node != "" {
				tr.Clear(mustHex(t, c.node))
			}
			return struct{}{}, nil
		})
		require.NoError(t, err)
	}
}

// TestCreatePrefixRefusesSystemKeys guards that a manual prefix in the system keyspace, which no
// directory can use, is refused like the other prefixes no directory can have.
func TestCreatePrefixRefusesSystemKeys(t *testing.T) {
	ctx := context.Background()
	l := directory.NewDirectoryLayer(subspace.FromBytes([]byte{0xfe}), subspace.FromBytes(nil), true)
	db := openExactDB(t, l)
	_, err := l.CreatePrefix(ctx, db, []string{"s"}, nil, []byte{0xff, 0x01})
	require.ErrorIs(t, err, directory.ErrPrefixInUse)
	require.EqualError(t, err, `directory: the given prefix is already in use: the new directory has prefix \xff\x01, which lies in the system keyspace`)
}
