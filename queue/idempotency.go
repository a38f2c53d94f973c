package queue

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/tuple"
)

// DefaultIdempotencyRetention is how long an idempotency key is remembered unless the options
// say otherwise.
const DefaultIdempotencyRetention = 24 * time.Hour

// autoKeyRetention is how long the key a call on a database draws for itself is kept: it only
// has to outlive that call's retry loop.
const autoKeyRetention = 10 * time.Minute

// sweepPerWrite is how many expired idempotency records each write that uses a key removes,
// more than the one it adds, so expired records never pile up.
const sweepPerWrite = 2

// idempotency keeps idempotency records: P+(4, key) → the 12-byte ID the first write got, the
// 8-byte big-endian unix millisecond it expires and, for a write of more than one item (an
// EnqueueMany), their 4-byte big-endian count, and P+(5, expires, key) → "" to find the expired
// ones. A user's key packs as a byte string; a key a call on a database draws for
// itself (to survive its own retries) packs as a UUID, so the two never meet.
type idempotency struct {
	records []byte // P+(4)
	expiry  []byte // P+(5)
	swept   *sweepHint
	// counted is set for a queue, whose records may count several messages; a stream's never do.
	counted bool
}

// sweepHint remembers up to which expiry time this handle's sweeps have cleared the expiry
// index, so that the next sweep starts there rather than stepping over the tombstones of every
// record swept before (see laneHints for why that matters in an LSM engine). It is safe
// because a record written later expires at its writer's now plus the retention, later than
// any time a sweep has reached (the sweep stops at its own now); a hint older than hintTTL is
// not used, which bounds the harm of a clock that stepped back.
type sweepHint struct {
	mu    sync.Mutex
	at    int64
	taken time.Time
}

func (h *sweepHint) from() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.taken.IsZero() || time.Since(h.taken) > hintTTL {
		return math.MinInt64
	}
	return h.at
}

func (h *sweepHint) note(started, reached int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if started == math.MinInt64 || h.taken.IsZero() {
		h.taken = time.Now()
	}
	h.at = reached
}

// idemValueLen is the length of a record's value for one item; a record for more has
// idemCountLen bytes more.
const (
	idemValueLen = 12 + 8
	idemCountLen = 4
)

