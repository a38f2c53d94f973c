package queue_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/directory"
	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/queue"
	"github.com/layerkit/layerkit/subspace"
	"github.com/layerkit/layerkit/tuple"
)

func TestStreamAppendAndRead(t *testing.T) {
	e := newStreamEnv(t, nil)
	var want []queue.EntryID
	for i := range 5 {
		want = append(want, e.append(fmt.Sprint("e", i)))
	}
	// Three appends in one transaction keep the order of the calls and share its versionstamp.
	// In a caller's transaction idempotency keys keep a retry after commit_unknown_result (the
	// test database injects some) from appending twice.
	var fs []kv.Future[queue.EntryID]
	require.NoError(t, e.db.Transact(ctx, func(tr kv.Transaction) error {
		fs = fs[:0]
		for i := 5; i < 8; i++ {
			key := &queue.AppendOptions{IdempotencyKey: fmt.Appendf(nil, "k%d", i)}
			f, err := e.s.Append(ctx, tr, []byte(fmt.Sprint("e", i)), key)
			if err != nil {
				return err
			}
			fs = append(fs, f)
		}
		return nil
	}))
	for i, f := range fs {
		id, err := f.Get()
		require.NoError(t, err)
		require.Equal(t, uint16(i), id.UserVersion(), "user versions count the transaction's appends")
		want = append(want, id)
	}
	require.True(t, slices.IsSortedFunc(want, queue.EntryID.Compare), "IDs grow: %v", want)

	all := readAll(t, e.db, e.s, 3)
	require.Equal(t, want, ids(all))
	require.Equal(t, []string{"e0", "e1", "e2", "e3", "e4", "e5", "e6", "e7"}, values(all))
	for _, en := range all {
		require.WithinDuration(t, time.Now(), en.Time, time.Minute)
	}

	// Pages forward from a cursor exclude the cursor's entry; More says whether to go on.
	p, err := e.s.Read(ctx, e.db, want[2], queue.ReadOptions{Limit: 5})
	require.NoError(t, err)
	require.Equal(t, want[3:8], ids(p.Entries))
	require.False(t, p.More, "exactly the rest: no further page")
	require.Equal(t, want[7], p.Cursor)
	p, err = e.s.Read(ctx, e.db, p.Cursor, queue.ReadOptions{})
	require.NoError(t, err)
	require.Empty(t, p.Entries)
	require.Equal(t, want[7], p.Cursor, "an empty page keeps the cursor")

	// Backward from the end: newest first, in pages.
	p, err = e.s.Read(ctx, e.db, queue.StreamEnd, queue.ReadOptions{Limit: 3, Reverse: true})
	require.NoError(t, err)
	require.Equal(t, []queue.EntryID{want[7], want[6], want[5]}, ids(p.Entries))
	require.True(t, p.More)
	p, err = e.s.Read(ctx, e.db, p.Cursor, queue.ReadOptions{Limit: 10, Reverse: true})
	require.NoError(t, err)
	require.Equal(t, []queue.EntryID{want[4], want[3], want[2], want[1], want[0]}, ids(p.Entries))
	require.False(t, p.More)

	got, ok, err := e.s.Get(ctx, e.db, want[4])
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "e4", string(got.Value))
	_, ok, err = e.s.Get(ctx, e.db, queue.StreamEnd)
	require.NoError(t, err)
	require.False(t, ok)
}

// The future of an append resolves only when the transaction commits, and fails when it does
// not; the append is part of the caller's transaction, with the caller's other writes.
func TestStreamAppendInCallerTransaction(t *testing.T) {
	e := newStreamEnv(t, nil)
	tr, err := e.db.CreateTransaction()
	require.NoError(t, err)
	f, err := e.s.Append(ctx, tr, []byte("dropped"), nil)
	require.NoError(t, err)
	tr.Set([]byte("app/other"), []byte("x"))
	tr.Cancel()
	_, err = f.Get()
	require.ErrorIs(t, err, kv.ErrTransactionCancelled)

	var fut kv.Future[queue.EntryID]
	require.NoError(t, e.db.Transact(ctx, func(tr kv.Transaction) error {
		tr.Set([]byte("app/record"), []byte("saved"))
		fut, err = e.s.Append(ctx, tr, []byte("kept"), &queue.AppendOptions{IdempotencyKey: []byte("record-1")})
		return err
	}))
	id, err := fut.Get()
	require.NoError(t, err)
	all := readAll(t, e.db, e.s, 10)
	require.Equal(t, []queue.EntryID{id}, ids(all))
	require.Equal(t, "kept", string(all[0].Value))
}

