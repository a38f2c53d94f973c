package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/layerkit/layerkit/kv"
)

// trimScanPerTransaction bounds how many entries TrimOlderThan reads in one transaction.
const trimScanPerTransaction = 10_000

// Trim removes every entry before the entry with ID before (that entry stays, if it exists) with
// one range clear, and records the trim point (TrimmedBefore) so readers can tell that a cursor
// behind it has missed entries. Trim(StreamEnd) removes every entry. Trimming is blind: it
// conflicts with no appender and no reader, and trimming again to the same point, or to an
// earlier one, changes nothing.
//
// Trimming ignores consumer groups: to keep what a group has not read, trim before the group's
// Cursor (or the least of several groups' cursors).
func (s *Stream) Trim(ctx context.Context, t kv.Transactor, before EntryID) error {
	return t.Transact(ctx, func(tr kv.Transaction) error {
		return s.trim(tr, before)
	})
}

// trim clears the entries before the given ID and moves the trim point to just after the last
// of them, found with a snapshot read: entries appended later always order after it, so a
// reader's cursor that orders before the trim point has certainly missed entries.
func (s *Stream) trim(tr kv.Transaction, before EntryID) error {
	r := s.before(before)
	last, err := tr.Snapshot().GetRange(r, kv.RangeOptions{Limit: 1, Reverse: true}).GetSlice()
	if err != nil || len(last) == 0 {
		return err
	}
	id, err := decodeID(s.l.items, last[0].Key)
	if err != nil {
		return err
	}
	tr.ClearRange(r)
	// Entry IDs order as their big-endian bytes, so BYTE_MAX keeps the latest trim point
	// without reading it.
	point := successor(id)
	tr.Atomic(kv.ByteMax, s.trimmed, point[:])
	return nil
}

// TrimmedBefore returns the stream's trim point: every entry before it has been removed
// (StreamStart when the stream was never trimmed). A reader whose cursor orders before it
// has missed entries.
func (s *Stream) TrimmedBefore(ctx context.Context, t kv.ReadTransactor) (EntryID, error) {
	return kv.ReadTransact(ctx, t, func(tr kv.ReadTransaction) (EntryID, error) {
		v, err := tr.Snapshot().Get(s.trimmed).Get()
		if err != nil || v == nil {
			return StreamStart, err
		}
		id, err := EntryIDFromBytes(v)
		if err != nil {
			return id, fmt.Errorf("%w: trim point of stream %s: %v", ErrCorrupt, kv.Printable(s.l.prefix), err)
		}
		return id, nil
	})
}

// TrimOlderThan removes the entries at the start of the stream that were appended more than age
// ago, by the stream's clock and the times stamped on the entries: it trims before the first
// entry that is younger (entries stamped by appenders whose clocks disagree are not reordered,
// so one young entry keeps the older ones after it). It returns the trim point.
//
// Given a database, it runs as many transactions as it needs, each reading at most 10,000
// entries. Given a transaction, it reads at most 10,000 entries in it and trims what it read;
// call it again to go on.
func (s *Stream) TrimOlderThan(ctx context.Context, t kv.Transactor, age time.Duration) (EntryID, error) {
	if age < 0 {
		return StreamStart, fmt.Errorf("%w: negative age %v", ErrInvalidArgument, age)
	}
	cutoff := s.clock().Add(-age)
	_, isDB := t.(kv.Database)
	type result struct {
		point EntryID
		done  bool
	}
	point := StreamStart
	for {
		r, err := kv.Transact(ctx, t, func(tr kv.Transaction) (result, error) {
			cursor, scanned, more := StreamStart, 0, true
			for more && scanned < trimScanPerTransaction {
				p, err := s.readPage(tr, cursor, min(1000, trimScanPerTransaction-scanned), false)
				if err != nil {
					return result{}, err
				}
				for _, e := range p.Entries {
					if !e.Time.Before(cutoff) {
						return result{e.ID, true}, s.trim(tr, e.ID)
					}
				}
				scanned += len(p.Entries)
				cursor, more = p.Cursor, p.More
			}
			if cursor == StreamStart {
				// An empty stream: nothing to trim. Its trim point is the answer, also when this
				// is a retry of a transaction that did the trim and was reported
				// commit_unknown_result.
				p, err := s.TrimmedBefore(ctx, tr)
				return result{p, true}, err
			}
			next := successor(cursor)
			return result{next, !more}, s.trim(tr, next)
		})
		if err != nil {
			return point, err
		}
		if r.point != StreamStart {
			point = r.point
		}
		if r.done || !isDB {
			return point, nil
		}
	}
}

// successor returns the least ID after id.
func successor(id EntryID) EntryID {
	for i := len(id) - 1; i >= 0; i-- {
		id[i]++
		if id[i] != 0 {
			break
		}
	}
	return id
}
