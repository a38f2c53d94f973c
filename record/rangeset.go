package record

import (
	"bytes"
	"fmt"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/tuple"
)

// rangeSet is the Java Record Layer's RangeSet (fdb-extensions, com.apple.foundationdb.async
// .RangeSet): a set of byte ranges [begin, end) kept under a prefix, one key per inserted range:
// prefix + pack((begin)) → end (the raw bytes). Ranges lie within [0x00, 0xff). An index build
// keeps in one, at S+(6, index name), the ranges of packed primary keys already indexed
// (IndexingRangeSet.forIndexBuild).
//
// Its reads and conflict ranges are Java's, so builders of both implementations can share one.
type rangeSet struct {
	prefix []byte
}

var (
	rangeSetFirst = []byte{0x00}
	rangeSetFinal = []byte{0xff}
)

func (r rangeSet) key(b []byte) []byte {
	k, _ := tuple.Tuple{b}.AppendPack(append(make([]byte, 0, len(r.prefix)+len(b)+3), r.prefix...))
	return k
}

// all is the range of the set's own keys (Java's subspace.range()).
func (r rangeSet) all() kv.Range {
	return kv.Range{Begin: append(append([]byte(nil), r.prefix...), 0x00), End: append(append([]byte(nil), r.prefix...), 0xff)}
}

// unpackBegin decodes the begin of the range stored under key.
func (r rangeSet) unpackBegin(key []byte) ([]byte, error) {
	t, err := tuple.Unpack(key[len(r.prefix):])
	if err == nil && len(t) == 1 {
		if b, ok := t[0].([]byte); ok {
			return b, nil
		}
	}
	return nil, fmt.Errorf("record: range set key %s is not a packed byte string: %w", kv.Printable(key), ErrCorruptStore)
}

// keyAfter is the first key after k (Java's RangeSet.keyAfter).
func keyAfter(k []byte) []byte { return append(append(make([]byte, 0, len(k)+1), k...), 0x00) }

func checkRangeSetBounds(begin, end []byte) error {
	if len(begin) == 0 || bytes.Compare(begin, rangeSetFinal) >= 0 {
		return fmt.Errorf("record: range set key %s outside [\\x00, \\xff)", kv.Printable(begin))
	}
	if bytes.Compare(begin, end) > 0 {
		return fmt.Errorf("record: inverted range set range %s … %s", kv.Printable(begin), kv.Printable(end))
	}
	return nil
}

// contains reports whether key lies in a range of the set. It adds a read conflict on key's
// place in the set only, so a concurrent insert of a range that covers key conflicts with it
// (RangeSet.contains).
func (r rangeSet) contains(tr kv.Transaction, key []byte) (bool, error) {
	if err := checkRangeSetBounds(key, key); err != nil {
		return false, err
	}
	k := r.key(key)
	if err := tr.AddReadConflictKey(k); err != nil {
		return false, err
	}
	rows, err := tr.Snapshot().GetRange(kv.Range{Begin: r.all().Begin, End: keyAfter(k)}, kv.RangeOptions{Limit: 1, Reverse: true}).GetSlice()
	if err != nil || len(rows) == 0 {
		return false, err
	}
	return bytes.Compare(key, rows[0].Value) < 0, nil
}

