package embedded

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/layerkit/layerkit/kv"
)

// maxGroup bounds a commit group: batch orders are two bytes, and a bounded group keeps the
// latency of its first member bounded.
const maxGroup = 4096

// Commit commits the transaction as FoundationDB does. A transaction that wrote nothing (no
// mutation and no write conflict range) commits at once: no size check, no conflict check and
// no 1007, however old its reads. Any other commit is checked against the size limit, counted as
// FoundationDB counts it (see size.go), and then joins the next commit group, where a read
// version older than the window fails it with 1007 (every such commit carries a read conflict
// range: FoundationDB adds one to a commit whose reads do not overlap its writes) and its read
// conflict ranges are checked.
func (tx *transaction) Commit() error {
	tx.mu.Lock()
	now := time.Now()
	if err := tx.check(now); err != nil {
		// The commit never started: the transaction keeps its error, and its watches and
		// versionstamp get it.
		if !errors.Is(err, kv.ErrUsedDuringCommit) {
			tx.finishPending(err)
		}
		tx.mu.Unlock()
		return err
	}
	tx.finished = true
	readOnly := tx.writes.empty() && len(tx.wconf) == 0
	if readOnly && len(tx.watches) == 0 {
		tx.committed = true
		tx.commitVersion = -1
		tx.finishPending(noStampErr())
		tx.releaseView()
		tx.mu.Unlock()
		return nil
	}
	fail := func(err error) error {
		tx.stampFail = stampErr(err)
		tx.finishWatches(err)
		tx.finishStamps(tx.stampFail)
		tx.releaseView()
		tx.mu.Unlock()
		return err
	}
	if !readOnly {
		if size, over := tx.commitSize(); over {
			return fail(fmt.Errorf("embedded: commit of %d bytes, limit %d: %w", size, kv.MaxTransactionSize, kv.ErrTransactionTooLarge))
		}
		if tx.old(now) {
			return fail(tooOldErr("commit"))
		}
	}
	tx.committing = true
	tx.mu.Unlock()

	err := tx.db.commit(tx, readOnly)

	tx.mu.Lock()
	defer tx.mu.Unlock()
	tx.committing = false
	if !tx.hasRV {
		tx.rv, tx.hasRV, tx.rvTime = tx.commitRV, true, now
	}
	if err != nil {
		tx.commitVersion = -1
		tx.stampFail = stampErr(err)
		tx.finishWatches(err)
		tx.finishStamps(tx.stampFail)
		tx.releaseView()
		return err
	}
	tx.committed = true
	for _, s := range tx.stamps {
		if readOnly {
			s.finish([10]byte{}, noStampErr())
		} else {
			s.finish(tx.stamp, nil)
		}
	}
	tx.stamps = nil
	tx.watches = nil // now owned by the registry
	tx.releaseView()
	// An operation issued during the commit, or a Cancel, fails the commit's result as in
	// FoundationDB, although the commit was applied (it may or may not have been, there).
	return tx.resetErr
}

// commit queues tx for the next group and waits for its result. The first committer to find no
// group in progress becomes the leader and runs groups until the queue is empty, so a lone
// committer never waits for a hand-off to another goroutine.
func (db *DB) commit(tx *transaction, readOnly bool) error {
	tx.readOnly = readOnly
	db.qmu.Lock()
	if db.qclosed {
		db.qmu.Unlock()
		return closedErr()
	}
	if err := db.failedErr(); err != nil {
		db.qmu.Unlock()
		return err
	}
	if db.leading {
		// A follower waits for the leader to answer it. Only followers need the channel (made
		// once per transaction): a leader runs its own group.
		if tx.done == nil {
			tx.done = make(chan struct{}, 1)
		}
		db.queue = append(db.queue, tx)
		db.qmu.Unlock()
		<-tx.done
		return tx.commitErr
	}
	db.queue = append(db.queue, tx)
	db.leading = true
	defer func() {
		if p := recover(); p != nil {
			// A bug, not an input error: let Close still finish before the panic goes on.
			db.qmu.Lock()
			db.leading = false
			db.idle.Broadcast()
			db.qmu.Unlock()
			panic(p)
		}
	}()
	for len(db.queue) > 0 {
		group := db.queue
		if len(group) > maxGroup {
			group = group[:maxGroup]
			db.queue = append(db.spare[:0], db.queue[maxGroup:]...)
		} else {
			db.queue = db.spare[:0]
		}
		db.spare = nil
		db.qmu.Unlock()
		db.runGroup(group)
		clear(group)
		db.qmu.Lock()
		if db.spare == nil {
			db.spare = group[:0]
		}
	}
	db.leading = false
	db.idle.Broadcast()
	db.qmu.Unlock()
	if tx.done != nil {
		<-tx.done // answered with its group, like the followers
	}
	return tx.commitErr
}

