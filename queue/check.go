package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/layerkit/layerkit/kv"
)

// maxCheckProblems bounds how many problems a check reports.
const maxCheckProblems = 20

// problems collects what a check found, up to maxCheckProblems.
type problems struct {
	what string // "stream" or "queue"
	at   []byte
	errs []error
}

// add records err and reports whether the check should go on.
func (p *problems) add(err error) bool {
	p.errs = append(p.errs, err)
	return len(p.errs) < maxCheckProblems
}

func (p *problems) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	return fmt.Errorf("queue: %s at %s is inconsistent: %w", p.what, kv.Printable(p.at), errors.Join(p.errs...))
}

// CheckStream returns a checker of the stream at prefix, shaped for testdb.Check:
// testdb.Check(t, db, "stream", queue.CheckStream(prefix)). It runs Stream.Check in a
// transaction of db.
func CheckStream(prefix Prefix) func(ctx context.Context, db kv.Database) error {
	return func(ctx context.Context, db kv.Database) error {
		s, err := NewStream(prefix, nil)
		if err != nil {
			return err
		}
		return s.Check(ctx, db)
	}
}

// Check verifies the stream's stored layout: every key under the prefix is one the layout table
// names; every entry key holds one complete versionstamp and its value decodes; no entry orders
// before the trim point; group cursors, the trigger and the scratch key have their sizes;
// idempotency records and their expiry entries pair up. It reads the whole stream, so it is meant
// for tests and repair tools. The error lists up to 20 problems.
func (s *Stream) Check(ctx context.Context, t kv.ReadTransactor) error {
	return t.ReadTransact(ctx, func(tr kv.ReadTransaction) error {
		p := &problems{what: "stream", at: s.l.prefix}
		if err := s.check(tr, p); err != nil {
			return fmt.Errorf("queue: check stream %s: %w", kv.Printable(s.l.prefix), err)
		}
		return p.err()
	})
}

func (s *Stream) check(tr kv.ReadTransaction, p *problems) error {
	var trimmed EntryID
	if v, err := tr.Get(s.trimmed).Get(); err != nil {
		return err
	} else if v != nil {
		if trimmed, err = EntryIDFromBytes(v); err != nil && !p.add(fmt.Errorf("trim point: %v", err)) {
			return nil
		}
	}
	it := tr.GetRange(s.l.all(), kv.RangeOptions{Mode: kv.StreamingWantAll}).Iterator()
	for it.Next() {
		kvp := it.KeyValue()
		if !s.checkKey(kvp, trimmed, p) {
			return nil
		}
	}
	if err := it.Err(); err != nil {
		return err
	}
	return s.l.idem.check(tr, p.add)
}

// checkKey checks one key of the stream and reports whether the check should go on.
func (s *Stream) checkKey(kvp kv.KeyValue, trimmed EntryID, p *problems) bool {
	k, v := kvp.Key, kvp.Value
	switch {
	case bytes.HasPrefix(k, s.l.items):
		id, err := decodeID(s.l.items, k)
		if err != nil {
			return p.add(err)
		}
		if id.Compare(trimmed) < 0 {
			return p.add(fmt.Errorf("entry %s orders before the trim point %s", id, trimmed))
		}
		if _, err := decodeEntry(id, v); err != nil {
			return p.add(err)
		}
	case bytes.HasPrefix(k, s.groups):
		if _, err := s.decodeGroup(kvp); err != nil {
			return p.add(err)
		}
	case bytes.Equal(k, s.trimmed):
	case bytes.Equal(k, s.l.trigger):
		if len(v) != 8 {
			return p.add(fmt.Errorf("trigger of %d bytes, want 8", len(v)))
		}
	case bytes.Equal(k, s.l.seq):
		if len(v) != 12 {
			return p.add(fmt.Errorf("scratch key of %d bytes, want 12", len(v)))
		}
	case bytes.HasPrefix(k, s.l.idem.records), bytes.HasPrefix(k, s.l.idem.expiry):
		// Checked as pairs by idempotency.check.
	default:
		return p.add(fmt.Errorf("key %s is not part of a stream's layout", kv.Printable(k)))
	}
	return true
}
