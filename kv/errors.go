package kv

import (
	"errors"
	"fmt"
)

// Error is an error with a FoundationDB error code. Both engines return these, so
// errors.Is(err, kv.ErrNotCommitted) answers the same on every engine.
type Error struct {
	Code int
}

// Error formats the code with FoundationDB's name and description.
func (e Error) Error() string {
	if info, ok := errorInfo[e.Code]; ok {
		return fmt.Sprintf("kv: %s (%d): %s", info.name, e.Code, info.desc)
	}
	return fmt.Sprintf("kv: error %d", e.Code)
}

// Name is FoundationDB's name for the code, such as "not_committed", or "" when unknown.
func (e Error) Name() string { return errorInfo[e.Code].name }

// Is reports whether target is an Error with the same code.
func (e Error) Is(target error) bool {
	var t Error
	if errors.As(target, &t) {
		return t.Code == e.Code
	}
	return false
}

// Retryable reports whether FoundationDB's retry loop retries this code.
func (e Error) Retryable() bool { return retryable[e.Code] }

// IsRetryable reports whether err is, or wraps, an Error that FoundationDB's retry loop (and
// [Transact]) retries: the codes of fdb_error_predicate(FDB_ERROR_PREDICATE_RETRYABLE) in
// FoundationDB 7.3.63, 1007, 1009, 1020, 1021, 1037, 1038, 1039, 1042, 1051, 1078, 1213 and 1223.
// (1235, transaction_throttled_hot_shard, only exists from FoundationDB 7.4 and is not retried.)
func IsRetryable(err error) bool {
	var e Error
	return errors.As(err, &e) && e.Retryable()
}

// IsMaybeCommitted reports whether err means the commit may or may not have happened: 1021, and
// 1039 (cluster_version_changed), as FoundationDB's FDB_ERROR_PREDICATE_MAYBE_COMMITTED.
func IsMaybeCommitted(err error) bool {
	return errors.Is(err, ErrCommitUnknownResult) || errors.Is(err, Error{1039})
}

// AsError returns the code of the Error inside err, and false when there is none.
func AsError(err error) (Error, bool) {
	var e Error
	ok := errors.As(err, &e)
	return e, ok
}

// Errors with the codes layers test for. Compare with errors.Is, never with ==, since engines
// may wrap them with detail.
var (
	// ErrOperationFailed is returned for a generic failure (1000).
	ErrOperationFailed = Error{1000}
	// ErrTimedOut is returned when an operation timed out (1004).
	ErrTimedOut = Error{1004}
	// ErrTransactionTooOld is returned by a read that needs the database, or a commit that
	// writes, once the transaction's read version has left the window of about five seconds
	// (1007). See the package documentation for what does not need the database.
	ErrTransactionTooOld = Error{1007}
	// ErrFutureVersion is returned when a read version is ahead of the storage (1009).
	ErrFutureVersion = Error{1009}
	// ErrNotCommitted is returned by a commit that conflicted with another transaction (1020).
	ErrNotCommitted = Error{1020}
	// ErrCommitUnknownResult is returned when a commit may or may not have been applied (1021).
	ErrCommitUnknownResult = Error{1021}
	// ErrTransactionCancelled is returned by operations on a cancelled transaction (1025).
	ErrTransactionCancelled = Error{1025}
	// ErrTransactionTimedOut is returned when a transaction exceeded its timeout option (1031).
	ErrTransactionTimedOut = Error{1031}
	// ErrTooManyWatches is returned when a database has too many outstanding watches (1032).
	ErrTooManyWatches = Error{1032}
	// ErrWatchesDisabled is returned by a watch on a transaction without read-your-writes (1034).
	ErrWatchesDisabled = Error{1034}
	// ErrAccessedUnreadable is returned when a transaction reads a key it wrote with a
	// versionstamp, whose bytes are not known before commit (1036).
	ErrAccessedUnreadable = Error{1036}
	// ErrProcessBehind is returned when storage is lagging (1037).
	ErrProcessBehind = Error{1037}
	// ErrDatabaseLocked is returned when the database is locked (1038).
	ErrDatabaseLocked = Error{1038}
	// ErrOperationCancelled is returned by an operation, such as a watch, that was cancelled (1101).
	ErrOperationCancelled = Error{1101}
	// ErrFileCorrupt is returned when the storage finds a data file damaged: a checksum that does
	// not match, a store whose manifest is missing, a log record lost in the middle of the log
	// (1522, file_corrupt, which FoundationDB's storage engines report for the same damage).
	ErrFileCorrupt = Error{1522}
	// ErrLockFileFailure is returned when a database directory cannot be locked because another
	// process, or another open database in this process, is using it (1529, lock_file_failure).
	ErrLockFileFailure = Error{1529}
	// ErrUsedDuringCommit is returned by an operation issued while the transaction commits, or
	// after Commit returned, until Reset or OnError (2017).
	ErrUsedDuringCommit = Error{2017}
	// ErrTransactionInvalidVersion is returned by GetVersionstamp when the commit failed (2020,
	// transaction_invalid_version); the error also wraps the commit's own error.
	ErrTransactionInvalidVersion = Error{2020}
	// ErrNoCommitVersion is returned by GetVersionstamp of a transaction that committed without
	// writing anything (2021, no_commit_version).
	ErrNoCommitVersion = Error{2021}
	// ErrInvertedRange is returned for a range whose begin is after its end (2005).
	ErrInvertedRange = Error{2005}
	// ErrKeyOutsideLegalRange is returned for a write to the system keyspace, keys from 0xff (2004).
	ErrKeyOutsideLegalRange = Error{2004}
	// ErrInvalidMutationType is returned for an unknown atomic mutation type (2018).
	ErrInvalidMutationType = Error{2018}
	// ErrClientInvalidOperation is returned for an invalid API call, such as a versionstamped key or
	// value whose offset does not
	// leave room for the ten versionstamp bytes (2000, client_invalid_operation).
	ErrClientInvalidOperation = Error{2000}
	// ErrTransactionTooLarge is returned by a commit that would send more than 10,000,000 bytes
	// of mutations and conflict ranges, counted as FoundationDB counts them (2101).
	ErrTransactionTooLarge = Error{2101}
	// ErrKeyTooLarge is returned for a key longer than 10,000 bytes (2102).
	ErrKeyTooLarge = Error{2102}
	// ErrValueTooLarge is returned for a value longer than 100,000 bytes (2103).
	ErrValueTooLarge = Error{2103}
	// ErrInvalidOptionValue is returned for an option set to an invalid value (2006).
	ErrInvalidOptionValue = Error{2006}
	// ErrExactModeWithoutLimits is returned by a range read in [StreamingExact] mode without a
	// Limit (2210, exact_mode_without_limits).
	ErrExactModeWithoutLimits = Error{2210}
)

