package queue

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/queue/internal/queuepb"
)

// ReceiveOptions shape one Receive. The zero value leases one message for the queue's lease
// duration.
type ReceiveOptions struct {
	// Max is the most messages to lease, 1 to MaxBatch; 1 when zero.
	Max int
	// LeaseDuration overrides the queue's Options.LeaseDuration.
	LeaseDuration time.Duration
}

func (o ReceiveOptions) resolve(q *Queue) (int, time.Duration, error) {
	n, d := o.Max, o.LeaseDuration
	if n < 0 || n > MaxBatch {
		return 0, 0, fmt.Errorf("%w: receive of %d messages (1 to %d)", ErrInvalidArgument, n, MaxBatch)
	}
	if d < 0 {
		return 0, 0, fmt.Errorf("%w: negative lease duration %v", ErrInvalidArgument, d)
	}
	return max(n, 1), orDefault(d, q.o.LeaseDuration), nil
}

// Receive leases up to opts.Max messages that are visible now: highest priority lane first,
// within a lane in order of visible time. It returns no leases, and no error, when nothing is
// visible. Each lease has a fresh token, an expiry, and counts one more attempt; a message whose
// attempts are used up (its last lease expired) goes to the dead-letter queue instead.
//
// Consumers do not serialise: the visible messages are read with snapshot reads, and only the
// messages a consumer picks are read with a conflict, so two consumers conflict only when they
// pick the same message. The consumers sharing this handle take their picks from one pool of
// visible messages, each handed out once, so they never pick the same one; after conflicts
// (with consumers of other processes) the handle picks at random among a wider window of the
// first visible messages, as QuiCK does. Without conflicts a receive takes the first visible
// messages, in order.
//
// Given a database, Receive runs its own transaction; when a commit reports
// commit_unknown_result it looks whether its claims were applied and then returns those
// leases, so no lease is lost to a retry. Given a transaction, the leases are valid once it
// commits; a retry of that transaction after commit_unknown_result may have left the first
// attempt's messages leased to nobody until their leases expire (they are then delivered
// again).
func (q *Queue) Receive(ctx context.Context, t kv.Transactor, opts ReceiveOptions) ([]Lease, error) {
	r, err := q.receiveCall(ctx, t, opts, false)
	return r.leases, err
}

// receiveResult is what one receive call got: leases, or, when it got none and was asked to,
// a watch of the trigger key set in the same transaction and the next time something is due.
type receiveResult struct {
	leases []Lease
	watch  kv.Watch
	next   int64 // unix ms; math.MaxInt64 when nothing is scheduled
}

func (q *Queue) receiveCall(ctx context.Context, t kv.Transactor, opts ReceiveOptions, watch bool) (receiveResult, error) {
	n, dur, err := opts.resolve(q)
	if err != nil {
		return receiveResult{}, err
	}
	_, isDB := t.(kv.Database)
	_, inCallers := t.(kv.Transaction)
	var prev []Lease
	var notes []hintNote
	before := q.metrics.receiveConflicts.Load()
	res, err := write(ctx, t, &q.metrics.receiveConflicts, func(tr kv.Transaction, r retryInfo) (receiveResult, error) {
		notes = notes[:0]
		if r.maybe && len(prev) > 0 {
			mine, err := q.recoverClaims(tr, prev)
			if err != nil || len(mine) > 0 {
				return receiveResult{leases: mine}, err
			}
		}
		now := q.o.Clock()
		ls, err := q.receive(tr, now, n, dur, &notes)
		prev = ls
		if err != nil || len(ls) > 0 || !watch {
			return receiveResult{leases: ls}, err
		}
		next, err := q.nextDue(tr.Snapshot(), now.UnixMilli())
		if err != nil {
			return receiveResult{}, err
		}
		return receiveResult{watch: tr.Watch(q.l.trigger), next: next}, nil
	})
	if isDB {
		q.adapt(q.metrics.receiveConflicts.Load() - before)
	}
	if err == nil && !inCallers {
		for _, h := range notes {
			q.hints.note(h.lane, h.begin, h.first, q.wall())
		}
	}
	q.metrics.receives.Add(1)
	q.metrics.leased.Add(int64(len(res.leases)))
	return res, err
}

// receive is one attempt: pick, read with conflicts, lease. When picks from a pool turn out
// stale (the message was acknowledged, moved or purged since the pool was filled), the pools
// are refilled and the rest picked again, once. The lane hints its reads found are added to
// notes, for the caller to keep once the attempt has committed.
func (q *Queue) receive(tr kv.Transaction, now time.Time, n int, dur time.Duration, notes *[]hintNote) ([]Lease, error) {
	var leases []Lease
	var d deltas
	taken := 0 // leased or dead-lettered
	for pass := 0; pass < 2 && taken < n; pass++ {
		picks, err := q.pick(tr.Snapshot(), now.UnixMilli(), n-taken, pass > 0, notes)
		if err != nil {
			return nil, err
		}
		fs := make([]kv.Future[[]byte], len(picks))
		for i, e := range picks {
			fs[i] = tr.Get(idKey(q.l.items, e.id))
		}
		stale := 0
		for i, e := range picks {
			l, ok, err := q.claim(tr, e, fs[i], now, dur, &d)
			switch {
			case err != nil:
				return nil, err
			case !ok:
				stale++
			case l != nil:
				leases = append(leases, *l)
				taken++
			default:
				taken++ // dead-lettered
			}
		}
		if stale == 0 {
			break
		}
	}
	q.flush(tr, &d)
	return leases, nil
}

