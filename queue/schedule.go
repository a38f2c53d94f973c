package queue

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/queue/internal/queuepb"
	"github.com/layerkit/layerkit/tuple"
)

// The schedule P+(2, lane, at, id) orders every message in the queue (not the dead ones) by
// priority lane, then by the unix millisecond at which it can next be received, then by ID. A
// waiting message's time is its visible time; a leased message's is its lease expiry plus the
// clock tolerance, so an expired lease makes the message receivable again with no transaction
// and no sweeper, as in Apple's QuiCK. lane is the negated priority, so higher priorities sort
// first. The lanes in use are listed at P+(10, lane), written blind by every enqueue.

func lane(priority int32) int64 { return -int64(priority) }

// scheduleEntry is a decoded schedule key.
type scheduleEntry struct {
	lane int64
	at   int64
	id   MessageID
	key  []byte
}

// scheduleKey returns P+(2, lane, at, id).
func (q *Queue) scheduleKey(lane, at int64, id MessageID) []byte {
	k, _ := tuple.Tuple{lane, at}.AppendPack(clone(q.schedule))
	return appendID(k, id)
}

// messageScheduleKey is the schedule key m has now.
func (q *Queue) messageScheduleKey(id MessageID, m *queuepb.Message) []byte {
	return q.scheduleKey(lane(m.Priority), m.VisibleAtMs, id)
}

// scheduleTimeKey appends P+(2, lane, at) to dst: the schedule key of a message without its ID.
func (q *Queue) scheduleTimeKey(dst []byte, lane, at int64) []byte {
	k, _ := tuple.Tuple{lane, at}.AppendPack(append(dst, q.schedule...))
	return k
}

// laneRegistryKey returns P+(10, lane).
func (q *Queue) laneRegistryKey(ln int64) []byte {
	k, _ := tuple.Tuple{ln}.AppendPack(clone(q.laneReg))
	return k
}

// registerLane lists lane ln in the lane registry unless it is there. The key is read with a
// snapshot read and set blind, so producers never conflict over it; it is written only once
// (each write would leave a version for range reads of the registry to step over).
// Lanes are never unregistered, so once the handle has read a lane's key it skips the read.
func (q *Queue) registerLane(tr kv.Transaction, ln int64) error {
	if _, ok := q.knownLanes.Load(ln); ok {
		return nil
	}
	k := q.laneRegistryKey(ln)
	v, err := tr.Snapshot().Get(k).Get()
	if err != nil {
		return err
	}
	if v != nil {
		q.knownLanes.Store(ln, true)
		return nil
	}
	tr.Set(k, nil)
	return nil
}

func (q *Queue) decodeSchedule(key []byte) (scheduleEntry, error) {
	bad := func() (scheduleEntry, error) {
		return scheduleEntry{}, fmt.Errorf("%w: schedule key %s", ErrCorrupt, kv.Printable(key))
	}
	if len(key) < len(q.schedule)+13 {
		return bad()
	}
	t, err := tuple.Unpack(key[len(q.schedule) : len(key)-13])
	if err != nil || len(t) != 2 {
		return bad()
	}
	l, ok1 := t[0].(int64)
	at, ok2 := t[1].(int64)
	if !ok1 || !ok2 {
		return bad()
	}
	id, err := decodeID(key[:len(key)-13], key)
	if err != nil {
		return bad()
	}
	return scheduleEntry{lane: l, at: at, id: id, key: key}, nil
}

// lanes calls fn for each lane in use, highest priority first, until fn returns false. It reads
// the lane registry with tr (pass a snapshot view for no conflicts).
func (q *Queue) lanes(tr kv.ReadTransaction, fn func(lane int64) (bool, error)) error {
	rows, err := tr.GetRange(subRange(q.laneReg), kv.RangeOptions{Mode: kv.StreamingWantAll}).GetSlice()
	if err != nil {
		return err
	}
	for _, row := range rows {
		t, err := tuple.Unpack(row.Key[len(q.laneReg):])
		ln, ok := firstInt(t)
		if err != nil || !ok {
			return fmt.Errorf("%w: lane key %s", ErrCorrupt, kv.Printable(row.Key))
		}
		if goOn, err := fn(ln); err != nil || !goOn {
			return err
		}
	}
	return nil
}

// laneRange returns the schedule range of lane for times in [from, to).
func (q *Queue) laneRange(lane, from, to int64) kv.Range {
	b, _ := tuple.Tuple{lane, from}.AppendPack(clone(q.schedule))
	e, _ := tuple.Tuple{lane, to}.AppendPack(clone(q.schedule))
	return kv.Range{Begin: b, End: e}
}

