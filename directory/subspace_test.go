package directory_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/directory"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/tuple"
)

// A DirectorySubspace is its prefix's subspace, as in the official bindings: the subspace
// methods agree with Subspace()'s, and it can be read as a kv.Ranger.
func TestDirectorySubspaceIsASubspace(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	d, err := directory.CreateOrOpen(ctx, db, []string{"app", "users"}, nil)
	require.NoError(t, err)
	ss, err := d.Subspace()
	require.NoError(t, err)
	require.Equal(t, ss.Bytes(), d.Bytes())
	key := d.Pack(tuple.Tuple{"alice", int64(7)})
	require.Equal(t, ss.Pack(tuple.Tuple{"alice", int64(7)}), key)
	require.True(t, d.Contains(key))
	back, err := d.Unpack(key)
	require.NoError(t, err)
	require.Equal(t, tuple.Tuple{"alice", int64(7)}, back)
	require.Equal(t, ss.Range(), d.Range())
	require.Equal(t, ss.Sub("x").Bytes(), d.Sub("x").Bytes())
	vk, err := d.PackWithVersionstamp(tuple.Tuple{tuple.IncompleteVersionstamp(0)})
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(vk, d.Bytes()))
	_, err = kv.Transact(ctx, db, func(tr kv.Transaction) (any, error) {
		tr.Set(key, []byte("v"))
		return nil, nil
	})
	require.NoError(t, err)
	rows, err := kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) ([]kv.KeyValue, error) {
		return tr.GetRange(d, kv.RangeOptions{}).GetSlice()
	})
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.NoError(t, d.Remove(ctx, db, nil))
}

// The root of a partition does not panic when used as a subspace: its keys lie behind 0xff, so
// the first read or write fails with key_outside_legal_range and nothing of the partition's tree
// is touched; Subspace() reports ErrPartitionRoot.
func TestPartitionRootAsSubspace(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	p, err := directory.CreateOrOpen(ctx, db, []string{"tenant"}, []byte("partition"))
	require.NoError(t, err)
	_, err = p.Subspace()
	require.ErrorIs(t, err, directory.ErrPartitionRoot)
	key := p.Pack(tuple.Tuple{"k"})
	require.Equal(t, byte(0xff), key[0])
	require.Equal(t, byte(0xff), p.Bytes()[0])
	require.Equal(t, byte(0xff), p.Sub("x").Bytes()[0])
	require.Equal(t, byte(0xff), p.Range().Begin[0])
	before := dump(t, db)
	_, err = kv.Transact(ctx, db, func(tr kv.Transaction) (any, error) {
		tr.Set(key, []byte("v"))
		return nil, nil
	})
	require.True(t, errors.Is(err, kv.Error{Code: 2004}), "write: %v", err)
	_, err = kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) ([]kv.KeyValue, error) {
		return tr.GetRange(p, kv.RangeOptions{}).GetSlice()
	})
	require.True(t, errors.Is(err, kv.Error{Code: 2004}), "read: %v", err)
	require.Equal(t, before, dump(t, db))
}
