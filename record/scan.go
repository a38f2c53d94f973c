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
type grouper struct {
	records  []byte
	reverse  bool
	noSuffix bool   // the store omits the unsplit suffix: each row is a whole record
	cur      []byte // key prefix of the current primary key
	pk       tuple.Tuple
	rows     []kv.KeyValue
	curBytes int
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
	pkPrefix, pk, err := splitRecordKey(g.records, r.Key)
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
	g.rows = append(g.rows, r)
	g.curBytes += len(r.Key) + len(r.Value)
	return done, nil
}

// addWhole takes a row that is a whole record, stored without a suffix.
func (g *grouper) addWhole(r kv.KeyValue) (*rawRecord, error) {
	pk, err := tuple.Unpack(r.Key[len(g.records):])
	if err != nil || len(pk) == 0 {
		return nil, fmt.Errorf("record: record key %s is not a primary key: %w", kv.Printable(r.Key), ErrCorruptStore)
	}
	return &rawRecord{pk: pk, raw: r.Value, prefix: r.Key, bytes: len(r.Key) + len(r.Value)}, nil
}

// flush returns the record of the rows collected so far (nil if none, or only a version row).
func (g *grouper) flush() (*rawRecord, error) {
	if g.cur == nil {
		return nil, nil
	}
	if g.reverse {
		slices.Reverse(g.rows)
	}
	raw, err := assemble(g.pk, g.cur, g.rows)
	if raw != nil {
		raw.prefix, raw.bytes = g.cur, g.curBytes
	}
	g.cur, g.pk, g.rows, g.curBytes = nil, nil, nil, 0
	return raw, err
}

// splitRecordKey splits S+(1)+pk+(suffix) into S+(1)+pk and pk.
func splitRecordKey(records, key []byte) ([]byte, tuple.Tuple, error) {
	t, err := tuple.Unpack(key[len(records):])
	if err != nil || len(t) < 2 {
		return nil, nil, fmt.Errorf("record: record key %s is not a primary key and suffix: %w", kv.Printable(key), ErrCorruptStore)
	}
	suffix := tuple.Tuple{t[len(t)-1]}.Pack()
	return key[:len(key)-len(suffix)], t[:len(t)-1], nil
}
