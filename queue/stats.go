package queue

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/layerkit/layerkit/kv"
)

// Stats are a queue's counts, kept by atomic additions in the transactions that change a
// message's state, so reading them costs four reads and no scan.
//
// Each count is exact for the state a message was left in by the last transaction that touched
// it. Time alone changes no count: a delayed message whose time has come is still Delayed, and a
// message whose lease expired still InFlight, until a transaction (a receive, ack, nack,
// dead-lettering) moves it. OldestVisibleAge does look at the clock.
type Stats struct {
	// Visible counts messages enqueued without a delay or nacked without a backoff, not yet
	// received again.
	Visible int64
	// Delayed counts messages enqueued with a delay or nacked with a backoff, not yet received
	// again.
	Delayed int64
	// InFlight counts leased messages, including leases that expired and were not taken over.
	InFlight int64
	// Dead counts the dead-letter queue.
	Dead int64
	// OldestVisibleAge is how long the longest-waiting message that can be received now has
	// been receivable; 0 when none can.
	OldestVisibleAge time.Duration
}

// Stats reads the queue's counts with snapshot reads (it conflicts with nothing), and the head
// of each priority lane for OldestVisibleAge.
func (q *Queue) Stats(ctx context.Context, t kv.ReadTransactor) (Stats, error) {
	return kv.ReadTransact(ctx, t, func(tr kv.ReadTransaction) (Stats, error) {
		snap := tr.Snapshot()
		var fs [stateCount]kv.Future[[]byte]
		for s := Ready; s <= Dead; s++ {
			fs[s] = snap.Get(q.counters[s])
		}
		var n [stateCount]int64
		for s := Ready; s <= Dead; s++ {
			v, err := fs[s].Get()
			if err != nil {
				return Stats{}, err
			}
			if n[s], err = decodeCounter(v); err != nil {
				return Stats{}, fmt.Errorf("%w: %s counter: %v", ErrCorrupt, s, err)
			}
		}
		now := q.o.Clock()
		oldest, err := q.oldestDue(snap, now.UnixMilli())
		if err != nil {
			return Stats{}, err
		}
		st := Stats{Visible: n[Ready], Delayed: n[Delayed], InFlight: n[Leased], Dead: n[Dead]}
		if oldest != math.MaxInt64 {
			st.OldestVisibleAge = now.Sub(time.UnixMilli(oldest))
		}
		return st, nil
	})
}

func decodeCounter(v []byte) (int64, error) {
	switch len(v) {
	case 0:
		if v == nil {
			return 0, nil
		}
	case 8:
		return int64(binary.LittleEndian.Uint64(v)), nil
	}
	return 0, fmt.Errorf("%d bytes, want 8", len(v))
}
