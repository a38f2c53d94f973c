package queue_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/queue"
)

// pageRead is one page a tailing reader read: the read version, the cursor it read from, what
// it got and whether it stopped at its limit.
type pageRead struct {
	rv     int64
	cursor queue.EntryID
	got    []queue.EntryID
	more   bool
}

// Concurrent appenders (single appends through the database, batches in their own
// transactions) and tailing readers. Every reader sees every entry exactly once, in stamp
// order, and every page proves the cursor argument: a page that did not stop at its limit, read
// at version R, holds every entry after its cursor whose commit version is at most R, so a
// later append can never land behind a cursor.
func TestStreamConcurrentAppendersAndReaders(t *testing.T) {
	e := newStreamEnv(t, nil)
	const appenders, perAppender, readers = 6, 120, 3
	total := appenders * perAppender

	var mu sync.Mutex
	appended := map[queue.EntryID]string{}
	var wg sync.WaitGroup
	for a := range appenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(a), 7))
			for i := 0; i < perAppender; {
				n := 1 + rng.IntN(4)
				n = min(n, perAppender-i)
				var fs []kv.Future[queue.EntryID]
				var vs []string
				if n == 1 {
					v := fmt.Sprintf("a%d-%d", a, i)
					f, err := e.s.Append(ctx, e.db, []byte(v), nil)
					if !assertNoError(t, err) {
						return
					}
					fs, vs = append(fs, f), append(vs, v)
				} else {
					err := e.db.Transact(ctx, func(tr kv.Transaction) error {
						fs, vs = fs[:0], vs[:0]
						for j := range n {
							v := fmt.Sprintf("a%d-%d", a, i+j)
							f, err := e.s.Append(ctx, tr, []byte(v), &queue.AppendOptions{IdempotencyKey: []byte(v)})
							if err != nil {
								return err
							}
							fs, vs = append(fs, f), append(vs, v)
						}
						return nil
					})
					if !assertNoError(t, err) {
						return
					}
				}
				for j, f := range fs {
					id, err := f.Get()
					if !assertNoError(t, err) {
						return
					}
					mu.Lock()
					appended[id] = vs[j]
					mu.Unlock()
				}
				i += n
			}
		}()
	}

	seen := make([][]queue.Entry, readers)
	pages := make([][]pageRead, readers)
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cursor := queue.StreamStart
			deadline := time.Now().Add(30 * time.Second)
			for len(seen[r]) < total && time.Now().Before(deadline) {
				var pr pageRead
				p, err := kv.ReadTransact(ctx, e.db, func(tr kv.ReadTransaction) (queue.Page, error) {
					rv, err := tr.GetReadVersion().Get()
					if err != nil {
						return queue.Page{}, err
					}
					pr.rv = rv
					return e.s.Read(ctx, tr, cursor, queue.ReadOptions{Limit: 16})
				})
				if !assertNoError(t, err) {
					return
				}
				pr.cursor, pr.got, pr.more = cursor, ids(p.Entries), p.More
				pages[r] = append(pages[r], pr)
				seen[r] = append(seen[r], p.Entries...)
				cursor = p.Cursor
				if len(p.Entries) == 0 {
					time.Sleep(100 * time.Microsecond)
				}
			}
		}()
	}
	wg.Wait()
	require.Len(t, appended, total, "every future resolved to a distinct ID")

	all := readAll(t, e.db, e.s, 100)
	require.Len(t, all, total, "each append landed once")
	for _, en := range all {
		require.Equal(t, appended[en.ID], string(en.Value), "entry %s", en.ID)
	}
	for r := range readers {
		require.Equal(t, ids(all), ids(seen[r]), "reader %d saw every entry once, in order", r)
		for _, pr := range pages[r] {
			if pr.more {
				continue
			}
			want := []queue.EntryID{}
			for _, en := range all {
				if en.ID.Compare(pr.cursor) > 0 && en.ID.Version() <= pr.rv {
					want = append(want, en.ID)
				}
			}
			require.Equal(t, want, pr.got, "reader %d at version %d from %s", r, pr.rv, pr.cursor)
		}
	}
	require.True(t, slices.IsSortedFunc(ids(all), queue.EntryID.Compare))
}

// assertNoError reports err from a goroutine that must not call t.FailNow.
func assertNoError(t *testing.T, err error) bool {
	if err != nil {
		t.Error(err)
		return false
	}
	return true
}
