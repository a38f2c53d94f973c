package fdbkv

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/layerkit/layerkit/kv"
)

// This file holds the engine-independent pieces of the adapter, kept free of the binding so that
// they compile and are tested without libfdb_c.

// codeError turns a FoundationDB error code into the kv error with that code. Codes kv knows come
// back as the bare kv.Error, exactly as the embedded engine returns them; for other codes the
// client library's description (from describe) is kept in the message.
func codeError(code int, describe func() string) error {
	e := kv.Error{Code: code}
	if e.Name() != "" {
		return e
	}
	return fmt.Errorf("fdbkv: %s: %w", describe(), e)
}

// versionstamp checks that the binding returned the ten bytes of a versionstamp.
func versionstamp(b []byte) ([10]byte, error) {
	var out [10]byte
	if len(b) != len(out) {
		return out, fmt.Errorf("fdbkv: versionstamp of %d bytes, want %d: %w", len(b), len(out), kv.ErrOperationFailed)
	}
	copy(out[:], b)
	return out, nil
}

// timeoutMillis converts a timeout to FoundationDB's option value: whole milliseconds, rounded up
// so that a tiny positive timeout does not become 0 (which means none), and capped at the
// option's largest value. A zero or negative d gives 0: no timeout.
func timeoutMillis(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	ms := d / time.Millisecond
	if d%time.Millisecond != 0 {
		ms++
	}
	if ms > math.MaxInt32 {
		return math.MaxInt32
	}
	return int64(ms)
}

// checkRangeOptions rejects range options that no engine can honour, before the read is issued.
func checkRangeOptions(o kv.RangeOptions) error {
	if o.Limit < 0 {
		return fmt.Errorf("fdbkv: range limit %d is negative (0 means no limit): %w", o.Limit, kv.ErrInvalidOptionValue)
	}
	if o.Mode < kv.StreamingIterator || o.Mode > kv.StreamingSerial {
		return fmt.Errorf("fdbkv: unknown streaming mode %d: %w", int(o.Mode), kv.ErrInvalidOptionValue)
	}
	if o.Mode == kv.StreamingExact && o.Limit == 0 {
		return fmt.Errorf("fdbkv: streaming mode exact needs a limit: %w", kv.ErrInvalidOptionValue)
	}
	return nil
}

// waitCtx runs block, which waits for a FoundationDB future and cannot be interrupted, in its own
// goroutine and returns its result, or ctx.Err() once ctx ends first. In that case cancel is
// called so that the future completes (with operation_cancelled) and the goroutine ends.
func waitCtx(ctx context.Context, block func() error, cancel func()) error {
	done := make(chan error, 1)
	go func() { done <- block() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		cancel()
		return ctx.Err()
	}
}

// watch is a kv.Watch over a blocking wait that can be cancelled. The wait runs once, in a
// goroutine started by the first Wait, so a Wait whose ctx ends leaves the watch armed and a later
// Wait sees the same outcome.
type watch struct {
	block  func() error
	cancel func()

	start sync.Once
	done  chan struct{}
	err   error
}

// newWatch returns a watch whose outcome is block's result; cancel makes block return.
func newWatch(block func() error, cancel func()) *watch {
	return &watch{block: block, cancel: cancel, done: make(chan struct{})}
}

// Wait blocks until the watch fires (nil), fails or is cancelled (its error), or ctx ends
// (ctx.Err(); the watch stays armed).
func (w *watch) Wait(ctx context.Context) error {
	w.start.Do(func() {
		go func() {
			w.err = w.block()
			close(w.done)
		}()
	})
	select {
	case <-w.done:
		return w.err
	default:
	}
	select {
	case <-w.done:
		return w.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Cancel stops the watch; Wait then returns the cancellation error (kv.ErrOperationCancelled on
// FoundationDB). It has no effect once the watch has fired.
func (w *watch) Cancel() { w.cancel() }

// versionChoice makes the API version a once-per-process choice, as FoundationDB requires: the
// first call selects it, later calls succeed only when they ask for the same version.
type versionChoice struct {
	once   sync.Once
	chosen int
	err    error
}

// choose selects v through set on the first call and compares later requests with it.
func (c *versionChoice) choose(v int, set func(int) error) error {
	c.once.Do(func() {
		c.chosen = v
		if err := set(v); err != nil {
			c.err = fmt.Errorf("fdbkv: select FoundationDB API version %d: %w", v, err)
		}
	})
	if c.err != nil {
		return c.err
	}
	if v != c.chosen {
		return fmt.Errorf("fdbkv: FoundationDB API version %d was already selected in this process; cannot switch to %d", c.chosen, v)
	}
	return nil
}
