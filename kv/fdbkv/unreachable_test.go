//go:build fdb

package fdbkv_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/fdbkv"
	"github.com/stretchr/testify/require"
)

// These tests need the client library but no cluster: they point it at a port nothing listens
// on, where every FoundationDB call waits for ever unless something stops it.

// unreachableCluster writes a cluster file naming a loopback port that nothing listens on.
func unreachableCluster(t *testing.T) (path, coordinator string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	coordinator = l.Addr().String()
	require.NoError(t, l.Close())
	path = filepath.Join(t.TempDir(), "unreachable.cluster")
	require.NoError(t, os.WriteFile(path, []byte("unreachable:test@"+coordinator+"\n"), 0o644))
	return path, coordinator
}

// stopsWithin runs op and fails the test unless it returns want within limit of start.
func stopsWithin(t *testing.T, what string, start time.Time, limit time.Duration, want error, op func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- op() }()
	select {
	case err := <-done:
		require.ErrorIs(t, err, want, what)
		require.Less(t, time.Since(start), limit, what)
	case <-time.After(limit + 10*time.Second):
		t.Fatalf("%s: still blocked %v after its context ended", what, limit+10*time.Second)
	}
}

func TestContextStopsCallsOnUnreachableCluster(t *testing.T) {
	path, _ := unreachableCluster(t)
	db, err := fdbkv.Open(path, nil)
	require.NoError(t, err, "without ConnectTimeout, Open does not contact the cluster")

	for _, c := range []struct {
		name string
		read func(kv.Transaction) error
	}{
		{"Get", func(tr kv.Transaction) error { _, err := tr.Get([]byte("k")).Get(); return err }},
		{"GetReadVersion", func(tr kv.Transaction) error { _, err := tr.GetReadVersion().Get(); return err }},
		{"GetKey", func(tr kv.Transaction) error {
			_, err := tr.GetKey(kv.FirstGreaterOrEqual([]byte("k"))).Get()
			return err
		}},
		{"GetRange.GetSlice", func(tr kv.Transaction) error {
			_, err := tr.GetRange(kv.Range{Begin: []byte("a"), End: []byte("z")}, kv.RangeOptions{}).GetSlice()
			return err
		}},
		{"GetRange.Iterator", func(tr kv.Transaction) error {
			it := tr.GetRange(kv.Range{Begin: []byte("a"), End: []byte("z")}, kv.RangeOptions{}).Iterator()
			for it.Next() {
			}
			return it.Err()
		}},
		{"Commit", func(tr kv.Transaction) error { tr.Set([]byte("k"), []byte("v")); return nil }},
	} {
		t.Run(c.name+"/deadline", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			stopsWithin(t, c.name, start, 200*time.Millisecond+100*time.Millisecond, context.DeadlineExceeded, func() error {
				return db.Transact(ctx, c.read)
			})
		})
		t.Run(c.name+"/cancel", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			stopsWithin(t, c.name, time.Now(), 100*time.Millisecond+100*time.Millisecond, context.Canceled, func() error {
				return db.Transact(ctx, c.read)
			})
		})
	}

	t.Run("in place", func(t *testing.T) {
		tr, err := db.CreateTransaction()
		require.NoError(t, err)
		defer tr.Cancel()
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		defer cancel()
		stopsWithin(t, "a layer call on a caller's transaction", time.Now(), 250*time.Millisecond, context.DeadlineExceeded, func() error {
			return tr.Transact(ctx, func(tr kv.Transaction) error { _, err := tr.Get([]byte("k")).Get(); return err })
		})
	})

	t.Run("OnError backoff", func(t *testing.T) {
		tr, err := db.CreateTransaction()
		require.NoError(t, err)
		defer tr.Cancel()
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		defer cancel()
		stopsWithin(t, "OnError", time.Now(), 250*time.Millisecond, context.DeadlineExceeded, func() error {
			for {
				if err := tr.OnError(ctx, kv.ErrNotCommitted); err != nil {
					return err
				}
			}
		})
	})
}

func TestOpenConnectTimeoutNamesCoordinators(t *testing.T) {
	path, coordinator := unreachableCluster(t)
	start := time.Now()
	_, err := fdbkv.Open(path, &fdbkv.Options{ConnectTimeout: 300 * time.Millisecond})
	require.Error(t, err)
	require.Contains(t, err.Error(), "cannot reach the cluster at "+coordinator)
	require.Contains(t, err.Error(), path)
	require.ErrorIs(t, err, kv.ErrTransactionTimedOut)
	require.Less(t, time.Since(start), 5*time.Second, "the probe is bounded by ConnectTimeout")
}

func TestOpenChecksClusterFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.cluster")
	_, err := fdbkv.Open(missing, nil)
	var cfe *fdbkv.ClusterFileError
	require.True(t, errors.As(err, &cfe), "%v", err)
	require.Equal(t, missing, cfe.Path)
	require.ErrorIs(t, err, kv.Error{Code: 1515})

	bad := filepath.Join(t.TempDir(), "bad.cluster")
	require.NoError(t, os.WriteFile(bad, []byte("no-at-sign"), 0o644))
	_, err = fdbkv.Open(bad, nil)
	require.ErrorIs(t, err, kv.Error{Code: 2104})
	require.ErrorContains(t, err, bad)
}

func TestNetworkOptionsAfterNetworkStartFail(t *testing.T) {
	path, _ := unreachableCluster(t)
	_, err := fdbkv.Open(path, nil) // starts the network if no earlier test did
	require.NoError(t, err)
	_, err = fdbkv.Open(path, &fdbkv.Options{Network: &fdbkv.NetworkOptions{TraceFormat: "json"}})
	require.ErrorContains(t, err, "Options.Network cannot take effect")
}

// GetVersionstamp fails as on FoundationDB: no_commit_version (2021) after a read-only commit,
// the commit's error after a commit that failed in the client (ThreadSafeTransaction's deferred
// error), transaction_invalid_version (2020) after one the cluster refused
// (fdbclient/NativeAPI.actor.cpp commitMutations and commitAndWatch).
func TestVersionstampErrorCodes(t *testing.T) {
	skipWithoutCluster(t)
	db := testdb.Open(t)
	ctx := context.Background()

	ro, err := db.CreateTransaction()
	require.NoError(t, err)
	_, err = ro.Get([]byte("k")).Get()
	require.NoError(t, err)
	require.NoError(t, ro.Commit())
	_, err = ro.GetVersionstamp().Get()
	require.ErrorIs(t, err, kv.Error{Code: 2021}, "read-only commit")

	loser, err := db.CreateTransaction()
	require.NoError(t, err)
	defer loser.Cancel()
	_, err = loser.Get([]byte("c")).Get()
	require.NoError(t, err)
	loser.Set([]byte("c"), []byte("loser"))
	require.NoError(t, db.Transact(ctx, func(tr kv.Transaction) error { tr.Set([]byte("c"), []byte("winner")); return nil }))
	require.ErrorIs(t, loser.Commit(), kv.ErrNotCommitted)
	_, err = loser.GetVersionstamp().Get()
	require.ErrorIs(t, err, kv.Error{Code: 2020}, "a commit the cluster refused")

	big, err := db.CreateTransaction()
	require.NoError(t, err)
	defer big.Cancel()
	big.Set(make([]byte, 10_001), []byte("v"))
	require.ErrorIs(t, big.Commit(), kv.ErrKeyTooLarge)
	_, err = big.GetVersionstamp().Get()
	require.ErrorIs(t, err, kv.ErrKeyTooLarge, "a commit that failed in the client")

	bad, err := db.CreateTransaction()
	require.NoError(t, err)
	defer bad.Cancel()
	bad.Atomic(kv.MutationType(99), []byte("k"), []byte("v"))
	require.ErrorIs(t, bad.Commit(), kv.ErrInvalidMutationType)
	_, err = bad.GetVersionstamp().Get()
	require.ErrorIs(t, err, kv.ErrInvalidMutationType, "the adapter's own deferred error, like FoundationDB's")
}

func TestLimitsAndOffsetsBeyondInt32AreRefused(t *testing.T) {
	skipWithoutCluster(t)
	db := testdb.Open(t)
	tr, err := db.CreateTransaction()
	require.NoError(t, err)
	defer tr.Cancel()
	_, err = tr.GetRange(kv.Range{Begin: []byte("a"), End: []byte("b")}, kv.RangeOptions{Limit: math.MaxInt32 + 1}).GetSlice()
	require.ErrorIs(t, err, kv.ErrInvalidOptionValue)
	_, err = tr.GetKey(kv.FirstGreaterOrEqual([]byte("a")).Add(math.MaxInt32)).Get()
	require.ErrorIs(t, err, kv.ErrClientInvalidOperation)
	require.ErrorContains(t, err, fmt.Sprint(int64(math.MaxInt32)+1))
}
