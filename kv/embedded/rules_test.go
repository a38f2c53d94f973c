package embedded_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
)

// These tests pin engine details behind the FoundationDB rules that kv/kvtest checks on every
// engine: what the embedded engine must do to keep them (a reopen, a view kept past the window,
// goroutines) and exact figures of FoundationDB's counting.

// TestVersionsAcrossReopen guards that versions follow the clock and never go back across a
// reopen: the first commit after a reopen is after every version of the run before, and read
// versions keep moving without commits.
func TestVersionsAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	db, err := embedded.Open(dir, nil)
	require.NoError(t, err)
	tr, err := db.CreateTransaction()
	require.NoError(t, err)
	tr.Set([]byte("k"), []byte("v"))
	require.NoError(t, tr.Commit())
	first, err := tr.GetCommittedVersion()
	require.NoError(t, err)
	now := time.Now().UnixMicro()
	require.InDelta(t, now, first, float64(time.Minute.Microseconds()), "commit versions are microseconds of the clock")
	require.NoError(t, db.Close())

	db, err = embedded.Open(dir, nil)
	require.NoError(t, err)
	defer db.Close()
	rt, err := db.CreateTransaction()
	require.NoError(t, err)
	rv, err := rt.GetReadVersion().Get()
	require.NoError(t, err)
	require.GreaterOrEqual(t, rv, first, "a read version after the reopen is at or after the last commit")
	tr, err = db.CreateTransaction()
	require.NoError(t, err)
	tr.Set([]byte("k"), []byte("w"))
	require.NoError(t, tr.Commit())
	second, err := tr.GetCommittedVersion()
	require.NoError(t, err)
	require.Greater(t, second, first, "commit versions keep growing across a reopen")
	require.Greater(t, second, rv, "and stay after every read version handed out")
}

// TestOldTransactionKeepsItsView guards the read cache rule past the reaper's delay: a
// transaction that lives on after its read version left the window can still read what it
// fetched, however long after, because a view a live transaction holds is never closed.
func TestOldTransactionKeepsItsView(t *testing.T) {
	t.Parallel()
	db := openMem(t, &embedded.Options{TransactionWindow: 50 * time.Millisecond})
	set(t, db, "a", "1")
	set(t, db, "b", "2")
	tr, err := db.CreateTransaction()
	require.NoError(t, err)
	defer tr.Cancel()
	rows, err := tr.GetRange(kv.Range{Begin: []byte("a"), End: []byte("c")}, kv.RangeOptions{}).GetSlice()
	require.NoError(t, err)
	require.Len(t, rows, 2)
	set(t, db, "a", "changed")          // a newer view, so the transaction's is no longer the latest
	time.Sleep(1300 * time.Millisecond) // past the window, its second of slack and a reaper tick
	v, err := tr.Get([]byte("a")).Get()
	require.NoError(t, err, "a key the transaction fetched is still readable")
	require.Equal(t, "1", string(v), "at its read version")
	_, err = tr.Get([]byte("c")).Get()
	require.ErrorIs(t, err, kv.ErrTransactionTooOld, "a key it did not fetch is not")
}

// TestDroppedWatchesLeakNoGoroutines guards that a watch whose Wait ended by ctx and was then
// dropped leaves nothing running.
func TestDroppedWatchesLeakNoGoroutines(t *testing.T) {
	db := openMem(t, nil)
	before := runtime.NumGoroutine()
	func() {
		tr, err := db.CreateTransaction()
		require.NoError(t, err)
		ws := make([]kv.Watch, 100)
		for i := range ws {
			ws[i] = tr.Watch(fmt.Appendf(nil, "w/%04d", i))
		}
		require.NoError(t, tr.Commit())
		for _, w := range ws {
			ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
			require.ErrorIs(t, w.Wait(ctx), context.DeadlineExceeded)
			cancel()
		}
	}()
	runtime.GC()
	require.Less(t, runtime.NumGoroutine(), before+10, "no goroutine per dropped watch")
}

// TestTransactionSizeExact pins the count of FoundationDB's client at the limit: a set with its
// write conflict range counts sizeof(MutationRef) (56) + key + value, and sizeof(KeyRangeRef)
// (32) + key + key+0x00; a commit of exactly 10,000,000 bytes passes and one byte more fails.
// A key set twice counts once.
func TestTransactionSizeExact(t *testing.T) {
	db := openMem(t, nil)
	run := func(valueSize int) error {
		tr, err := db.CreateTransaction()
		require.NoError(t, err)
		defer tr.Cancel()
		tr.Set([]byte("k00000"), make([]byte, kv.MaxValueSize)) // replaced below: counts once
		for i := range 100 {
			// 56 + 6 + v + 32 + 6 + 7 bytes each; 100 of them with v = 99,893 make 10,000,000.
			tr.Set(fmt.Appendf(nil, "k%05d", i), make([]byte, valueSize))
		}
		return tr.Commit()
	}
	require.NoError(t, run(99_893), "exactly at the limit")
	require.ErrorIs(t, run(99_894), kv.ErrTransactionTooLarge, "100 bytes over it")
}
