package queue_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/queue"
	"github.com/layerkit/layerkit/subspace"
)

func TestStreamGroups(t *testing.T) {
	e := newStreamEnv(t, nil)
	var idsIn []queue.EntryID
	for i := range 6 {
		idsIn = append(idsIn, e.append(fmt.Sprint("e", i)))
	}
	a, err := e.s.Group("indexer")
	require.NoError(t, err)
	b, err := e.s.Group("mailer")
	require.NoError(t, err)
	require.Equal(t, "indexer", a.Name())

	c, err := a.Cursor(ctx, e.db)
	require.NoError(t, err)
	require.Equal(t, queue.StreamStart, c, "a new group starts at the beginning")
	p, err := a.Read(ctx, e.db, queue.ReadOptions{Limit: 4})
	require.NoError(t, err)
	require.Equal(t, idsIn[:4], ids(p.Entries))
	require.NoError(t, a.Advance(ctx, e.db, p.Cursor))
	require.NoError(t, a.Advance(ctx, e.db, p.Cursor), "advancing to where it is: a harmless retry")
	err = a.Advance(ctx, e.db, idsIn[1])
	require.ErrorIs(t, err, queue.ErrCursorBackwards)
	require.Contains(t, err.Error(), `group "indexer"`)

	p, err = a.Read(ctx, e.db, queue.ReadOptions{})
	require.NoError(t, err)
	require.Equal(t, idsIn[4:], ids(p.Entries), "the group resumes after its cursor")
	p, err = b.Read(ctx, e.db, queue.ReadOptions{})
	require.NoError(t, err)
	require.Equal(t, idsIn, ids(p.Entries), "groups are independent")
	require.NoError(t, b.Advance(ctx, e.db, idsIn[0]))

	gs, err := e.s.Groups(ctx, e.db)
	require.NoError(t, err)
	require.Equal(t, []queue.GroupCursor{{Name: "indexer", Cursor: idsIn[3]}, {Name: "mailer", Cursor: idsIn[0]}}, gs)

	require.NoError(t, a.Reset(ctx, e.db, idsIn[1]))
	c, err = a.Cursor(ctx, e.db)
	require.NoError(t, err)
	require.Equal(t, idsIn[1], c, "Reset moves backwards")
	require.NoError(t, a.Delete(ctx, e.db))
	gs, err = e.s.Groups(ctx, e.db)
	require.NoError(t, err)
	require.Equal(t, []queue.GroupCursor{{Name: "mailer", Cursor: idsIn[0]}}, gs)

	for _, bad := range []string{"", "\xff"} {
		_, err := e.s.Group(bad)
		require.ErrorIs(t, err, queue.ErrInvalidArgument)
	}
	_, err = b.Read(ctx, e.db, queue.ReadOptions{Reverse: true})
	require.ErrorIs(t, err, queue.ErrInvalidArgument)
}

// Two members of one group that read the cursor and advance it in their transactions
// serialise: one of them conflicts and, retried, sees the other's cursor.
func TestStreamGroupMembersConflict(t *testing.T) {
	db := testdb.OpenEmbedded(t, nil)
	s, err := queue.NewStream(subspace.Sub("g"), nil)
	require.NoError(t, err)
	testdb.Check(t, db, "stream", queue.CheckStream(subspace.Sub("g")))
	for i := range 4 {
		_, err := s.Append(ctx, db, fmt.Append(nil, i), nil)
		require.NoError(t, err)
	}
	g, err := s.Group("g")
	require.NoError(t, err)
	t1, _ := db.CreateTransaction()
	t2, _ := db.CreateTransaction()
	p1, err := g.Read(ctx, t1, queue.ReadOptions{Limit: 2})
	require.NoError(t, err)
	p2, err := g.Read(ctx, t2, queue.ReadOptions{Limit: 2})
	require.NoError(t, err)
	require.Equal(t, ids(p1.Entries), ids(p2.Entries), "both read the same page")
	require.NoError(t, g.Advance(ctx, t1, p1.Cursor))
	require.NoError(t, g.Advance(ctx, t2, p2.Cursor))
	require.NoError(t, t1.Commit())
	require.ErrorIs(t, t2.Commit(), kv.ErrNotCommitted, "the second member's work is refused")
}