// final is the value a key gets from one transaction.
type final struct {
	key     []byte
	value   []byte
	present bool
	e       *entry
}

// runGroup resolves, applies and publishes one commit group, then answers its members.
func (db *DB) runGroup(group []*transaction) {
	now := time.Now()
	prev := db.version.Load()
	version := db.nextVersion(now)
	published := false
	defer func() {
		if !published {
			db.abandonVersion()
		}
	}()
	// An indexed batch reads through to the database (and sees the group's earlier members):
	// atomic mutations over a value not read need it, and so do range clears, which look for
	// the keys they cover (see clearRange).
	needRead := false
	for _, tx := range group {
		if tx.writes.needsRead || len(tx.writes.clears) > 0 {
			needRead = true
		}
	}
	var b *pebble.Batch
	if needRead {
		b = db.pdb.NewIndexedBatch()
	} else {
		b = db.pdb.NewBatch()
	}
	defer b.Close()

	watching := db.watches.active()
	var touched touchedKeys
	gw := &db.gw
	defer gw.reset()
	applied := 0
	for i, tx := range group {
		tx.commitErr = nil
		tx.fault = faultNone
		if tx.readOnly {
			tx.commitRV = prev
			tx.releaseView()
			continue
		}
		ok := db.resolve(tx, prev, now, gw)
		// Once resolved, the transaction's read version no longer holds back anything.
		tx.releaseView()
		if !ok {
			continue
		}
		var stamp [10]byte
		binary.BigEndian.PutUint64(stamp[:8], uint64(version))
		binary.BigEndian.PutUint16(stamp[8:], uint16(i))
		if err := db.apply(b, tx, stamp, watching, &touched, gw); err != nil {
			tx.commitErr = err
			continue
		}
		tx.fault = tx.pendingFault
		tx.commitVersion = version
		tx.stamp = stamp
		applied++
	}

	if applied > 0 {
		if db.durable {
			var vb [8]byte
			binary.BigEndian.PutUint64(vb[:], uint64(version))
			b.Set(versionKey, vb[:], nil)
		}
		opt := pebble.NoSync
		if db.sync {
			opt = pebble.Sync
		}
		db.freeze()
		published = true // unfreeze or publish ends the version in flight
		if err := b.Commit(opt); err != nil {
			db.unfreeze()
			// Pebble applies a batch entirely or not at all, so nothing of the group happened.
			for _, tx := range group {
				if tx.commitErr == nil && !tx.readOnly {
					tx.commitErr = fmt.Errorf("embedded: commit: %v: %w", err, kv.ErrOperationFailed)
				}
			}
		} else {
			db.publish(version, gw, now)
		}
	}

	// Watches: first those already waiting, against what this group changed; then the
	// group's own.
	if watching && applied > 0 {
		db.watches.fire(db.pdb, &touched)
	}
	for _, tx := range group {
		if len(tx.watches) > 0 {
			if tx.commitErr == nil {
				db.registerWatches(tx)
			}
		}
		if tx.commitErr == nil && tx.fault == faultUnknownApplied {
			tx.commitErr = fmt.Errorf("embedded: injected fault, applied: %w", kv.ErrCommitUnknownResult)
		}
		if tx.done != nil {
			tx.done <- struct{}{}
		}
	}
}

