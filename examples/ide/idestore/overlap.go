package idestore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/layerkit/layerkit/kv"
)

// Overlap runs several windows' edits at once, each in its own transaction of db (retried on
// conflicts), so that they truly overlap: on its first attempt each edit does its work (reads
// and writes) and then waits, before committing, until every other edit has done its work too
// (or two seconds have passed). It returns how many attempts each edit needed: 1 for an edit
// that did not conflict. It is how the tests and the story show what overlapping edits do.
func Overlap(ctx context.Context, db kv.Database, edits ...func(kv.Transaction) error) ([]int, error) {
	var ready, wg sync.WaitGroup
	ready.Add(len(edits))
	attempts := make([]int, len(edits))
	errs := make([]error, len(edits))
	for i, edit := range edits {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.Transact(ctx, func(tr kv.Transaction) error {
				attempts[i]++
				if err := edit(tr); err != nil {
					return err
				}
				if attempts[i] == 1 {
					ready.Done()
					all := make(chan struct{})
					go func() { ready.Wait(); close(all) }()
					select {
					case <-all:
					case <-time.After(2 * time.Second):
						return fmt.Errorf("idestore: edit %d: the other edits did not reach their commit within 2s", i)
					}
				}
				return nil
			})
		}()
	}
	wg.Wait()
	return attempts, errors.Join(errs...)
}