// pick takes up to n entries due at now from the lane pools, highest lane first; refill
// forces each pool to be read again. The hints of the lanes read are added to notes.
func (q *Queue) pick(snap kv.ReadTransaction, now int64, n int, refill bool, notes *[]hintNote) ([]scheduleEntry, error) {
	spread := q.spreadFactor()
	var picks []scheduleEntry
	err := q.lanes(snap, func(ln int64) (bool, error) {
		got, err := q.pool(ln).take(q, snap, ln, now, n-len(picks), spread, refill, notes)
		picks = append(picks, got...)
		return len(picks) < n, err
	})
	return picks, err
}

// claim leases the picked entry e, whose message f reads with a conflict, or dead-letters it
// when its attempts are used up (nil lease). ok is false when the pick is stale: the message is
// no longer at e's schedule key.
func (q *Queue) claim(tr kv.Transaction, e scheduleEntry, f kv.Future[[]byte], now time.Time, dur time.Duration, d *deltas) (*Lease, bool, error) {
	v, err := f.Get()
	if err != nil || v == nil {
		return nil, false, err
	}
	m, err := unmarshal(e.id, v)
	if err != nil {
		return nil, false, err
	}
	if string(q.messageScheduleKey(e.id, m)) != string(e.key) {
		return nil, false, nil
	}
	if int(m.Attempts) >= q.o.MaxAttempts {
		reason := fmt.Sprintf("queue: attempts used up (%d of %d)", m.Attempts, q.o.MaxAttempts)
		if m.State == queuepb.Message_STATE_LEASED {
			reason = fmt.Sprintf("queue: lease of attempt %d of %d expired", m.Attempts, q.o.MaxAttempts)
		}
		return nil, true, q.deadLetter(tr, e.id, m, reason, now.UnixMilli(), d)
	}
	l, err := q.lease(tr, e.id, m, now, dur, d)
	if err != nil {
		return nil, false, err
	}
	return &l, true, nil
}

// lanePool holds, for the consumers of one handle, visible entries of one lane read by one
// scan, and hands each out once: the consumers never pick the same message, and one scan serves
// many receives. An entry may have been leased or acknowledged by another process since the
// scan; the claim reads the message with a conflict and skips it then. The pool is refilled when
// it runs short or grows older than poolTTL, so newly visible messages wait at most that long
// behind it.
type lanePool struct {
	mu      sync.Mutex
	entries []scheduleEntry
	filled  time.Time
}

// poolTTL is how long a pool's entries are handed out before the lane is read again.
const poolTTL = 100 * time.Millisecond

// minPool is the fewest entries a refill reads, so that one scan serves several receives.
const minPool = 256

func (q *Queue) pool(ln int64) *lanePool {
	if p, ok := q.pools.Load(ln); ok {
		return p.(*lanePool)
	}
	p, _ := q.pools.LoadOrStore(ln, &lanePool{})
	return p.(*lanePool)
}

// take hands out up to need entries of lane ln due at now: the first ones when spread is 1,
// otherwise need at random among the first need·spread. When it reads the lane, it adds the
// lane's hint to notes.
func (p *lanePool) take(q *Queue, tr kv.ReadTransaction, ln, now int64, need, spread int, refill bool, notes *[]hintNote) ([]scheduleEntry, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if refill || len(p.entries) < need*spread || q.wall().Sub(p.filled) > poolTTL {
		es, h, err := q.scanDue(tr, ln, now, min(max(minPool, 4*need*spread), maxWindow))
		if err != nil {
			return nil, err
		}
		*notes = append(*notes, h)
		p.entries, p.filled = es, q.wall()
	}
	picks := slices.Clone(choose(p.entries, need, spread))
	p.entries = slices.DeleteFunc(p.entries, func(e scheduleEntry) bool {
		return slices.ContainsFunc(picks, func(x scheduleEntry) bool { return x.id == e.id })
	})
	return picks, nil
}

// scanDue reads up to limit entries of lane ln due at now, from the handle's hint, and returns
// them with the lane's next hint: where they start (see laneHints).
func (q *Queue) scanDue(tr kv.ReadTransaction, ln, now int64, limit int) ([]scheduleEntry, hintNote, error) {
	hinted := q.hints.from(ln, q.wall())
	r := q.laneRange(ln, math.MinInt64, now+1)
	if hinted != nil {
		r.Begin = hinted
	}
	rows, err := tr.GetRange(r, kv.RangeOptions{Limit: limit, Mode: kv.StreamingWantAll}).GetSlice()
	if err != nil {
		return nil, hintNote{}, err
	}
	out := make([]scheduleEntry, len(rows))
	for i, row := range rows {
		if out[i], err = q.decodeSchedule(row.Key); err != nil {
			return nil, hintNote{}, err
		}
	}
	// The next read starts at the millisecond of the first live entry (so that a message nacked
	// or redriven onto that millisecond, with its older ID, is not skipped), or, when nothing is
	// due, at our now.
	first := q.scheduleKey(ln, now, StreamStart)
	if len(out) > 0 {
		first = q.scheduleKey(ln, out[0].at, StreamStart)
	}
	return out, hintNote{lane: ln, begin: hinted, first: first}, nil
}

