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
	// GetReadVersion returns the version this transaction reads at.
	GetReadVersion() Future[int64]
	// Snapshot returns a view of the same transaction whose reads add no read conflict ranges.
	// It still sees the transaction's own writes.
	Snapshot() ReadTransaction
	// Cancel makes every later operation and the commit fail with [ErrTransactionCancelled].
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
	// this transaction's read version.
	AddReadConflictRange(r Range) error
	// AddReadConflictKey is AddReadConflictRange of the single key.
	AddReadConflictKey(key []byte) error
	// AddWriteConflictRange makes transactions that read r conflict with this one, as if this
	// one had written there.
	AddWriteConflictRange(r Range) error
	// AddWriteConflictKey is AddWriteConflictRange of the single key.
	AddWriteConflictKey(key []byte) error
	// SetNextWriteNoWriteConflictRange makes the next write (Set, Clear, ClearRange or Atomic)
	// add no write conflict range.
	SetNextWriteNoWriteConflictRange()
	// SetTimeout makes operations fail with [ErrTransactionTimedOut] once d has passed since the
	// transaction was created or last Reset; 0 removes the timeout. As in FoundationDB (API 610
	// and later), OnError keeps both the option and the deadline, so a timeout bounds a whole
	// retry loop.
	SetTimeout(d time.Duration)

	// Watch returns a watch on key. It is registered when this transaction commits and fires
	// once a later commit changes the key's value. If the transaction fails, the watch fails
	// with the same error.
	Watch(key []byte) Watch
	// GetVersionstamp returns the versionstamp of this transaction's commit: ready after a
	// successful commit of a transaction that wrote something.
	GetVersionstamp() Future[[10]byte]

	// Commit commits the transaction. A read-only transaction commits without a conflict check.
	Commit() error
	// GetCommittedVersion returns the version of a successful commit, or -1 for a read-only
	// transaction.
	GetCommittedVersion() (int64, error)
	// OnError handles an error from fn or Commit in a retry loop: for a retryable error it
	// waits a backoff that grows with each retry (bounded by ctx), resets the transaction and
	// returns nil; otherwise it returns err.
	OnError(ctx context.Context, err error) error
	// Reset discards the transaction's reads and writes and gives it a new read version.
	Reset()
}

// Watch is a pending notification that a key's value changed. It is safe for concurrent use.
type Watch interface {
	// Wait blocks until the key changes (nil), the watch fails or is cancelled (an error;
	// [ErrOperationCancelled] after Cancel), or ctx ends (ctx.Err(); the watch stays armed).
	Wait(ctx context.Context) error
	// Cancel stops the watch; Wait then returns [ErrOperationCancelled].
	Cancel()
}
