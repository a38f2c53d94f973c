package kvtest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
)

func windowCases() []testCase {
	return []testCase{
		{"FiveSeconds", testWindow},
	}
}

// pastWindow is how long the window subtest sleeps: just past FoundationDB's five seconds.
const pastWindow = 5*time.Second + 700*time.Millisecond

// testWindow checks where the five-second window applies, with one sleep for every rule (the
// subtest runs in parallel with the rest of the suite). FoundationDB fails with 1007 only what
// needs a version its storage servers no longer hold, and commits the resolver refuses:
//
//   - a read that goes to storage (storageserver: version < oldestVersion);
//   - not a read answered from the transaction's own writes or from what it already fetched
//     (ReadYourWritesTransaction reads through its write map and read cache first);
//   - a commit that writes, since every such commit carries a read conflict range (NativeAPI's
//     commitMutations adds a self-conflicting one when its reads do not overlap its writes) and
//     the resolver fails old ones (SkipList.cpp ConflictBatch::addTransaction);
//   - not a commit that writes nothing, which never reaches the cluster, nor a blind write,
//     which takes its read version at commit.
func testWindow(t *testing.T, s *suite) {
	if testing.Short() {
		t.Skip("sleeps past the 5 s transaction window; skipped with -short")
	}
	db := s.db(t)
	abcde(t, db)

	// Every transaction takes its read version (and what it reads) before the one sleep.
	storage := startTr(t, db)
	get(t, storage, b("a"))

	repeated := startTr(t, db)
	require.Equal(t, "1", string(get(t, repeated, b("a"))))
	require.Equal(t, []string{"b", "c", "d"}, keys(getRange(t, repeated, rng("b", "e"), kv.RangeOptions{})))
	require.Equal(t, []string{"d"}, keys(getRange(t, repeated, rng("d", "z"), kv.RangeOptions{Limit: 1})))

	snap := startTr(t, db)
	require.Equal(t, "2", string(get(t, snap.Snapshot(), b("b"))))

	own := startTr(t, db)
	own.Set(b("mine"), b("x"))
	own.ClearRange(rng("p", "q"))
	own.Clear(b("a"))

	version := startTr(t, db)
	rv, err := version.GetReadVersion().Get()
	require.NoError(t, err)

	readOnly := startTr(t, db)
	get(t, readOnly, b("a"))

	snapWrite := startTr(t, db)
	get(t, snapWrite.Snapshot(), b("a"))
	snapWrite.Set(b("snap-write"), b("x"))

	write := startTr(t, db)
	get(t, write, b("a"))
	write.Set(b("write"), b("x"))

	blind := newTr(t, db)
	blind.Set(b("blind"), b("x"))

	time.Sleep(pastWindow)

	t.Run("StorageRead", func(t *testing.T) {
		_, err := storage.Get(b("e")).Get()
		requireCode(t, kv.ErrTransactionTooOld, err, "a read of a key not fetched before goes to storage and fails")
		_, err = storage.GetRange(rng("c", "e"), kv.RangeOptions{}).GetSlice()
		requireCode(t, kv.ErrTransactionTooOld, err, "so does a range read")
		require.True(t, kv.IsRetryable(err), "1007 is retryable")
	})
	t.Run("RepeatedRead", func(t *testing.T) {
		require.Equal(t, "1", string(get(t, repeated, b("a"))), "a key read before is answered from the transaction's cache")
		require.Equal(t, "3", string(get(t, repeated, b("c"))), "so is a key inside a range read before")
		require.Nil(t, get(t, repeated, b("bb")), "and a key known absent from a range read")
		require.Equal(t, []string{"b", "c"}, keys(getRange(t, repeated, rng("b", "d"), kv.RangeOptions{})), "and a range inside one read before")
		require.Equal(t, []string{"d"}, keys(getRange(t, repeated, rng("d", "z"), kv.RangeOptions{Limit: 1})), "and the same limited read again")
	})
	t.Run("SnapshotRepeatedRead", func(t *testing.T) {
		require.Equal(t, "2", string(get(t, snap, b("b"))), "what a snapshot read fetched is cached too")
	})
	t.Run("OwnWrites", func(t *testing.T) {
		require.Equal(t, "x", string(get(t, own, b("mine"))), "a key the transaction set is read from its writes")
		require.Nil(t, get(t, own, b("a")), "a key it cleared")
		require.Nil(t, get(t, own, b("p5")), "a key in a range it cleared")
		require.Empty(t, getRange(t, own, rng("p", "q"), kv.RangeOptions{}), "a range it cleared")
	})
	t.Run("ReadVersion", func(t *testing.T) {
		rv2, err := version.GetReadVersion().Get()
		require.NoError(t, err, "GetReadVersion reads no storage")
		require.Equal(t, rv, rv2)
	})
	t.Run("ReadOnlyCommit", func(t *testing.T) {
		require.NoError(t, readOnly.Commit(), "a commit that writes nothing is not checked")
	})
	t.Run("BlindWriteCommit", func(t *testing.T) {
		require.NoError(t, blind.Commit(), "a transaction that never read takes its read version at commit")
	})
	t.Run("WriteCommit", func(t *testing.T) {
		requireCode(t, kv.ErrTransactionTooOld, write.Commit(), "a commit that read and writes")
		require.Nil(t, getDB(t, db, b("write")))
	})
	t.Run("SnapshotReadsWriteCommit", func(t *testing.T) {
		// Its reads add no conflict ranges, but FoundationDB gives every commit that writes one.
		requireCode(t, kv.ErrTransactionTooOld, snapWrite.Commit(), "a commit whose reads were all snapshot reads, with a write")
		require.Nil(t, getDB(t, db, b("snap-write")))
	})
	t.Run("RetryRecovers", func(t *testing.T) {
		require.NoError(t, storage.OnError(context.Background(), kv.ErrTransactionTooOld), "OnError resets with a fresh read version")
		require.Equal(t, "5", string(get(t, storage, b("e"))))
		storage.Set(b("k"), b("v"))
		require.NoError(t, storage.Commit())
	})
}
