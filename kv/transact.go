package kv

import (
	"context"
	"math/rand/v2"
	"time"
)

// TransactOption adjusts one call of [Transact] or [ReadTransact] on a [Database]. Options are
// ignored when the transactor is a transaction (fn then runs in place).
type TransactOption func(*TransactOptions)

// TransactOptions are the settings of one retry loop. The zero value retries without limit, with
// no timeout and the engine's backoff.
type TransactOptions struct {
	// RetryLimit is the most retries after the first attempt; negative means no limit.
	RetryLimit int
	// Timeout is FoundationDB's timeout option: once it has passed since the transaction was
	// created, operations fail with ErrTransactionTimedOut (1031), which is not retried. OnError
	// keeps the deadline, so it bounds the whole loop; 0 means none. ctx bounds the loop too.
	Timeout time.Duration
}

// WithRetryLimit allows at most n retries after the first attempt (0: run once). When the limit
// is reached, the last error is returned.
func WithRetryLimit(n int) TransactOption {
	return func(o *TransactOptions) { o.RetryLimit = n }
}

// WithTimeout makes the loop fail with [ErrTransactionTimedOut] once d has passed since it began.
func WithTimeout(d time.Duration) TransactOption {
	return func(o *TransactOptions) { o.Timeout = d }
}

