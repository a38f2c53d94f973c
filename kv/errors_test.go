package kv_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
)

// fdbNames are FoundationDB's names of the codes kv exports (flow/error_definitions.h).
var fdbNames = map[kv.Error]string{
	kv.ErrOperationFailed:           "operation_failed",
	kv.ErrTimedOut:                  "timed_out",
	kv.ErrTransactionTooOld:         "transaction_too_old",
	kv.ErrFutureVersion:             "future_version",
	kv.ErrNotCommitted:              "not_committed",
	kv.ErrCommitUnknownResult:       "commit_unknown_result",
	kv.ErrTransactionCancelled:      "transaction_cancelled",
	kv.ErrTransactionTimedOut:       "transaction_timed_out",
	kv.ErrTooManyWatches:            "too_many_watches",
	kv.ErrWatchesDisabled:           "watches_disabled",
	kv.ErrAccessedUnreadable:        "accessed_unreadable",
	kv.ErrProcessBehind:             "process_behind",
	kv.ErrDatabaseLocked:            "database_locked",
	kv.ErrOperationCancelled:        "operation_cancelled",
	kv.ErrFileCorrupt:               "file_corrupt",
	kv.ErrLockFileFailure:           "lock_file_failure",
	kv.ErrUsedDuringCommit:          "used_during_commit",
	kv.ErrInvertedRange:             "inverted_range",
	kv.ErrKeyOutsideLegalRange:      "key_outside_legal_range",
	kv.ErrInvalidMutationType:       "invalid_mutation_type",
	kv.ErrClientInvalidOperation:    "client_invalid_operation",
	kv.ErrTransactionTooLarge:       "transaction_too_large",
	kv.ErrKeyTooLarge:               "key_too_large",
	kv.ErrValueTooLarge:             "value_too_large",
	kv.ErrInvalidOptionValue:        "invalid_option_value",
	kv.ErrTransactionInvalidVersion: "transaction_invalid_version",
	kv.ErrNoCommitVersion:           "no_commit_version",
	kv.ErrExactModeWithoutLimits:    "exact_mode_without_limits",
	// Retryable codes without a sentinel.
	{Code: 1039}: "cluster_version_changed",
	{Code: 1042}: "commit_proxy_memory_limit_exceeded",
	{Code: 1051}: "batch_transaction_throttled",
	{Code: 1078}: "grv_proxy_memory_limit_exceeded",
	{Code: 1213}: "tag_throttled",
	{Code: 1223}: "proxy_tag_throttled",
}

func TestErrorNames(t *testing.T) {
	codes := map[kv.Error]int{
		kv.ErrOperationFailed: 1000, kv.ErrTimedOut: 1004, kv.ErrTransactionTooOld: 1007, kv.ErrFutureVersion: 1009,
		kv.ErrNotCommitted: 1020, kv.ErrCommitUnknownResult: 1021, kv.ErrTransactionCancelled: 1025,
		kv.ErrTransactionTimedOut: 1031, kv.ErrTooManyWatches: 1032, kv.ErrWatchesDisabled: 1034,
		kv.ErrAccessedUnreadable: 1036, kv.ErrProcessBehind: 1037, kv.ErrDatabaseLocked: 1038,
		kv.ErrOperationCancelled: 1101, kv.ErrClientInvalidOperation: 2000, kv.ErrKeyOutsideLegalRange: 2004,
		kv.ErrInvertedRange: 2005, kv.ErrInvalidOptionValue: 2006, kv.ErrUsedDuringCommit: 2017,
		kv.ErrInvalidMutationType: 2018, kv.ErrTransactionTooLarge: 2101, kv.ErrKeyTooLarge: 2102,
		kv.ErrValueTooLarge: 2103, kv.ErrTransactionInvalidVersion: 2020, kv.ErrNoCommitVersion: 2021,
		kv.ErrExactModeWithoutLimits: 2210, kv.ErrFileCorrupt: 1522, kv.ErrLockFileFailure: 1529,
	}
	for e, code := range codes {
		require.Equal(t, code, e.Code, "code of %s", fdbNames[e])
	}
	for e, name := range fdbNames {
		require.Equal(t, name, e.Name(), "name of %d", e.Code)
		msg := e.Error()
		require.Contains(t, msg, name)
		require.Contains(t, msg, fmt.Sprint(e.Code))
	}
	require.Equal(t, "", kv.Error{Code: 4242}.Name(), "unknown codes have no name")
	require.Equal(t, "kv: error 4242", kv.Error{Code: 4242}.Error())
}

