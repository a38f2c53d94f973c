package queue

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/tuple"
)

// Group is a consumer group of a stream: a named cursor stored in the database, so a consumer
// can resume where the group left off. Advancing the cursor in the transaction that does the
// consumer's work makes that work exactly-once for database-only consumers: the work and the
// new cursor commit together or not at all. Groups are independent of each other; members of
// one group share its one cursor, and their transactions serialise on it.
//
// A Group is a handle and safe for concurrent use.
type Group struct {
	s    *Stream
	name string
	key  []byte // P+(6, name)
}

// GroupCursor is a group's name and stored cursor.
type GroupCursor struct {
	Name   string
	Cursor EntryID
}

// Group returns the handle of the consumer group name. A group exists once its cursor has been
// advanced or reset; before that its cursor is StreamStart. The name must be non-empty UTF-8.
func (s *Stream) Group(name string) (*Group, error) {
	if name == "" || !utf8.ValidString(name) {
		return nil, fmt.Errorf("%w: group name %q must be non-empty UTF-8", ErrInvalidArgument, name)
	}
	key, err := tuple.Tuple{name}.AppendPack(clone(s.groups))
	if err != nil {
		return nil, fmt.Errorf("%w: group name %q: %v", ErrInvalidArgument, name, err)
	}
	return &Group{s: s, name: name, key: key}, nil
}

// Name returns the group's name.
func (g *Group) Name() string { return g.name }

// Cursor returns the group's stored cursor (StreamStart when it has none). The read adds a read
// conflict on the cursor, so a transaction that read it conflicts with any other that moves it.
func (g *Group) Cursor(ctx context.Context, t kv.ReadTransactor) (EntryID, error) {
	return kv.ReadTransact(ctx, t, g.cursor)
}

func (g *Group) cursor(tr kv.ReadTransaction) (EntryID, error) {
	v, err := tr.Get(g.key).Get()
	if err != nil || v == nil {
		return StreamStart, err
	}
	id, err := EntryIDFromBytes(v)
	if err != nil {
		return id, fmt.Errorf("%w: cursor of group %q: %v", ErrCorrupt, g.name, err)
	}
	return id, nil
}

// Read returns the page of entries after the group's cursor: Cursor, then Stream.Read, in one
// transaction. opts.Reverse is refused. To consume exactly once, call Read and Advance (to the
// page's Cursor) in the transaction that does the work; Consume is that loop.
func (g *Group) Read(ctx context.Context, t kv.ReadTransactor, opts ReadOptions) (Page, error) {
	limit, err := opts.limit()
	if err != nil {
		return Page{}, err
	}
	if opts.Reverse {
		return Page{}, fmt.Errorf("%w: group %q reads forward only", ErrInvalidArgument, g.name)
	}
	return kv.ReadTransact(ctx, t, func(tr kv.ReadTransaction) (Page, error) {
		c, err := g.cursor(tr)
		if err != nil {
			return Page{}, err
		}
		return g.s.readPage(tr, c, limit, false)
	})
}

// Advance moves the group's cursor forward to id. Moving it to where it is succeeds and writes
// nothing, which makes a retried Advance harmless; moving it backwards fails with an error
// wrapping ErrCursorBackwards. The read of the stored cursor adds a read conflict on it.
func (g *Group) Advance(ctx context.Context, t kv.Transactor, id EntryID) error {
	return t.Transact(ctx, func(tr kv.Transaction) error {
		c, err := g.cursor(tr)
		if err != nil {
			return err
		}
		switch id.Compare(c) {
		case 0:
			return nil
		case -1:
			return fmt.Errorf("%w: group %q is at %s, asked to move to %s", ErrCursorBackwards, g.name, c, id)
		}
		tr.Set(g.key, id[:])
		return nil
	})
}

// Reset sets the group's cursor to id, forward or backward (StreamStart to consume the stream
// again from its start).
func (g *Group) Reset(ctx context.Context, t kv.Transactor, id EntryID) error {
	return t.Transact(ctx, func(tr kv.Transaction) error {
		tr.Set(g.key, id[:])
		return nil
	})
}

// Delete removes the group's cursor; the group then reads from StreamStart again.
func (g *Group) Delete(ctx context.Context, t kv.Transactor) error {
	return t.Transact(ctx, func(tr kv.Transaction) error {
		tr.Clear(g.key)
		return nil
	})
}

// Groups lists the stream's groups and their cursors, by name.
func (s *Stream) Groups(ctx context.Context, t kv.ReadTransactor) ([]GroupCursor, error) {
	return kv.ReadTransact(ctx, t, func(tr kv.ReadTransaction) ([]GroupCursor, error) {
		rows, err := tr.GetRange(subRange(s.groups), kv.RangeOptions{Mode: kv.StreamingWantAll}).GetSlice()
		if err != nil {
			return nil, err
		}
		out := make([]GroupCursor, 0, len(rows))
		for _, row := range rows {
			gc, err := s.decodeGroup(row)
			if err != nil {
				return nil, err
			}
			out = append(out, gc)
		}
		return out, nil
	})
}

func (s *Stream) decodeGroup(row kv.KeyValue) (GroupCursor, error) {
	t, err := tuple.Unpack(row.Key[len(s.groups):])
	if err != nil || len(t) != 1 {
		return GroupCursor{}, fmt.Errorf("%w: group key %s", ErrCorrupt, kv.Printable(row.Key))
	}
	name, ok := t[0].(string)
	if !ok {
		return GroupCursor{}, fmt.Errorf("%w: group key %s", ErrCorrupt, kv.Printable(row.Key))
	}
	id, err := EntryIDFromBytes(row.Value)
	if err != nil {
		return GroupCursor{}, fmt.Errorf("%w: cursor of group %q: %v", ErrCorrupt, name, err)
	}
	return GroupCursor{Name: name, Cursor: id}, nil
}

// Consume is an exactly-once consumer loop for the group on db. In each transaction it reads
// the page after the group's cursor, calls fn with the transaction and the page, and advances
// the cursor to the page's end in the same transaction, so fn's writes and the new cursor
// commit together: fn's database work happens once per entry even when transactions are
// retried (fn itself may run more than once, in attempts that do not commit). When the stream
// has nothing after the cursor, Consume waits on a watch until an append arrives.
//
// Consume returns when fn returns an error that is not retryable (that error), or when ctx ends
// (ctx.Err()). opts.Reverse is refused.
func (g *Group) Consume(ctx context.Context, db kv.Database, opts ReadOptions, fn func(tr kv.Transaction, p Page) error) error {
	limit, err := opts.limit()
	if err != nil {
		return err
	}
	if opts.Reverse {
		return fmt.Errorf("%w: group %q reads forward only", ErrInvalidArgument, g.name)
	}
	for {
		var w kv.Watch
		err := db.Transact(ctx, func(tr kv.Transaction) error {
			w = nil
			c, err := g.cursor(tr)
			if err != nil {
				return err
			}
			p, err := g.s.readPage(tr, c, limit, false)
			if err != nil {
				return err
			}
			if len(p.Entries) == 0 {
				w = tr.Watch(g.s.l.trigger)
				return nil
			}
			if err := fn(tr, p); err != nil {
				return err
			}
			tr.Set(g.key, p.Cursor[:])
			return nil
		})
		if err != nil {
			if w != nil {
				w.Cancel()
			}
			return err
		}
		if w != nil {
			if err := waitWatch(ctx, w); err != nil {
				return err
			}
		}
	}
}
