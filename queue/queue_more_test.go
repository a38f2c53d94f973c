package queue_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/queue"
	"github.com/layerkit/layerkit/queue/internal/queuepb"
	"github.com/layerkit/layerkit/subspace"
	"github.com/layerkit/layerkit/tuple"
)

func TestQueueIdempotentEnqueue(t *testing.T) {
	e := newQueueEnv(t, &queue.Options{IdempotencyRetention: time.Hour})
	key := &queue.EnqueueOptions{IdempotencyKey: []byte("order-17")}
	a := e.enqueue("charge", key)
	var f kv.Future[queue.MessageID]
	require.NoError(t, e.db.Transact(ctx, func(tr kv.Transaction) (err error) {
		f, err = e.q.Enqueue(ctx, tr, []byte("charge again"), key)
		return err
	}))
	b, err := f.Get()
	require.NoError(t, err)
	require.Equal(t, a, b, "a duplicate submit answers the first message")
	require.Equal(t, queue.Stats{Visible: 1}, e.stats())
	err = e.db.Transact(ctx, func(tr kv.Transaction) error {
		if _, err := e.q.Enqueue(ctx, tr, nil, &queue.EnqueueOptions{IdempotencyKey: []byte("x")}); err != nil {
			return err
		}
		_, err := e.q.Enqueue(ctx, tr, nil, &queue.EnqueueOptions{IdempotencyKey: []byte("x")})
		return err
	})
	require.ErrorIs(t, err, queue.ErrKeyUsedTwice)
	// The key outlives the message (acknowledged) for the retention, then is forgotten.
	require.NoError(t, e.q.Ack(ctx, e.db, e.receive(1)...))
	require.Equal(t, a, e.enqueue("charge", key), "still remembered after the ack")
	require.Equal(t, queue.Stats{}, e.stats())
	e.clock.Advance(time.Hour)
	c := e.enqueue("charge", key)
	require.Equal(t, 1, c.Compare(a), "after the retention the key makes a new message")
	require.Equal(t, queue.Stats{Visible: 1}, e.stats())
}

// Producers through the database under heavy injected commit_unknown_result faults still make
// one message per call, and consumers through the database lose no lease: every lease a
// Receive returns can be acknowledged.
func TestQueueSurvivesUnknownResults(t *testing.T) {
	db := testdb.OpenEmbedded(t, &embedded.Options{Faults: kv.Faults{UnknownApplied: 0.25, UnknownNotApplied: 0.1, NotCommitted: 0.1}})
	e := newQueueEnvOn(t, db, nil)
	const n = 60
	for i := range n {
		e.enqueue(fmt.Sprint(i), nil)
	}
	require.Equal(t, queue.Stats{Visible: n}, e.stats())
	got := map[string]bool{}
	for len(got) < n {
		ls := e.receive(7)
		require.NotEmpty(t, ls, "a receive that was applied returns its leases")
		for _, l := range ls {
			require.False(t, got[string(l.Payload)], "message %s delivered twice", l.Payload)
			got[string(l.Payload)] = true
			require.Equal(t, 1, l.Attempts)
			require.NoError(t, e.q.Ack(ctx, db, l))
		}
	}
	require.Equal(t, queue.Stats{}, e.stats())
}

// Ack in the transaction that does the work makes database-only work exactly-once: a worker whose
// lease was taken over has its work refused with its ack, and a retry after an applied
// commit_unknown_result is refused too, the work having been done once.
func TestQueueExactlyOnceDatabaseWork(t *testing.T) {
	e := newQueueEnv(t, &queue.Options{LeaseDuration: 10 * time.Second, ClockTolerance: queue.NoTolerance})
	const n = 40
	work := func(l queue.Lease) error {
		return e.db.Transact(ctx, func(tr kv.Transaction) error {
			tr.Atomic(kv.Add, []byte("app/done/"+string(l.Payload)), []byte{1, 0, 0, 0, 0, 0, 0, 0})
			return e.q.Ack(ctx, tr, l)
		})
	}
	// A slow worker: its lease expires and another worker takes the message over.
	e.enqueue("0", nil)
	slow := e.receive(1)[0]
	e.clock.Advance(11 * time.Second)
	fast := e.receive(1)[0]
	require.Equal(t, slow.ID, fast.ID)
	if err := work(fast); err != nil {
		require.ErrorIs(t, err, queue.ErrLeaseLost, "only after an applied unknown result")
	}
	err := work(slow)
	require.ErrorIs(t, err, queue.ErrLeaseLost, "the stale worker's work and ack are refused together")
	for i := 1; i < n; i++ {
		e.enqueue(fmt.Sprint(i), nil)
	}
	lost := 0
	for {
		ls := e.receive(5)
		if len(ls) == 0 {
			break
		}
		for _, l := range ls {
			if err := work(l); err != nil {
				// The test database injects commit_unknown_result: the caller's retry of an applied
				// attempt finds the message gone.
				require.ErrorIs(t, err, queue.ErrLeaseLost)
				lost++
			}
		}
	}
	t.Logf("%d works reported a lost lease after an applied unknown result", lost)
	for i := range n {
		v, err := kv.ReadTransact(ctx, e.db, func(tr kv.ReadTransaction) ([]byte, error) {
			return tr.Get([]byte(fmt.Sprint("app/done/", i))).Get()
		})
		require.NoError(t, err)
		require.Equal(t, uint64(1), binary.LittleEndian.Uint64(v), "message %d's work was done exactly once", i)
	}
	require.Equal(t, queue.Stats{}, e.stats())
}

