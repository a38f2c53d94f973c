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
	require.ErrorContains(t, err, "Options.APIVersion 710 is not supported: only 730")
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
	// FoundationDB (API 610 and later) cancels a transaction whose error it does not retry; the
	// adapter does the same for errors FoundationDB never sees, so each case gets its own.
	requireCancelled := func(tr kv.Transaction, why string) {
		t.Helper()
		_, err := tr.Get([]byte("k")).Get()
		require.ErrorIs(t, err, kv.ErrTransactionCancelled, why)
	}
	plain := errors.New("not a FoundationDB error")
	tr0 := newTr()
	require.Equal(t, plain, tr0.OnError(ctx, plain))
	requireCancelled(tr0, "an error without a code leaves the transaction cancelled")

	wrapped := errors.Join(errors.New("layer detail"), kv.ErrKeyTooLarge)
	tr1 := newTr()
	require.Equal(t, wrapped, tr1.OnError(ctx, wrapped), "a code FoundationDB does not retry comes back as given")
	requireCancelled(tr1, "FoundationDB's OnError cancels the transaction for a code it does not retry")
	tr1.Reset()
	_, err := tr1.Get([]byte("k")).Get()
	require.NoError(t, err, "Reset makes it usable again")

	tr := newTr()
	require.NoError(t, tr.OnError(ctx, kv.ErrNotCommitted), "1020 is retried")
	waiting, cancel := context.WithCancel(ctx)
	time.AfterFunc(time.Millisecond, cancel)
	start := time.Now()
	err = nil
	for i := 0; i < 20 && err == nil; i++ { // the backoff grows towards a second; ctx ends long before
		err = tr.OnError(waiting, kv.ErrNotCommitted)
	}
	require.ErrorIs(t, err, context.Canceled, "OnError returns ctx.Err() once ctx ends during the backoff")
	require.Less(t, time.Since(start), 5*time.Second, "a backoff is cut short by ctx")

	requireCancelled(tr, "an OnError cut short by ctx leaves the transaction cancelled, as FoundationDB does")

	done, cancel2 := context.WithCancel(ctx)
	cancel2()
	tr2 := newTr()
	require.ErrorIs(t, tr2.OnError(done, kv.ErrNotCommitted), context.Canceled)
	requireCancelled(tr2, "ctx ended before OnError")
	require.Equal(t, kv.ErrKeyTooLarge, newTr().OnError(done, kv.ErrKeyTooLarge))
}
