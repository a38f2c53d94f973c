package docstore

import (
	"context"
	"encoding/binary"
	"slices"
	"time"

	"github.com/layerkit/layerkit/kv"
)

// SweepOptions bound one Sweep.
type SweepOptions struct {
	// BatchDocs is the most documents removed per transaction (0: 100).
	BatchDocs int
	// MaxBatches stops after this many transactions (0: until nothing expired is left).
	MaxBatches int
}

// Sweep removes the documents that TTL indexes have expired, with their index entries, in
// batches that are each a short transaction of db, and returns how many it removed. Expired
// documents are already invisible to every read and write; Sweep reclaims their space. It reads
// the TTL index without conflicts and re-reads each candidate document before removing it, so it
// conflicts only with writers of the very documents it removes (one of the two then retries),
// and never blocks other writers. It also clears old idempotency-ledger entries.
func (c *Collection) Sweep(ctx context.Context, db kv.Database, opts SweepOptions) (int, error) {
	batch := opts.BatchDocs
	if batch <= 0 {
		batch = 100
	}
	total := 0
	for n := 0; opts.MaxBatches == 0 || n < opts.MaxBatches; n++ {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		var tried []any // what earlier attempts removed, in case a commit result was unknown
		removed, err := kv.Transact(ctx, db, func(tr kv.Transaction) (int, error) {
			gone, err := c.countGone(ctx, tr, tried)
			if err != nil {
				return 0, err
			}
			ids, err := c.sweepBatch(ctx, tr, batch, n == 0)
			for _, id := range ids {
				if !slices.ContainsFunc(tried, func(x any) bool { return equalValues(x, id) }) {
					tried = append(tried, id)
				}
			}
			return gone + len(ids), err
		})
		total += removed
		if err != nil || removed == 0 {
			return total, err
		}
	}
	return total, nil
}

// countGone counts the documents of ids that no longer exist: an earlier attempt whose commit
// result was unknown removed them after all.
func (c *Collection) countGone(ctx context.Context, tr kv.Transaction, ids []any) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	st, err := c.resolve(ctx, tr, false)
	if err != nil || st == nil {
		return 0, err
	}
	gone := 0
	for _, id := range ids {
		v, err := tr.Get(st.docPrefix(id)).Get()
		if err != nil {
			return 0, err
		}
		if v == nil {
			gone++
		}
	}
	return gone, nil
}

// sweepBatch removes up to batch expired documents and returns their _ids.
func (c *Collection) sweepBatch(ctx context.Context, tr kv.Transaction, batch int, clearLedger bool) ([]any, error) {
	st, err := c.resolve(ctx, tr, false)
	if err != nil || st == nil {
		return nil, err
	}
	w := &tx{ctx: ctx, c: c, rtr: tr, tr: tr, st: st, now: c.now()}
	if clearLedger {
		old := make([]byte, 8)
		binary.BigEndian.PutUint64(old, uint64(w.now.Add(-ledgerTTL).UnixNano()))
		tr.ClearRange(kv.Range{Begin: packed(st.prefix, keyLedger), End: packed(st.prefix, keyLedger, old)})
	}
	var removed []any
	seen := map[string]bool{}
	for _, ix := range st.ttl {
		if !ix.readable() {
			continue // not built yet: its documents are still hidden by the read-time check
		}
		cutoff := w.now.Add(-ix.expireAfter).UnixMilli()
		begin := appendTupleInt(clip(ix.prefix), tagDate)
		end := append(appendTupleInt(clip(begin), cutoff), 0xff)
		rows, err := tr.Snapshot().GetRange(kv.Range{Begin: begin, End: end}, kv.RangeOptions{Limit: batch - len(removed)}).GetSlice()
		if err != nil {
			return removed, err
		}
		for _, r := range rows {
			id, err := entryID(ix, r.Key)
			if err != nil {
				return removed, err
			}
			key := string(appendKey(nil, id))
			if seen[key] {
				continue
			}
			seen[key] = true
			doc, err := w.readDocRaw(id)
			if err != nil {
				return removed, err
			}
			if doc == nil || !st.expired(doc, w.now) {
				continue // changed since the entry was read
			}
			if err := w.purge(id, doc); err != nil {
				return removed, err
			}
			removed = append(removed, id)
		}
		if len(removed) >= batch {
			break
		}
	}
	return removed, w.flushEvents()
}

// RunSweeper calls Sweep every interval until ctx ends, handing errors to onError (which may be
// nil). Run it in a goroutine: go coll.RunSweeper(ctx, db, time.Minute, nil).
func (c *Collection) RunSweeper(ctx context.Context, db kv.Database, interval time.Duration, onError func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := c.Sweep(ctx, db, SweepOptions{}); err != nil && ctx.Err() == nil && onError != nil {
			onError(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
