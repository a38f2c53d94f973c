package record

import (
	"fmt"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/tuple"
)

// Reading aggregate indexes (the Java Record Layer's evaluateAggregateFunction): the value of
// one group is one read of S+(2, name)+group; a shorter prefix of the group columns combines the
// groups under it with one range read.

// ErrNoAggregateIndex is returned when no readable index can answer an aggregate question, such
// as a record count without a COUNT index or record count key.
var ErrNoAggregateIndex = fmt.Errorf("record: no readable index answers this aggregate: %w", ErrInvalidQuery)

// aggregateIndex returns the named aggregate index of one of types, readable in this store.
func (s *Store) aggregateIndex(name string, types ...IndexType) (*Index, error) {
	ix := s.md.byIndex[name]
	if ix == nil {
		return nil, fmt.Errorf("record: index %q: %w", name, ErrUnknownIndex)
	}
	ok := false
	for _, t := range types {
		ok = ok || ix.Type == t
	}
	if !ok {
		return nil, fmt.Errorf("record: index %q is a %s index, which does not answer this aggregate: %w", name, ix.Type, ErrInvalidQuery)
	}
	if st := s.states[name]; !st.Scannable() {
		return nil, fmt.Errorf("record: index %q is %v: %w", name, st, ErrIndexNotReadable)
	}
	return ix, nil
}

// groupRows reads the stored aggregates of group, or of every group it is a prefix of.
func (s *Store) groupRows(ix *Index, group tuple.Tuple) ([]kv.KeyValue, error) {
	g := ix.Expression.(groupingExpr)
	if len(group) > g.GroupingCount() {
		return nil, fmt.Errorf("record: index %q has %d group columns, got %v: %w", ix.Name, g.GroupingCount(), group, ErrInvalidQuery)
	}
	key, err := group.AppendPack(append([]byte(nil), s.ixKeys[ix.Name]...))
	if err != nil {
		return nil, fmt.Errorf("record: index %q group %v: %v: %w", ix.Name, group, err, ErrInvalidQuery)
	}
	if len(group) == g.GroupingCount() {
		v, err := s.tr.Get(key).Get()
		if err != nil || v == nil {
			return nil, err
		}
		return []kv.KeyValue{{Key: key, Value: v}}, nil
	}
	return s.tr.GetRange(kv.Range{Begin: key, End: strincOrEnd(key)}, kv.RangeOptions{Mode: kv.StreamingWantAll}).GetSlice()
}

// Count returns the value of a COUNT, COUNT_NOT_NULL or COUNT_UPDATES index for group: one read
// when group holds every group column, the sum over the groups it prefixes otherwise (an empty
// group: all of them).
func (s *Store) Count(index string, group tuple.Tuple) (int64, error) {
	ix, err := s.aggregateIndex(index, CountIndex, CountNotNullIndex, CountUpdatesIndex)
	if err != nil {
		return 0, err
	}
	return s.sumRows(ix, group)
}

// Sum returns the value of a SUM index for group, as Count does for counts.
func (s *Store) Sum(index string, group tuple.Tuple) (int64, error) {
	ix, err := s.aggregateIndex(index, SumIndex)
	if err != nil {
		return 0, err
	}
	return s.sumRows(ix, group)
}

func (s *Store) sumRows(ix *Index, group tuple.Tuple) (int64, error) {
	rows, err := s.groupRows(ix, group)
	if err != nil {
		return 0, err
	}
	total, err := sumCounters(rows)
	if err != nil {
		return 0, fmt.Errorf("record: index %q: %w", ix.Name, err)
	}
	return total, nil
}