// Consume processes every entry exactly once into a counter kept in the database, under
// injected faults, while entries keep arriving; it then waits on its watch for more.
func TestStreamGroupConsumeExactlyOnce(t *testing.T) {
	e := newStreamEnv(t, nil)
	g, err := e.s.Group("summer")
	require.NoError(t, err)
	sumKey := []byte("app/sum")
	const n = 120
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- g.Consume(cctx, e.db, queue.ReadOptions{Limit: 7}, func(tr kv.Transaction, p queue.Page) error {
			for _, en := range p.Entries {
				tr.Atomic(kv.Add, sumKey, en.Value)
			}
			return nil
		})
	}()
	var want uint64
	for i := 1; i <= n; i++ {
		v := binary.LittleEndian.AppendUint64(nil, uint64(i))
		want += uint64(i)
		_, err := e.s.Append(ctx, e.db, v, nil)
		require.NoError(t, err)
		if i%40 == 0 {
			time.Sleep(5 * time.Millisecond) // let the consumer catch up and wait
		}
	}
	require.Eventually(t, func() bool {
		v, err := kv.ReadTransact(ctx, e.db, func(tr kv.ReadTransaction) ([]byte, error) { return tr.Get(sumKey).Get() })
		require.NoError(t, err)
		return len(v) == 8 && binary.LittleEndian.Uint64(v) == want
	}, 10*time.Second, 5*time.Millisecond)
	all := readAll(t, e.db, e.s, 1000)
	c, err := g.Cursor(ctx, e.db)
	require.NoError(t, err)
	require.Equal(t, all[len(all)-1].ID, c)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)

	// An error from fn stops the loop and commits nothing.
	boom := errors.New("boom")
	require.NoError(t, g.Reset(ctx, e.db, queue.StreamStart))
	err = g.Consume(ctx, e.db, queue.ReadOptions{}, func(tr kv.Transaction, p queue.Page) error { return boom })
	require.ErrorIs(t, err, boom)
	c, err = g.Cursor(ctx, e.db)
	require.NoError(t, err)
	require.Equal(t, queue.StreamStart, c)
}

func TestStreamTrim(t *testing.T) {
	clock := newFakeClock()
	e := newStreamEnv(t, &queue.StreamOptions{Clock: clock.Now})
	var in []queue.EntryID
	for i := range 10 {
		in = append(in, e.append(fmt.Sprint("e", i)))
		clock.Advance(time.Minute)
	}
	tp, err := e.s.TrimmedBefore(ctx, e.db)
	require.NoError(t, err)
	require.Equal(t, queue.StreamStart, tp)

	require.NoError(t, e.s.Trim(ctx, e.db, in[3]))
	require.Equal(t, in[3:], ids(readAll(t, e.db, e.s, 4)))
	tp, err = e.s.TrimmedBefore(ctx, e.db)
	require.NoError(t, err)
	require.Equal(t, 1, tp.Compare(in[2]), "the trim point is after the last removed entry")
	require.Equal(t, -1, tp.Compare(in[3]), "and not past the first kept one")
	require.NoError(t, e.s.Trim(ctx, e.db, in[1]), "trimming to an earlier point changes nothing")
	require.Equal(t, in[3:], ids(readAll(t, e.db, e.s, 4)))
	tp2, err := e.s.TrimmedBefore(ctx, e.db)
	require.NoError(t, err)
	require.Equal(t, tp, tp2)

	// Now is 10 minutes after e0; entries e0..e9 are 10..1 minutes old. Trim those older than
	// 4m30s: e3..e5 go (e0..e2 are already gone), e6 (4 minutes old) stays.
	point, err := e.s.TrimOlderThan(ctx, e.db, 4*time.Minute+30*time.Second)
	require.NoError(t, err)
	require.Equal(t, in[6], point)
	require.Equal(t, in[6:], ids(readAll(t, e.db, e.s, 4)))

	// A trim in a caller's transaction, to a group's cursor.
	g, err := e.s.Group("slow")
	require.NoError(t, err)
	require.NoError(t, g.Advance(ctx, e.db, in[7]))
	require.NoError(t, e.db.Transact(ctx, func(tr kv.Transaction) error {
		c, err := g.Cursor(ctx, tr)
		if err != nil {
			return err
		}
		return e.s.Trim(ctx, tr, c)
	}))
	require.Equal(t, in[7:], ids(readAll(t, e.db, e.s, 4)))

	point, err = e.s.TrimOlderThan(ctx, e.db, 0)
	require.NoError(t, err)
	require.Equal(t, 1, point.Compare(in[9]))
	require.Empty(t, readAll(t, e.db, e.s, 4))
	later := e.append("after the trim")
	require.Equal(t, 1, later.Compare(point), "a later entry orders after the trim point")
	require.Equal(t, []queue.EntryID{later}, ids(readAll(t, e.db, e.s, 4)))
	require.NoError(t, e.s.Trim(ctx, e.db, queue.StreamEnd))
	require.Empty(t, readAll(t, e.db, e.s, 4))
	_, err = e.s.TrimOlderThan(ctx, e.db, -time.Second)
	require.ErrorIs(t, err, queue.ErrInvalidArgument)
}

