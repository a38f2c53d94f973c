package kvtest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
)

func watchCases() []testCase {
	return []testCase{
		{"FiresOnChange", testWatchFiresOnChange},
		{"FiresOnCreateClearAtomic", testWatchFiresOnEveryKindOfChange},
		{"NotOnSameValue", testWatchNotOnSameValue},
		{"NotBeforeCommit", testWatchNotBeforeCommit},
		{"OwnWrite", testWatchOwnWrite},
		{"Cancel", testWatchCancel},
		{"ContextEndsWaitOnly", testWatchContext},
		{"FailedTransaction", testWatchFailedTransaction},
		{"ResetTransaction", testWatchReset},
		{"ManyWatchers", testWatchMany},
		{"OwnWriteBeforeCommit", testWatchOwnWriteBeforeCommit},
		{"DroppedWatchFreesSlot", testWatchDropped},
	}
}

// fireTimeout bounds how long a watch that must fire may take.
const fireTimeout = 5 * time.Second

// quiet is how long a watch that must not fire is observed.
const quiet = 100 * time.Millisecond

// watch creates a watch on key in a committed transaction.
func watch(t *testing.T, db kv.Database, key []byte) kv.Watch {
	t.Helper()
	tr := newTr(t, db)
	w := tr.Watch(key)
	require.NoError(t, tr.Commit())
	t.Cleanup(w.Cancel)
	return w
}

func requireFires(t *testing.T, w kv.Watch, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), fireTimeout)
	defer cancel()
	require.NoError(t, w.Wait(ctx), msg)
}

func requireQuiet(t *testing.T, w kv.Watch, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), quiet)
	defer cancel()
	require.ErrorIs(t, w.Wait(ctx), context.DeadlineExceeded, msg)
}

func testWatchFiresOnChange(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "k", "1")
	w := watch(t, db, b("k"))
	requireQuiet(t, w, "nothing changed yet")
	setKeys(t, db, "k", "2")
	requireFires(t, w, "a committed change fires the watch")
	require.NoError(t, w.Wait(context.Background()), "Wait keeps returning the result")
}

func testWatchFiresOnEveryKindOfChange(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "present", "1", "n", "\x01", "r", "1")
	wCreate := watch(t, db, b("absent"))
	wClear := watch(t, db, b("present"))
	wAtomic := watch(t, db, b("n"))
	wRange := watch(t, db, b("r"))
	write(t, db, func(tr kv.Transaction) {
		tr.Set(b("absent"), b("now"))
		tr.Clear(b("present"))
		tr.Atomic(kv.Add, b("n"), []byte{1})
		tr.ClearRange(rng("q", "s"))
	})
	requireFires(t, wCreate, "creating a key fires")
	requireFires(t, wClear, "clearing a key fires")
	requireFires(t, wAtomic, "an atomic op that changes the value fires")
	requireFires(t, wRange, "a clear-range over the key fires")
}

// FoundationDB's watches compare values: a write that stores the value the watch saw is no
// change, and the watch stays armed.
func testWatchNotOnSameValue(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "k", "1")
	w := watch(t, db, b("k"))
	setKeys(t, db, "k", "1")
	requireQuiet(t, w, "setting the same value does not fire")
	setKeys(t, db, "k", "2")
	requireFires(t, w, "a later real change still fires")
}

func testWatchNotBeforeCommit(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "k", "1")
	tr := newTr(t, db)
	w := tr.Watch(b("k"))
	t.Cleanup(w.Cancel)
	setKeys(t, db, "k", "2")
	requireQuiet(t, w, "a watch reports nothing before its transaction commits")
	require.NoError(t, tr.Commit())
	requireFires(t, w, "after the commit, the change since the read version fires the watch")
}

func testWatchOwnWrite(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "k", "1")
	tr := newTr(t, db)
	w := tr.Watch(b("k"))
	t.Cleanup(w.Cancel)
	tr.Set(b("k"), b("2"))
	require.NoError(t, tr.Commit())
	requireFires(t, w, "a change made by the watch's own transaction is reported")
}

func testWatchCancel(t *testing.T, s *suite) {
	db := s.db(t)
	w := watch(t, db, b("k"))
	done := make(chan error, 1)
	go func() { done <- w.Wait(context.Background()) }()
	time.Sleep(20 * time.Millisecond)
	w.Cancel()
	select {
	case err := <-done:
		requireCode(t, kv.ErrOperationCancelled, err, "Cancel ends a blocked Wait")
	case <-time.After(fireTimeout):
		t.Fatal("Wait did not return after Cancel")
	}
	requireCode(t, kv.ErrOperationCancelled, w.Wait(context.Background()), "and later Waits")
	setKeys(t, db, "k", "v")
	requireCode(t, kv.ErrOperationCancelled, w.Wait(context.Background()), "a cancelled watch never fires")
}

