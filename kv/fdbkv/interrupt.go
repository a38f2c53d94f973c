package fdbkv

import (
	"context"
	"slices"
	"sync"

	"github.com/layerkit/layerkit/kv"
)

// FoundationDB's calls take no context: a read, a commit or an OnError backoff waits on a future
// until the cluster answers, so with the cluster down or a wrong address it waits for ever. What
// ends those waits early is the transaction itself:
//
//   - cancelling it fails every pending read, commit, OnError and versionstamp of the transaction
//     with transaction_cancelled (1025), because each of them waits on the transaction's reset
//     promise as well as on the cluster;
//   - with the multi-version client (external client libraries) and no cluster connection yet,
//     there is no underlying transaction to cancel, and pending calls wait on the transaction's
//     timeout instead, so a 1 ms timeout ends them with transaction_timed_out (1031).
//
// An interrupt does both when a context the transaction runs under ends, and then reports that
// context's error in place of the cancellation error the calls return. It costs nothing until
// the context ends: context.AfterFunc registers a callback and starts no goroutine.

// canceller is the part of a FoundationDB transaction an interrupt needs.
type canceller interface {
	// Cancel cancels the transaction (fdb_transaction_cancel).
	Cancel()
	// setTimeoutMillis sets the transaction's timeout option.
	setTimeoutMillis(ms int64) error
}

// interrupt stops a transaction's blocked calls when a context bound to it ends. It is safe for
// concurrent use.
type interrupt struct {
	tr canceller

	mu     sync.Mutex
	cause  error      // the error of the context that stopped the transaction; nil while none did
	active []*binding // contexts bound now, each registered once however often it is bound
}

// binding is one context's registration: layer functions run in place with the ctx of the
// enclosing Transact, so the same context is bound many times over, and registers once.
type binding struct {
	done  <-chan struct{}
	count int
	stop  func() bool
}

func newInterrupt(tr canceller) *interrupt { return &interrupt{tr: tr} }

// bind makes the end of ctx stop the transaction, until release is called. A ctx that has already
// ended stops it at once.
func (in *interrupt) bind(ctx context.Context) (release func()) {
	done := ctx.Done()
	if done == nil {
		return func() {}
	}
	if err := ctx.Err(); err != nil {
		in.fire(err)
		return func() {}
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, b := range in.active {
		if b.done == done {
			b.count++
			return func() { in.unbind(b) }
		}
	}
	// AfterFunc never runs its function synchronously, so holding mu here cannot deadlock fire.
	b := &binding{done: done, count: 1, stop: context.AfterFunc(ctx, func() { in.fire(ctx.Err()) })}
	in.active = append(in.active, b)
	return func() { in.unbind(b) }
}

// unbind releases one bind of b's context, and its registration with the last one.
func (in *interrupt) unbind(b *binding) {
	in.mu.Lock()
	b.count--
	last := b.count == 0
	if last {
		in.active = slices.DeleteFunc(in.active, func(x *binding) bool { return x == b })
	}
	in.mu.Unlock()
	if last {
		b.stop()
	}
}

// fire records cause (the first one wins) and stops the transaction.
func (in *interrupt) fire(cause error) {
	in.mu.Lock()
	if in.cause == nil {
		in.cause = cause
	}
	in.mu.Unlock()
	in.tr.Cancel()
	// The timeout only matters for the multi-version client before it has connected; on a
	// cancelled transaction it has no further effect. Its error would change nothing here.
	_ = in.tr.setTimeoutMillis(1)
}

// err returns what a call of the transaction should report for err: the error of the context
// that stopped the transaction when err is the cancellation or timeout that stopping causes,
// and err itself otherwise.
func (in *interrupt) err(err error) error {
	if err == nil {
		return nil
	}
	in.mu.Lock()
	cause := in.cause
	in.mu.Unlock()
	if cause == nil {
		return err
	}
	if e, ok := kv.AsError(err); ok && stoppedCodes[e.Code] {
		return cause
	}
	return err
}

// stopped returns the error of the context that stopped the transaction, or nil.
func (in *interrupt) stopped() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.cause
}

// reset forgets a stop once the transaction has been reset and is usable again.
func (in *interrupt) reset() {
	in.mu.Lock()
	in.cause = nil
	in.mu.Unlock()
}

// stoppedCodes are the errors a stopped transaction's calls fail with: transaction_cancelled
// (1025), operation_cancelled (1101, a cancelled future) and transaction_timed_out (1031, the
// 1 ms timeout).
var stoppedCodes = map[int]bool{
	kv.ErrTransactionCancelled.Code: true,
	kv.ErrOperationCancelled.Code:   true,
	kv.ErrTransactionTimedOut.Code:  true,
}

// runBound runs fn(tr) in place, as kv.RunInPlace does, with the transaction bound to ctx while
// fn runs. A ctx that has already ended returns its error without running fn or touching the
// transaction.
func runBound[Tr any](ctx context.Context, in *interrupt, tr Tr, fn func(Tr) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	defer in.bind(ctx)()
	return kv.RunInPlace(ctx, tr, fn)
}
