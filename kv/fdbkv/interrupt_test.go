package fdbkv

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/layerkit/layerkit/kv"
	"github.com/stretchr/testify/require"
)

// fakeTransaction behaves as a FoundationDB transaction does for the interrupt: its blocking
// calls end with transaction_cancelled (1025) when it is cancelled, except in multiVersion
// mode, which stands for the multi-version client before it has connected: there Cancel has no
// effect and only a timeout (transaction_timed_out, 1031) ends the calls.
type fakeTransaction struct {
	multiVersion bool

	mu        sync.Mutex
	cancelled bool
	timeoutMS int64
	wake      chan struct{}
	woken     error
}

func newFakeTransaction(multiVersion bool) *fakeTransaction {
	return &fakeTransaction{multiVersion: multiVersion, wake: make(chan struct{})}
}

func (f *fakeTransaction) Cancel() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancelled = true
	if !f.multiVersion {
		f.end(kv.ErrTransactionCancelled)
	}
}

func (f *fakeTransaction) setTimeoutMillis(ms int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.timeoutMS = ms
	if ms > 0 {
		f.end(kv.ErrTransactionTimedOut)
	}
	return nil
}

// state returns whether the transaction was cancelled and its timeout option.
func (f *fakeTransaction) state() (cancelled bool, timeoutMS int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cancelled, f.timeoutMS
}

// end completes every blocked call with err; mu is held.
func (f *fakeTransaction) end(err error) {
	if f.woken == nil {
		f.woken = err
		close(f.wake)
	}
}

// get is a read that the cluster never answers.
func (f *fakeTransaction) get() error {
	<-f.wake
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.woken
}

// blockedCall starts a call of tr through in, as the adapter makes one, and returns its result.
func blockedCall(in *interrupt, tr *fakeTransaction) <-chan error {
	out := make(chan error, 1)
	go func() { out <- in.err(tr.get()) }()
	return out
}

// within waits up to d for the call's result.
func within(t *testing.T, call <-chan error, d time.Duration) error {
	t.Helper()
	select {
	case err := <-call:
		return err
	case <-time.After(d):
		t.Fatalf("the blocked call did not return within %v of its ctx ending", d)
		return nil
	}
}

func TestInterruptStopsBlockedCallWhenCtxIsCancelled(t *testing.T) {
	for _, multiVersion := range []bool{false, true} {
		tr := newFakeTransaction(multiVersion)
		in := newInterrupt(tr)
		ctx, cancel := context.WithCancel(context.Background())
		release := in.bind(ctx)
		defer release()
		call := blockedCall(in, tr)
		time.Sleep(5 * time.Millisecond)
		cancel()
		err := within(t, call, 100*time.Millisecond)
		require.ErrorIs(t, err, context.Canceled, "multiVersion=%v: the ctx's error, not FoundationDB's", multiVersion)
		require.Equal(t, context.Canceled, err, "returned as is, as the embedded engine returns ctx.Err()")
		waitFor(t, "the interrupt to finish stopping the transaction", func() bool {
			_, ms := tr.state()
			return ms != 0
		})
		cancelled, ms := tr.state()
		require.True(t, cancelled, "the transaction is cancelled")
		require.Equal(t, int64(1), ms, "and given a 1 ms timeout, for the multi-version client")
	}
}

