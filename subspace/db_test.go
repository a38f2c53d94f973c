package subspace_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/subspace"
	"github.com/layerkit/layerkit/tuple"
)

// TestRangeReadsOnDatabase passes a Subspace and a Tuple straight to GetRange (kv.Ranger) and
// checks that they read exactly the packed tuples under them, in tuple order, and neither the
// prefix key itself nor a neighbouring subspace.
func TestRangeReadsOnDatabase(t *testing.T) {
	ctx := context.Background()
	db := testdb.Open(t)
	users := subspace.Sub("users")
	inside := []tuple.Tuple{{nil}, {int64(-5)}, {int64(7)}, {int64(7), "a"}, {"bob"}, {tuple.Tuple{nil}}, {true}}
	_, err := kv.Transact(ctx, db, func(tr kv.Transaction) (struct{}, error) {
		tr.Set(users.Bytes(), []byte("the prefix itself"))
		tr.Set(subspace.Sub("usersX").Pack(tuple.Tuple{1}), []byte("neighbour"))
		tr.Set(subspace.Sub("users\x00").Bytes(), []byte("neighbour with a NUL"))
		for i, k := range inside {
			tr.Set(users.Pack(k), []byte{byte(i)})
		}
		return struct{}{}, nil
	})
	require.NoError(t, err)

	read := func(r kv.Ranger) []tuple.Tuple {
		rows, err := kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) ([]kv.KeyValue, error) {
			return tr.GetRange(r, kv.RangeOptions{}).GetSlice()
		})
		require.NoError(t, err)
		var got []tuple.Tuple
		for _, row := range rows {
			tp, err := users.Unpack(row.Key)
			require.NoError(t, err, "%s", kv.Printable(row.Key))
			got = append(got, tp)
		}
		return got
	}
	// The database returns keys in byte order; it must also be tuple order.
	got := read(users)
	require.Len(t, got, len(inside))
	for i := 1; i < len(got); i++ {
		require.Negative(t, tuple.Compare(got[i-1], got[i]))
	}
	for _, want := range inside {
		require.Contains(t, got, want)
	}
	// A tuple's range under the subspace: every tuple that extends (7).
	require.Equal(t, []tuple.Tuple{{int64(7), "a"}}, read(kv.Range(users.Sub(7).Range())))
	require.Equal(t, read(users), read(tuple.Tuple{"users"}))
}
