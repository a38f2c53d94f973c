package kv

import (
	"context"
	"time"
)

// ReadTransactor is something a read-only function can run in: a [Database] (in a retry loop) or
// a [ReadTransaction] (in place).
type ReadTransactor interface {
	// ReadTransact runs fn in a read-only transaction. A Database retries retryable errors as
	// [Transact] does; a transaction runs fn once, in place.
	ReadTransact(ctx context.Context, fn func(ReadTransaction) error, opts ...TransactOption) error
}

// Transactor is something a function can run in: a [Database] (in a new transaction with a retry
// loop) or a [Transaction] (in place, so the caller's transaction is used). Layer functions take
// a Transactor so that they compose inside one transaction.
type Transactor interface {
	ReadTransactor
	// Transact runs fn in a transaction and commits it. A Database retries retryable errors with
	// backoff (see [Transact]); a Transaction runs fn once, in place, and does not commit.
	Transact(ctx context.Context, fn func(Transaction) error, opts ...TransactOption) error
}

// Database is a handle on a store. It is safe for concurrent use.
type Database interface {
	Transactor
	// CreateTransaction starts a transaction. Most code uses [Transact] instead.
	CreateTransaction() (Transaction, error)
}

// ReadTransaction reads at one read version. Its methods are safe for concurrent use.
type ReadTransaction interface {
	ReadTransactor

	// Get reads the value of key; the value is nil when the key is absent (an empty value is a
	// non-nil empty slice).
	Get(key []byte) Future[[]byte]
	// GetKey resolves a key selector. A selector that resolves before the first key gives the
	// empty key; one past the last user key gives 0xff.
	GetKey(sel KeySelector) Future[[]byte]
	// GetRange reads the rows of r in key order (or reversed), as shaped by opts.
	GetRange(r Ranger, opts RangeOptions) RangeResult
	// GetReadVersion returns the version this transaction reads at, taking it now if no read
	// took it yet. It reads nothing, so it never fails with [ErrTransactionTooOld], and it stays
	// available after Commit (unless something else was used after Commit, see Commit).
	GetReadVersion() Future[int64]
	// Snapshot returns a view of the same transaction whose reads add no read conflict ranges.
	// It still sees the transaction's own writes.
	Snapshot() ReadTransaction
	// Cancel makes every later operation and the commit fail with [ErrTransactionCancelled]
	// until Reset. A commit in flight may still be applied; it then reports the cancellation.
	Cancel()
}

// Transaction reads and writes at one read version and commits atomically. Its methods are safe
// for concurrent use, but a commit must not overlap other calls.
//
// Writes return no error, as in FoundationDB: an invalid key or value (too large, in the system
// keyspace) puts the transaction in error, and that error is returned by later reads and by
// Commit.
type Transaction interface {
	ReadTransaction
	Transactor

	// Set writes value at key.
	Set(key, value []byte)
	// Clear removes key.
	Clear(key []byte)
	// ClearRange removes every key in [r.Begin, r.End).
	ClearRange(r Range)
	// Atomic applies an atomic mutation at commit (see [MutationType]).
	Atomic(op MutationType, key, param []byte)

	// AddReadConflictRange makes the commit conflict if another transaction wrote into r after
	// this transaction's read version. Keys this transaction wrote before are left out. Only an
	// inverted range is refused at once ([ErrInvertedRange]); any other problem (a range
	// reaching past 0xff, use after Commit) is returned by the next read and by Commit, as
	// FoundationDB's client defers it.
	AddReadConflictRange(r Range) error
	// AddReadConflictKey is AddReadConflictRange of the single key.
	AddReadConflictKey(key []byte) error
	// AddWriteConflictRange makes transactions that read r conflict with this one, as if this
	// one had written there. Errors are reported as for AddReadConflictRange.
	AddWriteConflictRange(r Range) error
	// AddWriteConflictKey is AddWriteConflictRange of the single key.
	AddWriteConflictKey(key []byte) error
	// SetNextWriteNoWriteConflictRange makes the next write (Set, Clear, ClearRange or Atomic)
	// add no write conflict range. A SET_VERSIONSTAMPED_KEY uses up the option but keeps its
	// write conflict range on its final key (FoundationDB adds it at commit).
	SetNextWriteNoWriteConflictRange()
	// SetTimeout makes operations fail with [ErrTransactionTimedOut] once d has passed since the
	// transaction was created or last Reset; 0 removes the timeout. As in FoundationDB (API 610
	// and later), OnError keeps both the option and the deadline, so a timeout bounds a whole
	// retry loop.
	SetTimeout(d time.Duration)

	// Watch returns a watch on key. It reads key now (adding a read conflict on it, as Get
	// does) and fires when the value changes from what it read: at once when this transaction
	// itself writes a different value (before the commit, whatever becomes of it; an atomic
	// mutation always fires it), and, once this transaction has committed, when a later commit
	// changes the key. If the transaction fails, the watch fails with the same error. See
	// [Watch] for how long it holds its slot.
	Watch(key []byte) Watch
	// GetVersionstamp returns the versionstamp of this transaction's commit, and may be called
	// before or after Commit: ready after a successful commit of a transaction that wrote
	// something. A commit that wrote nothing fails it with [ErrNoCommitVersion] (2021); a failed
	// commit fails it with the commit's error, wrapped in [ErrTransactionInvalidVersion] (2020)
	// when the commit was refused at the cluster (conflict, too old, too large, unknown result).
	GetVersionstamp() Future[[10]byte]

	// Commit commits the transaction. A transaction that wrote nothing commits at once, with no
	// conflict, size or window check. Once Commit is called, every other operation fails with
	// [ErrUsedDuringCommit] (2017) until Reset or OnError; such an operation, or a Cancel, while
	// the commit is in flight makes Commit report that error although the commit may have been
	// applied.
	Commit() error
	// GetCommittedVersion returns the version of a successful commit, or -1 for a read-only
	// transaction.
	GetCommittedVersion() (int64, error)
	// OnError handles an error from fn or Commit in a retry loop, as FoundationDB does from API
	// 610: for a retryable error it waits a backoff that grows with each retry, resets the
	// transaction and returns nil; for any other error it cancels the transaction and returns
	// err. A transaction already cancelled, timed out or used after Commit returns that error
	// ([ErrTransactionCancelled], [ErrTransactionTimedOut], [ErrUsedDuringCommit]) whatever err
	// is. If ctx ends during the backoff, the transaction is cancelled and ctx's error returned.
	OnError(ctx context.Context, err error) error
	// Reset discards the transaction's reads and writes and gives it a new read version.
	Reset()
}

// Watch is a pending notification that a key's value changed. It is safe for concurrent use. It
// holds one of the database's watch slots (10,000 by default, [ErrTooManyWatches] beyond) until
// it fires, fails, is cancelled, or is no longer referenced by the program (it is then cancelled
// when garbage collected).
type Watch interface {
	// Wait blocks until the key changes (nil), the watch fails or is cancelled (an error;
	// [ErrOperationCancelled] after Cancel), or ctx ends (ctx.Err(); the watch stays armed).
	Wait(ctx context.Context) error
	// Cancel stops the watch; Wait then returns [ErrOperationCancelled].
	Cancel()
}
