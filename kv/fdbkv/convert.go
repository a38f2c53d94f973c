package fdbkv

import (
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

// checkRangeRead rejects a range read that no engine can honour, or that FoundationDB's client
// cannot express, before it is issued.
func checkRangeRead(begin, end kv.KeySelector, o kv.RangeOptions) error {
	if err := checkSelector(begin); err != nil {
		return err
	}
	if err := checkSelector(end); err != nil {
		return err
	}
	return checkRangeOptions(o)
}

// checkRangeOptions rejects range options that no engine can honour, and limits above
// FoundationDB's (its C API takes a 32-bit int, which the binding would silently truncate).
func checkRangeOptions(o kv.RangeOptions) error {
	if o.Limit < 0 {
		return fmt.Errorf("fdbkv: range limit %d is negative (0 means no limit): %w", o.Limit, kv.ErrInvalidOptionValue)
	}
	if o.Limit > math.MaxInt32 {
		return fmt.Errorf("fdbkv: range limit %d is above FoundationDB's largest, %d (0 means no limit): %w", o.Limit, math.MaxInt32, kv.ErrInvalidOptionValue)
	}
	if o.Mode < kv.StreamingIterator || o.Mode > kv.StreamingSerial {
		return fmt.Errorf("fdbkv: unknown streaming mode %d: %w", int(o.Mode), kv.ErrInvalidOptionValue)
	}
	if o.Mode == kv.StreamingExact && o.Limit == 0 {
		return fmt.Errorf("fdbkv: streaming mode exact needs a limit: %w", kv.ErrExactModeWithoutLimits)
	}
	return nil
}

// checkSelector rejects a key selector whose offset FoundationDB's C API, which takes a 32-bit
// int, cannot express; the binding would silently truncate it to another offset.
func checkSelector(s kv.KeySelector) error {
	if s.Offset > math.MaxInt32 || s.Offset < math.MinInt32 {
		return fmt.Errorf("fdbkv: %v: offset outside FoundationDB's range [%d, %d]: %w", s, math.MinInt32, math.MaxInt32, kv.ErrClientInvalidOperation)
	}
	return nil
}

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