func TestInterruptStopsBlockedCallAtCtxDeadline(t *testing.T) {
	tr := newFakeTransaction(false)
	in := newInterrupt(tr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	defer in.bind(ctx)()
	start := time.Now()
	err := within(t, blockedCall(in, tr), 5*time.Second)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	// About 100 ms after the deadline by the contract; the bound leaves a loaded CI machine
	// room, as kvtest's does, while the call would otherwise block until within gives up.
	require.Less(t, time.Since(start), 30*time.Millisecond+750*time.Millisecond)
}

func TestInterruptAfterReleaseLeavesTransactionAlone(t *testing.T) {
	tr := newFakeTransaction(false)
	in := newInterrupt(tr)
	ctx, cancel := context.WithCancel(context.Background())
	release := in.bind(ctx)
	release()
	cancel()
	time.Sleep(10 * time.Millisecond) // an AfterFunc that had not been stopped would run by now
	cancelled, _ := tr.state()
	require.False(t, cancelled, "a ctx ending after release must not cancel the transaction (its watches outlive it)")
	require.NoError(t, in.stopped())
}

func TestInterruptBindToEndedCtxStopsAtOnce(t *testing.T) {
	tr := newFakeTransaction(false)
	in := newInterrupt(tr)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	in.bind(ctx)()
	cancelled, _ := tr.state()
	require.True(t, cancelled)
	require.Equal(t, context.Canceled, in.stopped())
}

func TestInterruptBackgroundCtxNeverStops(t *testing.T) {
	tr := newFakeTransaction(false)
	in := newInterrupt(tr)
	in.bind(context.Background())()
	cancelled, _ := tr.state()
	require.False(t, cancelled)
}

func TestInterruptErrMapping(t *testing.T) {
	tr := newFakeTransaction(false)
	in := newInterrupt(tr)
	other := errors.New("application error")
	for _, err := range []error{kv.ErrTransactionCancelled, kv.ErrOperationCancelled, kv.ErrTransactionTimedOut, kv.ErrNotCommitted, other} {
		require.Equal(t, err, in.err(err), "no ctx ended: %v passes unchanged", err)
	}
	require.NoError(t, in.err(nil))

	in.fire(context.DeadlineExceeded)
	in.fire(context.Canceled) // the first ctx to end is the one reported
	for _, err := range []error{kv.ErrTransactionCancelled, kv.ErrOperationCancelled, kv.ErrTransactionTimedOut} {
		require.Equal(t, context.DeadlineExceeded, in.err(err), "%v after the ctx ended", err)
	}
	require.Equal(t, kv.ErrNotCommitted, in.err(kv.ErrNotCommitted), "other codes are the cluster's answer and pass unchanged")
	require.Equal(t, other, in.err(other))
	require.NoError(t, in.err(nil), "a call that completed still succeeds")

	in.reset()
	require.Equal(t, kv.ErrTransactionCancelled, in.err(kv.ErrTransactionCancelled), "after Reset the stop is forgotten")
}

func TestRunBoundBindsOnlyWhileFnRuns(t *testing.T) {
	tr := newFakeTransaction(false)
	in := newInterrupt(tr)
	ctx, cancel := context.WithCancel(context.Background())
	err := runBound(ctx, in, tr, func(tr *fakeTransaction) error {
		call := blockedCall(in, tr)
		cancel()
		return within(t, call, 100*time.Millisecond)
	})
	require.Equal(t, context.Canceled, err)

	tr2 := newFakeTransaction(false)
	in2 := newInterrupt(tr2)
	ran := false
	require.Equal(t, context.Canceled, runBound(ctx, in2, tr2, func(*fakeTransaction) error { ran = true; return nil }))
	require.False(t, ran, "an ended ctx does not run fn")
	cancelled, _ := tr2.state()
	require.False(t, cancelled, "nor cancel a transaction that had nothing in flight")

	ctx3, cancel3 := context.WithCancel(context.Background())
	require.NoError(t, runBound(ctx3, in2, tr2, func(*fakeTransaction) error { return nil }))
	cancel3()
	time.Sleep(10 * time.Millisecond)
	cancelled, _ = tr2.state()
	require.False(t, cancelled, "the binding ends with fn")
}

// BenchmarkInterruptBind measures what binding a transaction to a context costs per Transact or
// in-place call when the context does not end: nothing for a context that cannot end, one
// context.AfterFunc registration and its removal for the first bind of a context, and a count for
// the nested binds of the same context.
func BenchmarkInterruptBind(b *testing.B) {
	cancellable, cancel := context.WithCancel(context.Background())
	defer cancel()
	withDeadline, cancel2 := context.WithTimeout(context.Background(), time.Hour)
	defer cancel2()
	for _, c := range []struct {
		name string
		ctx  context.Context
	}{
		{"ctx=background", context.Background()},
		{"ctx=cancel", cancellable},
		{"ctx=deadline", withDeadline},
	} {
		b.Run(c.name+",nested=false", func(b *testing.B) {
			in := newInterrupt(newFakeTransaction(false))
			b.ReportAllocs()
			for b.Loop() {
				in.bind(c.ctx)()
			}
		})
		// A layer function run in place inside a Transact of the same ctx.
		b.Run(c.name+",nested=true", func(b *testing.B) {
			in := newInterrupt(newFakeTransaction(false))
			defer in.bind(c.ctx)()
			b.ReportAllocs()
			for b.Loop() {
				in.bind(c.ctx)()
			}
		})
	}
}

// Nested binds of one context (a Transact loop and the layer functions it runs in place) share
// one registration, which lasts until the outermost release.
func TestInterruptNestedBindsOfOneContext(t *testing.T) {
	tr := newFakeTransaction(false)
	in := newInterrupt(tr)
	ctx, cancel := context.WithCancel(context.Background())
	outer := in.bind(ctx)
	inner := in.bind(ctx)
	inner2 := in.bind(ctx)
	other, cancelOther := context.WithCancel(context.Background())
	defer cancelOther()
	third := in.bind(other)
	require.Len(t, in.active, 2, "one registration per context")
	inner()
	inner2()
	third()
	require.Len(t, in.active, 1)
	call := blockedCall(in, tr)
	cancel()
	require.Equal(t, context.Canceled, within(t, call, 100*time.Millisecond), "the outer bind still stops the transaction")
	outer()
	require.Empty(t, in.active)

	tr2 := newFakeTransaction(false)
	in2 := newInterrupt(tr2)
	ctx2, cancel2 := context.WithCancel(context.Background())
	in2.bind(ctx2)()
	in2.bind(ctx2)()
	cancel2()
	time.Sleep(10 * time.Millisecond)
	cancelled, _ := tr2.state()
	require.False(t, cancelled, "released in full, the context no longer stops the transaction")
}