func TestQueuePurge(t *testing.T) {
	e := newQueueEnv(t, &queue.Options{MaxAttempts: 1})
	for i := range 5 {
		e.enqueue(fmt.Sprint(i), &queue.EnqueueOptions{Delay: time.Duration(i%2) * time.Minute, IdempotencyKey: fmt.Append(nil, i)})
	}
	l := e.receive(1)
	require.NoError(t, e.q.Nack(ctx, e.db, l[0], nil), "to the dead letters")
	held := e.receive(1)
	require.Equal(t, queue.Stats{Visible: 1, Delayed: 2, InFlight: 1, Dead: 1}, e.stats())
	require.NoError(t, e.q.Purge(ctx, e.db))
	require.Equal(t, queue.Stats{Dead: 1}, e.stats(), "the dead letters stay")
	require.ErrorIs(t, e.q.Ack(ctx, e.db, held...), queue.ErrLeaseLost)
	all, err := e.q.Peek(ctx, e.db, queue.PeekOptions{All: true})
	require.NoError(t, err)
	require.Empty(t, all)
	e.enqueue("after", nil)
	require.Equal(t, queue.Stats{Visible: 1, Dead: 1}, e.stats())
}

func TestQueueReceiveWait(t *testing.T) {
	// A 10 s poll interval: every wake-up below comes from the watch or the vesting time, and
	// the bounds leave a loaded CI machine room (a wake once took 655 ms there).
	e := newQueueEnv(t, &queue.Options{Clock: time.Now, LeaseDuration: 80 * time.Millisecond, ClockTolerance: queue.NoTolerance, PollInterval: 10 * time.Second})
	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	_, err := e.q.ReceiveWait(short, e.db, queue.ReceiveOptions{})
	require.ErrorIs(t, err, context.DeadlineExceeded)

	// Woken by an enqueue.
	got := make(chan []queue.Lease, 1)
	go func() {
		ls, err := e.q.ReceiveWait(ctx, e.db, queue.ReceiveOptions{Max: 3})
		assertNoError(t, err)
		got <- ls
	}()
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	e.enqueue("wake", nil)
	var ls []queue.Lease
	select {
	case ls = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("ReceiveWait did not wake on an enqueue")
	}
	require.Equal(t, []string{"wake"}, payloads(ls))
	require.Less(t, time.Since(start), 3*time.Second, "woken by the watch, not the poll interval")

	// Woken when the lease it waits behind expires, and when a delayed message vests.
	start = time.Now()
	again, err := e.q.ReceiveWait(ctx, e.db, queue.ReceiveOptions{})
	require.NoError(t, err)
	require.Equal(t, ls[0].ID, again[0].ID)
	require.GreaterOrEqual(t, time.Since(start), 60*time.Millisecond)
	require.NoError(t, e.q.Ack(ctx, e.db, again...))
	e.enqueue("later", &queue.EnqueueOptions{Delay: 100 * time.Millisecond})
	start = time.Now()
	later, err := e.q.ReceiveWait(ctx, e.db, queue.ReceiveOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{"later"}, payloads(later))
	require.GreaterOrEqual(t, time.Since(start), 80*time.Millisecond)
	require.Less(t, time.Since(start), 3*time.Second, "woken at the vesting time, not by the 10 s poll interval")
}

