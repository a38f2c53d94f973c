package queue

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/tuple"
)

// Prefix is where a stream or queue lives: a subspace.Subspace, a directory's subspace, or
// anything else that gives the raw prefix bytes.
type Prefix interface {
	Bytes() []byte
}

// rawPrefix is a Prefix of plain bytes, for callers that hold only the bytes.
type rawPrefix []byte

func (p rawPrefix) Bytes() []byte { return p }

// PrefixBytes returns b as a Prefix, for a stream or queue at raw bytes that no subspace names.
func PrefixBytes(b []byte) Prefix { return rawPrefix(bytes.Clone(b)) }

// The first element of every key under a stream's or queue's prefix P: the layout table of the
// package documentation.
const (
	codeItems      = 1  // P+(1, id): stream entries, queue messages
	codeSchedule   = 2  // P+(2, lane, at, id): when each queue message is next visible
	codeDead       = 3  // P+(3, id): dead-lettered messages
	codeIdem       = 4  // P+(4, key): idempotency records
	codeIdemExpiry = 5  // P+(5, expires, key): idempotency records by expiry
	codeGroups     = 6  // P+(6, name): stream consumer group cursors
	codeCounters   = 6  // P+(6, n): queue counters
	codeTrimmed    = 7  // P+(7): the stream's trim point
	codeTrigger    = 8  // P+(8): bumped by every append or enqueue, for watches
	codeSeq        = 9  // P+(9): the per-transaction user version scratch key
	codeLanes      = 10 // P+(10, lane): the priority lanes a queue uses
)

// versionstampCode is the tuple type code of a 12-byte versionstamp.
const versionstampCode = 0x33

// layout holds the key prefixes a stream or queue uses, computed once per handle.
type layout struct {
	prefix  []byte
	items   []byte // P+(1)
	trigger []byte // P+(8)
	seq     []byte // P+(9)
	idem    idempotency
}

func newLayout(p Prefix) (layout, error) {
	if p == nil {
		return layout{}, fmt.Errorf("%w: nil prefix", ErrInvalidArgument)
	}
	prefix := bytes.Clone(p.Bytes())
	if len(prefix) > 0 && prefix[0] == 0xff {
		return layout{}, fmt.Errorf("%w: prefix %s is in the system keyspace", ErrInvalidArgument, kv.Printable(prefix))
	}
	l := layout{prefix: prefix}
	l.items = l.sub(codeItems)
	l.trigger = l.sub(codeTrigger)
	l.seq = l.sub(codeSeq)
	l.idem = idempotency{records: l.sub(codeIdem), expiry: l.sub(codeIdemExpiry), swept: &sweepHint{}}
	return l, nil
}

// written is what one write call did: the user versions first..first+n-1 of its items, whose IDs
// stamp resolves after commit; or, when its idempotency key was remembered, found and the IDs of
// the earlier call, from id on.
type written struct {
	first uint16
	n     int
	stamp kv.Future[[10]byte]
	found bool
	id    EntryID
}

// one returns the future of the single item a call wrote.
func (w written) one() kv.Future[EntryID] {
	if w.found {
		return kv.Ready(w.id, nil)
	}
	return idFuture{w.stamp, w.first}
}

// all returns the future of the IDs of every item a call wrote, in order.
func (w written) all() kv.Future[[]EntryID] {
	if w.found {
		return kv.Ready(consecutiveIDs(w.id, w.n), nil)
	}
	return idsFuture{w.stamp, w.first, w.n}
}

// idFuture is the ID of an item written with user version uv, known once the commit's
// versionstamp is.
type idFuture struct {
	stamp kv.Future[[10]byte]
	uv    uint16
}

func (f idFuture) Get() (EntryID, error) {
	stamp, err := f.stamp.Get()
	if err != nil {
		return EntryID{}, err
	}
	return idFromStamp(stamp, f.uv), nil
}

// idsFuture is the IDs of n items written with consecutive user versions from first. Each Get
// returns a new slice holding the same IDs.
type idsFuture struct {
	stamp kv.Future[[10]byte]
	first uint16
	n     int
}

func (f idsFuture) Get() ([]EntryID, error) {
	stamp, err := f.stamp.Get()
	if err != nil {
		return nil, err
	}
	return consecutiveIDs(idFromStamp(stamp, f.first), f.n), nil
}

// consecutiveIDs returns first and the n-1 IDs of the same transaction after it.
func consecutiveIDs(first EntryID, n int) []EntryID {
	out := make([]EntryID, n)
	uv := first.UserVersion()
	for i := range out {
		out[i] = first
		binary.BigEndian.PutUint16(out[i][10:], uv+uint16(i))
	}
	return out
}

