package queue

import (
	"context"
	"fmt"
	"math"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/queue/internal/queuepb"
)

// DefaultPeekLimit is how many messages Peek and PeekDead return when the limit is zero, and
// how many dead letters one transaction redrives.
const DefaultPeekLimit = 100

// PeekOptions shape Peek and PeekDead. The zero value returns up to DefaultPeekLimit messages.
type PeekOptions struct {
	// Limit is the most messages to return; DefaultPeekLimit when zero.
	Limit int
	// All makes Peek return every message in the queue in schedule order (lanes, then the time
	// each can next be received), delayed and leased ones included, not only the visible ones.
	All bool
	// After makes PeekDead start after this ID (the last one of the previous page).
	After MessageID
}

func (o PeekOptions) limit() (int, error) {
	if o.Limit < 0 {
		return 0, fmt.Errorf("%w: negative peek limit %d", ErrInvalidArgument, o.Limit)
	}
	return orDefault(o.Limit, DefaultPeekLimit), nil
}

// Peek returns the messages a Receive would take next, in that order, without leasing them:
// those visible now, highest priority first (with opts.All, every message in the queue). It
// reads with snapshot reads.
func (q *Queue) Peek(ctx context.Context, t kv.ReadTransactor, opts PeekOptions) ([]Message, error) {
	limit, err := opts.limit()
	if err != nil {
		return nil, err
	}
	return kv.ReadTransact(ctx, t, func(tr kv.ReadTransaction) ([]Message, error) {
		snap := tr.Snapshot()
		until := q.o.Clock().UnixMilli() + 1
		if opts.All {
			until = math.MaxInt64
		}
		var ids []MessageID
		err := q.lanes(snap, func(ln int64) (bool, error) {
			rows, err := snap.GetRange(q.peekRange(ln, until), kv.RangeOptions{Limit: limit - len(ids), Mode: kv.StreamingWantAll}).GetSlice()
			if err != nil {
				return false, err
			}
			for _, row := range rows {
				e, err := q.decodeSchedule(row.Key)
				if err != nil {
					return false, err
				}
				ids = append(ids, e.id)
			}
			return len(ids) < limit, nil
		})
		if err != nil {
			return nil, err
		}
		return q.load(snap, q.l.items, ids)
	})
}

// peekRange is the range of lane ln's entries before until, from the handle's hint.
func (q *Queue) peekRange(ln, until int64) kv.Range {
	r := q.laneRange(ln, math.MinInt64, until)
	if begin := q.hints.from(ln, q.wall()); begin != nil {
		r.Begin = begin
	}
	return r
}

// load reads the messages with the given IDs under k (messages or dead letters), pipelined.
// A message that is missing is corrupt: its schedule or dead-letter key was read at the same
// version.
func (q *Queue) load(tr kv.ReadTransaction, k []byte, ids []MessageID) ([]Message, error) {
	fs := make([]kv.Future[[]byte], len(ids))
	for i, id := range ids {
		fs[i] = tr.Get(idKey(k, id))
	}
	out := make([]Message, 0, len(ids))
	for i, id := range ids {
		v, err := fs[i].Get()
		if err != nil {
			return nil, err
		}
		if v == nil {
			return nil, fmt.Errorf("%w: message %s is scheduled but has no record", ErrCorrupt, id)
		}
		m, err := unmarshal(id, v)
		if err != nil {
			return nil, err
		}
		out = append(out, toMessage(id, m))
	}
	return out, nil
}

// Get returns the message with the given ID, in the queue or in the dead-letter queue, and
// false when there is none (never enqueued, acknowledged, purged). It reads with snapshot
// reads.
func (q *Queue) Get(ctx context.Context, t kv.ReadTransactor, id MessageID) (Message, bool, error) {
	type result struct {
		m  Message
		ok bool
	}
	r, err := kv.ReadTransact(ctx, t, func(tr kv.ReadTransaction) (result, error) {
		snap := tr.Snapshot()
		live, dead := snap.Get(idKey(q.l.items, id)), snap.Get(idKey(q.dead, id))
		for _, f := range []kv.Future[[]byte]{live, dead} {
			v, err := f.Get()
			if err != nil || v == nil {
				if err != nil {
					return result{}, err
				}
				continue
			}
			m, err := unmarshal(id, v)
			if err != nil {
				return result{}, err
			}
			return result{toMessage(id, m), true}, nil
		}
		return result{}, nil
	})
	return r.m, r.ok, err
}

// PeekDead returns dead-lettered messages in ID order (enqueue order), after opts.After, with
// the reason each was dead-lettered as its LastError. It reads with snapshot reads.
func (q *Queue) PeekDead(ctx context.Context, t kv.ReadTransactor, opts PeekOptions) ([]Message, error) {
	limit, err := opts.limit()
	if err != nil {
		return nil, err
	}
	return kv.ReadTransact(ctx, t, func(tr kv.ReadTransaction) ([]Message, error) {
		r := kv.Range{Begin: append(idKey(q.dead, opts.After), 0x00), End: append(clone(q.dead), 0xff)}
		rows, err := tr.Snapshot().GetRange(r, kv.RangeOptions{Limit: limit, Mode: kv.StreamingWantAll}).GetSlice()
		if err != nil {
			return nil, err
		}
		out := make([]Message, len(rows))
		for i, row := range rows {
			id, m, err := q.decodeDead(row)
			if err != nil {
				return nil, err
			}
			out[i] = toMessage(id, m)
		}
		return out, nil
	})
}

