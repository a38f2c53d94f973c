//go:build fdb

package fdbkv

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/apple/foundationdb/bindings/go/src/fdb"
	"github.com/layerkit/layerkit/kv"
)

var (
	// api is this process's choice of API version (FoundationDB allows one).
	api versionChoice
	// openMu serializes OpenDatabase: the binding keeps its cache of open databases in a plain
	// map.
	openMu sync.Mutex
)

// Open connects to the FoundationDB cluster named by clusterFile ("" for the client's default
// cluster file: $FDB_CLUSTER_FILE, ./fdb.cluster or /etc/foundationdb/fdb.cluster) and returns it
// as a kv.Database. The first Open of the process selects the API version and starts the client's
// network thread. The database is safe for concurrent use and lives until the process exits.
func Open(clusterFile string, opts *Options) (kv.Database, error) {
	v, err := opts.apiVersion()
	if err != nil {
		return nil, err
	}
	if err := opts.check(); err != nil {
		return nil, err
	}
	if err := api.choose(v, fdb.APIVersion); err != nil {
		return nil, err
	}
	openMu.Lock()
	db, err := fdb.OpenDatabase(clusterFile)
	openMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("fdbkv: open cluster file %q: %w", clusterFile, convertErr(err))
	}
	if opts != nil && opts.TransactionTimeout > 0 {
		if err := db.Options().SetTransactionTimeout(timeoutMillis(opts.TransactionTimeout)); err != nil {
			return nil, fmt.Errorf("fdbkv: set transaction timeout %v: %w", opts.TransactionTimeout, convertErr(err))
		}
	}
	if opts != nil && opts.MaxRetryDelay > 0 {
		if err := db.Options().SetTransactionMaxRetryDelay(timeoutMillis(opts.MaxRetryDelay)); err != nil {
			return nil, fmt.Errorf("fdbkv: set max retry delay %v: %w", opts.MaxRetryDelay, convertErr(err))
		}
	}
	return &database{db: db}, nil
}

// database is a kv.Database over an fdb.Database. It is safe for concurrent use.
type database struct {
	db fdb.Database
}

var _ kv.Database = (*database)(nil)

// CreateTransaction starts a FoundationDB transaction.
func (d *database) CreateTransaction() (kv.Transaction, error) {
	tr, err := d.db.CreateTransaction()
	if err != nil {
		return nil, convertErr(err)
	}
	return newTransaction(tr), nil
}

// Transact runs fn in kv's retry loop, which commits and hands errors to FoundationDB's OnError.
func (d *database) Transact(ctx context.Context, fn func(kv.Transaction) error, opts ...kv.TransactOption) error {
	return kv.RunTransact(ctx, d, false, fn, opts...)
}

// ReadTransact runs fn in kv's retry loop without committing.
func (d *database) ReadTransact(ctx context.Context, fn func(kv.ReadTransaction) error, opts ...kv.TransactOption) error {
	return kv.RunTransact(ctx, d, true, func(tr kv.Transaction) error { return fn(tr) }, opts...)
}

// convertErr turns the binding's errors into kv errors with the same code; other errors pass
// unchanged.
func convertErr(err error) error {
	if err == nil {
		return nil
	}
	var fe fdb.Error
	if errors.As(err, &fe) {
		return codeError(fe.Code, fe.Error)
	}
	return err
}
