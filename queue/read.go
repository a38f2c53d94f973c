package queue

import (
	"context"
	"fmt"

	"github.com/layerkit/layerkit/kv"
)

// DefaultPageSize is the number of entries a read returns when ReadOptions.Limit is zero.
const DefaultPageSize = 100

// ReadOptions shape one page of a stream read. The zero value reads forward up to
// DefaultPageSize entries.
type ReadOptions struct {
	// Limit is the most entries to return; DefaultPageSize when zero.
	Limit int
	// Reverse reads backward: entries before the cursor, newest first.
	Reverse bool
}

// Page is one page of entries read from a cursor.
type Page struct {
	// Entries are in stream order (reverse order for a reverse read).
	Entries []Entry
	// Cursor is where the next page starts: the ID of the last entry returned, or the cursor
	// read from when the page is empty. Pass it to the next read in the same direction.
	Cursor EntryID
	// More reports that the read stopped at its limit with entries left beyond it.
	More bool
}

func (o ReadOptions) limit() (int, error) {
	switch {
	case o.Limit < 0:
		return 0, fmt.Errorf("%w: negative read limit %d", ErrInvalidArgument, o.Limit)
	case o.Limit == 0:
		return DefaultPageSize, nil
	}
	return o.Limit, nil
}

// Read returns a page of entries after cursor (before it, newest first, when opts.Reverse is
// set); the cursor's own entry is never included. Read forward from StreamStart for the oldest
// entries, backward from StreamEnd for the newest.
//
// The entries are read with snapshot reads: reading a stream never conflicts with appenders.
// This loses nothing: an entry appended by a transaction that commits after the read version
// gets a versionstamp greater than every entry visible at it, so it orders after the page's
// Cursor and the next forward read finds it. Given a database, Read runs a read-only
// transaction of its own.
//
// Reading, in the transaction that appended, a range that may hold the new entry fails with
// kv.ErrAccessedUnreadable (1036): its key is not known until commit. Read before appending.
func (s *Stream) Read(ctx context.Context, t kv.ReadTransactor, cursor EntryID, opts ReadOptions) (Page, error) {
	limit, err := opts.limit()
	if err != nil {
		return Page{}, err
	}
	return kv.ReadTransact(ctx, t, func(tr kv.ReadTransaction) (Page, error) {
		return s.readPage(tr, cursor, limit, opts.Reverse)
	})
}

func (s *Stream) readPage(tr kv.ReadTransaction, cursor EntryID, limit int, reverse bool) (Page, error) {
	r := s.after(cursor)
	if reverse {
		r = s.before(cursor)
	}
	rows, err := tr.Snapshot().GetRange(r, kv.RangeOptions{Limit: limit + 1, Reverse: reverse, Mode: kv.StreamingWantAll}).GetSlice()
	if err != nil {
		return Page{}, fmt.Errorf("queue: read stream %s: %w", kv.Printable(s.l.prefix), err)
	}
	p := Page{Cursor: cursor}
	if len(rows) > limit {
		rows, p.More = rows[:limit], true
	}
	p.Entries = make([]Entry, len(rows))
	for i, row := range rows {
		id, err := decodeID(s.l.items, row.Key)
		if err != nil {
			return Page{}, err
		}
		if p.Entries[i], err = decodeEntry(id, row.Value); err != nil {
			return Page{}, err
		}
		p.Cursor = id
	}
	return p, nil
}

// after is the range of entries after cursor; before, of those before it.
func (s *Stream) after(cursor EntryID) kv.Range {
	return kv.Range{Begin: append(idKey(s.l.items, cursor), 0x00), End: append(clone(s.l.items), 0xff)}
}

func (s *Stream) before(cursor EntryID) kv.Range {
	return kv.Range{Begin: append(clone(s.l.items), 0x00), End: idKey(s.l.items, cursor)}
}

// Get returns the entry with the given ID, and false when the stream has none (never appended,
// or trimmed). It reads with a snapshot read.
func (s *Stream) Get(ctx context.Context, t kv.ReadTransactor, id EntryID) (Entry, bool, error) {
	type result struct {
		e  Entry
		ok bool
	}
	r, err := kv.ReadTransact(ctx, t, func(tr kv.ReadTransaction) (result, error) {
		v, err := tr.Snapshot().Get(idKey(s.l.items, id)).Get()
		if err != nil || v == nil {
			return result{}, err
		}
		e, err := decodeEntry(id, v)
		return result{e, err == nil}, err
	})
	return r.e, r.ok, err
}

func clone(b []byte) []byte { return append(make([]byte, 0, len(b)+1), b...) }