// decodeDead decodes a dead letter's key and value.
func (q *Queue) decodeDead(row kv.KeyValue) (MessageID, *queuepb.Message, error) {
	id, err := decodeID(q.dead, row.Key)
	if err != nil {
		return id, nil, err
	}
	m, err := unmarshal(id, row.Value)
	return id, m, err
}

// RedriveOptions choose the dead letters to send back. The zero value redrives them all.
type RedriveOptions struct {
	// IDs, when not empty, redrives only these messages; IDs not in the dead-letter queue are
	// skipped.
	IDs []MessageID
	// Limit bounds how many dead letters one transaction redrives; DefaultPeekLimit when zero.
	Limit int
}

// Redrive moves dead letters back into the queue: visible at once, at their priority, with
// their attempts reset to zero (their LastError kept). It returns how many it moved. Given a
// database, it moves every chosen dead letter, in as many transactions as it needs, and counts
// right across commit_unknown_result; given a transaction, it moves at most Limit
// (DefaultPeekLimit when zero) of them. Redrive reads the dead letters it moves with conflicts,
// so it is safe to retry.
func (q *Queue) Redrive(ctx context.Context, t kv.Transactor, opts RedriveOptions) (int, error) {
	if opts.Limit < 0 {
		return 0, fmt.Errorf("%w: negative redrive limit %d", ErrInvalidArgument, opts.Limit)
	}
	limit := orDefault(opts.Limit, DefaultPeekLimit)
	_, isDB := t.(kv.Database)
	total := 0
	ids := opts.IDs
	for {
		batch := ids
		if len(opts.IDs) > 0 {
			batch = ids[:min(limit, len(ids))]
		}
		var prev []MessageID
		moved, err := write(ctx, t, nil, func(tr kv.Transaction, r retryInfo) ([]MessageID, error) {
			if r.maybe && len(prev) > 0 {
				// Did the previous attempt move them? It moved all or none.
				v, err := tr.Get(idKey(q.dead, prev[0])).Get()
				if err != nil || v == nil {
					return prev, err
				}
			}
			m, err := q.redrive(tr, batch, limit)
			prev = m
			return m, err
		})
		total += len(moved)
		if err != nil || !isDB {
			return total, err
		}
		if len(opts.IDs) > 0 {
			ids = ids[len(batch):]
			if len(ids) == 0 {
				return total, nil
			}
		} else if len(moved) < limit {
			return total, nil
		}
	}
}

func (q *Queue) redrive(tr kv.Transaction, ids []MessageID, limit int) ([]MessageID, error) {
	var rows []kv.KeyValue
	if len(ids) == 0 {
		var err error
		rows, err = tr.GetRange(subRange(q.dead), kv.RangeOptions{Limit: limit, Mode: kv.StreamingWantAll}).GetSlice()
		if err != nil {
			return nil, err
		}
	} else {
		fs := make([]kv.Future[[]byte], len(ids))
		for i, id := range ids {
			fs[i] = tr.Get(idKey(q.dead, id))
		}
		for i, id := range ids {
			v, err := fs[i].Get()
			if err != nil {
				return nil, err
			}
			if v != nil {
				rows = append(rows, kv.KeyValue{Key: idKey(q.dead, id), Value: v})
			}
		}
	}
	now := q.o.Clock().UnixMilli()
	moved := make([]MessageID, 0, len(rows))
	var d deltas
	for _, row := range rows {
		id, m, err := q.decodeDead(row)
		if err != nil {
			return nil, err
		}
		tr.Clear(row.Key)
		m.State, m.Attempts, m.VisibleAtMs, m.DeadAtMs = queuepb.Message_STATE_READY, 0, now, 0
		v, err := marshal(m)
		if err != nil {
			return nil, err
		}
		tr.Set(idKey(q.l.items, id), v)
		tr.Set(q.messageScheduleKey(id, m), nil)
		d.move(Dead, Ready)
		moved = append(moved, id)
	}
	q.flush(tr, &d)
	if len(rows) > 0 {
		tr.Atomic(kv.Add, q.l.trigger, one)
	}
	return moved, nil
}

// Purge removes every message from the queue, leased ones included, with range clears; the
// dead-letter queue and the idempotency records stay (an enqueue repeating a purged message's
// key still answers that message's ID until the key expires). Leases of purged messages are
// lost. Purge writes without reading, so it conflicts with no producer; consumers that read a
// purged message conflict with it and retry.
func (q *Queue) Purge(ctx context.Context, t kv.Transactor) error {
	return t.Transact(ctx, func(tr kv.Transaction) error {
		tr.ClearRange(subRange(q.l.items))
		tr.ClearRange(subRange(q.schedule))
		for _, s := range []State{Ready, Delayed, Leased} {
			tr.Set(q.counters[s], int64Bytes(0))
		}
		return nil
	})
}

// PurgeDead empties the dead-letter queue.
func (q *Queue) PurgeDead(ctx context.Context, t kv.Transactor) error {
	return t.Transact(ctx, func(tr kv.Transaction) error {
		tr.ClearRange(subRange(q.dead))
		tr.Set(q.counters[Dead], int64Bytes(0))
		return nil
	})
}
