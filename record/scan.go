package record

import (
	"fmt"
	"slices"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/tuple"
)

// scanAllRecords calls fn for every record of the store in primary-key order.
func (s *Store) scanAllRecords(fn func(*Record) error) error {
	it := s.tr.GetRange(s.subRange(keyRecord), kv.RangeOptions{Mode: kv.StreamingWantAll}).Iterator()
	g := s.newGrouper(false)
	for it.Next() {
		raw, err := g.add(it.KeyValue())
		if err != nil {
			return err
		}
		if raw != nil {
			rec, err := s.decode(raw)
			if err != nil {
				return err
			}
			if err := fn(rec); err != nil {
				return err
			}
		}
	}
	if err := it.Err(); err != nil {
		return err
	}
	raw, err := g.flush()
	if err != nil || raw == nil {
		return err
	}
	rec, err := s.decode(raw)
	if err != nil {
		return err
	}
	return fn(rec)
}

// grouper assembles records from the rows of a scan of the record extent, in either direction.
// The *rawRecord that add and flush return is the grouper's own and is overwritten by the next
// call: a caller decodes it (or copies what it needs) before adding another row.
type grouper struct {
	records  []byte
	reverse  bool
	noSuffix bool   // the store omits the unsplit suffix: each row is a whole record
	cur      []byte // key prefix of the current primary key
	pk       tuple.Tuple
	rows     []kv.KeyValue
	suffixes []any // the suffix element of each row, decoded once
	curBytes int
	out      rawRecord
}

// newGrouper returns a grouper for a scan of the store's record extent.
func (s *Store) newGrouper(reverse bool) grouper {
	return grouper{records: s.records, reverse: reverse, noSuffix: s.omitsUnsplitSuffix()}
}

// add takes the next row and returns the previous record when the row starts a new one.
func (g *grouper) add(r kv.KeyValue) (*rawRecord, error) {
	if g.noSuffix {
		return g.addWhole(r)
	}
	if g.cur != nil && len(r.Key) > len(g.cur) && string(r.Key[:len(g.cur)]) == string(g.cur) {
		// Another row of the current record (a chunk or its version) is its key and one
		// element: decode that element only.
		if t, err := tuple.Unpack(r.Key[len(g.cur):]); err == nil && len(t) == 1 {
			g.push(r, t[0])
			return nil, nil
		}
	}
	pkPrefix, pk, suffix, err := splitRecordKey(g.records, r.Key)
	if err != nil {
		return nil, err
	}
	var done *rawRecord
	if g.cur != nil && string(pkPrefix) != string(g.cur) {
		if done, err = g.flush(); err != nil {
			return nil, err
		}
	}
	if g.cur == nil {
		g.cur, g.pk = pkPrefix, pk
	}
	g.push(r, suffix)
	return done, nil
}

// push adds a row of the current record and its decoded suffix element.
func (g *grouper) push(r kv.KeyValue, suffix any) {
	g.rows = append(g.rows, r)
	g.suffixes = append(g.suffixes, suffix)
	g.curBytes += len(r.Key) + len(r.Value)
}

// addWhole takes a row that is a whole record, stored without a suffix.
func (g *grouper) addWhole(r kv.KeyValue) (*rawRecord, error) {
	pk, err := tuple.Unpack(r.Key[len(g.records):])
	if err != nil || len(pk) == 0 {
		return nil, fmt.Errorf("record: record key %s is not a primary key: %w", kv.Printable(r.Key), ErrCorruptStore)
	}
	g.out = rawRecord{pk: pk, raw: r.Value, prefix: r.Key, bytes: len(r.Key) + len(r.Value)}
	return &g.out, nil
}

// flush returns the record of the rows collected so far (nil if none, or only a version row).
func (g *grouper) flush() (*rawRecord, error) {
	if g.cur == nil {
		return nil, nil
	}
	if g.reverse {
		slices.Reverse(g.rows)
		slices.Reverse(g.suffixes)
	}
	var raw *rawRecord
	found, err := assembleInto(&g.out, g.pk, g.cur, g.rows, g.suffixes)
	if found {
		g.out.prefix, g.out.bytes = g.cur, g.curBytes
		raw = &g.out
	}
	clear(g.rows)
	clear(g.suffixes)
	g.cur, g.pk, g.rows, g.suffixes, g.curBytes = nil, nil, g.rows[:0], g.suffixes[:0], 0
	return raw, err
}

// splitRecordKey splits S+(1)+pk+(suffix) into S+(1)+pk, pk and the suffix element.
func splitRecordKey(records, key []byte) ([]byte, tuple.Tuple, any, error) {
	t, err := tuple.Unpack(key[len(records):])
	if err != nil || len(t) < 2 {
		return nil, nil, nil, fmt.Errorf("record: record key %s is not a primary key and suffix: %w", kv.Printable(key), ErrCorruptStore)
	}
	last := t[len(t)-1]
	n := tuple.Tuple{last}.PackedSize()
	return key[:len(key)-n], t[: len(t)-1 : len(t)-1], last, nil
}
