package record

import (
	"context"
	"errors"
	"time"

	"github.com/layerkit/layerkit/kv"
)

// ErrReadOnly is returned by a Store opened in a read-only transaction (a kv.ReadTransaction) for
// anything that writes: saves, deletes, index state changes, header changes.
var ErrReadOnly = errors.New("record: store was opened in a read-only transaction")

// ErrStoreNeedsUpgrade is returned by Open in a read-only transaction when the store would have
// to be upgraded first (its metadata version is older, or WithUserVersion asks for a new user
// version): open it once in a read-write transaction.
var ErrStoreNeedsUpgrade = errors.New("record: store needs an upgrade that a read-only transaction cannot write")

// readOnlyTx lets a Store keep one transaction type for its reads when it is opened in a
// kv.ReadTransaction. Every Store method that writes checks writable first, so its write methods
// are never reached through the Store; should one be, it writes nothing and fails the commit.
type readOnlyTx struct {
	kv.ReadTransaction
}

var _ kv.Transaction = readOnlyTx{}

func (readOnlyTx) Set(key, value []byte)                      {}
func (readOnlyTx) Clear(key []byte)                           {}
func (readOnlyTx) ClearRange(kv.Range)                        {}
func (readOnlyTx) Atomic(kv.MutationType, []byte, []byte)     {}
func (readOnlyTx) AddReadConflictRange(kv.Range) error        { return ErrReadOnly }
func (readOnlyTx) AddReadConflictKey([]byte) error            { return ErrReadOnly }
func (readOnlyTx) AddWriteConflictRange(kv.Range) error       { return ErrReadOnly }
func (readOnlyTx) AddWriteConflictKey([]byte) error           { return ErrReadOnly }
func (readOnlyTx) SetNextWriteNoWriteConflictRange()          {}
func (readOnlyTx) SetTimeout(time.Duration)                   {}
func (readOnlyTx) Commit() error                              { return ErrReadOnly }
func (readOnlyTx) GetCommittedVersion() (int64, error)        { return 0, ErrReadOnly }
func (readOnlyTx) OnError(_ context.Context, err error) error { return err }
func (readOnlyTx) Reset()                                     {}
func (readOnlyTx) Watch([]byte) kv.Watch                      { return readOnlyWatch{} }
func (readOnlyTx) GetVersionstamp() kv.Future[[10]byte]       { return kv.Ready([10]byte{}, ErrReadOnly) }

func (r readOnlyTx) Transact(context.Context, func(kv.Transaction) error, ...kv.TransactOption) error {
	return ErrReadOnly
}

type readOnlyWatch struct{}

func (readOnlyWatch) Wait(context.Context) error { return ErrReadOnly }
func (readOnlyWatch) Cancel()                    {}
