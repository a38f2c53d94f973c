//go:build fdb

package fdbkv

import (
	"github.com/apple/foundationdb/bindings/go/src/fdb"
	"github.com/layerkit/layerkit/kv"
)

// rangeResult is a kv.RangeResult over the binding's RangeResult, whose first batch is already
// requested. Its waits end, like every call of the transaction, when a context bound to owner
// ends (see interrupt.go): the binding's batch futures are internal to its iterator, and what
// stops them is cancelling the transaction.
type rangeResult struct {
	res   fdb.RangeResult
	owner *transaction
}

// GetSlice reads every row (the binding fetches them in as few batches as it can).
func (r rangeResult) GetSlice() ([]kv.KeyValue, error) {
	rows, err := r.res.GetSliceWithError()
	if err != nil {
		return nil, r.owner.intr.err(convertErr(err))
	}
	out := make([]kv.KeyValue, len(rows))
	for i, row := range rows {
		out[i] = kv.KeyValue{Key: row.Key, Value: row.Value}
	}
	return out, nil
}

// Iterator returns an iterator that fetches batches as the rows are consumed.
func (r rangeResult) Iterator() kv.RangeIterator {
	return &rangeIterator{it: r.res.Iterator(), owner: r.owner}
}

// rangeIterator adapts the binding's Advance/Get iterator to Next/KeyValue/Err. It stops for good
// after the first false: the binding's iterator must not be advanced again once exhausted.
type rangeIterator struct {
	it    *fdb.RangeIterator
	owner *transaction
	cur   kv.KeyValue
	err   error
	done  bool
}

// Next advances to the next row.
func (i *rangeIterator) Next() bool {
	if i.done {
		return false
	}
	if !i.it.Advance() {
		i.done = true
		return false
	}
	row, err := i.it.Get()
	if err != nil {
		i.err, i.done = i.owner.intr.err(convertErr(err)), true
		return false
	}
	i.cur = kv.KeyValue{Key: row.Key, Value: row.Value}
	return true
}

// KeyValue returns the current row.
func (i *rangeIterator) KeyValue() kv.KeyValue { return i.cur }

// Err returns the error that stopped the iteration.
func (i *rangeIterator) Err() error { return i.err }

// failedRange is the result of a range read that could not be issued.
type failedRange struct{ err error }

// GetSlice returns the error.
func (f failedRange) GetSlice() ([]kv.KeyValue, error) { return nil, f.err }

// Iterator returns an iterator that stops at once with the error.
func (f failedRange) Iterator() kv.RangeIterator { return &failedIterator{f.err} }

type failedIterator struct{ err error }

func (f *failedIterator) Next() bool            { return false }
func (f *failedIterator) KeyValue() kv.KeyValue { return kv.KeyValue{} }
func (f *failedIterator) Err() error            { return f.err }
