package fdbkv

import (
	"errors"
	"fmt"
	"math"
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
		{Limit: math.MaxInt32}, // FoundationDB's largest limit is accepted as is
	} {
		require.NoError(t, checkRangeOptions(ok), "%+v", ok)
	}
	for _, c := range []struct {
		opts kv.RangeOptions
		want string
		code kv.Error
	}{
		{kv.RangeOptions{Limit: -1}, "range limit -1 is negative", kv.ErrInvalidOptionValue},
		{kv.RangeOptions{Mode: kv.StreamingSerial + 1}, "unknown streaming mode 7", kv.ErrInvalidOptionValue},
		{kv.RangeOptions{Mode: -1}, "unknown streaming mode -1", kv.ErrInvalidOptionValue},
		{kv.RangeOptions{Mode: kv.StreamingExact}, "exact needs a limit", kv.ErrExactModeWithoutLimits},
		{kv.RangeOptions{Limit: math.MaxInt32 + 1}, "range limit 2147483648 is above FoundationDB's largest, 2147483647", kv.ErrInvalidOptionValue},
	} {
		err := checkRangeOptions(c.opts)
		require.ErrorIs(t, err, c.code, "%+v", c.opts)
		require.Contains(t, err.Error(), c.want)
	}
}

func TestCheckSelector(t *testing.T) {
	for _, off := range []int{0, 1, -1, math.MaxInt32, math.MinInt32} {
		require.NoError(t, checkSelector(kv.FirstGreaterOrEqual([]byte("k")).Add(off-1)), "offset %d", off)
	}
	for _, off := range []int{math.MaxInt32 + 1, math.MinInt32 - 1, math.MaxInt64} {
		sel := kv.KeySelector{Key: []byte("k"), Offset: off}
		err := checkSelector(sel)
		require.ErrorIs(t, err, kv.ErrClientInvalidOperation, "offset %d", off)
		require.Contains(t, err.Error(), fmt.Sprintf("offset=%d", off), "the error names the selector")
		require.Contains(t, err.Error(), "outside FoundationDB's range [-2147483648, 2147483647]")
	}
}

func TestCheckRangeReadChecksBothSelectorsAndOptions(t *testing.T) {
	ok := kv.FirstGreaterOrEqual([]byte("a"))
	far := kv.FirstGreaterOrEqual([]byte("b")).Add(math.MaxInt32)
	require.NoError(t, checkRangeRead(ok, ok.Add(5), kv.RangeOptions{Limit: 3}))
	require.ErrorIs(t, checkRangeRead(far, ok, kv.RangeOptions{}), kv.ErrClientInvalidOperation, "begin")
	require.ErrorIs(t, checkRangeRead(ok, far, kv.RangeOptions{}), kv.ErrClientInvalidOperation, "end")
	require.ErrorIs(t, checkRangeRead(ok, ok, kv.RangeOptions{Limit: math.MaxInt32 + 1}), kv.ErrInvalidOptionValue)
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
	for _, opts := range []*Options{nil, {}, {APIVersion: 730}} {
		v, err := opts.apiVersion()
		require.NoError(t, err)
		require.Equal(t, 730, v)
	}
	for _, bad := range []int{-1, 520, 610, 700, 710, 720, 731, 800} {
		_, err := (&Options{APIVersion: bad}).apiVersion()
		require.Error(t, err, "APIVersion %d", bad)
		require.Contains(t, err.Error(), fmt.Sprintf("Options.APIVersion %d is not supported: only 730", bad))
	}
}

func TestOptionsCheck(t *testing.T) {
	require.NoError(t, (*Options)(nil).check())
	require.NoError(t, (&Options{TransactionTimeout: time.Second, MaxRetryDelay: time.Second, ConnectTimeout: time.Second}).check())
	for _, c := range []struct {
		opts Options
		want string
	}{
		{Options{TransactionTimeout: -time.Second}, "TransactionTimeout -1s is negative"},
		{Options{MaxRetryDelay: -time.Millisecond}, "MaxRetryDelay -1ms is negative"},
		{Options{ConnectTimeout: -time.Minute}, "ConnectTimeout -1m0s is negative"},
		{Options{Network: &NetworkOptions{TraceFormat: "yaml"}}, `TraceFormat "yaml"`},
	} {
		require.ErrorContains(t, c.opts.check(), c.want)
	}
}
