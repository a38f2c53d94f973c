package queue

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/layerkit/layerkit/kv"
)

// StreamOptions configure a Stream handle. The zero value (or nil) gives the defaults.
type StreamOptions struct {
	// Clock gives the time stamped on appended entries and used for idempotency expiry;
	// time.Now when nil.
	Clock func() time.Time
	// IdempotencyRetention is how long an idempotency key is remembered after the append that
	// used it; DefaultIdempotencyRetention (24 hours) when zero.
	IdempotencyRetention time.Duration
}

// Stream is an append-only log at a prefix: entries ordered by the versionstamps of the
// transactions that appended them. A Stream is a handle holding the prefix and options; it does
// no I/O of its own and is safe for concurrent use. Handles on the same prefix, in one process
// or many, see the same stream.
type Stream struct {
	l         layout
	groups    []byte // P+(6)
	trimmed   []byte // P+(7)
	clock     func() time.Time
	retention time.Duration
}

// NewStream returns a handle on the stream at prefix. It fails with an error wrapping
// ErrInvalidArgument for a nil prefix, one in the system keyspace, or negative options.
func NewStream(prefix Prefix, opts *StreamOptions) (*Stream, error) {
	l, err := newLayout(prefix)
	if err != nil {
		return nil, err
	}
	var o StreamOptions
	if opts != nil {
		o = *opts
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.IdempotencyRetention < 0 {
		return nil, fmt.Errorf("%w: negative idempotency retention %v", ErrInvalidArgument, o.IdempotencyRetention)
	}
	if o.IdempotencyRetention == 0 {
		o.IdempotencyRetention = DefaultIdempotencyRetention
	}
	return &Stream{l: l, groups: l.sub(codeGroups), trimmed: l.sub(codeTrimmed), clock: o.Clock, retention: o.IdempotencyRetention}, nil
}

// Prefix returns the stream's prefix bytes. The slice is shared and must not be modified.
func (s *Stream) Prefix() []byte { return s.l.prefix[:len(s.l.prefix):len(s.l.prefix)] }

// AppendOptions are the options of one append. The zero value (or nil) appends unconditionally.
type AppendOptions struct {
	// IdempotencyKey, when not empty, makes the append happen once per key: an append whose
	// key was used by an earlier committed append (within the stream's idempotency retention)
	// writes nothing, and its future resolves at once to the earlier entry's ID.
	IdempotencyKey []byte
}

// Entry is one entry of a stream.
type Entry struct {
	// ID is the entry's place in the stream.
	ID EntryID
	// Time is the appender's clock when it appended the entry, to the millisecond.
	Time time.Time
	// Value is the payload.
	Value []byte
}

// entryFormat is the first byte of every stored entry.
const entryFormat = 1

// maxEntryHeader bounds the bytes before the payload: the format byte and a uvarint time.
const maxEntryHeader = 1 + binary.MaxVarintLen64

// appendEntry appends the stored value of an entry to dst: format byte, uvarint unix
// milliseconds, payload.
func appendEntry(dst []byte, at time.Time, value []byte) []byte {
	dst = append(dst, entryFormat)
	dst = binary.AppendUvarint(dst, uint64(at.UnixMilli()))
	return append(dst, value...)
}

func decodeEntry(id EntryID, v []byte) (Entry, error) {
	if len(v) == 0 || v[0] != entryFormat {
		return Entry{}, fmt.Errorf("%w: entry %s: unknown format", ErrCorrupt, id)
	}
	ms, n := binary.Uvarint(v[1:])
	if n <= 0 || ms > 1<<62 {
		return Entry{}, fmt.Errorf("%w: entry %s: bad time", ErrCorrupt, id)
	}
	return Entry{ID: id, Time: time.UnixMilli(int64(ms)), Value: v[1+n:]}, nil
}

// Append appends value to the stream in t and returns a future of the new entry's ID, which
// resolves once the transaction has committed (the ID is the commit's versionstamp).
//
// Given a transaction, Append writes in it and commits with it: appenders never conflict with
// each other or with readers, so any number of them may append at once. Several appends in one
// transaction keep the order of the calls. The future fails if the transaction does not commit.
//
// Given a database, Append runs its own transaction and retries it, and is safe under
// commit_unknown_result: when no idempotency key is given it uses one of its own for that call,
// so a retry of a commit that was in fact applied appends nothing. The future is then resolved
// when Append returns.
//
// A value whose stored form exceeds kv.MaxValueSize fails with ErrPayloadTooLarge.
func (s *Stream) Append(ctx context.Context, t kv.Transactor, value []byte, opts *AppendOptions) (kv.Future[EntryID], error) {
	if len(value)+maxEntryHeader > kv.MaxValueSize {
		return nil, fmt.Errorf("%w: entry of %d bytes, at most %d fit", ErrPayloadTooLarge, len(value), kv.MaxValueSize-maxEntryHeader)
	}
	var key any
	if opts != nil && opts.IdempotencyKey != nil {
		if len(opts.IdempotencyKey) == 0 {
			return nil, fmt.Errorf("%w: empty idempotency key", ErrInvalidArgument)
		}
		key = opts.IdempotencyKey
	}
	retention := s.retention
	if _, ok := t.(kv.Database); ok && key == nil {
		key, retention = autoKey(), autoKeyRetention
	}
	w, err := kv.Transact(ctx, t, func(tr kv.Transaction) (written, error) {
		return s.append(tr, value, key, retention)
	})
	if err != nil {
		return nil, err
	}
	return w.one(), nil
}

func (s *Stream) append(tr kv.Transaction, value []byte, key any, retention time.Duration) (written, error) {
	now := s.clock()
	w, err := s.l.startWrite(tr, key, 1, now, "append to stream")
	if err != nil || w.found {
		return w, err
	}
	buf := getWriteBuf()
	defer buf.release()
	buf.key = appendStampedKey(buf.key[:0], s.l.items, w.first)
	buf.val = appendEntry(buf.val[:0], now, value)
	tr.Atomic(kv.SetVersionstampedKey, buf.key, buf.val)
	return s.l.finishWrite(tr, key, w, now, retention)
}