func TestErrorIs(t *testing.T) {
	wrapped := fmt.Errorf("layer: saving record: %w", kv.ErrNotCommitted)
	require.ErrorIs(t, wrapped, kv.ErrNotCommitted)
	require.ErrorIs(t, wrapped, kv.Error{Code: 1020}, "any Error with the same code matches")
	require.NotErrorIs(t, wrapped, kv.ErrCommitUnknownResult)
	require.NotErrorIs(t, kv.ErrNotCommitted, errors.New("not_committed"))
	require.ErrorIs(t, fmt.Errorf("a: %w", fmt.Errorf("b: %w", kv.ErrKeyTooLarge)), kv.ErrKeyTooLarge, "through several wraps")

	e, ok := kv.AsError(wrapped)
	require.True(t, ok)
	require.Equal(t, 1020, e.Code)
	_, ok = kv.AsError(errors.New("plain"))
	require.False(t, ok)
	_, ok = kv.AsError(nil)
	require.False(t, ok)
}

// fdbRetryable is fdb_error_predicate(FDB_ERROR_PREDICATE_RETRYABLE) of FoundationDB 7.3.63's C
// client (bindings/c/fdb_c.cpp:78-95): the maybe-committed codes (1021, 1039) and the retryable
// not-committed ones. 1235 (transaction_throttled_hot_shard) is not among them: 7.3.63 has no
// such error; it was added, and made retryable, in 7.4.
var fdbRetryable = map[int]bool{
	1007: true, 1009: true, 1020: true, 1021: true, 1037: true, 1038: true, 1039: true,
	1042: true, 1051: true, 1078: true, 1213: true, 1223: true,
}

func TestIsRetryable(t *testing.T) {
	for code := 0; code < 7000; code++ {
		e := kv.Error{Code: code}
		require.Equal(t, fdbRetryable[code], kv.IsRetryable(e), "IsRetryable(%d)", code)
		require.Equal(t, fdbRetryable[code], e.Retryable(), "Retryable(%d)", code)
		require.Equal(t, fdbRetryable[code], kv.IsRetryable(fmt.Errorf("wrapped: %w", e)), "wrapped %d", code)
	}
	require.False(t, kv.IsRetryable(nil))
	require.False(t, kv.IsRetryable(errors.New("not_committed")))
	for _, code := range []int{1025, 1031, 1036, 1101, 1235, 2004, 2101, 2102, 2103} {
		require.False(t, kv.IsRetryable(kv.Error{Code: code}), "%d must not be retried", code)
	}
}

func TestIsMaybeCommitted(t *testing.T) {
	for code := 0; code < 7000; code++ {
		want := code == 1021 || code == 1039
		require.Equal(t, want, kv.IsMaybeCommitted(kv.Error{Code: code}), "IsMaybeCommitted(%d)", code)
	}
	require.True(t, kv.IsMaybeCommitted(fmt.Errorf("commit: %w", kv.ErrCommitUnknownResult)))
	require.False(t, kv.IsMaybeCommitted(nil))
}

func TestErrorMessagesAreFoundationDBs(t *testing.T) {
	require.True(t, strings.HasPrefix(kv.ErrNotCommitted.Error(), "kv: not_committed (1020): "))
	require.Contains(t, kv.ErrNotCommitted.Error(), "Transaction not committed due to conflict with another transaction")
}
