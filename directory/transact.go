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

// write runs fn in t like kv.Transact and tells fn what earlier attempts may have committed.
// On a database it runs the retry loop itself, so that it sees which commit errors were 1021:
// only those attempts may have been applied. On a transaction fn runs once in place (the
// caller's loop owns retries). On any other transactor it cannot see commit errors and counts
// every attempt that reached commit as possibly applied.
func write[T any](ctx context.Context, t kv.Transactor, fn func(kv.Transaction, *retryState) (T, error)) (T, error) {
	var zero T
	st := &retryState{}
	switch x := t.(type) {
	case kv.Transaction:
		return kv.Transact(ctx, x, func(tr kv.Transaction) (T, error) { return fn(tr, nil) })
	case kv.Database:
		if err := ctx.Err(); err != nil {
			return zero, err
		}
		tr, err := x.CreateTransaction()
		if err != nil {
			return zero, err
		}
		// As in kv.RunTransact: once ctx ends the transaction is cancelled, which is what stops a
		// read or commit blocked in the engine (on FoundationDB, its only way); and it is
		// cancelled on the way out unless the commit succeeded.
		var stop func() bool
		if ctx.Done() != nil {
			stop = context.AfterFunc(ctx, tr.Cancel)
		}
		committed := false
		defer func() {
			if stop != nil {
				stop()
			}
			if !committed {
				tr.Cancel()
			}
		}()
		for {
			st.pending = nil
			v, err := fn(tr, st)
			if err == nil {
				if cerr := ctx.Err(); cerr != nil {
					return zero, cerr
				}
				if err = tr.Commit(); err == nil {
					committed = true
					return v, nil
				}
				if kv.IsMaybeCommitted(err) && st.pending != nil {
					st.maybe = append(st.maybe, st.pending)
				}
			}
			if cerr := ctx.Err(); cerr != nil {
				return zero, cerr
			}
			if err := tr.OnError(ctx, err); err != nil {
				return zero, err
			}
		}
	default:
		reached := false
		return kv.Transact(ctx, t, func(tr kv.Transaction) (T, error) {
			if reached && st.pending != nil {
				st.maybe = append(st.maybe, st.pending)
			}
			st.pending = nil
			v, err := fn(tr, st)
			reached = err == nil
			return v, err
		})
	}
}