// dueRange returns the range of lane's entries due at now, starting where the handle's hint
// says the live entries start (see laneHints).
func (q *Queue) dueRange(ln, now int64) kv.Range {
	r := q.laneRange(ln, math.MinInt64, now+1)
	if begin := q.hints.from(ln, q.wall()); begin != nil {
		r.Begin = begin
	}
	return r
}

// nextDue returns the earliest schedule time after now over all lanes (math.MaxInt64 when
// nothing is scheduled after now): when the next delayed message vests or lease expires.
func (q *Queue) nextDue(tr kv.ReadTransaction, now int64) (int64, error) {
	return q.earliest(tr, func(ln int64) kv.Range { return q.laneRange(ln, now+1, math.MaxInt64) })
}

// oldestDue returns the earliest schedule time at or before now over all lanes, or
// math.MaxInt64 when nothing is due.
func (q *Queue) oldestDue(tr kv.ReadTransaction, now int64) (int64, error) {
	return q.earliest(tr, func(ln int64) kv.Range { return q.dueRange(ln, now) })
}

// earliest returns the least schedule time of the first entries of each lane's range r(lane),
// or math.MaxInt64 when they are all empty.
func (q *Queue) earliest(tr kv.ReadTransaction, r func(lane int64) kv.Range) (int64, error) {
	least := int64(math.MaxInt64)
	err := q.lanes(tr, func(ln int64) (bool, error) {
		rows, err := tr.GetRange(r(ln), kv.RangeOptions{Limit: 1}).GetSlice()
		if err != nil || len(rows) == 0 {
			return true, err
		}
		e, err := q.decodeSchedule(rows[0].Key)
		if err != nil {
			return false, err
		}
		least = min(least, e.at)
		return true, nil
	})
	return least, err
}

// laneHints remember, per lane, where the live entries a receive of this handle found start, so
// that later reads start there instead of at the start of the lane.
//
// Why: in an LSM engine such as Pebble, the keys a queue deletes (acknowledged messages, moved
// leases) stay as tombstones until compaction, and they gather exactly at the head of each
// lane, where every receive starts reading; stepping over them made receives slower the longer
// a queue ran. The hint is the start of the millisecond of the first live entry (or of the
// reader's now, when nothing was due).
//
// Why it is safe enough: every schedule time is written as the writer's now or later, so a key
// written after the read orders after the hint, unless the writer's now is behind the reader's:
// its clock runs behind, or its transaction took its now before the reader's and committed
// after the reader's read version. Such a message is found by the next full read: a hint is used
// for hintTTL, then the lane is read from its start again, so it waits at most that much longer
// than its place in order. A hint is kept only from a receive that ran its own transactions and
// committed: a read sees its transaction's own writes (the messages leased in a first pass are
// gone from their places), and a transaction that does not commit, or a caller's transaction
// that may not, leaves those messages where they were, before such a hint. The hint is only a
// starting point for reads; it never makes a claim wrong.
type laneHints struct {
	mu sync.Mutex
	m  map[int64]laneHint
}

type laneHint struct {
	key   []byte    // where the lane's live entries start, as of the last read
	taken time.Time // wall clock of the last read from the lane's start
}

// hintTTL is how long a lane hint is used before the lane is read from its start again.
const hintTTL = time.Second

// hintNote is what one read of lane found: it began at begin (nil: the lane's start), and the
// lane's live entries start at first. It becomes the lane's hint once the read's transaction
// has committed.
type hintNote struct {
	lane         int64
	begin, first []byte
}

// from returns the key a read of lane ln at wall-clock time now may start at, or nil: from the
// lane's start.
func (h *laneHints) from(ln int64, now time.Time) []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	hint, ok := h.m[ln]
	if !ok || now.Sub(hint.taken) > hintTTL {
		return nil
	}
	return hint.key
}

// note records that a read of lane ln at wall-clock time now that began at begin (nil: the
// lane's start) found first as its first live entry. A read from the lane's start refreshes the
// hint's age; one from a hint keeps it, so the lane is read in full every hintTTL.
func (h *laneHints) note(ln int64, begin, first []byte, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = make(map[int64]laneHint)
	}
	old, ok := h.m[ln]
	taken := now
	if begin != nil && ok {
		taken = old.taken
	}
	h.m[ln] = laneHint{key: first, taken: taken}
}