// insert adds [begin, end) (nil: the start or the end of the set) and reports whether it
// changed the set. With requireEmpty it changes nothing unless no part of the range is in the
// set yet; otherwise it fills the gaps. It reads with a conflict on the range and adds write
// conflicts for what it writes (RangeSet.insertRange).
func (r rangeSet) insert(tr kv.Transaction, begin, end []byte, requireEmpty bool) (bool, error) {
	if begin == nil {
		begin = rangeSetFirst
	}
	if end == nil {
		end = rangeSetFinal
	}
	if err := checkRangeSetBounds(begin, end); err != nil {
		return false, err
	}
	if bytes.Equal(begin, end) {
		return false, nil
	}
	fb, fe := r.key(begin), r.key(end)
	if err := tr.AddReadConflictRange(kv.Range{Begin: fb, End: fe}); err != nil {
		return false, err
	}
	snap := tr.Snapshot()
	afterBegin := keyAfter(fb)
	limit := 0
	if requireEmpty {
		limit = 1
	}
	beforeF := snap.GetRange(kv.Range{Begin: r.all().Begin, End: afterBegin}, kv.RangeOptions{Limit: 1, Reverse: true})
	afterF := snap.GetRange(kv.Range{Begin: afterBegin, End: fe}, kv.RangeOptions{Limit: limit})
	before, err := beforeF.GetSlice()
	if err != nil {
		return false, err
	}
	after, err := afterF.GetSlice()
	if err != nil {
		return false, err
	}
	lastSeen := fb
	if len(before) > 0 && bytes.Compare(begin, before[0].Value) < 0 {
		// The range before begin already covers it.
		if requireEmpty {
			return false, nil
		}
		lastSeen = r.key(before[0].Value)
	}
	if requireEmpty {
		if len(after) > 0 {
			return false, nil
		}
		if len(before) > 0 && bytes.Equal(begin, before[0].Value) {
			// Extend the range that ends where this one begins: a single builder going forward
			// keeps one key.
			if err := tr.AddReadConflictKey(before[0].Key); err != nil {
				return false, err
			}
			tr.Set(before[0].Key, end)
		} else {
			tr.Set(fb, end)
		}
		return true, tr.AddWriteConflictRange(kv.Range{Begin: fb, End: fe})
	}
	changed := false
	for _, kvp := range after {
		if bytes.Compare(lastSeen, kvp.Key) < 0 {
			b, err := r.unpackBegin(kvp.Key)
			if err != nil {
				return false, err
			}
			tr.Set(lastSeen, b)
			if err := tr.AddWriteConflictRange(kv.Range{Begin: lastSeen, End: kvp.Key}); err != nil {
				return false, err
			}
			changed = true
		}
		lastSeen = r.key(kvp.Value)
	}
	if bytes.Compare(lastSeen, fe) < 0 {
		tr.Set(lastSeen, end)
		if err := tr.AddWriteConflictRange(kv.Range{Begin: lastSeen, End: fe}); err != nil {
			return false, err
		}
		changed = true
	}
	return changed, nil
}

// missing returns up to limit (0: all) ranges within [begin, end) (nil: the start or end of the
// set) that the set lacks, in order. Unless snapshot, it adds a read conflict on [begin, end)
// (RangeSet.missingRanges).
func (r rangeSet) missing(tr kv.ReadTransaction, begin, end []byte, limit int, snapshot bool) ([]kv.Range, error) {
	if begin == nil {
		begin = rangeSetFirst
	}
	if end == nil {
		end = rangeSetFinal
	}
	if err := checkRangeSetBounds(begin, end); err != nil {
		return nil, err
	}
	fb, fe := r.key(begin), r.key(end)
	if !snapshot {
		t, ok := tr.(kv.Transaction)
		if !ok {
			return nil, fmt.Errorf("record: a range set read with conflicts needs a read-write transaction")
		}
		if err := t.AddReadConflictRange(kv.Range{Begin: fb, End: fe}); err != nil {
			return nil, err
		}
	}
	snap := tr.Snapshot()
	beforeF := snap.GetRange(kv.Range{Begin: r.all().Begin, End: keyAfter(fb)}, kv.RangeOptions{Limit: 1, Reverse: true})
	it := snap.GetRange(kv.Range{Begin: keyAfter(fb), End: fe}, kv.RangeOptions{}).Iterator()
	before, err := beforeF.GetSlice()
	if err != nil {
		return nil, err
	}
	cur := begin
	if len(before) > 0 && bytes.Compare(begin, before[0].Value) < 0 {
		cur = before[0].Value
	}
	var out []kv.Range
	for it.Next() && (limit <= 0 || len(out) < limit) {
		kvp := it.KeyValue()
		nb, err := r.unpackBegin(kvp.Key)
		if err != nil {
			return nil, err
		}
		if bytes.Compare(cur, nb) < 0 {
			out = append(out, kv.Range{Begin: cur, End: nb})
		}
		cur = kvp.Value
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	if (limit <= 0 || len(out) < limit) && bytes.Compare(cur, end) < 0 {
		out = append(out, kv.Range{Begin: cur, End: end})
	}
	return out, nil
}

// isEmpty reports whether no range was ever inserted (RangeSet.isEmpty), with a read conflict
// on the whole set.
func (r rangeSet) isEmpty(tr kv.Transaction) (bool, error) {
	m, err := r.missing(tr, nil, nil, 1, false)
	if err != nil {
		return false, err
	}
	return len(m) == 1 && bytes.Equal(m[0].Begin, rangeSetFirst) && bytes.Equal(m[0].End, rangeSetFinal), nil
}

func (r rangeSet) clear(tr kv.Transaction) { tr.ClearRange(r.all()) }
