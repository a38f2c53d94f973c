package fdbkv

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeFuture is a blocking future that completes when fired or cancelled, like a FoundationDB
// future. waiting counts the goroutines blocked in get.
type fakeFuture struct {
	once    sync.Once
	done    chan struct{}
	err     error
	blocks  atomic.Int32
	waiting atomic.Int32
}

var errFakeCancelled = errors.New("fake future cancelled")

func newFakeFuture() *fakeFuture { return &fakeFuture{done: make(chan struct{})} }

func (f *fakeFuture) complete(err error) {
	f.once.Do(func() { f.err = err; close(f.done) })
}
func (f *fakeFuture) fire()   { f.complete(nil) }
func (f *fakeFuture) cancel() { f.complete(errFakeCancelled) }
func (f *fakeFuture) completed() bool {
	select {
	case <-f.done:
		return true
	default:
		return false
	}
}
func (f *fakeFuture) get() error {
	f.blocks.Add(1)
	f.waiting.Add(1)
	defer f.waiting.Add(-1)
	<-f.done
	return f.err
}

func TestWatchFires(t *testing.T) {
	f := newFakeFuture()
	w := newWatch(f.get, f.cancel)
	f.fire()
	require.NoError(t, w.Wait(context.Background()))
	require.NoError(t, w.Wait(context.Background()), "a second Wait sees the same outcome")
	require.Equal(t, int32(1), f.blocks.Load(), "the future is waited for once")
}

func TestWatchStaysArmedWhenCtxEnds(t *testing.T) {
	f := newFakeFuture()
	w := newWatch(f.get, f.cancel)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, w.Wait(ctx), context.DeadlineExceeded)
	require.False(t, f.completed(), "an ended ctx must not cancel the watch")
	f.fire()
	require.NoError(t, w.Wait(context.Background()))
}

func TestWatchCancel(t *testing.T) {
	f := newFakeFuture()
	w := newWatch(f.get, f.cancel)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = w.Wait(context.Background())
		}()
	}
	w.Cancel()
	wg.Wait()
	for _, err := range errs {
		require.ErrorIs(t, err, errFakeCancelled)
	}
	require.Equal(t, int32(1), f.blocks.Load())
}

func TestWatchCancelAfterFireKeepsFire(t *testing.T) {
	f := newFakeFuture()
	w := newWatch(f.get, f.cancel)
	f.fire()
	w.Cancel()
	require.NoError(t, w.Wait(context.Background()))
}

// waitFor polls cond until it holds, running the garbage collector between polls so that
// cleanups of unreachable watches run; it fails the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after 10s: %s", what)
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}

// A watch whose Wait ended with its ctx and that the caller then drops must release the helper
// goroutine and the FoundationDB watch (here: the fake future), not hold them until the key
// changes.
func TestDroppedWatchAfterCtxEndReleasesGoroutineAndFuture(t *testing.T) {
	f := newFakeFuture()
	func() {
		w := newWatch(f.get, f.cancel)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		defer cancel()
		require.ErrorIs(t, w.Wait(ctx), context.DeadlineExceeded)
		require.Equal(t, int32(1), f.waiting.Load(), "the helper goroutine waits on the future")
	}()
	waitFor(t, "the dropped watch's future to be cancelled", f.completed)
	require.ErrorIs(t, f.err, errFakeCancelled, "dropping the watch cancels it rather than firing it")
	waitFor(t, "the helper goroutine to end", func() bool { return f.waiting.Load() == 0 })
}

func TestDroppedWatchNeverWaitedIsCancelled(t *testing.T) {
	f := newFakeFuture()
	_ = newWatch(f.get, f.cancel)
	waitFor(t, "the dropped watch's future to be cancelled", f.completed)
	require.Zero(t, f.blocks.Load(), "a watch never waited for starts no goroutine")
}

// The handle of a watch being waited for must stay reachable for the whole Wait even when the
// caller holds no other reference, as in tr.Watch(k).Wait(ctx): otherwise its cleanup would
// cancel the watch under the waiter.
func TestWatchWaitedThroughTemporaryIsNotCancelled(t *testing.T) {
	f := newFakeFuture()
	result := make(chan error, 1)
	go func() { result <- newWatch(f.get, f.cancel).Wait(context.Background()) }()
	waitFor(t, "the Wait to block on the future", func() bool { return f.waiting.Load() == 1 })
	for range 5 {
		runtime.GC()
		time.Sleep(2 * time.Millisecond)
	}
	select {
	case err := <-result:
		t.Fatalf("Wait returned %v before the watch fired", err)
	default:
	}
	f.fire()
	require.NoError(t, <-result)
}