// resolve decides whether tx may commit: not too old, no injected failure, and nothing it read
// written after its read version, by earlier commits (the resolver) or by earlier members of its
// group (gw). It sets tx.commitErr when not.
func (db *DB) resolve(tx *transaction, prev int64, now time.Time, gw *groupWrites) bool {
	// A transaction that took no read version gets the latest, as FoundationDB's commit takes one
	// for it.
	rv := prev
	if tx.view != nil {
		rv = tx.rv
	}
	tx.commitRV = rv
	if tx.view != nil && now.Sub(tx.rvTime) > db.window {
		tx.commitErr = tooOldErr("commit")
		return false
	}
	tx.pendingFault = db.faults.pick()
	switch tx.pendingFault {
	case faultNotCommitted:
		tx.commitErr = fmt.Errorf("embedded: injected fault: %w", kv.ErrNotCommitted)
		return false
	case faultUnknownNotApplied:
		tx.commitErr = fmt.Errorf("embedded: injected fault, not applied: %w", kv.ErrCommitUnknownResult)
		return false
	}
	if len(tx.reads) == 0 && len(tx.explicit) == 0 {
		return true
	}
	if db.resolver.conflicts(tx.reads, rv) || gw.conflicts(tx.reads) ||
		db.resolver.conflicts(tx.explicit, rv) || gw.conflicts(tx.explicit) {
		tx.commitErr = kv.ErrNotCommitted
		return false
	}
	return true
}

// groupWrites are the write conflict ranges of the members of a commit group resolved so far.
// Later members conflict with them; they reach the resolver when the group is published.
type groupWrites struct {
	points [][]byte
	ranges []kv.Range
	set    map[string]struct{} // points, built once the group has enough of them
}

// reset empties g for the next group, keeping its slices.
func (g *groupWrites) reset() {
	clear(g.points)
	clear(g.ranges)
	g.points, g.ranges, g.set = g.points[:0], g.ranges[:0], nil
}

func (g *groupWrites) addPoint(k []byte) {
	g.points = append(g.points, k)
	if g.set != nil {
		g.set[string(k)] = struct{}{}
	}
}

func (g *groupWrites) conflicts(reads []kv.Range) bool {
	if len(g.points) == 0 && len(g.ranges) == 0 {
		return false
	}
	if g.set == nil && len(g.points) > 16 {
		g.set = make(map[string]struct{}, len(g.points))
		for _, k := range g.points {
			g.set[string(k)] = struct{}{}
		}
	}
	for _, r := range reads {
		for _, w := range g.ranges {
			if bytes.Compare(r.Begin, w.End) < 0 && bytes.Compare(w.Begin, r.End) < 0 {
				return true
			}
		}
		if isPoint(r) && g.set != nil {
			if _, ok := g.set[string(r.Begin)]; ok {
				return true
			}
			continue
		}
		for _, k := range g.points {
			if r.Contains(k) {
				return true
			}
		}
	}
	return false
}

