package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/queue/internal/queuepb"
)

// ErrLeaseLost is returned by Ack, Nack and Extend when the lease is no longer the message's
// current lease: it expired and the message was leased again, nacked, dead-lettered,
// acknowledged or purged. The error names the message and what became of it. Nothing was
// written: a stale holder can never acknowledge or extend another holder's lease.
var ErrLeaseLost = errors.New("queue: lease lost")

// leaseLost reports why lease l does not hold message m (nil: it does). m is nil when the
// message is not in the queue.
func leaseLost(l Lease, m *queuepb.Message) error {
	switch {
	case m == nil:
		return fmt.Errorf("%w: message %s is no longer in the queue (acknowledged, dead-lettered or purged)", ErrLeaseLost, l.ID)
	case m.State != queuepb.Message_STATE_LEASED && string(m.LastToken) == string(l.Token[:]):
		return fmt.Errorf("%w: message %s: lease %s (attempt %d) was already nacked", ErrLeaseLost, l.ID, l.Token, l.Attempts)
	case m.State != queuepb.Message_STATE_LEASED:
		return fmt.Errorf("%w: message %s is %s, not leased (lease %s of attempt %d expired)", ErrLeaseLost, l.ID, State(m.State), l.Token, l.Attempts)
	case string(m.LeaseToken) != string(l.Token[:]):
		return fmt.Errorf("%w: message %s was leased again (attempt %d); lease %s of attempt %d is stale", ErrLeaseLost, l.ID, m.Attempts, l.Token, l.Attempts)
	}
	return nil
}

