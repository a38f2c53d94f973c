package testdb

import (
	"context"
	"sync/atomic"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
)

// UnknownOnce is an embedded database whose first commit through it is applied and then
// reported as commit_unknown_result (1021), so that the retry meets the work already done: the
// case every layer operation must recognise as its own. Faults are otherwise off. Commits counts
// the commits tried through it, the first included. Use it from one goroutine at a time.
type UnknownOnce struct {
	*embedded.DB
	Commits atomic.Int32
}

// NewUnknownOnce returns db (its faults switched off) with its first commit reported unknown.
func NewUnknownOnce(db *embedded.DB) *UnknownOnce {
	db.InjectFaults(kv.Faults{})
	return &UnknownOnce{DB: db}
}

// CreateTransaction starts a transaction whose commit counts, and fails the first as unknown.
func (d *UnknownOnce) CreateTransaction() (kv.Transaction, error) {
	tr, err := d.DB.CreateTransaction()
	if err != nil {
		return nil, err
	}
	return &unknownOnceTx{Transaction: tr, d: d}, nil
}

// Transact runs the shared retry loop over d's own transactions.
func (d *UnknownOnce) Transact(ctx context.Context, fn func(kv.Transaction) error, opts ...kv.TransactOption) error {
	return kv.RunTransact(ctx, d, false, fn, opts...)
}

// ReadTransact runs the shared retry loop over d's own transactions, committing nothing.
func (d *UnknownOnce) ReadTransact(ctx context.Context, fn func(kv.ReadTransaction) error, opts ...kv.TransactOption) error {
	return kv.RunTransact(ctx, d, true, func(tr kv.Transaction) error { return fn(tr) }, opts...)
}

type unknownOnceTx struct {
	kv.Transaction
	d *UnknownOnce
}

func (t *unknownOnceTx) Commit() error {
	if t.d.Commits.Add(1) == 1 {
		t.d.DB.InjectFaults(kv.Faults{UnknownApplied: 1})
		defer t.d.DB.InjectFaults(kv.Faults{})
	}
	return t.Transaction.Commit()
}
