package docstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/queue"
)

// ChangeOp says what a change did to a document.
type ChangeOp string

// Change operations.
const (
	OpInsert  ChangeOp = "insert"
	OpUpdate  ChangeOp = "update"
	OpReplace ChangeOp = "replace"
	OpDelete  ChangeOp = "delete"
)

// Change is one entry of a collection's change feed.
type Change struct {
	// Entry is the entry's ID in the feed's stream: a cursor to resume reading after it.
	Entry queue.EntryID
	// Time is when the change was written, by the writer's clock (to the millisecond).
	Time time.Time
	// Op is what happened.
	Op ChangeOp
	// ID is the document's _id.
	ID any
	// Paths are the dotted paths an update changed (nil for other operations).
	Paths []string
	// Expired is set on the delete of a document a TTL index expired.
	Expired bool
}

// changeEvent is one change to a document, as a write records it.
type changeEvent struct {
	Op      ChangeOp
	ID      any
	Paths   []string
	Expired bool
}

func (t *tx) event(e changeEvent) {
	if t.st.meta.ChangeFeed {
		t.events = append(t.events, e)
	}
}

// feedEntry is the stored form of a change: JSON, the _id in Extended JSON.
type feedEntry struct {
	Op      ChangeOp        `json:"op"`
	ID      json.RawMessage `json:"id"`
	Paths   []string        `json:"paths,omitempty"`
	Expired bool            `json:"expired,omitempty"`
}

// feedStream returns the stream of the collection's change feed at P+(6).
func (c *Collection) feedStream(st *collState) (*queue.Stream, error) {
	return queue.NewStream(queue.PrefixBytes(packed(st.prefix, keyFeed)), &queue.StreamOptions{Clock: c.db.clock})
}

// flushEvents appends the operation's changes to the change feed, in the operation's
// transaction, so they commit with it.
func (t *tx) flushEvents() error {
	if len(t.events) == 0 {
		return nil
	}
	s, err := t.c.feedStream(t.st)
	if err != nil {
		return err
	}
	for _, e := range t.events {
		id, err := marshalExtended(e.ID)
		if err != nil {
			return err
		}
		raw, err := json.Marshal(feedEntry{Op: e.Op, ID: id, Paths: e.Paths, Expired: e.Expired})
		if err != nil {
			return err
		}
		if _, err := s.Append(t.ctx, t.tr, raw, nil); err != nil {
			return fmt.Errorf("docstore: collection %q change feed: %w", t.st.meta.Name, err)
		}
	}
	t.events = t.events[:0]
	return nil
}

// DecodeChange reads a change from an entry of a change feed's stream (as a queue.Group or
// Stream.Follow hands them out).
func DecodeChange(e queue.Entry) (Change, error) {
	var fe feedEntry
	if err := json.Unmarshal(e.Value, &fe); err != nil {
		return Change{}, fmt.Errorf("docstore: change feed entry %s: %v: %w", e.ID, err, ErrCorrupt)
	}
	id, err := decodeJSON(fe.ID, "id")
	if err == nil {
		id, err = normalizeID(id)
	}
	if err != nil {
		return Change{}, fmt.Errorf("docstore: change feed entry %s: %v: %w", e.ID, err, ErrCorrupt)
	}
	switch fe.Op {
	case OpInsert, OpUpdate, OpReplace, OpDelete:
	default:
		return Change{}, fmt.Errorf("docstore: change feed entry %s has operation %q: %w", e.ID, fe.Op, ErrCorrupt)
	}
	return Change{Entry: e.ID, Time: e.Time, Op: fe.Op, ID: id, Paths: fe.Paths, Expired: fe.Expired}, nil
}

// ChangeFeed is a collection's change feed: a queue stream to which every insert, update
// (with the paths it changed), replace and delete of the collection is appended in the
// transaction that makes it. Read it from a cursor (queue.StreamStart, or the Entry of the
// last change read), tail it, or consume it with a consumer group (Group), which advances its
// cursor in the consumer's transaction for exactly-once processing.
type ChangeFeed struct {
	c      *Collection
	stream *queue.Stream
}

// ChangeFeed returns the collection's change feed. The collection must have been created with
// CollectionOptions.ChangeFeed or had SetChangeFeed(true); changes made while the feed was off
// are not in it. The handle is tied to this incarnation of the collection: dropping the
// collection drops its feed.
func (c *Collection) ChangeFeed(ctx context.Context, t kv.ReadTransactor) (*ChangeFeed, error) {
	st, err := kv.ReadTransact(ctx, t, func(rtr kv.ReadTransaction) (*collState, error) { return c.resolve(ctx, rtr, false) })
	if err != nil {
		return nil, err
	}
	if st == nil {
		return nil, fmt.Errorf("docstore: collection %q: %w", c.name, ErrCollectionNotFound)
	}
	s, err := c.feedStream(st)
	if err != nil {
		return nil, err
	}
	return &ChangeFeed{c: c, stream: s}, nil
}

// SetChangeFeed turns the collection's change feed on or off (the collection is created when
// absent). Turning it off keeps the entries already appended.
func (c *Collection) SetChangeFeed(ctx context.Context, t kv.Transactor, on bool) error {
	return t.Transact(ctx, func(tr kv.Transaction) error {
		st, err := c.forWrite(ctx, tr)
		if err != nil || st.meta.ChangeFeed == on {
			return err
		}
		meta := *st.meta
		meta.Indexes = slices.Clone(meta.Indexes)
		meta.ChangeFeed = on
		_, err = c.writeMeta(tr, st.prefix, &meta)
		return err
	})
}

// Stream returns the queue stream behind the feed, for Follow, Wait, Trim and groups.
func (f *ChangeFeed) Stream() *queue.Stream { return f.stream }

// Group returns the feed's consumer group of that name (see queue.Group).
func (f *ChangeFeed) Group(name string) (*queue.Group, error) { return f.stream.Group(name) }

// Read returns up to limit changes after cursor (queue.StreamStart for the oldest; 0 means
// queue.DefaultPageSize) and the cursor to resume from, in this or a later transaction.
func (f *ChangeFeed) Read(ctx context.Context, t kv.ReadTransactor, cursor queue.EntryID, limit int) ([]Change, queue.EntryID, error) {
	page, err := f.stream.Read(ctx, t, cursor, queue.ReadOptions{Limit: limit})
	if err != nil {
		return nil, cursor, err
	}
	out := make([]Change, 0, len(page.Entries))
	for _, e := range page.Entries {
		ch, err := DecodeChange(e)
		if err != nil {
			return nil, cursor, err
		}
		out = append(out, ch)
	}
	return out, page.Cursor, nil
}