var retryable = map[int]bool{
	1007: true, 1009: true, 1020: true, 1021: true, 1037: true, 1038: true, 1039: true,
	1042: true, 1051: true, 1078: true, 1213: true, 1223: true,
}

type info struct{ name, desc string }

// errorInfo holds FoundationDB's names and descriptions (flow/error_definitions.h) for the codes
// the engines can return.
var errorInfo = map[int]info{
	1000: {"operation_failed", "Operation failed"},
	1004: {"timed_out", "Operation timed out"},
	1007: {"transaction_too_old", "Transaction is too old to perform reads or be committed"},
	1009: {"future_version", "Request for future version"},
	1020: {"not_committed", "Transaction not committed due to conflict with another transaction"},
	1021: {"commit_unknown_result", "Transaction may or may not have committed"},
	1025: {"transaction_cancelled", "Operation aborted because the transaction was cancelled"},
	1031: {"transaction_timed_out", "Operation aborted because the transaction timed out"},
	1032: {"too_many_watches", "Too many watches currently set"},
	1034: {"watches_disabled", "Watches cannot be set if read your writes is disabled"},
	1036: {"accessed_unreadable", "Read or wrote an unreadable key"},
	1037: {"process_behind", "Storage process does not have recent mutations"},
	1038: {"database_locked", "Database is locked"},
	1039: {"cluster_version_changed", "The protocol version of the cluster has changed"},
	1042: {"commit_proxy_memory_limit_exceeded", "CommitProxy commit memory limit exceeded"},
	1051: {"batch_transaction_throttled", "Batch GRV request rate limit exceeded"},
	1078: {"grv_proxy_memory_limit_exceeded", "GetReadVersion proxy memory limit exceeded"},
	1101: {"operation_cancelled", "Asynchronous operation cancelled"},
	1213: {"tag_throttled", "Transaction tag is being throttled"},
	1223: {"proxy_tag_throttled", "Exceeded maximum proxy tag throttling duration"},
	1522: {"file_corrupt", "A structurally corrupt data file was detected"},
	1529: {"lock_file_failure", "Unable to lock the file"},
	2000: {"client_invalid_operation", "Invalid API call"},
	2004: {"key_outside_legal_range", "Key outside legal range"},
	2005: {"inverted_range", "Range begin key larger than end key"},
	2006: {"invalid_option_value", "Option set with an invalid value"},
	2017: {"used_during_commit", "Operation issued while a commit was outstanding"},
	2018: {"invalid_mutation_type", "Unrecognized atomic mutation type"},
	2020: {"transaction_invalid_version", "Transaction does not have a valid commit version"},
	2021: {"no_commit_version", "Transaction is read-only and therefore does not have a commit version"},
	2101: {"transaction_too_large", "Transaction exceeds byte limit"},
	2102: {"key_too_large", "Key length exceeds limit"},
	2103: {"value_too_large", "Value length exceeds limit"},
	2210: {"exact_mode_without_limits", "EXACT streaming mode requires limits, but none were given"},
}