// TrimOlderThan on a database trims a long stream in several transactions.
func TestStreamTrimOlderThanLong(t *testing.T) {
	clock := newFakeClock()
	e := newStreamEnv(t, &queue.StreamOptions{Clock: clock.Now})
	const n = 12_500
	for i := 0; i < n; i += 2500 {
		require.NoError(t, e.db.Transact(ctx, func(tr kv.Transaction) error {
			for j := range 2500 {
				if _, err := e.s.Append(ctx, tr, fmt.Append(nil, i+j), &queue.AppendOptions{IdempotencyKey: fmt.Append(nil, i+j)}); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	clock.Advance(time.Hour)
	young := e.append("young")
	point, err := e.s.TrimOlderThan(ctx, e.db, time.Minute)
	require.NoError(t, err)
	require.Equal(t, young, point)
	require.Equal(t, []string{"young"}, values(readAll(t, e.db, e.s, 100)))
}

func TestStreamWaitAndFollow(t *testing.T) {
	e := newStreamEnv(t, nil)
	first := e.append("first")

	// Wait returns at once when there is an entry after the cursor, and otherwise blocks until
	// one is appended.
	require.NoError(t, e.s.Wait(ctx, e.db, queue.StreamStart))
	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, e.s.Wait(short, e.db, first), context.DeadlineExceeded)
	woke := make(chan error, 1)
	go func() { woke <- e.s.Wait(ctx, e.db, first) }()
	time.Sleep(10 * time.Millisecond)
	e.append("second")
	select {
	case err := <-woke:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not wake on an append")
	}

	// Follow delivers every entry in order, then waits for more.
	fctx, fcancel := context.WithCancel(ctx)
	defer fcancel()
	var mu sync.Mutex
	var got []string
	done := make(chan error, 1)
	go func() {
		done <- e.s.Follow(fctx, e.db, queue.StreamStart, queue.ReadOptions{Limit: 2}, func(p queue.Page) error {
			mu.Lock()
			got = append(got, values(p.Entries)...)
			mu.Unlock()
			return nil
		})
	}()
	for i := range 5 {
		e.append(fmt.Sprint("more", i))
	}
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 7
	}, 5*time.Second, time.Millisecond)
	fcancel()
	require.ErrorIs(t, <-done, context.Canceled)
	require.Equal(t, []string{"first", "second", "more0", "more1", "more2", "more3", "more4"}, got)
}

// Group cursors, entries and idempotency records live in the database: they survive closing
// and reopening an on-disk engine.
func TestStreamGroupCursorSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	prefix := subspace.Sub("durable")
	open := func() *embedded.DB {
		db, err := embedded.Open(dir, nil)
		require.NoError(t, err)
		return db
	}
	db := open()
	s, err := queue.NewStream(prefix, nil)
	require.NoError(t, err)
	g, err := s.Group("reader")
	require.NoError(t, err)
	var in []queue.EntryID
	for i := range 5 {
		f, err := s.Append(ctx, db, fmt.Append(nil, i), &queue.AppendOptions{IdempotencyKey: fmt.Append(nil, "k", i)})
		require.NoError(t, err)
		id, err := f.Get()
		require.NoError(t, err)
		in = append(in, id)
	}
	p, err := g.Read(ctx, db, queue.ReadOptions{Limit: 3})
	require.NoError(t, err)
	require.NoError(t, g.Advance(ctx, db, p.Cursor))
	require.NoError(t, db.Close())

	db = open()
	defer db.Close()
	require.NoError(t, queue.CheckStream(prefix)(ctx, db))
	c, err := g.Cursor(ctx, db)
	require.NoError(t, err)
	require.Equal(t, in[2], c)
	p, err = g.Read(ctx, db, queue.ReadOptions{})
	require.NoError(t, err)
	require.Equal(t, in[3:], ids(p.Entries))
	f, err := s.Append(ctx, db, []byte("again"), &queue.AppendOptions{IdempotencyKey: []byte("k1")})
	require.NoError(t, err)
	id, err := f.Get()
	require.NoError(t, err)
	require.Equal(t, in[1], id, "idempotency keys survive the reopen")
	later, err := s.Append(ctx, db, []byte("new"), nil)
	require.NoError(t, err)
	lid, err := later.Get()
	require.NoError(t, err)
	require.Equal(t, 1, lid.Compare(in[4]), "IDs keep growing across a reopen")
}

// A TrimOlderThan whose trim committed but was reported unknown, retried, finds the stream empty
// and still returns the trim point it made, not the stream's start.
func TestStreamTrimOlderThanRetriedAfterUnknownResult(t *testing.T) {
	db := testdb.NewUnknownOnce(testdb.OpenEmbedded(t, &embedded.Options{}))
	s, err := queue.NewStream(subspace.Sub("trim"), nil)
	require.NoError(t, err)
	var last queue.EntryID
	for _, v := range []string{"a", "b"} {
		f, err := s.Append(ctx, db.DB, []byte(v), nil)
		require.NoError(t, err)
		last, err = f.Get()
		require.NoError(t, err)
	}
	point, err := s.TrimOlderThan(ctx, db, 0)
	require.NoError(t, err)
	require.Greater(t, db.Commits.Load(), int32(1), "the trim was retried")
	require.Equal(t, 1, point.Compare(last), "the trim point is after the last removed entry")
	stored, err := s.TrimmedBefore(ctx, db.DB)
	require.NoError(t, err)
	require.Equal(t, stored, point)
	require.Empty(t, readAll(t, db.DB, s, 4))
}
