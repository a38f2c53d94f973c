package embedded

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/layerkit/layerkit/kv"
)

// maxWatches is FoundationDB's default limit of outstanding watches per database.
const maxWatches = 10_000

// watch is a kv.Watch. It is armed when its transaction commits and fires at most once.
type watch struct {
	reg  *watchRegistry
	key  []byte
	once sync.Once
	done chan struct{}
	err  error

	// The value the key had for the watching transaction when the watch was created.
	value   []byte
	present bool
	armed   atomic.Bool // set once its transaction committed
}

// Wait blocks until the key changes, the watch fails or is cancelled, or ctx ends.
func (w *watch) Wait(ctx context.Context) error {
	select {
	case <-w.done:
		return w.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Cancel stops the watch; Wait then returns kv.ErrOperationCancelled.
func (w *watch) Cancel() { w.finish(kv.ErrOperationCancelled) }

// finish completes the watch once with err (nil: the key changed).
func (w *watch) finish(err error) {
	w.once.Do(func() {
		w.err = err
		close(w.done)
		if w.reg != nil {
			w.reg.remove(w)
		}
	})
}

func failedWatch(err error) *watch {
	w := &watch{done: make(chan struct{})}
	w.finish(err)
	return w
}

// watchHandle is the kv.Watch handed to the caller. The registry and the transaction hold the
// watch itself, never the handle, so a handle the caller drops is collected, and its cleanup
// cancels the watch: a dropped watch gives back its slot of the watch limit, as a dropped
// future does in FoundationDB's Go binding (its finalizer destroys, and so cancels, the watch).
type watchHandle struct{ w *watch }

// Wait blocks until the key changes, the watch fails or is cancelled, or ctx ends. The handle
// stays reachable while a Wait blocks, so its cleanup cannot cancel a watch being waited on.
func (h *watchHandle) Wait(ctx context.Context) error {
	err := h.w.Wait(ctx)
	runtime.KeepAlive(h)
	return err
}

// Cancel stops the watch; Wait then returns kv.ErrOperationCancelled.
func (h *watchHandle) Cancel() { h.w.Cancel() }

// Watch returns a watch on key, armed when the transaction commits. As in FoundationDB, the watch
// reads key now (a read like Get, with its read conflict range) and compares later values with
// what it read: a later write of this transaction that changes the value fires it at once, and
// once the transaction has committed, so does a later commit that changes it.
func (tx *transaction) Watch(key []byte) kv.Watch {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if err := tx.check(time.Now()); err != nil {
		return failedWatch(err)
	}
	if len(key) > 0 && key[0] == 0xff && !bytes.Equal(key, metadataVersionKey) {
		return failedWatch(readKeyErr("watch", key))
	}
	if len(key) > kv.MaxKeySize && key[0] != 0xff {
		return failedWatch(fmt.Errorf("embedded: watch of key %s...: %d bytes, limit %d: %w", kv.Printable(truncate(key)), len(key), kv.MaxKeySize, kv.ErrKeyTooLarge))
	}
	reg := &tx.db.watches
	if reg.count.Add(1) > maxWatches {
		reg.count.Add(-1)
		return failedWatch(fmt.Errorf("embedded: more than %d outstanding watches: %w", maxWatches, kv.ErrTooManyWatches))
	}
	w := &watch{reg: reg, key: bytes.Clone(key), done: make(chan struct{})}
	h := &watchHandle{w}
	runtime.AddCleanup(h, func(w *watch) { w.finish(kv.ErrOperationCancelled) }, w)
	v, err := tx.getLocked(key, false).Get()
	if err != nil {
		w.finish(err)
		return h
	}
	w.value, w.present = v, v != nil
	tx.watches = append(tx.watches, w)
	// A transaction dropped without commit, cancel or reset cancels its watches, as destroying
	// one does in FoundationDB; otherwise they would count against the limit forever.
	runtime.AddCleanup(tx, func(w *watch) {
		if !w.armed.Load() {
			w.finish(kv.ErrTransactionCancelled)
		}
	}, w)
	return h
}

// triggerWatches fires the transaction's pending watches on keys in [b, e) whose value a write
// of the transaction itself changes, as FoundationDB's read-your-writes layer does
// (RYWImpl::triggerWatches): at once, before commit. The write leaves the key present with val,
// or absent; when known is false (an atomic mutation, whose result is not known before commit)
// every watch in the range fires.
func (tx *transaction) triggerWatches(b, e, val []byte, present, known bool) {
	kept := tx.watches[:0]
	for _, w := range tx.watches {
		select {
		case <-w.done:
			continue
		default:
		}
		if bytes.Compare(b, w.key) <= 0 && bytes.Compare(w.key, e) < 0 &&
			(!known || present != w.present || !bytes.Equal(val, w.value)) {
			w.finish(nil)
			continue
		}
		kept = append(kept, w)
	}
	clear(tx.watches[len(kept):])
	tx.watches = kept
}

type getter interface {
	Get(key []byte) ([]byte, io.Closer, error)
}

// getFrom reads a copy of key from a Pebble reader.
func getFrom(r getter, key []byte) ([]byte, bool, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, storageErr("read "+kv.Printable(truncate(key)), err)
	}
	out := bytes.Clone(v)
	if out == nil {
		out = []byte{}
	}
	closer.Close()
	return out, true, nil
}

// registerWatches arms the watches of a committed transaction, firing at once those whose key
// already differs from what the transaction saw. Called by the commit leader after publishing.
func (db *DB) registerWatches(tx *transaction) {
	for _, w := range tx.watches {
		db.watches.add(w, db.pdb)
	}
}

// touchedKeys are what a commit group wrote, for waking watches.
type touchedKeys struct {
	points [][]byte
	ranges []kv.Range
}

// watchRegistry holds the armed watches of a database by key.
type watchRegistry struct {
	count atomic.Int64 // outstanding watches, armed or not yet committed
	mu    sync.Mutex
	byKey map[string][]*watch
}

func (r *watchRegistry) init() { r.byKey = make(map[string][]*watch) }

// active reports whether any watch is armed.
func (r *watchRegistry) active() bool { return r.count.Load() > 0 }

// add arms w unless the key already changed.
func (r *watchRegistry) add(w *watch, pdb *pebble.DB) {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-w.done:
		return
	default:
	}
	w.armed.Store(true)
	if changed(pdb, w) {
		go w.finish(nil)
		return
	}
	r.byKey[string(w.key)] = append(r.byKey[string(w.key)], w)
}