func TestStreamPrefixes(t *testing.T) {
	db := testdb.Open(t)
	dir, err := directory.CreateOrOpen(ctx, db, []string{"app", "chats"}, nil)
	require.NoError(t, err)
	dirSub, err := dir.Subspace()
	require.NoError(t, err)
	for _, p := range []queue.Prefix{subspace.Sub("s1"), dirSub, queue.PrefixBytes([]byte("raw\x00"))} {
		testdb.Check(t, db, "stream", queue.CheckStream(p))
	}
	testdb.Check(t, db, "directory", func(ctx context.Context, db kv.Database) error { return directory.Check(ctx, db) })
	streams := map[string]*queue.Stream{}
	for name, p := range map[string]queue.Prefix{"subspace": subspace.Sub("s1"), "directory": dirSub, "raw": queue.PrefixBytes([]byte("raw\x00"))} {
		s, err := queue.NewStream(p, nil)
		require.NoError(t, err)
		require.Equal(t, p.Bytes(), s.Prefix())
		streams[name] = s
		for i := range 3 {
			_, err := s.Append(ctx, db, []byte(fmt.Sprint(name, i)), nil)
			require.NoError(t, err)
		}
	}
	for name, s := range streams {
		require.Equal(t, []string{name + "0", name + "1", name + "2"}, values(readAll(t, db, s, 2)), "streams at different prefixes are apart")
	}

	_, err = queue.NewStream(nil, nil)
	require.ErrorIs(t, err, queue.ErrInvalidArgument)
	_, err = queue.NewStream(queue.PrefixBytes([]byte{0xff, 1}), nil)
	require.ErrorIs(t, err, queue.ErrInvalidArgument)
	_, err = queue.NewStream(subspace.Sub("x"), &queue.StreamOptions{IdempotencyRetention: -time.Second})
	require.ErrorIs(t, err, queue.ErrInvalidArgument)
}

