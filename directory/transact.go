package directory

import (
	"bytes"
	"context"

	"github.com/layerkit/layerkit/kv"
)

// retryState carries what earlier attempts of one write call did, so that a retry after a
// commit that reported 1021 (commit_unknown_result) can tell its own applied work from someone
// else's. Prefixes identify the work: the allocator hands each out once, and a move or remove
// acts on one directory, named by its prefix.
type retryState struct {
	pending []byte   // the prefix the current attempt created, moved or removed
	maybe   [][]byte // prefixes of attempts whose commit may have been applied
}

func (s *retryState) record(prefix []byte) {
	if s != nil {
		s.pending = prefix
	}
}

// mayHaveDone reports whether an earlier attempt whose commit may have been applied acted on
// the directory with this prefix.
func (s *retryState) mayHaveDone(prefix []byte) bool {
	if s == nil {
		return false
	}
	for _, p := range s.maybe {
		if bytes.Equal(p, prefix) {
			return true
		}
	}
	return false
}

// retried reports whether an earlier attempt may have been applied.
func (s *retryState) retried() bool { return s != nil && len(s.maybe) > 0 }

// write runs fn in t like kv.Transact and tells fn what earlier attempts may have committed
// (kv.TransactAttempts): the prefix an attempt acted on is remembered when its commit may have
// been applied. On a transaction fn runs once in place (the caller's loop owns retries).
func write[T any](ctx context.Context, t kv.Transactor, fn func(kv.Transaction, *retryState) (T, error)) (T, error) {
	st := &retryState{}
	return kv.TransactAttempts(ctx, t, func(tr kv.Transaction, a kv.Attempt) (T, error) {
		if a.MaybeCommitted && st.pending != nil {
			st.maybe = append(st.maybe, st.pending)
		}
		st.pending = nil
		return fn(tr, st)
	})
}
