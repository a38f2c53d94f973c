package queue_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/queue"
	"github.com/layerkit/layerkit/subspace"
)

// A worker loop: orders are enqueued in the transactions that save them; a worker leases them,
// does the database work and acknowledges in one transaction (exactly-once), and gives a
// failing one back with Nack until it lands in the dead-letter queue.
func Example_worker() {
	ctx := context.Background()
	db, err := embedded.Open("", nil) // in memory
	if err != nil {
		panic(err)
	}
	defer db.Close()

	jobs, err := queue.NewQueue(subspace.Sub("app", "jobs"), &queue.Options{
		MaxAttempts: 2,
		Backoff:     func(int) time.Duration { return 0 }, // retry at once, for the example
	})
	if err != nil {
		panic(err)
	}

	// Producers: each order is saved and enqueued in one transaction; the idempotency key makes
	// a resubmitted order one message.
	for _, order := range []string{"order-1", "order-2", "bad-order", "order-1"} {
		err := db.Transact(ctx, func(tr kv.Transaction) error {
			tr.Set([]byte("orders/"+order), []byte("placed"))
			_, err := jobs.Enqueue(ctx, tr, []byte(order), &queue.EnqueueOptions{IdempotencyKey: []byte(order)})
			return err
		})
		if err != nil {
			panic(err)
		}
	}

	// The worker: lease a batch, handle each message, until the queue is empty.
	for {
		rctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		leases, err := jobs.ReceiveWait(rctx, db, queue.ReceiveOptions{Max: 10})
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break // nothing more to do
		}
		if err != nil {
			panic(err)
		}
		for _, l := range leases {
			order := string(l.Payload)
			if strings.HasPrefix(order, "bad") {
				fmt.Printf("%s failed (attempt %d)\n", order, l.Attempts)
				if err := jobs.Nack(ctx, db, l, &queue.NackOptions{Error: "no such product"}); err != nil {
					panic(err)
				}
				continue
			}
			err := db.Transact(ctx, func(tr kv.Transaction) error {
				tr.Set([]byte("orders/"+order), []byte("shipped"))
				return jobs.Ack(ctx, tr, l) // the work and the ack commit together
			})
			if err != nil && !errors.Is(err, queue.ErrLeaseLost) {
				panic(err)
			}
			fmt.Println(order, "shipped")
		}
	}

	st, err := jobs.Stats(ctx, db)
	if err != nil {
		panic(err)
	}
	fmt.Printf("visible %d, in flight %d, dead %d\n", st.Visible, st.InFlight, st.Dead)
	dead, err := jobs.PeekDead(ctx, db, queue.PeekOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Printf("dead: %s (%s)\n", dead[0].Payload, dead[0].LastError)
	// Output:
	// order-1 shipped
	// order-2 shipped
	// bad-order failed (attempt 1)
	// bad-order failed (attempt 2)
	// visible 0, in flight 0, dead 1
	// dead: bad-order (no such product)
}