func TestEntryIDEncodings(t *testing.T) {
	a := queue.EntryID{0, 0, 0, 0, 0, 0, 0, 9, 0, 1, 0, 2}
	b := queue.EntryID{0, 0, 0, 0, 0, 0, 0, 9, 0, 1, 1, 0}
	c := queue.EntryID{0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0}
	ordered := []queue.EntryID{queue.StreamStart, a, b, c, queue.StreamEnd}
	for i := 1; i < len(ordered); i++ {
		x, y := ordered[i-1], ordered[i]
		require.Equal(t, -1, x.Compare(y))
		require.Equal(t, 1, y.Compare(x))
		require.Equal(t, -1, bytes.Compare(x.Bytes(), y.Bytes()))
		require.Less(t, x.String(), y.String(), "hex text sorts as the IDs")
		xt := tuple.Tuple{"conv", x.Versionstamp()}
		yt := tuple.Tuple{"conv", y.Versionstamp()}
		if i > 1 && i < len(ordered)-1 { // complete stamps only
			require.Equal(t, -1, bytes.Compare(xt.Pack(), yt.Pack()), "as tuple elements they sort too")
		}
	}
	require.Equal(t, "000000000000000900010002", a.String())
	require.Equal(t, int64(9), a.Version())
	require.Equal(t, uint16(2), a.UserVersion())
	require.True(t, queue.StreamStart.IsZero())
	require.False(t, a.IsZero())

	p, err := queue.ParseEntryID(a.String())
	require.NoError(t, err)
	require.Equal(t, a, p)
	p, err = queue.ParseEntryID("0000000000000009000100FF")
	require.NoError(t, err)
	require.Equal(t, queue.EntryID{0, 0, 0, 0, 0, 0, 0, 9, 0, 1, 0, 0xff}, p, "either case")
	for _, bad := range []string{"", "00", a.String() + "0", "zz0000000000000900010002"} {
		_, err := queue.ParseEntryID(bad)
		require.ErrorIs(t, err, queue.ErrInvalidID, "%q", bad)
	}
	q, err := queue.EntryIDFromBytes(a.Bytes())
	require.NoError(t, err)
	require.Equal(t, a, q)
	_, err = queue.EntryIDFromBytes(make([]byte, 11))
	require.ErrorIs(t, err, queue.ErrInvalidID)
	bs := a.Bytes()
	bs[0] = 7
	require.Equal(t, byte(0), a[0], "Bytes is a copy")

	v, err := queue.EntryIDFromVersionstamp(b.Versionstamp())
	require.NoError(t, err)
	require.Equal(t, b, v)
	packed := tuple.Tuple{b.Versionstamp()}.Pack()
	un, err := tuple.Unpack(packed)
	require.NoError(t, err)
	v, err = queue.EntryIDFromVersionstamp(un[0].(tuple.Versionstamp))
	require.NoError(t, err)
	require.Equal(t, b, v, "an ID survives a tuple round trip")
	_, err = queue.EntryIDFromVersionstamp(tuple.IncompleteVersionstamp(3))
	require.ErrorIs(t, err, queue.ErrInvalidID)

	type token struct {
		Resume queue.EntryID `json:"resume"`
	}
	js, err := json.Marshal(token{a})
	require.NoError(t, err)
	require.JSONEq(t, `{"resume":"000000000000000900010002"}`, string(js))
	var back token
	require.NoError(t, json.Unmarshal(js, &back))
	require.Equal(t, a, back.Resume)
	require.Error(t, json.Unmarshal([]byte(`{"resume":"xyz"}`), &back))
	bin, err := a.MarshalBinary()
	require.NoError(t, err)
	var fromBin queue.EntryID
	require.NoError(t, fromBin.UnmarshalBinary(bin))
	require.Equal(t, a, fromBin)
	require.ErrorIs(t, fromBin.UnmarshalBinary(bin[1:]), queue.ErrInvalidID)
}

func TestStreamIdempotencyKey(t *testing.T) {
	clock := newFakeClock()
	e := newStreamEnv(t, &queue.StreamOptions{Clock: clock.Now, IdempotencyRetention: time.Hour})
	opts := &queue.AppendOptions{IdempotencyKey: []byte("msg-1")}
	f1, err := e.s.Append(ctx, e.db, []byte("hello"), opts)
	require.NoError(t, err)
	id1, err := f1.Get()
	require.NoError(t, err)
	// Through a transaction too: the key is remembered across both paths.
	var f2 kv.Future[queue.EntryID]
	require.NoError(t, e.db.Transact(ctx, func(tr kv.Transaction) (err error) {
		f2, err = e.s.Append(ctx, tr, []byte("hello again"), opts)
		return err
	}))
	id2, err := f2.Get()
	require.NoError(t, err)
	require.Equal(t, id1, id2, "a duplicate append answers the first entry's ID")
	require.Equal(t, []string{"hello"}, values(readAll(t, e.db, e.s, 10)))

	// Twice in one transaction: the first ID is not known yet, so the second is refused.
	err = e.db.Transact(ctx, func(tr kv.Transaction) error {
		if _, err := e.s.Append(ctx, tr, []byte("a"), &queue.AppendOptions{IdempotencyKey: []byte("k2")}); err != nil {
			return err
		}
		_, err := e.s.Append(ctx, tr, []byte("b"), &queue.AppendOptions{IdempotencyKey: []byte("k2")})
		return err
	})
	require.ErrorIs(t, err, queue.ErrKeyUsedTwice)
	_, err = e.s.Append(ctx, e.db, []byte("x"), &queue.AppendOptions{IdempotencyKey: []byte{}})
	require.ErrorIs(t, err, queue.ErrInvalidArgument)

	// After the retention the key is forgotten: the same key appends again.
	clock.Advance(time.Hour + time.Millisecond)
	f3, err := e.s.Append(ctx, e.db, []byte("hello later"), opts)
	require.NoError(t, err)
	id3, err := f3.Get()
	require.NoError(t, err)
	require.Equal(t, 1, id3.Compare(id1))
	require.Equal(t, []string{"hello", "hello later"}, values(readAll(t, e.db, e.s, 10)))
}