// startWrite begins a write of n new entries or messages in tr: when key (an idempotency key,
// or nil) is remembered, it returns found and the earlier write's IDs; otherwise it claims the
// new items' user versions. A remembered key that stands for a different number of items fails
// with ErrInvalidArgument. what names the operation in errors.
func (l layout) startWrite(tr kv.Transaction, key any, n int, now time.Time, what string) (written, error) {
	w := written{n: n}
	if key != nil {
		id, count, found, err := l.idem.lookup(tr, key, now.UnixMilli())
		switch {
		case err == nil && found && count != n:
			err = fmt.Errorf("%w: idempotency key %s was used for %d items, this call writes %d", ErrInvalidArgument, keyString(key), count, n)
		case err != nil || !found:
		default:
			w.found, w.id = true, id
			return w, nil
		}
		if err != nil {
			return w, fmt.Errorf("queue: %s %s: %w", what, kv.Printable(l.prefix), err)
		}
	}
	uv, err := claimUserVersions(tr, l.seq, n)
	if err != nil {
		return w, fmt.Errorf("queue: %s %s: %w", what, kv.Printable(l.prefix), err)
	}
	w.first = uv
	return w, nil
}

// finishWrite ends the write w: it bumps the trigger (once per transaction: the first claim has
// user version 0), remembers the idempotency key until retention has passed, sweeps expired
// records, and takes the future of the commit's versionstamp.
func (l layout) finishWrite(tr kv.Transaction, key any, w written, now time.Time, retention time.Duration) (written, error) {
	if w.first == 0 {
		tr.Atomic(kv.Add, l.trigger, one)
	}
	if key != nil {
		l.idem.remember(tr, key, w.first, w.n, now.Add(retention).UnixMilli())
		if err := l.idem.sweep(tr, now.UnixMilli(), sweepPerWrite); err != nil {
			return w, err
		}
	}
	w.stamp = tr.GetVersionstamp()
	return w, nil
}

// sub returns P + pack(elems...).
func (l layout) sub(elems ...any) []byte {
	out, err := tuple.Tuple(elems).AppendPack(bytes.Clone(l.prefix))
	if err != nil {
		// Only layout codes, names and ints reach here, and they always pack.
		panic(fmt.Sprintf("queue: key of %v: %v", elems, err))
	}
	return out
}

// all is the range of every key under the prefix, the prefix itself included.
func (l layout) all() kv.Range {
	return kv.Range{Begin: l.prefix, End: append(bytes.Clone(l.prefix), 0xff)}
}

// subRange is the range of every key that extends k by a tuple element: [k+00, k+ff).
func subRange(k []byte) kv.Range {
	return kv.Range{Begin: append(bytes.Clone(k), 0x00), End: append(bytes.Clone(k), 0xff)}
}

// appendID appends the tuple encoding of id as a versionstamp.
func appendID(dst []byte, id EntryID) []byte {
	return append(append(dst, versionstampCode), id[:]...)
}

// idKey returns k + pack(versionstamp id).
func idKey(k []byte, id EntryID) []byte {
	return appendID(append(make([]byte, 0, len(k)+13), k...), id)
}

// appendStampedKey appends k + pack(incomplete versionstamp with user version uv) + its offset
// to dst: the key of a SetVersionstampedKey mutation.
func appendStampedKey(dst, k []byte, uv uint16) []byte {
	start := len(dst)
	dst = append(dst, k...)
	dst = append(dst, versionstampCode)
	off := len(dst) - start
	dst = append(dst, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, byte(uv>>8), byte(uv))
	return binary.LittleEndian.AppendUint32(dst, uint32(off))
}

// decodeID reads the versionstamp that follows k in key, with nothing after it.
func decodeID(k, key []byte) (EntryID, error) {
	var id EntryID
	rest := key[len(k):]
	if !bytes.HasPrefix(key, k) || len(rest) != 13 || rest[0] != versionstampCode {
		return id, fmt.Errorf("%w: key %s is not a versionstamp under %s", ErrCorrupt, kv.Printable(key), kv.Printable(k))
	}
	copy(id[:], rest[1:])
	return id, nil
}

// idFromStamp joins a commit's 10-byte versionstamp and a user version.
func idFromStamp(stamp [10]byte, uv uint16) EntryID {
	var id EntryID
	copy(id[:], stamp[:])
	id[10], id[11] = byte(uv>>8), byte(uv)
	return id
}

// int64Bytes is the 8-byte little-endian form atomic ADD works on.
func int64Bytes(v int64) []byte {
	return binary.LittleEndian.AppendUint64(make([]byte, 0, 8), uint64(v))
}

// one is the parameter of a counter increment.
var one = int64Bytes(1)
