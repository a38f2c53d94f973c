package queue

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/layerkit/layerkit/kv"
)

// retryInfo tells one attempt of an operation what the attempt before it may have done.
type retryInfo struct {
	// maybe is set when the previous attempt's commit may have been applied (1021): the attempt
	// should recognise that attempt's work instead of failing on it. A later attempt's read
	// version settles the question, so only the previous attempt needs checking.
	maybe bool
}

// write runs fn in t like kv.Transact, telling each attempt what the previous one may have done,
// and counts conflicts (1020) into conflicts when it is not nil. On a database it runs the retry
// loop itself, so it sees which commit errors were 1021; on a transaction fn runs once in place
// (the caller's loop owns retries); on any other transactor it cannot see commit errors and
// treats every retry as following a possibly applied attempt.
func write[T any](ctx context.Context, t kv.Transactor, conflicts *atomic.Int64, fn func(kv.Transaction, retryInfo) (T, error)) (T, error) {
	var zero T
	switch x := t.(type) {
	case kv.Transaction:
		return kv.Transact(ctx, x, func(tr kv.Transaction) (T, error) { return fn(tr, retryInfo{}) })
	case kv.Database:
		if err := ctx.Err(); err != nil {
			return zero, err
		}
		tr, err := x.CreateTransaction()
		if err != nil {
			return zero, err
		}
		committed := false
		defer func() {
			if !committed {
				tr.Cancel()
			}
		}()
		var info retryInfo
		for {
			v, err := fn(tr, info)
			if err == nil {
				if err = tr.Commit(); err == nil {
					committed = true
					return v, nil
				}
			}
			info.maybe = kv.IsMaybeCommitted(err)
			if conflicts != nil && errors.Is(err, kv.ErrNotCommitted) {
				conflicts.Add(1)
			}
			if cerr := ctx.Err(); cerr != nil {
				return zero, cerr
			}
			if err := tr.OnError(ctx, err); err != nil {
				return zero, err
			}
		}
	}
	attempt := 0
	return kv.Transact(ctx, t, func(tr kv.Transaction) (T, error) {
		attempt++
		return fn(tr, retryInfo{maybe: attempt > 1})
	})
}