// lease gives m (read with a conflict in tr) a new lease.
func (q *Queue) lease(tr kv.Transaction, id MessageID, m *queuepb.Message, now time.Time, dur time.Duration, d *deltas) (Lease, error) {
	old, oldKey := State(m.State), q.messageScheduleKey(id, m)
	token := newToken()
	m.Attempts++
	m.State = queuepb.Message_STATE_LEASED
	m.LeaseToken = token[:]
	m.LeaseExpiresMs = now.Add(dur).UnixMilli()
	m.VisibleAtMs = m.LeaseExpiresMs + q.o.ClockTolerance.Milliseconds()
	if err := q.rewrite(tr, id, m, oldKey); err != nil {
		return Lease{}, err
	}
	d.move(old, Leased)
	return Lease{Message: toMessage(id, m), Token: token, Expires: time.UnixMilli(m.LeaseExpiresMs)}, nil
}

// newToken draws a lease token. It need not be secret, only unique: a stale holder must not
// hold the current lease's token by chance.
func newToken() LeaseToken {
	var t LeaseToken
	binary.LittleEndian.PutUint64(t[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(t[8:], rand.Uint64())
	return t
}

// rewrite stores m, moving its schedule key from oldKey to where m now belongs.
func (q *Queue) rewrite(tr kv.Transaction, id MessageID, m *queuepb.Message, oldKey []byte) error {
	v, err := marshal(m)
	if err != nil {
		return err
	}
	if newKey := q.messageScheduleKey(id, m); string(newKey) != string(oldKey) {
		tr.Clear(oldKey)
		tr.Set(newKey, nil)
	}
	tr.Set(idKey(q.l.items, id), v)
	return nil
}

// recoverClaims reads the messages an attempt whose commit may have been applied leased, and
// returns the leases that are still this call's (same token): that attempt did commit.
func (q *Queue) recoverClaims(tr kv.Transaction, prev []Lease) ([]Lease, error) {
	fs := make([]kv.Future[[]byte], len(prev))
	for i, l := range prev {
		fs[i] = tr.Get(idKey(q.l.items, l.ID))
	}
	var mine []Lease
	for i, l := range prev {
		v, err := fs[i].Get()
		if err != nil {
			return nil, err
		}
		if v == nil {
			continue
		}
		m, err := unmarshal(l.ID, v)
		if err != nil {
			return nil, err
		}
		if m.State == queuepb.Message_STATE_LEASED && string(m.LeaseToken) == string(l.Token[:]) {
			mine = append(mine, l)
		}
	}
	return mine, nil
}

// maxWindow bounds the schedule rows one lane read takes.
const maxWindow = 4096

// choose picks need entries of due (in schedule order): the first ones when spread is 1,
// otherwise at random among the first need·spread.
func choose(due []scheduleEntry, need, spread int) []scheduleEntry {
	if len(due) <= need {
		return due
	}
	if spread <= 1 {
		return due[:need]
	}
	w := min(len(due), need*spread)
	idx := rand.Perm(w)[:need]
	slices.Sort(idx)
	out := make([]scheduleEntry, need)
	for i, j := range idx {
		out[i] = due[j]
	}
	return out
}

// The receive window: spread is kept in sixteenths so that it can decay gently. A receive
// that conflicted doubles it per conflict (up to maxSpread); one that did not shrinks it by a
// sixteenth, back towards taking the first messages in order.
const (
	spreadOne = 16
	maxSpread = 64 * spreadOne
)

func (q *Queue) spreadFactor() int { return int(q.spread.Load()+spreadOne-1) / spreadOne }

func (q *Queue) adapt(conflicts int64) {
	for {
		old := q.spread.Load()
		s := old
		if conflicts > 0 {
			s = min(old<<min(conflicts, 6), maxSpread)
		} else {
			s = max(old-old/16, spreadOne)
		}
		if s == old || q.spread.CompareAndSwap(old, s) {
			return
		}
	}
}

// Metrics are counts of what this handle did since it was made, for tuning and tests.
type Metrics struct {
	// Receives counts Receive calls (ReceiveWait counts each attempt it makes).
	Receives int64
	// Leased counts the leases they returned.
	Leased int64
	// ReceiveConflicts counts receive transactions that failed with a conflict (1020) and were
	// retried, on calls given a database.
	ReceiveConflicts int64
}

type metricsCounters struct {
	receives, leased, receiveConflicts atomic.Int64
}

// Metrics returns the handle's counts.
func (q *Queue) Metrics() Metrics {
	return Metrics{Receives: q.metrics.receives.Load(), Leased: q.metrics.leased.Load(), ReceiveConflicts: q.metrics.receiveConflicts.Load()}
}
