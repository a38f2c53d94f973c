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

// write runs fn in t like kv.Transact, telling each attempt whether the previous one may have
// been applied (kv.TransactAttempts), and counts conflicts (1020) into conflicts when it is not
// nil.
func write[T any](ctx context.Context, t kv.Transactor, conflicts *atomic.Int64, fn func(kv.Transaction, retryInfo) (T, error)) (T, error) {
	return kv.TransactAttempts(ctx, t, func(tr kv.Transaction, a kv.Attempt) (T, error) {
		if conflicts != nil && errors.Is(a.Err, kv.ErrNotCommitted) {
			conflicts.Add(1)
		}
		return fn(tr, retryInfo{maybe: a.MaybeCommitted})
	})
}