// sumCounters adds up 8-byte little-endian counters.
func sumCounters(rows []kv.KeyValue) (int64, error) {
	var total int64
	for _, r := range rows {
		n, err := decodeInt64(r.Value)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// MinEver returns the smallest value a MIN_EVER_LONG or MIN_EVER_TUPLE index saw for group (or
// the groups it prefixes), as a tuple of the grouped columns; ok is false when it saw none.
func (s *Store) MinEver(index string, group tuple.Tuple) (value tuple.Tuple, ok bool, err error) {
	return s.extreme(index, group, -1, MinEverLongIndex, MinEverTupleIndex)
}

// MaxEver returns the largest value a MAX_EVER_LONG, MAX_EVER_TUPLE or MAX_EVER_VERSION index saw
// for group (or the groups it prefixes); ok is false when it saw none.
func (s *Store) MaxEver(index string, group tuple.Tuple) (value tuple.Tuple, ok bool, err error) {
	return s.extreme(index, group, 1, MaxEverLongIndex, MaxEverTupleIndex, MaxEverVersionIndex)
}

func (s *Store) extreme(index string, group tuple.Tuple, sign int, types ...IndexType) (tuple.Tuple, bool, error) {
	ix, err := s.aggregateIndex(index, types...)
	if err != nil {
		return nil, false, err
	}
	rows, err := s.groupRows(ix, group)
	if err != nil {
		return nil, false, err
	}
	var best tuple.Tuple
	for _, r := range rows {
		var v tuple.Tuple
		if ix.Type == MinEverLongIndex || ix.Type == MaxEverLongIndex {
			n, err := decodeInt64(r.Value)
			if err != nil {
				return nil, false, fmt.Errorf("record: index %q: %w", ix.Name, err)
			}
			v = tuple.Tuple{n}
		} else if v, err = tuple.Unpack(r.Value); err != nil {
			return nil, false, fmt.Errorf("record: index %q value %x: %v: %w", ix.Name, r.Value, err, ErrCorruptStore)
		}
		if best == nil || tuple.Compare(v, best)*sign > 0 {
			best = v
		}
	}
	return best, best != nil, nil
}

// RecordCount returns the number of records in the store, read as the Java Record Layer
// recommends, from a COUNT index over every record type: one without groups (one read), or one
// grouped by RecordTypeKey (one read per type). Without such an index it uses the store's record
// count key, and without that it fails with ErrNoAggregateIndex.
func (s *Store) RecordCount() (int64, error) {
	if ix := s.countIndex(nil); ix != nil {
		return s.sumRows(ix, nil)
	}
	if s.countKeyReadable() {
		base := s.key(keyRecordCount)
		rows, err := s.tr.GetRange(kv.Range{Begin: base, End: strincOrEnd(base)}, kv.RangeOptions{Mode: kv.StreamingWantAll}).GetSlice()
		if err != nil {
			return 0, err
		}
		return sumCounters(rows)
	}
	return 0, fmt.Errorf("record: store has no COUNT index over all record types and no record count key: %w", ErrNoAggregateIndex)
}

// RecordCountOfType returns the number of records of one type: from a COUNT index on that type
// alone without groups, or one over all types grouped by RecordTypeKey.
func (s *Store) RecordCountOfType(name string) (int64, error) {
	rt := s.md.byName[name]
	if rt == nil {
		return 0, fmt.Errorf("record: unknown record type %q: %w", name, ErrUnknownRecordType)
	}
	if ix := s.countIndex(rt); ix != nil {
		g := ix.Expression.(groupingExpr)
		if g.GroupingCount() == 0 {
			return s.sumRows(ix, nil)
		}
		return s.sumRows(ix, tuple.Tuple{rt.typeKey})
	}
	return 0, fmt.Errorf("record: no COUNT index counts records of type %s: %w", name, ErrNoAggregateIndex)
}

// countIndex finds a readable COUNT index that counts the records of rt (nil: of every type):
// ungrouped over exactly those types, or grouped by the record type key alone over all types.
func (s *Store) countIndex(rt *RecordType) *Index {
	var byType *Index
	for _, ix := range s.md.indexes {
		if ix.Type != CountIndex || !s.states[ix.Name].Scannable() {
			continue
		}
		g := ix.Expression.(groupingExpr)
		all := len(ix.types) == len(s.md.types)
		switch {
		case g.GroupingCount() == 0 && rt == nil && all,
			g.GroupingCount() == 0 && rt != nil && len(ix.types) == 1 && ix.types[0] == rt:
			return ix
		case g.GroupingCount() == 1 && all:
			if _, ok := g.whole.flatten(nil)[0].(recordTypeExpr); ok && byType == nil {
				byType = ix
			}
		}
	}
	return byType
}