// Expired idempotency records are removed by later appends that use keys, two per append, so
// they do not pile up. The checker (run at the end) verifies records and expiry entries pair.
func TestStreamIdempotencySweep(t *testing.T) {
	clock := newFakeClock()
	e := newStreamEnv(t, &queue.StreamOptions{Clock: clock.Now, IdempotencyRetention: time.Minute})
	countRecords := func() int {
		n, err := kv.ReadTransact(ctx, e.db, func(tr kv.ReadTransaction) (int, error) {
			rows, err := tr.GetRange(e.prefix.Sub(4), kv.RangeOptions{}).GetSlice()
			return len(rows), err
		})
		require.NoError(t, err)
		return n
	}
	for i := range 10 {
		_, err := e.s.Append(ctx, e.db, nil, &queue.AppendOptions{IdempotencyKey: fmt.Appendf(nil, "old-%d", i)})
		require.NoError(t, err)
	}
	old := countRecords()
	require.GreaterOrEqual(t, old, 10, "one record per key (plus those of calls on the database)")
	clock.Advance(time.Hour)
	for i := range 10 {
		_, err := e.s.Append(ctx, e.db, nil, &queue.AppendOptions{IdempotencyKey: fmt.Appendf(nil, "new-%d", i)})
		require.NoError(t, err)
	}
	require.Equal(t, 10, countRecords(), "the expired records were swept, the new ones kept")
}

// A stream appended through the database under injected commit_unknown_result faults holds each
// entry once: the call's own idempotency key recognises an attempt that was applied.
func TestStreamAppendSurvivesUnknownResults(t *testing.T) {
	db := testdb.OpenEmbedded(t, &embedded.Options{Faults: kv.Faults{UnknownApplied: 0.3, UnknownNotApplied: 0.1, NotCommitted: 0.1}})
	s, err := queue.NewStream(subspace.Sub("faulty"), nil)
	require.NoError(t, err)
	testdb.Check(t, db, "stream", queue.CheckStream(subspace.Sub("faulty")))
	var want []string
	for i := range 60 {
		v := fmt.Sprint("v", i)
		_, err := s.Append(ctx, db, []byte(v), nil)
		require.NoError(t, err)
		want = append(want, v)
	}
	require.Equal(t, want, values(readAll(t, db, s, 25)))
}

func TestStreamPayloadLimit(t *testing.T) {
	e := newStreamEnv(t, nil)
	_, err := e.s.Append(ctx, e.db, make([]byte, kv.MaxValueSize), nil)
	require.ErrorIs(t, err, queue.ErrPayloadTooLarge)
	require.Contains(t, err.Error(), "100000 bytes")
	big := bytes.Repeat([]byte{7}, kv.MaxValueSize-11)
	id := func() queue.EntryID {
		f, err := e.s.Append(ctx, e.db, big, nil)
		require.NoError(t, err, "the largest payload fits")
		id, err := f.Get()
		require.NoError(t, err)
		return id
	}()
	got, ok, err := e.s.Get(ctx, e.db, id)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, big, got.Value)
	_, err = e.s.Read(ctx, e.db, queue.StreamStart, queue.ReadOptions{Limit: -1})
	require.ErrorIs(t, err, queue.ErrInvalidArgument)
}

// Reading, in the appending transaction, a range the new entry may land in fails with 1036, as
// on FoundationDB; reading before appending works.
func TestStreamReadAfterAppendInOneTransaction(t *testing.T) {
	e := newStreamEnv(t, nil)
	e.append("first")
	err := e.db.Transact(ctx, func(tr kv.Transaction) error {
		p, err := e.s.Read(ctx, tr, queue.StreamStart, queue.ReadOptions{})
		if err != nil {
			return err
		}
		require.Len(t, p.Entries, 1)
		if _, err := e.s.Append(ctx, tr, []byte("second"), nil); err != nil {
			return err
		}
		_, err = e.s.Read(ctx, tr, queue.StreamStart, queue.ReadOptions{})
		return err
	})
	require.ErrorIs(t, err, kv.ErrAccessedUnreadable)
}