func testWatchContext(t *testing.T, s *suite) {
	db := s.db(t)
	w := watch(t, db, b("k"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, w.Wait(ctx), context.Canceled, "Wait returns ctx.Err() when ctx ends")
	setKeys(t, db, "k", "v")
	requireFires(t, w, "the watch stays armed after a Wait's ctx ended")
}

func testWatchFailedTransaction(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "k", "1", "r", "1")
	tr := startTr(t, db)
	get(t, tr, b("r"))
	w := tr.Watch(b("k"))
	t.Cleanup(w.Cancel)
	tr.Set(b("x"), b("x"))
	setKeys(t, db, "r", "2")
	requireConflict(t, tr.Commit(), "setup: the watch's transaction conflicts")
	ctx, cancel := context.WithTimeout(context.Background(), fireTimeout)
	defer cancel()
	err := w.Wait(ctx)
	require.False(t, errors.Is(err, context.DeadlineExceeded), "the watch of a failed transaction must fail, not hang")
	requireCode(t, kv.ErrNotCommitted, err, "the watch fails with the transaction's error")

	tr = newTr(t, db)
	w = tr.Watch(b("k"))
	tr.Cancel()
	requireCode(t, kv.ErrTransactionCancelled, w.Wait(ctx), "a cancelled transaction's watch fails with 1025")
}

func testWatchReset(t *testing.T, s *suite) {
	db := s.db(t)
	tr := newTr(t, db)
	w := tr.Watch(b("k"))
	tr.Reset()
	ctx, cancel := context.WithTimeout(context.Background(), fireTimeout)
	defer cancel()
	requireCode(t, kv.ErrTransactionCancelled, w.Wait(ctx), "resetting an uncommitted transaction fails its watches with 1025")
}

func testWatchMany(t *testing.T, s *suite) {
	db := s.db(t)
	var ws []kv.Watch
	for range 20 {
		ws = append(ws, watch(t, db, b("k")))
	}
	other := watch(t, db, b("other"))
	setKeys(t, db, "k", "v")
	for _, w := range ws {
		requireFires(t, w, "every watch on the key fires")
	}
	requireQuiet(t, other, "a watch on another key does not")
}

// A write of the watching transaction itself that changes the key fires the watch at once,
// before the commit and whatever becomes of it (ReadYourWrites.actor.cpp, RYWImpl::triggerWatches
// on every set, clear and atomic op). A write of the same value does not; an atomic mutation
// always does (its result is not known).
func testWatchOwnWriteBeforeCommit(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "k", "1", "n", "\x01", "r", "1")
	tr := newTr(t, db)
	same := tr.Watch(b("k"))
	changed := tr.Watch(b("k"))
	t.Cleanup(same.Cancel)
	tr.Set(b("k"), b("1"))
	requireQuiet(t, same, "a write of the value the watch saw does not fire it")
	tr.Set(b("k"), b("2"))
	requireFires(t, changed, "a write of another value fires it before the commit")

	atomic := tr.Watch(b("n"))
	cleared := tr.Watch(b("r"))
	absent := tr.Watch(b("never"))
	t.Cleanup(absent.Cancel)
	tr.Atomic(kv.Add, b("n"), []byte{0})
	requireFires(t, atomic, "an atomic op fires it, even one that leaves the value as it was")
	tr.ClearRange(rng("q", "s"))
	requireFires(t, cleared, "a range clear over the key")
	tr.Clear(b("never"))
	requireQuiet(t, absent, "clearing a key that was absent changes nothing")
	tr.Cancel()
	requireFires(t, changed, "a watch that fired stays fired when its transaction is cancelled")
}

// A watch whose Wait ended with its ctx, and that the caller then drops, gives back its slot of
// the watch limit (10,000 per database) once collected, as a dropped watch future does in
// FoundationDB's Go binding. Five rounds of 2,500 dropped watches would pass the limit if the
// slots stayed taken.
func testWatchDropped(t *testing.T, s *suite) {
	db := s.db(t)
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	for round := range 5 {
		err := dropWatches(t, db, round, ended)
		for tries := 0; errors.Is(err, kv.ErrTooManyWatches) && tries < 50; tries++ {
			// The slots of the earlier rounds are freed as their watches are collected.
			runtime.GC()
			time.Sleep(20 * time.Millisecond)
			err = dropWatches(t, db, round, ended)
		}
		require.NoError(t, err, "round %d of 2,500 watches: dropped watches must give back their slots", round)
		runtime.GC()
	}
}

// dropWatches sets 2,500 watches in one transaction, waits on each with an ended ctx before and
// after the commit, and drops them.
func dropWatches(t *testing.T, db kv.Database, round int, ended context.Context) error {
	tr := newTr(t, db)
	ws := make([]kv.Watch, 2500)
	for i := range ws {
		ws[i] = tr.Watch(fmt.Appendf(nil, "dw/%d/%04d", round, i))
	}
	for _, w := range ws {
		if err := w.Wait(ended); !errors.Is(err, context.Canceled) {
			tr.Cancel()
			return err
		}
	}
	if err := tr.Commit(); err != nil {
		return err
	}
	for _, w := range ws {
		if err := w.Wait(ended); !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return nil
}