// changed reports whether the key's latest value differs from the watch's.
func changed(pdb *pebble.DB, w *watch) bool {
	v, present, err := getFrom(pdb, w.key)
	if err != nil {
		return true
	}
	return present != w.present || !bytes.Equal(v, w.value)
}

func (r *watchRegistry) remove(w *watch) {
	r.count.Add(-1)
	r.mu.Lock()
	defer r.mu.Unlock()
	ws := r.byKey[string(w.key)]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(r.byKey, string(w.key))
	} else {
		r.byKey[string(w.key)] = ws
	}
}

// fire wakes the watches on keys the group wrote whose value changed.
func (r *watchRegistry) fire(pdb *pebble.DB, t *touchedKeys) {
	var wake []*watch
	r.mu.Lock()
	if len(r.byKey) == 0 {
		r.mu.Unlock()
		return
	}
	check := func(ws []*watch) {
		for _, w := range ws {
			if changed(pdb, w) {
				wake = append(wake, w)
			}
		}
	}
	for _, k := range t.points {
		check(r.byKey[string(k)])
	}
	if len(t.ranges) > 0 {
		for k, ws := range r.byKey {
			for _, rg := range t.ranges {
				if rg.Contains([]byte(k)) {
					check(ws)
					break
				}
			}
		}
	}
	r.mu.Unlock()
	// finish takes r.mu to unregister.
	for _, w := range wake {
		w.finish(nil)
	}
}

// closeAll fails every armed watch.
func (r *watchRegistry) closeAll(err error) {
	r.mu.Lock()
	var all []*watch
	for _, ws := range r.byKey {
		all = append(all, ws...)
	}
	r.mu.Unlock()
	for _, w := range all {
		w.finish(err)
	}
}