func TestQueueArguments(t *testing.T) {
	e := newQueueEnv(t, nil)
	_, err := e.q.Enqueue(ctx, e.db, make([]byte, kv.MaxValueSize), nil)
	require.ErrorIs(t, err, queue.ErrPayloadTooLarge)
	require.Contains(t, err.Error(), fmt.Sprint("payload ", kv.MaxValueSize))
	id := e.enqueue(strings.Repeat("x", kv.MaxValueSize-100), &queue.EnqueueOptions{Headers: map[string]string{"a": "b"}})
	m, ok, err := e.q.Get(ctx, e.db, id)
	require.NoError(t, err)
	require.True(t, ok)
	require.Len(t, m.Payload, kv.MaxValueSize-100)
	_, err = e.q.Enqueue(ctx, e.db, nil, &queue.EnqueueOptions{IdempotencyKey: []byte{}})
	require.ErrorIs(t, err, queue.ErrInvalidArgument)
	for _, o := range []queue.ReceiveOptions{{Max: -1}, {Max: queue.MaxBatch + 1}, {LeaseDuration: -1}} {
		_, err := e.q.Receive(ctx, e.db, o)
		require.ErrorIs(t, err, queue.ErrInvalidArgument, "%+v", o)
	}
	l := e.receive(1)[0]
	require.ErrorIs(t, e.q.Ack(ctx, e.db, l, l), queue.ErrInvalidArgument)
	require.ErrorIs(t, e.q.Nack(ctx, e.db, l, &queue.NackOptions{Delay: -1}), queue.ErrInvalidArgument)
	_, err = e.q.Extend(ctx, e.db, l, 0)
	require.ErrorIs(t, err, queue.ErrInvalidArgument)
	_, err = e.q.Peek(ctx, e.db, queue.PeekOptions{Limit: -1})
	require.ErrorIs(t, err, queue.ErrInvalidArgument)
	_, err = e.q.Redrive(ctx, e.db, queue.RedriveOptions{Limit: -1})
	require.ErrorIs(t, err, queue.ErrInvalidArgument)
	for _, o := range []queue.Options{{LeaseDuration: -1}, {MaxAttempts: -1}, {ClockTolerance: -2}, {PollInterval: -1}} {
		_, err := queue.NewQueue(subspace.Sub("x"), &o)
		require.ErrorIs(t, err, queue.ErrInvalidArgument, "%+v", o)
	}
	_, err = queue.NewQueue(nil, nil)
	require.ErrorIs(t, err, queue.ErrInvalidArgument)
	require.NoError(t, e.q.Ack(ctx, e.db, l))
}

func TestQueueEnqueueMany(t *testing.T) {
	e := newQueueEnv(t, nil)
	o := &queue.EnqueueOptions{Priority: 3, Headers: map[string]string{"tenant": "acme"}}
	var f kv.Future[[]queue.MessageID]
	err := e.db.Transact(ctx, func(tr kv.Transaction) error {
		_, err := e.q.Enqueue(ctx, tr, []byte("before"), o)
		if err != nil {
			return err
		}
		f, err = e.q.EnqueueMany(ctx, tr, [][]byte{[]byte("a"), {}, []byte("c")}, o)
		return err
	})
	require.NoError(t, err)
	got, err := f.Get()
	require.NoError(t, err)
	require.Len(t, got, 3)
	for i := 1; i < len(got); i++ {
		require.Equal(t, got[0].Version(), got[i].Version(), "one transaction, one commit version")
		require.Equal(t, got[i-1].UserVersion()+1, got[i].UserVersion(), "consecutive user versions")
	}
	require.Equal(t, queue.Stats{Visible: 4}, e.stats())
	ls := e.receive(10)
	require.Equal(t, []string{"before", "a", "", "c"}, payloads(ls), "the order of the calls, then of the payloads")
	require.Equal(t, got, []queue.MessageID{ls[1].ID, ls[2].ID, ls[3].ID})
	for _, l := range ls {
		require.Equal(t, int32(3), l.Priority)
		require.Equal(t, map[string]string{"tenant": "acme"}, l.Headers)
	}
	require.NoError(t, e.q.Ack(ctx, e.db, ls...))

	// A key stands for the whole batch: a second call gets the first one's IDs and writes nothing.
	keyed := &queue.EnqueueOptions{IdempotencyKey: []byte("batch-1"), Delay: time.Minute}
	two := [][]byte{[]byte("x"), []byte("y")}
	f, err = e.q.EnqueueMany(ctx, e.db, two, keyed)
	require.NoError(t, err)
	first, err := f.Get()
	require.NoError(t, err)
	f, err = e.q.EnqueueMany(ctx, e.db, two, keyed)
	require.NoError(t, err)
	again, err := f.Get()
	require.NoError(t, err)
	require.Equal(t, first, again)
	require.Equal(t, queue.Stats{Delayed: 2}, e.stats())
	// The same key for another number of messages is refused, by EnqueueMany and by Enqueue.
	_, err = e.q.EnqueueMany(ctx, e.db, [][]byte{[]byte("x"), []byte("y"), []byte("z")}, keyed)
	require.ErrorIs(t, err, queue.ErrInvalidArgument)
	require.Contains(t, err.Error(), "used for 2 items, this call writes 3")
	_, err = e.q.Enqueue(ctx, e.db, []byte("x"), keyed)
	require.ErrorIs(t, err, queue.ErrInvalidArgument)
	one := &queue.EnqueueOptions{IdempotencyKey: []byte("single")}
	e.enqueue("s", one)
	_, err = e.q.EnqueueMany(ctx, e.db, two, one)
	require.ErrorIs(t, err, queue.ErrInvalidArgument, "a key of one Enqueue is not a batch's")
	require.Equal(t, queue.Stats{Visible: 1, Delayed: 2}, e.stats())

	// Nothing to enqueue is no write; one message too large fails the call, writing nothing.
	f, err = e.q.EnqueueMany(ctx, e.db, nil, nil)
	require.NoError(t, err)
	none, err := f.Get()
	require.NoError(t, err)
	require.Empty(t, none)
	err = e.db.Transact(ctx, func(tr kv.Transaction) error {
		_, err := e.q.EnqueueMany(ctx, tr, [][]byte{[]byte("fits"), make([]byte, kv.MaxValueSize-4)}, &queue.EnqueueOptions{Headers: map[string]string{"h": "v"}})
		return err
	})
	require.ErrorIs(t, err, queue.ErrPayloadTooLarge)
	require.Contains(t, err.Error(), "message [1] of ")
	_, err = e.q.EnqueueMany(ctx, e.db, [][]byte{nil, make([]byte, kv.MaxValueSize+1)}, nil)
	require.ErrorIs(t, err, queue.ErrPayloadTooLarge)
	require.Contains(t, err.Error(), "payload [1] of ")
	require.Equal(t, queue.Stats{Visible: 1, Delayed: 2}, e.stats())
}