// NewTransactOptions applies opts to the defaults.
func NewTransactOptions(opts ...TransactOption) TransactOptions {
	o := TransactOptions{RetryLimit: -1}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// Transact runs fn in t and returns its result. When t is a [Database], fn runs in a new
// transaction that is then committed; a retryable error ([IsRetryable]) from fn or the commit
// makes the loop back off (exponentially, with jitter), reset the transaction and run fn again,
// until it succeeds, fails with an error that is not retryable, reaches the retry limit, or ctx
// ends. When t is a [Transaction], fn runs once in it and nothing is committed, so layer
// functions compose inside the caller's transaction.
//
// When ctx ends, the loop cancels its transaction at once, so a read, a commit or a backoff in
// flight stops (its operation fails with [ErrTransactionCancelled]) and Transact returns ctx's
// error, on every engine. A commit cut short this way may or may not have been applied, as with
// [ErrCommitUnknownResult].
//
// fn may run several times and must be safe to retry: a commit that failed with
// [ErrCommitUnknownResult] may have been applied.
func Transact[T any](ctx context.Context, t Transactor, fn func(Transaction) (T, error), opts ...TransactOption) (T, error) {
	var out T
	err := t.Transact(ctx, func(tr Transaction) error {
		v, err := fn(tr)
		out = v
		return err
	}, opts...)
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// ReadTransact is [Transact] for read-only work: nothing is committed, and on a [Database] the
// loop retries retryable errors.
func ReadTransact[T any](ctx context.Context, t ReadTransactor, fn func(ReadTransaction) (T, error), opts ...TransactOption) (T, error) {
	var out T
	err := t.ReadTransact(ctx, func(tr ReadTransaction) error {
		v, err := fn(tr)
		out = v
		return err
	}, opts...)
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// RunTransact is the retry loop behind [Database.Transact], shared by the engines: it creates a
// transaction, runs fn, commits (unless readOnly), and hands every error to
// [Transaction.OnError], which decides whether to retry. It cancels the transaction as soon as
// ctx ends, so that a call blocked in the engine (a read, a commit, OnError's backoff) returns,
// and then reports ctx's error.
func RunTransact(ctx context.Context, db Database, readOnly bool, fn func(Transaction) error, opts ...TransactOption) error {
	return runLoop(ctx, db, readOnly, func(tr Transaction, _ Attempt) error { return fn(tr) }, opts...)
}

// Attempt describes one run of fn in [TransactAttempts]: which run it is, and what the run
// before it ended with.
type Attempt struct {
	// N counts the runs of fn, from 1.
	N int
	// Err is the error the previous run ended with (from fn or its commit), nil on the first.
	Err error
	// MaybeCommitted is set when the previous run may have been applied: its commit failed with
	// an error [IsMaybeCommitted] reports. Under a transactor that is neither a Database nor a
	// Transaction, whose commit errors the loop cannot see, it is set after every run whose fn
	// succeeded.
	MaybeCommitted bool
}

// TransactAttempts is [Transact] for operations that must recognise their own work after
// [ErrCommitUnknownResult]: each run of fn is told whether the run before it may have been
// applied, so that a retry that finds the work done can report it as its own instead of
// failing on it or doing it again. On a [Database] it runs the shared retry loop (with its
// cancellation when ctx ends); on a [Transaction] fn runs once in place, as the first attempt.
func TransactAttempts[T any](ctx context.Context, t Transactor, fn func(Transaction, Attempt) (T, error), opts ...TransactOption) (T, error) {
	var out T
	var err error
	switch x := t.(type) {
	case Transaction:
		err = RunInPlace(ctx, x, func(tr Transaction) error {
			v, err := fn(tr, Attempt{N: 1})
			out = v
			return err
		})
	case Database:
		err = runLoop(ctx, x, false, func(tr Transaction, a Attempt) error {
			v, err := fn(tr, a)
			out = v
			return err
		}, opts...)
	default:
		var a Attempt
		err = t.Transact(ctx, func(tr Transaction) error {
			a.N++
			v, err := fn(tr, a)
			out = v
			a.MaybeCommitted = err == nil
			return err
		}, opts...)
	}
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// runLoop is the retry loop of RunTransact, telling fn about the previous attempt.
func runLoop(ctx context.Context, db Database, readOnly bool, fn func(Transaction, Attempt) error, opts ...TransactOption) error {
	o := NewTransactOptions(opts...)
	if err := ctx.Err(); err != nil {
		return err
	}
	tr, err := db.CreateTransaction()
	if err != nil {
		return err
	}
	// Once ctx ends, every operation of the transaction fails with 1025: that is what unblocks
	// a read or commit waiting on the engine. A ctx that can never end costs nothing.
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, tr.Cancel)
	}
	// Cancel releases the transaction's resources on the way out, except after a successful
	// commit: watches set by a committed transaction must outlive it.
	committed := false
	defer func() {
		if stop != nil {
			stop()
		}
		if !committed {
			tr.Cancel()
		}
	}()
	if o.Timeout > 0 {
		tr.SetTimeout(o.Timeout)
	}
	var a Attempt
	for retries := 0; ; retries++ {
		a.N = retries + 1
		err := fn(tr, a)
		if err == nil && !readOnly {
			// A ctx that ended while fn ran stops the loop before the commit, whether or not
			// the cancellation has reached the transaction yet.
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			err = tr.Commit()
		}
		if err == nil {
			committed = !readOnly
			return nil
		}
		a.Err, a.MaybeCommitted = err, IsMaybeCommitted(err)
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if o.RetryLimit >= 0 && retries >= o.RetryLimit {
			return err
		}
		if err := tr.OnError(ctx, err); err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			return err
		}
	}
}

// RunInPlace runs fn in an open transaction: the [Transactor] behaviour of a Transaction.
func RunInPlace[Tr any](ctx context.Context, tr Tr, fn func(Tr) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return fn(tr)
}

// Backoff computes retry delays: Initial doubled on each retry up to Max, with full jitter (a
// uniform delay between half the bound and the bound), as FoundationDB's client does.
type Backoff struct {
	Initial, Max time.Duration
}

// DefaultBackoff is FoundationDB's: 10 ms doubling to 1 s.
var DefaultBackoff = Backoff{Initial: 10 * time.Millisecond, Max: time.Second}

// Delay returns the delay before retry number n (0 for the first retry).
func (b Backoff) Delay(n int) time.Duration {
	d := b.Initial
	for i := 0; i < n && d < b.Max; i++ {
		d *= 2
	}
	if d > b.Max {
		d = b.Max
	}
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

// Sleep waits d or until ctx ends, and returns ctx.Err() in the second case.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
