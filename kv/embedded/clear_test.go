package embedded_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
)

// A range clear removes every key in its range however many there are — a few become point
// deletions at commit, many one range deletion — including keys that commits after the
// clearing transaction's read version wrote, while a transaction reading at an older version
// still sees them all; a set after the clear in the same transaction survives it.
func TestClearRangeSizes(t *testing.T) {
	for _, store := range []string{"memory", "disk"} {
		for _, n := range []int{0, 1, 15, 16, 17, 300} {
			t.Run(fmt.Sprintf("store=%s,keys=%d", store, n), func(t *testing.T) {
				path := ""
				if store == "disk" {
					path = t.TempDir()
				}
				db, err := embedded.Open(path, nil)
				require.NoError(t, err)
				defer db.Close()
				ctx := context.Background()
				key := func(i int) []byte { return fmt.Appendf(nil, "r/%04d", i) }
				require.NoError(t, db.Transact(ctx, func(tr kv.Transaction) error {
					tr.Set([]byte("q"), []byte("before"))
					tr.Set([]byte("s"), []byte("after"))
					for i := range n / 2 {
						tr.Set(key(i), []byte("x"))
					}
					return nil
				}))
				old, err := db.CreateTransaction()
				require.NoError(t, err)
				_, err = old.Get([]byte("q")).Get() // takes its read version now
				require.NoError(t, err)

				clearer, err := db.CreateTransaction()
				require.NoError(t, err)
				_, err = clearer.GetReadVersion().Get()
				require.NoError(t, err)
				// Half the keys are written after the clearer's read version: the clear must
				// remove them too.
				require.NoError(t, db.Transact(ctx, func(tr kv.Transaction) error {
					for i := n / 2; i < n; i++ {
						tr.Set(key(i), []byte("x"))
					}
					return nil
				}))
				clearer.ClearRange(kv.Range{Begin: []byte("r/"), End: []byte("r0")})
				clearer.Set(key(7), []byte("kept"))
				require.NoError(t, clearer.Commit())

				rows, err := kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) ([]kv.KeyValue, error) {
					return tr.GetRange(kv.Range{Begin: []byte("a"), End: []byte("z")}, kv.RangeOptions{}).GetSlice()
				})
				require.NoError(t, err)
				var got []string
				for _, r := range rows {
					got = append(got, string(r.Key)+"="+string(r.Value))
				}
				require.Equal(t, []string{"q=before", "r/0007=kept", "s=after"}, got)

				before, err := old.GetRange(kv.Range{Begin: []byte("r/"), End: []byte("r0")}, kv.RangeOptions{}).GetSlice()
				require.NoError(t, err)
				require.Len(t, before, n/2)
				old.Cancel()

				// A clear from the start of the keyspace.
				require.NoError(t, db.Transact(ctx, func(tr kv.Transaction) error {
					tr.ClearRange(kv.Range{Begin: []byte{}, End: []byte("r")})
					return nil
				}))
				require.Nil(t, get(t, db, "q"))
				require.Equal(t, []byte("after"), get(t, db, "s"))
			})
		}
	}
}

// Concurrent transactions that each clear a small range and write into it commit in groups;
// each leaves exactly what it wrote after its own clear.
func TestClearRangeInGroups(t *testing.T) {
	db, err := embedded.Open(t.TempDir(), nil)
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 20 {
				err := db.Transact(ctx, func(tr kv.Transaction) error {
					prefix := fmt.Appendf(nil, "g%02d/", g)
					tr.ClearRange(kv.Range{Begin: prefix, End: append(prefix[:len(prefix)-1:len(prefix)-1], '0')})
					for i := range round%5 + 1 {
						tr.Set(fmt.Appendf(nil, "g%02d/%d", g, i), fmt.Appendf(nil, "%d", round))
					}
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	rows, err := kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) ([]kv.KeyValue, error) {
		return tr.GetRange(kv.Range{Begin: []byte("g"), End: []byte("h")}, kv.RangeOptions{}).GetSlice()
	})
	require.NoError(t, err)
	require.Len(t, rows, 16*5) // the last round (19) wrote 19%5+1 = 5 keys each
	for _, r := range rows {
		require.Equal(t, "19", string(r.Value), "key %s", r.Key)
	}
}