// A stored message is the deterministic protobuf encoding of queuepb.Message, byte for byte,
// however it was enqueued (the enqueue path encodes the fields messages share once per call and
// puts each payload before them).
func TestQueueStoresProtobufEncoding(t *testing.T) {
	e := newQueueEnv(t, nil)
	cases := []struct {
		payloads [][]byte
		opts     *queue.EnqueueOptions
	}{
		{[][]byte{[]byte("plain")}, nil},
		{[][]byte{nil}, nil},
		{[][]byte{[]byte("p")}, &queue.EnqueueOptions{Priority: -7, Delay: time.Hour, Headers: map[string]string{"b": "2", "a": "1", "c": ""}}},
		{[][]byte{[]byte("m1"), nil, bytes.Repeat([]byte{0xff}, 300)}, &queue.EnqueueOptions{Priority: 1 << 30, Headers: map[string]string{"z": "last", "k": strings.Repeat("v", 200)}}},
		{[][]byte{bytes.Repeat([]byte("large "), 10_000)}, &queue.EnqueueOptions{Priority: 2}},
	}
	for i, c := range cases {
		var ids []queue.MessageID
		if len(c.payloads) == 1 && i%2 == 0 {
			f, err := e.q.Enqueue(ctx, e.db, c.payloads[0], c.opts)
			require.NoError(t, err)
			id, err := f.Get()
			require.NoError(t, err)
			ids = append(ids, id)
		} else {
			f, err := e.q.EnqueueMany(ctx, e.db, c.payloads, c.opts)
			require.NoError(t, err)
			ids, err = f.Get()
			require.NoError(t, err)
		}
		for j, id := range ids {
			v, err := kv.ReadTransact(ctx, e.db, func(tr kv.ReadTransaction) ([]byte, error) {
				return tr.Get(e.prefix.Pack(tuple.Tuple{1, id.Versionstamp()})).Get()
			})
			require.NoError(t, err)
			m := &queuepb.Message{}
			require.NoError(t, proto.Unmarshal(v, m))
			require.Equal(t, c.payloads[j], bytesOrNil(m.Payload), "case %d, message %d", i, j)
			want, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
			require.NoError(t, err)
			require.Equal(t, want, v, "case %d, message %d: the stored bytes are protobuf's own", i, j)
		}
	}
}

// bytesOrNil maps an empty slice to nil, as proto3 decodes an absent bytes field.
func bytesOrNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
