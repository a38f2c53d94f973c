package directory_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/layerkit/layerkit/kv"
)

// recorder wraps a transaction and logs (when log is set) and counts every operation a layer
// issues through it. Given to a layer function, it runs the function in place, so everything
// the layer does goes through it.
type recorder struct {
	kv.Transaction
	snap  bool
	reads *atomic.Int64
	mu    *sync.Mutex
	log   *[]string
}

func newRecorder(tr kv.Transaction, logging bool) *recorder {
	r := &recorder{Transaction: tr, reads: new(atomic.Int64), mu: new(sync.Mutex)}
	if logging {
		r.log = new([]string)
	}
	return r
}

func (r *recorder) logf(format string, args ...any) {
	if r.log == nil {
		return
	}
	prefix := ""
	if r.snap {
		prefix = "snapshot "
	}
	r.mu.Lock()
	*r.log = append(*r.log, prefix+fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

func (r *recorder) Get(key []byte) kv.Future[[]byte] {
	r.reads.Add(1)
	r.logf("get %x", key)
	return r.Transaction.Get(key)
}

func (r *recorder) GetKey(sel kv.KeySelector) kv.Future[[]byte] {
	r.reads.Add(1)
	r.logf("getkey %v", sel)
	return r.Transaction.GetKey(sel)
}

func (r *recorder) GetRange(rg kv.Ranger, opts kv.RangeOptions) kv.RangeResult {
	r.reads.Add(1)
	b, e := rg.Selectors()
	r.logf("getrange [%x, %x) limit=%d reverse=%v", b.Key, e.Key, opts.Limit, opts.Reverse)
	return r.Transaction.GetRange(rg, opts)
}

// Snapshot returns a recorder over the snapshot view. Writes are not allowed through it.
func (r *recorder) Snapshot() kv.ReadTransaction {
	return &snapRecorder{recorder{Transaction: r.Transaction, snap: true, reads: r.reads, mu: r.mu, log: r.log}, r.Transaction.Snapshot()}
}

func (r *recorder) Set(key, value []byte) {
	r.logf("set %x = %s", key, hexOrEmpty(value))
	r.Transaction.Set(key, value)
}

func (r *recorder) Clear(key []byte) {
	r.logf("clear %x", key)
	r.Transaction.Clear(key)
}

func (r *recorder) ClearRange(rg kv.Range) {
	r.logf("clearrange [%x, %x)", rg.Begin, rg.End)
	r.Transaction.ClearRange(rg)
}

func (r *recorder) Atomic(op kv.MutationType, key, param []byte) {
	r.logf("atomic %v %x %x", op, key, param)
	r.Transaction.Atomic(op, key, param)
}

func (r *recorder) AddWriteConflictKey(key []byte) error {
	r.logf("write-conflict-key %x", key)
	return r.Transaction.AddWriteConflictKey(key)
}

func (r *recorder) SetNextWriteNoWriteConflictRange() {
	r.logf("next-write-no-write-conflict-range")
	r.Transaction.SetNextWriteNoWriteConflictRange()
}

func (r *recorder) Transact(ctx context.Context, fn func(kv.Transaction) error, _ ...kv.TransactOption) error {
	return kv.RunInPlace[kv.Transaction](ctx, r, fn)
}

func (r *recorder) ReadTransact(ctx context.Context, fn func(kv.ReadTransaction) error, _ ...kv.TransactOption) error {
	return kv.RunInPlace[kv.ReadTransaction](ctx, r, fn)
}

// snapRecorder is the snapshot view of a recorder: reads go to the snapshot.
type snapRecorder struct {
	recorder
	view kv.ReadTransaction
}

func (s *snapRecorder) Get(key []byte) kv.Future[[]byte] {
	s.reads.Add(1)
	s.logf("get %x", key)
	return s.view.Get(key)
}

func (s *snapRecorder) GetRange(rg kv.Ranger, opts kv.RangeOptions) kv.RangeResult {
	s.reads.Add(1)
	b, e := rg.Selectors()
	s.logf("getrange [%x, %x) limit=%d reverse=%v", b.Key, e.Key, opts.Limit, opts.Reverse)
	return s.view.GetRange(rg, opts)
}

func (s *snapRecorder) Snapshot() kv.ReadTransaction { return s }

func hexOrEmpty(b []byte) string {
	if len(b) == 0 {
		return "''"
	}
	return hex.EncodeToString(b)
}
