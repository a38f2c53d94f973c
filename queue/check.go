package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/queue/internal/queuepb"
	"github.com/layerkit/layerkit/tuple"
)

// firstInt returns the only element of t when it is an integer.
func firstInt(t tuple.Tuple) (int64, bool) {
	if len(t) != 1 {
		return 0, false
	}
	v, ok := t[0].(int64)
	return v, ok
}

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

// Check returns a checker of the queue at prefix, shaped for testdb.Check:
// testdb.Check(t, db, "queue", queue.Check(prefix)). It runs Queue.Check in a transaction of db.
func Check(prefix Prefix) func(ctx context.Context, db kv.Database) error {
	return func(ctx context.Context, db kv.Database) error {
		q, err := NewQueue(prefix, nil)
		if err != nil {
			return err
		}
		return q.Check(ctx, db)
	}
}

// Check verifies the queue's stored layout: every key under the prefix is one the layout table
// names; every message decodes, is ready, delayed or leased (a leased one with a token), and has
// exactly the schedule key its priority and time call for; every schedule key belongs to a
// message; dead letters decode as dead and are not also in the queue; each counter equals a
// recount of the messages in its state; idempotency records and their expiry entries pair up.
// It reads the whole queue, so it is meant for tests and repair tools. The error lists up to 20
// problems.
func (q *Queue) Check(ctx context.Context, t kv.ReadTransactor) error {
	return t.ReadTransact(ctx, func(tr kv.ReadTransaction) error {
		p := &problems{what: "queue", at: q.l.prefix}
		if err := q.check(tr, p); err != nil {
			return fmt.Errorf("queue: check queue %s: %w", kv.Printable(q.l.prefix), err)
		}
		return p.err()
	})
}

func (q *Queue) check(tr kv.ReadTransaction, p *problems) error {
	var recount, stored [stateCount]int64
	wantSchedule := map[string]MessageID{}
	live := map[MessageID]bool{}
	usedLanes, registered := map[int64]bool{}, map[int64]bool{}
	goOn := true
	it := tr.GetRange(q.l.all(), kv.RangeOptions{Mode: kv.StreamingWantAll}).Iterator()
	for goOn && it.Next() {
		k, v := it.KeyValue().Key, it.KeyValue().Value
		switch {
		case bytes.HasPrefix(k, q.l.items):
			id, err := decodeID(q.l.items, k)
			if err != nil {
				goOn = p.add(err)
				continue
			}
			m, err := unmarshal(id, v)
			if err != nil {
				goOn = p.add(err)
				continue
			}
			live[id] = true
			switch {
			case m.State == queuepb.Message_STATE_DEAD:
				goOn = p.add(fmt.Errorf("message %s in the queue is marked dead", id))
			case m.State == queuepb.Message_STATE_LEASED && (len(m.LeaseToken) != 16 || m.LeaseExpiresMs == 0):
				goOn = p.add(fmt.Errorf("leased message %s has no lease token or expiry", id))
			default:
				recount[m.State]++
				wantSchedule[string(q.messageScheduleKey(id, m))] = id
			}
		case bytes.HasPrefix(k, q.schedule):
			e, err := q.decodeSchedule(k)
			if err != nil {
				goOn = p.add(err)
				continue
			}
			usedLanes[e.lane] = true
			if _, ok := wantSchedule[string(k)]; !ok {
				goOn = p.add(fmt.Errorf("schedule key (lane %d, at %d) of message %s belongs to no message in the queue", e.lane, e.at, e.id))
				continue
			}
			delete(wantSchedule, string(k))
		case bytes.HasPrefix(k, q.dead):
			id, err := decodeID(q.dead, k)
			if err != nil {
				goOn = p.add(err)
				continue
			}
			m, err := unmarshal(id, v)
			switch {
			case err != nil:
				goOn = p.add(err)
			case m.State != queuepb.Message_STATE_DEAD:
				goOn = p.add(fmt.Errorf("dead letter %s is marked %s", id, State(m.State)))
			case live[id]:
				goOn = p.add(fmt.Errorf("message %s is both in the queue and dead", id))
			default:
				recount[Dead]++
			}
		case bytes.HasPrefix(k, q.counterBase):
			s := slices.IndexFunc(q.counters[:], func(c []byte) bool { return bytes.Equal(c, k) })
			n, err := decodeCounter(v)
			switch {
			case s < int(Ready):
				goOn = p.add(fmt.Errorf("key %s is not one of the queue's counters", kv.Printable(k)))
			case err != nil:
				goOn = p.add(fmt.Errorf("%s counter: %v", State(s), err))
			default:
				stored[s] = n
			}
		case bytes.Equal(k, q.l.trigger):
			if len(v) != 8 {
				goOn = p.add(fmt.Errorf("trigger of %d bytes, want 8", len(v)))
			}
		case bytes.Equal(k, q.l.seq):
			if len(v) != 12 {
				goOn = p.add(fmt.Errorf("scratch key of %d bytes, want 12", len(v)))
			}
		case bytes.HasPrefix(k, q.laneReg):
			t, err := tuple.Unpack(k[len(q.laneReg):])
			if ln, ok := firstInt(t); err == nil && ok && len(v) == 0 {
				registered[ln] = true
			} else {
				goOn = p.add(fmt.Errorf("lane key %s does not decode", kv.Printable(k)))
			}
		case bytes.HasPrefix(k, q.l.idem.records), bytes.HasPrefix(k, q.l.idem.expiry):
		default:
			goOn = p.add(fmt.Errorf("key %s is not part of a queue's layout", kv.Printable(k)))
		}
	}
	if err := it.Err(); err != nil {
		return err
	}
	if !goOn {
		return nil
	}
	for k, id := range wantSchedule {
		e, _ := q.decodeSchedule([]byte(k))
		if !p.add(fmt.Errorf("message %s lacks its schedule key (lane %d, at %d)", id, e.lane, e.at)) {
			return nil
		}
	}
	for ln := range usedLanes {
		if !registered[ln] && !p.add(fmt.Errorf("lane %d (priority %d) holds messages but is not registered", ln, -ln)) {
			return nil
		}
	}
	for s := Ready; s <= Dead; s++ {
		if stored[s] != recount[s] && !p.add(fmt.Errorf("%s counter is %d, a recount finds %d", s, stored[s], recount[s])) {
			return nil
		}
	}
	return q.l.idem.check(tr, p.add)
}
