package fdbkv

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/layerkit/layerkit/kv"
	"github.com/stretchr/testify/require"
)

// These tests cover the adapter's engine-independent pieces without libfdb_c; the adapter itself
// is proved by kvtest against a real cluster (conformance_test.go, build tag fdb).

func TestCodeErrorKnownCodeIsBareKVError(t *testing.T) {
	called := false
	err := codeError(1020, func() string { called = true; return "unused" })
	require.Equal(t, kv.ErrNotCommitted, err, "a code kv knows must come back exactly as the embedded engine returns it")
	require.True(t, errors.Is(err, kv.ErrNotCommitted))
	require.True(t, kv.IsRetryable(err))
	require.False(t, called, "the client library is not asked to describe codes kv knows")
}

func TestCodeErrorUnknownCodeKeepsDescription(t *testing.T) {
	// 1510 (a code outside kv's table) must keep the client library's description.
	err := codeError(1510, func() string { return "Operation failed because of a new protocol version" })
	require.True(t, errors.Is(err, kv.Error{Code: 1510}))
	e, ok := kv.AsError(err)
	require.True(t, ok)
	require.Equal(t, 1510, e.Code)
	require.Contains(t, err.Error(), "new protocol version")
	require.False(t, errors.Is(err, kv.ErrNotCommitted))
}

func TestVersionstampLength(t *testing.T) {
	b := []byte{0, 0, 0, 0, 0, 0, 0, 7, 0, 1}
	v, err := versionstamp(b)
	require.NoError(t, err)
	require.Equal(t, [10]byte{0, 0, 0, 0, 0, 0, 0, 7, 0, 1}, v)

	_, err = versionstamp(b[:9])
	require.ErrorIs(t, err, kv.ErrOperationFailed)
	require.Contains(t, err.Error(), "9 bytes")
}

func TestTimeoutMillis(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want int64
	}{
		{0, 0},
		{-time.Second, 0},
		{time.Nanosecond, 1}, // rounds up: 0 would mean no timeout at all
		{time.Millisecond, 1},
		{1500 * time.Microsecond, 2},
		{2 * time.Second, 2000},
		{time.Duration(math.MaxInt64), math.MaxInt32}, // the option's largest value
	} {
		require.Equal(t, c.want, timeoutMillis(c.d), "timeoutMillis(%v)", c.d)
	}
}

func TestCheckRangeOptions(t *testing.T) {
	for _, ok := range []kv.RangeOptions{
		{},
		{Limit: 10, Reverse: true},
		{Mode: kv.StreamingWantAll},
		{Limit: 3, Mode: kv.StreamingExact},
		{Mode: kv.StreamingSerial},
	} {
		require.NoError(t, checkRangeOptions(ok), "%+v", ok)
	}
	for _, c := range []struct {
		opts kv.RangeOptions
		want string
	}{
		{kv.RangeOptions{Limit: -1}, "range limit -1 is negative"},
		{kv.RangeOptions{Mode: kv.StreamingSerial + 1}, "unknown streaming mode 7"},
		{kv.RangeOptions{Mode: -1}, "unknown streaming mode -1"},
		{kv.RangeOptions{Mode: kv.StreamingExact}, "exact needs a limit"},
	} {
		err := checkRangeOptions(c.opts)
		require.ErrorIs(t, err, kv.ErrInvalidOptionValue, "%+v", c.opts)
		require.Contains(t, err.Error(), c.want)
	}
}

// fakeFuture is a blocking future that completes when fired or cancelled, like a FoundationDB
// future.
type fakeFuture struct {
	once   sync.Once
	done   chan struct{}
	err    error
	blocks atomic.Int32
}

var errFakeCancelled = errors.New("fake future cancelled")

func newFakeFuture() *fakeFuture { return &fakeFuture{done: make(chan struct{})} }

func (f *fakeFuture) complete(err error) {
	f.once.Do(func() { f.err = err; close(f.done) })
}
func (f *fakeFuture) fire()   { f.complete(nil) }
func (f *fakeFuture) cancel() { f.complete(errFakeCancelled) }
func (f *fakeFuture) get() error {
	f.blocks.Add(1)
	<-f.done
	return f.err
}

func TestWaitCtxReturnsResult(t *testing.T) {
	f := newFakeFuture()
	want := errors.New("boom")
	go f.complete(want)
	require.Equal(t, want, waitCtx(context.Background(), f.get, f.cancel))
}

func TestWaitCtxCancelsFutureWhenCtxEnds(t *testing.T) {
	f := newFakeFuture()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, waitCtx(ctx, f.get, f.cancel), context.Canceled)
	select {
	case <-f.done: // the future was cancelled, so the waiting goroutine ends
	case <-time.After(10 * time.Second):
		t.Fatal("future not cancelled after ctx ended")
	}
	require.ErrorIs(t, f.err, errFakeCancelled)
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
	select {
	case <-f.done:
		t.Fatal("an ended ctx must not cancel the watch")
	default:
	}
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

func TestVersionChoice(t *testing.T) {
	var c versionChoice
	var calls []int
	set := func(v int) error { calls = append(calls, v); return nil }
	require.NoError(t, c.choose(730, set))
	require.NoError(t, c.choose(730, set))
	require.Equal(t, []int{730}, calls, "the version is selected once per process")

	err := c.choose(710, set)
	require.Error(t, err)
	require.Contains(t, err.Error(), "730 was already selected")
	require.Contains(t, err.Error(), "710")
	require.Equal(t, []int{730}, calls)
}

func TestVersionChoiceFailureIsSticky(t *testing.T) {
	var c versionChoice
	calls := 0
	set := func(int) error { calls++; return kv.Error{Code: 2203} }
	err := c.choose(730, set)
	require.ErrorIs(t, err, kv.Error{Code: 2203})
	require.Contains(t, err.Error(), "API version 730")
	require.ErrorIs(t, c.choose(730, set), kv.Error{Code: 2203})
	require.Equal(t, 1, calls, "FoundationDB allows one attempt per process")
}

func TestOptionsAPIVersion(t *testing.T) {
	for _, c := range []struct {
		opts *Options
		want int
	}{
		{nil, 730},
		{&Options{}, 730},
		{&Options{APIVersion: 710}, 710},
		{&Options{APIVersion: 610}, 610},
	} {
		v, err := c.opts.apiVersion()
		require.NoError(t, err)
		require.Equal(t, c.want, v)
	}
	for _, bad := range []int{-1, 520, 731, 800} {
		_, err := (&Options{APIVersion: bad}).apiVersion()
		require.Error(t, err, "APIVersion %d", bad)
		require.True(t, strings.Contains(err.Error(), "not supported"), err.Error())
	}
}

func TestOptionsCheck(t *testing.T) {
	require.NoError(t, (*Options)(nil).check())
	require.NoError(t, (&Options{TransactionTimeout: time.Second, MaxRetryDelay: time.Second}).check())
	err := (&Options{TransactionTimeout: -time.Second}).check()
	require.ErrorContains(t, err, "TransactionTimeout -1s is negative")
	err = (&Options{MaxRetryDelay: -time.Millisecond}).check()
	require.ErrorContains(t, err, "MaxRetryDelay -1ms is negative")
}
