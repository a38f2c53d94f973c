package fdbkv

import (
	"context"
	"runtime"
	"sync"

	"github.com/layerkit/layerkit/kv"
)

// A FoundationDB watch is a future that becomes ready when the key changes. Waiting on it blocks
// a goroutine that nothing but the future can release, so kv's Wait(ctx), which must return when
// ctx ends and leave the watch armed, waits in a helper goroutine that outlives the Wait. That
// goroutine and the watch's slot in the client's watch limit (10,000 by default; too_many_watches,
// 1032, beyond it) are released when the watch fires, when Cancel is called, or, for a watch the
// caller dropped without either, when the garbage collector finds the watch unreachable: a
// cleanup attached to the handle the caller holds cancels the future. The helper goroutine holds
// only the watch's state, never the handle, so it does not keep the handle alive.

// watch is the kv.Watch handed to callers: a handle on the shared state.
type watch struct {
	*watchState
}

// watchState is what the helper goroutine holds.
type watchState struct {
	block  func() error // waits for the future; returns nil when the watch fired
	cancel func()       // cancels the future, which makes block return

	start sync.Once
	done  chan struct{}
	err   error
}

// newWatch returns a watch whose outcome is block's result; cancel makes block return. When the
// returned watch becomes unreachable, cancel is called.
func newWatch(block func() error, cancel func()) kv.Watch {
	s := &watchState{block: block, cancel: cancel, done: make(chan struct{})}
	w := &watch{s}
	runtime.AddCleanup(w, func(s *watchState) { s.cancel() }, s)
	return w
}

// Wait blocks until the watch fires (nil), fails or is cancelled (its error), or ctx ends
// (ctx.Err(); the watch stays armed and a later Wait sees its outcome).
func (w *watch) Wait(ctx context.Context) error {
	// The handle must stay reachable while its Wait runs: `tr.Watch(k).Wait(ctx)` drops it at once,
	// and its cleanup would cancel the watch being waited for.
	defer runtime.KeepAlive(w)
	s := w.watchState
	s.start.Do(func() {
		go func() {
			s.err = s.block()
			close(s.done)
		}()
	})
	select {
	case <-s.done:
		return s.err
	default:
	}
	select {
	case <-s.done:
		return s.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Cancel stops the watch and releases its slot; Wait then returns the cancellation error
// (kv.ErrOperationCancelled on FoundationDB). It has no effect once the watch has fired.
func (w *watch) Cancel() { w.cancel() }