// apply evaluates tx's writes against the latest state (the batch over the database, so earlier
// members of the group count) and adds them to the batch and its write conflicts to the resolver.
// On error nothing is added.
func (db *DB) apply(b *pebble.Batch, tx *transaction, stamp [10]byte, watching bool, touched *touchedKeys, gw *groupWrites) error {
	w := &tx.writes
	var small [4]final
	finals := small[:0]
	if w.points.Len() > len(small) {
		finals = make([]final, 0, w.points.Len())
	}
	if w.points.Len() > 0 {
		for k, e := range w.points.Ascend(nil, nil) {
			f := final{key: k, e: e}
			if e.known && len(e.ops) == 0 {
				f.value, f.present = e.value, e.present
			} else {
				var v []byte
				present := false
				if e.known {
					v, present = e.value, e.present
				} else {
					cur, closer, err := b.Get(k)
					switch {
					case err == nil:
						v, present = bytes.Clone(cur), true
						closer.Close()
					case errors.Is(err, pebble.ErrNotFound):
					default:
						return storageErr(fmt.Sprintf("commit: read %s for atomic mutation", kv.Printable(truncate(k))), err)
					}
				}
				for _, o := range e.ops {
					if o.typ == kv.SetVersionstampedValue {
						v, present = fillStamp(o.param, stamp), true
						continue
					}
					nv, np, err := kv.ApplyAtomic(o.typ, v, present, o.param)
					if err != nil {
						return fmt.Errorf("embedded: commit: key %s: %w", kv.Printable(truncate(k)), err)
					}
					v, present = nv, np
				}
				f.value, f.present = v, present
			}
			finals = append(finals, f)
		}
	}
	for _, r := range w.clears {
		clearRange(b, r)
	}
	for _, f := range finals {
		if f.present {
			b.Set(f.key, f.value, nil)
		} else {
			b.Delete(f.key, nil)
		}
	}
	var vsWritten [][]byte
	for _, vk := range w.vsKeys {
		if vk.dropped {
			continue
		}
		key := bytes.Clone(vk.key)
		copy(key[vk.offset:], stamp[:])
		b.Set(key, vk.value, nil)
		// The commit proxy gives every versionstamped key a write conflict range on its final
		// key, whatever SetNextWriteNoWriteConflictRange said.
		vsWritten = append(vsWritten, key)
		if watching {
			touched.points = append(touched.points, key)
		}
	}

	// Conflicts: later transactions that read what this one wrote must fail.
	for _, f := range finals {
		if f.e.conflict {
			gw.addPoint(f.key)
		}
		if watching {
			touched.points = append(touched.points, f.key)
		}
	}
	for _, r := range tx.wconf {
		if isPoint(r) {
			gw.addPoint(r.Begin)
		} else {
			gw.ranges = append(gw.ranges, r)
		}
	}
	for _, k := range vsWritten {
		gw.addPoint(k)
	}
	if watching {
		touched.ranges = append(touched.ranges, w.clears...)
	}
	return nil
}

// clearPointLimit is the most keys a range clear writes as point deletions; a clear that covers
// more is one range deletion.
const clearPointLimit = 16

// clearRange clears r in the batch. A clear that covers at most clearPointLimit keys, as it is
// applied (after the commits before it and the group's earlier members), is written as point
// deletions of those keys instead of a range deletion: the result is the same, but range
// deletions are costly for Pebble to hold in a memtable — each read that follows a new one
// fragments every range deletion the memtable holds again — and the layers clear small ranges
// all the time (the record layer clears a record's keys before it saves it again, the document
// layer a field's subtree). CockroachDB's storage does the same (ClearRangeWithHeuristic).
func clearRange(b *pebble.Batch, r kv.Range) {
	if b.Indexed() {
		if keys, ok := fewKeys(b, r); ok {
			for _, k := range keys {
				b.Delete(k, nil)
			}
			return
		}
	}
	b.DeleteRange(r.Begin, r.End, nil)
}

// fewKeys returns the keys in r, read through the indexed batch, when there are at most
// clearPointLimit of them.
func fewKeys(b *pebble.Batch, r kv.Range) ([][]byte, bool) {
	opts := pebble.IterOptions{LowerBound: r.Begin, UpperBound: r.End}
	if len(r.Begin) == 0 {
		opts.LowerBound = nil // the start of the keyspace (Pebble's checks refuse an empty bound)
	}
	it, err := b.NewIter(&opts)
	if err != nil {
		return nil, false
	}
	var keys [][]byte
	for valid := it.First(); valid; valid = it.Next() {
		if len(keys) == clearPointLimit {
			it.Close()
			return nil, false
		}
		keys = append(keys, bytes.Clone(it.Key()))
	}
	if it.Close() != nil {
		return nil, false
	}
	return keys, true
}

// fillStamp returns a versionstamped value: the parameter without its offset suffix, with the
// stamp written at the offset (checked when the mutation was recorded).
func fillStamp(param []byte, stamp [10]byte) []byte {
	off := int(binary.LittleEndian.Uint32(param[len(param)-4:]))
	v := bytes.Clone(param[:len(param)-4])
	copy(v[off:], stamp[:])
	return v
}
