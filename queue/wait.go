package queue

import (
	"context"
	"math"
	"time"

	"github.com/layerkit/layerkit/kv"
)

// ReceiveWait is Receive on db that blocks until it has leased at least one message, or ctx ends
// (ctx.Err()). When nothing is visible it waits, without polling, on a watch of the key every
// enqueue, nack and redrive bumps, set in the transaction that found nothing (so a message
// enqueued after that read is certain to wake it), and at most until the next delayed message
// vests or lease expires, as read in that same transaction (Options.PollInterval bounds the
// sleep, in case of clock jumps).
func (q *Queue) ReceiveWait(ctx context.Context, db kv.Database, opts ReceiveOptions) ([]Lease, error) {
	for {
		r, err := q.receiveCall(ctx, db, opts, true)
		if err != nil || len(r.leases) > 0 {
			if r.watch != nil {
				r.watch.Cancel()
			}
			return r.leases, err
		}
		sleep := q.o.PollInterval
		if r.next != math.MaxInt64 {
			sleep = min(sleep, max(time.UnixMilli(r.next).Sub(q.o.Clock()), time.Millisecond))
		}
		if r.watch == nil {
			continue
		}
		if err := waitWatchUntil(ctx, r.watch, sleep); err != nil {
			return nil, err
		}
	}
}