// readMessages reads the records of the leased messages with read conflicts, pipelined; a
// missing message gives nil.
func (q *Queue) readMessages(tr kv.Transaction, ls []Lease) ([]*queuepb.Message, error) {
	fs := make([]kv.Future[[]byte], len(ls))
	for i, l := range ls {
		fs[i] = tr.Get(idKey(q.l.items, l.ID))
	}
	out := make([]*queuepb.Message, len(ls))
	for i, l := range ls {
		v, err := fs[i].Get()
		if err != nil || v == nil {
			if err != nil {
				return nil, err
			}
			continue
		}
		if out[i], err = unmarshal(l.ID, v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Ack acknowledges leased messages: it removes them from the queue, all or none. It fails with
// an error wrapping ErrLeaseLost, and acknowledges nothing, when any lease is no longer held.
//
// Ack in the transaction that does the work (kv.Transaction as t) makes database-only work
// exactly-once: the work and the acknowledgement commit together, and a holder whose lease was
// taken over has its whole transaction refused. Given a database, a retry after
// commit_unknown_result that finds the message gone takes it for its own acknowledgement and
// succeeds; given a transaction, such a retry of the caller's reports ErrLeaseLost, the work
// having been committed once by the first attempt.
func (q *Queue) Ack(ctx context.Context, t kv.Transactor, leases ...Lease) error {
	seen := make(map[MessageID]bool, len(leases))
	for _, l := range leases {
		if seen[l.ID] {
			return fmt.Errorf("%w: message %s acknowledged twice in one call", ErrInvalidArgument, l.ID)
		}
		seen[l.ID] = true
	}
	_, err := write(ctx, t, nil, func(tr kv.Transaction, r retryInfo) (struct{}, error) {
		ms, err := q.readMessages(tr, leases)
		if err != nil {
			return struct{}{}, err
		}
		var d deltas
		for i, l := range leases {
			m := ms[i]
			if m == nil && r.maybe {
				continue // the previous attempt's acknowledgement was applied
			}
			if err := leaseLost(l, m); err != nil {
				return struct{}{}, err
			}
			tr.Clear(idKey(q.l.items, l.ID))
			tr.Clear(q.messageScheduleKey(l.ID, m))
			d[Leased]--
		}
		q.flush(tr, &d)
		return struct{}{}, nil
	})
	return err
}

// NackOptions shape a Nack. The zero value makes the message visible again after the queue's
// backoff for its attempt count.
type NackOptions struct {
	// Error is kept with the message as its LastError (and is the dead letter's reason when
	// this was the last attempt).
	Error string
	// Delay, when positive, replaces the backoff.
	Delay time.Duration
	// NoBackoff makes the message visible again at once.
	NoBackoff bool
}

// Nack gives a leased message back: it becomes visible again after a backoff that grows with
// its attempts (Options.Backoff), or goes to the dead-letter queue when this was its last
// attempt. It fails with an error wrapping ErrLeaseLost when the lease is no longer held. A
// retried Nack recognises its own earlier application by the lease token, so it is safe to
// retry in any transaction.
func (q *Queue) Nack(ctx context.Context, t kv.Transactor, lease Lease, opts *NackOptions) error {
	var o NackOptions
	if opts != nil {
		o = *opts
	}
	if o.Delay < 0 {
		return fmt.Errorf("%w: negative nack delay %v", ErrInvalidArgument, o.Delay)
	}
	_, err := write(ctx, t, nil, func(tr kv.Transaction, r retryInfo) (struct{}, error) {
		ms, err := q.readMessages(tr, []Lease{lease})
		if err != nil {
			return struct{}{}, err
		}
		m := ms[0]
		if m == nil {
			// Dead-lettered by this very nack in an attempt that was applied?
			dead, err := q.deadRecord(tr, lease.ID)
			if err != nil || (dead != nil && string(dead.LastToken) == string(lease.Token[:])) {
				return struct{}{}, err
			}
		} else if m.State != queuepb.Message_STATE_LEASED && string(m.LastToken) == string(lease.Token[:]) {
			return struct{}{}, nil // an earlier attempt of this nack was applied
		}
		if err := leaseLost(lease, m); err != nil {
			return struct{}{}, err
		}
		now := q.o.Clock()
		if int(m.Attempts) >= q.o.MaxAttempts {
			m.LastToken = lease.Token[:]
			reason := o.Error
			if reason == "" {
				reason = fmt.Sprintf("queue: nacked on attempt %d of %d", m.Attempts, q.o.MaxAttempts)
			}
			var d deltas
			err := q.deadLetter(tr, lease.ID, m, reason, now.UnixMilli(), &d)
			q.flush(tr, &d)
			return struct{}{}, err
		}
		delay := o.Delay
		switch {
		case o.NoBackoff:
			delay = 0
		case delay == 0:
			delay = max(q.o.Backoff(int(m.Attempts)), 0)
		}
		oldKey := q.messageScheduleKey(lease.ID, m)
		m.State = queuepb.Message_STATE_READY
		m.VisibleAtMs = now.Add(delay).UnixMilli()
		if m.VisibleAtMs > now.UnixMilli() {
			m.State = queuepb.Message_STATE_DELAYED
		}
		m.LeaseToken, m.LeaseExpiresMs = nil, 0
		m.LastToken, m.LastError = lease.Token[:], o.Error
		if err := q.rewrite(tr, lease.ID, m, oldKey); err != nil {
			return struct{}{}, err
		}
		var d deltas
		d.move(Leased, State(m.State))
		q.flush(tr, &d)
		tr.Atomic(kv.Add, q.l.trigger, one)
		return struct{}{}, nil
	})
	return err
}

// Extend renews a lease for d from now and returns the renewed lease (same token). It fails
// with an error wrapping ErrLeaseLost when the lease is no longer held; a lease that expired
// but was not taken over yet can still be extended. Extend is safe to retry.
func (q *Queue) Extend(ctx context.Context, t kv.Transactor, lease Lease, d time.Duration) (Lease, error) {
	if d <= 0 {
		return Lease{}, fmt.Errorf("%w: lease extension %v", ErrInvalidArgument, d)
	}
	return write(ctx, t, nil, func(tr kv.Transaction, r retryInfo) (Lease, error) {
		ms, err := q.readMessages(tr, []Lease{lease})
		if err != nil {
			return Lease{}, err
		}
		m := ms[0]
		if err := leaseLost(lease, m); err != nil {
			return Lease{}, err
		}
		oldKey := q.messageScheduleKey(lease.ID, m)
		m.LeaseExpiresMs = q.o.Clock().Add(d).UnixMilli()
		m.VisibleAtMs = m.LeaseExpiresMs + q.o.ClockTolerance.Milliseconds()
		if err := q.rewrite(tr, lease.ID, m, oldKey); err != nil {
			return Lease{}, err
		}
		out := lease
		out.Message = toMessage(lease.ID, m)
		out.Expires = time.UnixMilli(m.LeaseExpiresMs)
		return out, nil
	})
}

// deadLetter moves m (read with a conflict in tr) from the queue to the dead-letter queue.
func (q *Queue) deadLetter(tr kv.Transaction, id MessageID, m *queuepb.Message, reason string, now int64, d *deltas) error {
	old := State(m.State)
	tr.Clear(q.messageScheduleKey(id, m))
	tr.Clear(idKey(q.l.items, id))
	m.State = queuepb.Message_STATE_DEAD
	m.LastError, m.DeadAtMs = reason, now
	m.LeaseToken, m.LeaseExpiresMs, m.VisibleAtMs = nil, 0, 0
	v, err := marshal(m)
	if err != nil {
		return err
	}
	tr.Set(idKey(q.dead, id), v)
	d.move(old, Dead)
	return nil
}

// deadRecord reads a dead-lettered message with a read conflict; nil when there is none.
func (q *Queue) deadRecord(tr kv.Transaction, id MessageID) (*queuepb.Message, error) {
	v, err := tr.Get(idKey(q.dead, id)).Get()
	if err != nil || v == nil {
		return nil, err
	}
	return unmarshal(id, v)
}
