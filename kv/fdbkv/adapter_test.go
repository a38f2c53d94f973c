//go:build fdb

package fdbkv_test

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/fdbkv"
	"github.com/stretchr/testify/require"
)

// These tests pin the adapter's own decisions on a real cluster; the contract itself is kvtest's.

func TestOpenOtherAPIVersionFails(t *testing.T) {
	path := skipWithoutCluster(t)
	_, err := fdbkv.Open(path, nil)
	require.NoError(t, err)
	_, err = fdbkv.Open(path, &fdbkv.Options{APIVersion: 710})
	require.ErrorContains(t, err, "already selected")
	_, err = fdbkv.Open(path, &fdbkv.Options{APIVersion: 730})
	require.NoError(t, err, "asking again for the selected version is fine")
}

func TestUnknownMutationFailsTransaction(t *testing.T) {
	skipWithoutCluster(t)
	db := testdb.Open(t)
	tr, err := db.CreateTransaction()
	require.NoError(t, err)
	defer tr.Cancel()
	tr.Atomic(kv.MutationType(99), []byte("k"), []byte("v"))
	_, err = tr.Get([]byte("k")).Get()
	require.ErrorIs(t, err, kv.ErrInvalidMutationType)
	require.ErrorIs(t, tr.Commit(), kv.ErrInvalidMutationType)
	tr.Reset()
	tr.Set([]byte("k"), []byte("v"))
	require.NoError(t, tr.Commit(), "Reset clears the deferred error")
}

func TestVersionstampAskedAfterCommit(t *testing.T) {
	skipWithoutCluster(t)
	db := testdb.Open(t)
	tr, err := db.CreateTransaction()
	require.NoError(t, err)
	tr.Set([]byte("k"), []byte("v"))
	require.NoError(t, tr.Commit())
	vs, err := tr.GetVersionstamp().Get()
	require.NoError(t, err, "FoundationDB refuses get_versionstamp after commit; the adapter issues it before")
	cv, err := tr.GetCommittedVersion()
	require.NoError(t, err)
	require.Equal(t, uint64(cv), binary.BigEndian.Uint64(vs[:8]), "the stamp starts with the commit version")
}

func TestInvalidRangeOptions(t *testing.T) {
	skipWithoutCluster(t)
	db := testdb.Open(t)
	tr, err := db.CreateTransaction()
	require.NoError(t, err)
	defer tr.Cancel()
	_, err = tr.GetRange(kv.Range{Begin: []byte("a"), End: []byte("b")}, kv.RangeOptions{Limit: -2}).GetSlice()
	require.ErrorIs(t, err, kv.ErrInvalidOptionValue)
	it := tr.GetRange(kv.Range{Begin: []byte("a"), End: []byte("b")}, kv.RangeOptions{Mode: 42}).Iterator()
	require.False(t, it.Next())
	require.ErrorIs(t, it.Err(), kv.ErrInvalidOptionValue)
}

func TestWatchWaitHonoursContextAndCancel(t *testing.T) {
	skipWithoutCluster(t)
	db := testdb.Open(t)
	ctx := context.Background()
	var w kv.Watch
	require.NoError(t, db.Transact(ctx, func(tr kv.Transaction) error {
		w = tr.Watch([]byte("w"))
		return nil
	}))
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, w.Wait(short), context.DeadlineExceeded)

	require.NoError(t, db.Transact(ctx, func(tr kv.Transaction) error {
		tr.Set([]byte("w"), []byte("changed"))
		return nil
	}))
	long, cancel2 := context.WithTimeout(ctx, 30*time.Second)
	defer cancel2()
	require.NoError(t, w.Wait(long), "the watch stayed armed after the first Wait gave up")

	var w2 kv.Watch
	require.NoError(t, db.Transact(ctx, func(tr kv.Transaction) error {
		w2 = tr.Watch([]byte("w"))
		return nil
	}))
	w2.Cancel()
	require.ErrorIs(t, w2.Wait(long), kv.ErrOperationCancelled)
}

func TestOnErrorPassesOtherErrorsAndHonoursContext(t *testing.T) {
	skipWithoutCluster(t)
	db := testdb.Open(t)
	ctx := context.Background()
	newTr := func() kv.Transaction {
		tr, err := db.CreateTransaction()
		require.NoError(t, err)
		t.Cleanup(tr.Cancel)
		return tr
	}
	plain := errors.New("not a FoundationDB error")
	require.Equal(t, plain, newTr().OnError(ctx, plain))

	// FoundationDB cancels a transaction whose error it does not retry, so each case gets its own.
	wrapped := errors.Join(errors.New("layer detail"), kv.ErrKeyTooLarge)
	require.Equal(t, wrapped, newTr().OnError(ctx, wrapped), "a code FoundationDB does not retry comes back as given")

	tr := newTr()
	require.NoError(t, tr.OnError(ctx, kv.ErrNotCommitted), "1020 is retried")
	waiting, cancel := context.WithCancel(ctx)
	time.AfterFunc(time.Millisecond, cancel)
	start := time.Now()
	var err error
	for i := 0; i < 20 && err == nil; i++ { // the backoff grows towards a second; ctx ends long before
		err = tr.OnError(waiting, kv.ErrNotCommitted)
	}
	require.ErrorIs(t, err, context.Canceled, "OnError returns ctx.Err() once ctx ends during the backoff")
	require.Less(t, time.Since(start), 5*time.Second, "a backoff is cut short by ctx")

	done, cancel2 := context.WithCancel(ctx)
	cancel2()
	require.ErrorIs(t, newTr().OnError(done, kv.ErrNotCommitted), context.Canceled)
	require.Equal(t, kv.ErrKeyTooLarge, newTr().OnError(done, kv.ErrKeyTooLarge))
}