// keyString prints an idempotency key for errors: a caller's key quoted, a drawn one as its
// UUID.
func keyString(key any) string {
	if b, ok := key.([]byte); ok {
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprint(key)
}

// autoKey returns a fresh key for a call on a database.
func autoKey() any { return tuple.UUID(uuid.New()) }

func (s idempotency) recordKey(key any) []byte {
	out, err := tuple.Tuple{key}.AppendPack(bytes.Clone(s.records))
	if err != nil {
		panic(fmt.Sprintf("queue: idempotency key %v: %v", key, err)) // []byte and UUID always pack
	}
	return out
}

func (s idempotency) expiryKey(expires int64, key any) []byte {
	out, err := tuple.Tuple{expires, key}.AppendPack(bytes.Clone(s.expiry))
	if err != nil {
		panic(fmt.Sprintf("queue: idempotency key %v: %v", key, err))
	}
	return out
}

// lookup returns the first ID and the count of the items remembered for key, if any and not
// expired at now (unix ms). It reads the record with a read conflict, so that two writers with
// one key serialise. An expired record counts as absent; its expiry entry is cleared, as
// remember will overwrite the record.
func (s idempotency) lookup(tr kv.Transaction, key any, now int64) (EntryID, int, bool, error) {
	v, err := tr.Get(s.recordKey(key)).Get()
	if errors.Is(err, kv.ErrAccessedUnreadable) {
		return EntryID{}, 0, false, fmt.Errorf("%w: %s", ErrKeyUsedTwice, keyString(key))
	}
	if err != nil || v == nil {
		return EntryID{}, 0, false, err
	}
	id, expires, n, err := s.decode(v)
	if err != nil {
		return EntryID{}, 0, false, fmt.Errorf("idempotency key %s: %w", keyString(key), err)
	}
	if expires <= now {
		tr.Clear(s.expiryKey(expires, key))
		return EntryID{}, 0, false, nil
	}
	return id, n, true, nil
}

// remember records that key's write got the n IDs of this transaction's versionstamp with user
// versions from uv, until expires (unix ms).
func (s idempotency) remember(tr kv.Transaction, key any, uv uint16, n int, expires int64) {
	size := idemValueLen
	if n > 1 {
		size += idemCountLen
	}
	param := make([]byte, size+4)
	binary.BigEndian.PutUint16(param[10:], uv)
	binary.BigEndian.PutUint64(param[12:], uint64(expires))
	if n > 1 {
		binary.BigEndian.PutUint32(param[idemValueLen:], uint32(n))
	}
	// The last four bytes, the versionstamp's offset, stay 0: it fills the first ten.
	tr.Atomic(kv.SetVersionstampedValue, s.recordKey(key), param)
	tr.Set(s.expiryKey(expires, key), nil)
}

// sweep removes up to n records that expired before now (unix ms). It reads with snapshot
// reads and clears the record with a compare-and-clear of the value it read, so it adds no
// read conflicts: concurrent sweepers never conflict, and a record rewritten meanwhile (an
// expired key used again) keeps its new value.
func (s idempotency) sweep(tr kv.Transaction, now int64, n int) error {
	started := s.swept.from()
	begin, _ := tuple.Tuple{started}.AppendPack(bytes.Clone(s.expiry))
	end, _ := tuple.Tuple{now}.AppendPack(bytes.Clone(s.expiry))
	snap := tr.Snapshot()
	rows, err := snap.GetRange(kv.Range{Begin: begin, End: end}, kv.RangeOptions{Limit: n}).GetSlice()
	if err != nil {
		return err
	}
	reached := now
	if len(rows) == n {
		reached = math.MinInt64 // set from the last row below
	}
	for _, row := range rows {
		expires, key, err := s.decodeExpiry(row.Key)
		if err != nil {
			return err
		}
		rk := s.recordKey(key)
		v, err := snap.Get(rk).Get()
		if err != nil {
			return err
		}
		if v != nil {
			if _, exp, _, err := s.decode(v); err == nil && exp == expires {
				tr.Atomic(kv.CompareAndClear, rk, v)
			}
		}
		tr.Clear(row.Key)
		if len(rows) == n {
			reached = expires
		}
	}
	s.swept.note(started, reached)
	return nil
}

// decodeExpiry splits an expiry key into its time and key element.
func (s idempotency) decodeExpiry(k []byte) (int64, any, error) {
	t, err := tuple.Unpack(k[len(s.expiry):])
	if err != nil || len(t) != 2 {
		return 0, nil, fmt.Errorf("%w: idempotency expiry key %s", ErrCorrupt, kv.Printable(k))
	}
	expires, ok := t[0].(int64)
	if !ok {
		return 0, nil, fmt.Errorf("%w: idempotency expiry key %s", ErrCorrupt, kv.Printable(k))
	}
	switch t[1].(type) {
	case []byte, tuple.UUID:
		return expires, t[1], nil
	}
	return 0, nil, fmt.Errorf("%w: idempotency expiry key %s", ErrCorrupt, kv.Printable(k))
}

// decode splits a record into the first ID, the expiry and the count of items.
func (s idempotency) decode(v []byte) (EntryID, int64, int, error) {
	var id EntryID
	n := 1
	switch {
	case len(v) == idemValueLen:
	case len(v) == idemValueLen+idemCountLen && s.counted:
		n = int(binary.BigEndian.Uint32(v[idemValueLen:]))
		if n < 2 || n > maxUserVersions || int(binary.BigEndian.Uint16(v[10:12]))+n > maxUserVersions {
			return id, 0, 0, fmt.Errorf("%w: idempotency record for %d items from user version %d", ErrCorrupt, n, binary.BigEndian.Uint16(v[10:12]))
		}
	case s.counted:
		return id, 0, 0, fmt.Errorf("%w: idempotency record of %d bytes, want %d or %d", ErrCorrupt, len(v), idemValueLen, idemValueLen+idemCountLen)
	default:
		return id, 0, 0, fmt.Errorf("%w: idempotency record of %d bytes, want %d", ErrCorrupt, len(v), idemValueLen)
	}
	copy(id[:], v)
	return id, int64(binary.BigEndian.Uint64(v[12:])), n, nil
}

// checkIdempotency verifies that records and expiry entries pair up one to one.
func (s idempotency) check(tr kv.ReadTransaction, report func(error) bool) error {
	recs, err := tr.GetRange(subRange(s.records), kv.RangeOptions{Mode: kv.StreamingWantAll}).GetSlice()
	if err != nil {
		return err
	}
	exps, err := tr.GetRange(subRange(s.expiry), kv.RangeOptions{Mode: kv.StreamingWantAll}).GetSlice()
	if err != nil {
		return err
	}
	want := make(map[string]bool, len(recs))
	for _, r := range recs {
		t, err := tuple.Unpack(r.Key[len(s.records):])
		if err != nil || len(t) != 1 {
			if !report(fmt.Errorf("idempotency record key %s does not decode", kv.Printable(r.Key))) {
				return nil
			}
			continue
		}
		_, expires, _, err := s.decode(r.Value)
		if err != nil {
			if !report(fmt.Errorf("idempotency key %s: %v", keyString(t[0]), err)) {
				return nil
			}
			continue
		}
		want[string(s.expiryKey(expires, t[0]))] = true
	}
	for _, e := range exps {
		if !want[string(e.Key)] {
			if !report(fmt.Errorf("idempotency expiry entry %s has no record with that expiry", kv.Printable(e.Key))) {
				return nil
			}
			continue
		}
		delete(want, string(e.Key))
	}
	for k := range want {
		if !report(fmt.Errorf("idempotency record lacks its expiry entry %s", kv.Printable([]byte(k)))) {
			return nil
		}
	}
	return nil
}
