package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/layerkit/layerkit/kv"
)

// watchFallback is how long a waiter sleeps instead when its watch fails (too many watches, a
// transient error), so a failing watch degrades to polling rather than to a busy loop.
const watchFallback = 100 * time.Millisecond

// waitWatch waits for w to fire, for ctx to end (ctx.Err(), the watch cancelled), or, when the
// watch fails, for watchFallback.
func waitWatch(ctx context.Context, w kv.Watch) error {
	return waitWatchUntil(ctx, w, 0)
}

// waitWatchUntil is waitWatch that also returns nil after d when d > 0.
func waitWatchUntil(ctx context.Context, w kv.Watch, d time.Duration) error {
	wctx := ctx
	if d > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	err := w.Wait(wctx)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		w.Cancel()
		return ctx.Err()
	case errors.Is(err, context.DeadlineExceeded) && wctx.Err() != nil:
		w.Cancel()
		return nil
	}
	return kv.Sleep(ctx, watchFallback)
}

// Wait blocks until the stream holds an entry after cursor (nil) or ctx ends (ctx.Err()). It
// reads in transactions of db and, while there is nothing after the cursor, waits on a watch of
// a key every append changes, set in the transaction that found nothing: an append that
// commits after that read is certain to wake it.
func (s *Stream) Wait(ctx context.Context, db kv.Database, cursor EntryID) error {
	for {
		var w kv.Watch
		err := db.Transact(ctx, func(tr kv.Transaction) error {
			w = nil
			rows, err := tr.Snapshot().GetRange(s.after(cursor), kv.RangeOptions{Limit: 1}).GetSlice()
			if err != nil || len(rows) > 0 {
				return err
			}
			w = tr.Watch(s.l.trigger)
			return nil
		})
		if err != nil {
			if w != nil {
				w.Cancel()
			}
			return err
		}
		if w == nil {
			return nil
		}
		if err := waitWatch(ctx, w); err != nil {
			return err
		}
	}
}

// Follow tails the stream: it calls fn with each page of entries after cursor, in order, and
// waits (as Wait) whenever it has read everything. Each page is read in its own read-only
// transaction of db; fn runs outside it. Follow returns fn's error, or ctx.Err() when ctx ends.
// For a cursor kept in the database and advanced together with the consumer's writes, use a
// Group and Group.Consume.
func (s *Stream) Follow(ctx context.Context, db kv.Database, cursor EntryID, opts ReadOptions, fn func(Page) error) error {
	if opts.Reverse {
		return fmt.Errorf("%w: Follow reads forward only", ErrInvalidArgument)
	}
	for {
		p, err := s.Read(ctx, db, cursor, opts)
		if err != nil {
			return err
		}
		if len(p.Entries) == 0 {
			if err := s.Wait(ctx, db, cursor); err != nil {
				return err
			}
			continue
		}
		if err := fn(p); err != nil {
			return err
		}
		cursor = p.Cursor
	}
}
