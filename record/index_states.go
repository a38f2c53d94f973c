package record

import (
	"fmt"
	"math"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/tuple"
)

// Index states, builds and former indexes, as the Java Record Layer's FDBRecordStore keeps
// them: the state at S+(5, name) (no key: READABLE), the ranges of primary keys already indexed
// by a build at S+(6, name) (a rangeSet), the build's data at S+(9, name, n), and the removal of
// former indexes' data when a store is opened with newer metadata.

// indexBuildLock is the subkey of S+(9, name) that the Java Record Layer's synchronized build
// sessions lock (IndexingSubspaces.INDEX_BUILD_LOCK_KEY); the other subkeys hold build data.
const (
	indexBuildLock         = 0
	indexBuildScanned      = 1 // IndexingSubspaces.INDEX_BUILD_SCANNED_RECORDS: 8-byte LE count (ADD)
	indexBuildTypeStampKey = 2 // IndexingSubspaces.INDEX_BUILD_TYPE_VERSION: IndexBuildIndexingStamp
)

// indexRangeSet is the range set of index ix's build.
func (s *Store) indexRangeSet(name string) rangeSet {
	return rangeSet{prefix: s.key(keyIndexRange, name)}
}

// subKeyRange is the range of keys strictly under S+(id, name).
func (s *Store) subKeyRange(id int, name string) kv.Range {
	p := s.key(id, name)
	return kv.Range{Begin: append(append([]byte(nil), p...), 0x00), End: append(p, 0xff)}
}

// clearIndexBuildData clears the build data of an index but its lock
// (IndexingSubspaces.eraseAllIndexingDataButTheLockAndRangeSet).
func (s *Store) clearIndexBuildData(name string) {
	r := s.subKeyRange(keyIndexBuild, name)
	r.Begin = s.key(keyIndexBuild, name, int64(indexBuildLock+1))
	s.tr.ClearRange(r)
}

// clearIndexData clears what an index holds: its entries, the range set of its build, its
// uniqueness violations and its build data (FDBRecordStore.clearIndexData).
func (s *Store) clearIndexData(ix *Index) {
	ix.kind.maintainer.clear(s, ix)
	s.indexRangeSet(ix.Name).clear(s.tr)
	s.tr.ClearRange(s.subKeyRange(keyUniqueViolations, ix.Name))
	s.clearIndexBuildData(ix.Name)
}

// changeIndexState moves ix to state in this transaction.
func (s *Store) changeIndexState(ix *Index, state IndexState) error {
	cur := s.states[ix.Name]
	if cur == state {
		return nil
	}
	switch state {
	case Readable:
		missing, err := s.indexRangeSet(ix.Name).missing(s.tr, nil, nil, 1, false)
		if err != nil {
			return err
		}
		if len(missing) > 0 {
			return fmt.Errorf("record: index %q is %v and not built (from %s on); build it (BuildIndex) or rebuild it (RebuildIndex) to make it readable: %w", ix.Name, cur, kv.Printable(missing[0].Begin), ErrIndexNotBuilt)
		}
		s.markBuilt(ix)
		return nil
	case WriteOnly:
		return s.markNotReadable(ix, WriteOnly)
	case Disabled:
		if err := s.markNotReadable(ix, Disabled); err != nil {
			return err
		}
		s.clearIndexData(ix)
		return nil
	}
	return fmt.Errorf("record: index %q: unknown state %d", ix.Name, int(state))
}

// markNotReadable writes a state other than READABLE. Going from READABLE to WRITE_ONLY, it
// records the whole key space as built when the range set is empty (as a READABLE index keeps
// none), so a later build knows the entries are complete (FDBRecordStore.markIndexNotReadable).
// Java records it going to DISABLED too, then clears it with the index's data; this skips both.
func (s *Store) markNotReadable(ix *Index, state IndexState) error {
	key := s.key(keyIndexState, ix.Name)
	if err := s.tr.AddReadConflictKey(key); err != nil {
		return err
	}
	if s.states[ix.Name] == Readable && state == WriteOnly {
		rs := s.indexRangeSet(ix.Name)
		m, err := rs.missing(s.tr, nil, nil, 1, false)
		if err != nil {
			return err
		}
		if len(m) == 1 && string(m[0].Begin) == string(rangeSetFirst) && string(m[0].End) == string(rangeSetFinal) {
			if _, err := rs.insert(s.tr, nil, nil, false); err != nil {
				return err
			}
		}
	}
	s.tr.Set(key, tuple.Tuple{int64(state)}.Pack())
	s.states[ix.Name] = state
	return nil
}

// markBuilt makes ix READABLE and drops the data of its build: the range set and the build data
// but the lock (FDBRecordStore.markIndexReadable, clearReadableIndexBuildData).
func (s *Store) markBuilt(ix *Index) {
	s.tr.Clear(s.key(keyIndexState, ix.Name))
	s.indexRangeSet(ix.Name).clear(s.tr)
	s.clearIndexBuildData(ix.Name)
	s.states[ix.Name] = Readable
}

// removeFormerIndex clears the data of an index the metadata removed: entries, secondary
// space, range set, state, uniqueness violations (FDBRecordStore.removeFormerIndex) and build
// data. Unlike Java it also clears the key S+(2, name) itself, where an ungrouped aggregate
// index keeps its value, and the build data at S+(9, name).
func (s *Store) removeFormerIndex(fi FormerIndex) {
	s.tr.Clear(s.key(keyIndex, fi.Name))
	for _, id := range []int{keyIndex, keyIndexSecondary, keyIndexRange, keyUniqueViolations, keyIndexBuild} {
		s.tr.ClearRange(s.subKeyRange(id, fi.Name))
	}
	s.tr.Clear(s.key(keyIndexState, fi.Name))
}

// upgradeIndexes brings the indexes of a store written with metadata version stored up to the
// current metadata, as FDBRecordStore.checkVersion does: former indexes removed since are
// cleared; each index added or modified since is made READABLE without a build when it covers
// only record types newer than the store, rebuilt in this transaction when the store holds at
// most 200 records (the records the build would scan), or else DISABLED, which is Java's default
// (FDBRecordStore.disabledIfTooManyRecordsForRebuild; Record Layer 3.0 and later).
func (s *Store) upgradeIndexes(stored int) error {
	for _, fi := range s.md.formers {
		if fi.RemovedVersion > stored && fi.AddedVersion <= stored {
			s.removeFormerIndex(fi)
		}
	}
	var changed []*Index
	for _, ix := range s.md.indexes {
		if ix.LastModifiedVersion > stored {
			changed = append(changed, ix)
		}
	}
	count := int64(-1)
	for _, ix := range changed {
		if onNewTypes(ix, stored) {
			s.markBuilt(ix)
			continue
		}
		if count < 0 {
			var err error
			if count, err = s.recordCountForRebuild(changed); err != nil {
				return err
			}
		}
		if count <= maxRecordsForRebuild {
			if err := s.RebuildIndex(ix.Name); err != nil {
				return err
			}
			continue
		}
		if s.states[ix.Name] != Disabled {
			if err := s.markNotReadable(ix, Disabled); err != nil {
				return err
			}
		}
		s.clearIndexData(ix)
	}
	return nil
}

// onNewTypes reports whether every type ix covers is newer than metadata version stored, so the
// store holds no record for it (FDBRecordStore.areAllRecordTypesSince).
func onNewTypes(ix *Index, stored int) bool {
	for _, rt := range ix.types {
		if rt.since == 0 || rt.since <= stored {
			return false
		}
	}
	return true
}

// recordCountForRebuild counts the records a rebuild of indexes would read, or says there are
// too many (FDBRecordStore.getRecordCountForRebuildIndexes): when the indexes are all on one type
// whose primary key starts with its record type key, the records of that type, else all. This
// package keeps no record count yet, so as Java does without one, it only tells an empty range
// (0) from a non-empty one (too many).
func (s *Store) recordCountForRebuild(indexes []*Index) (int64, error) {
	r := s.subRange(keyRecord)
	if rt := singleTypeWithPrefix(indexes); rt != nil {
		p := s.key(keyRecord, rt.typeKey)
		r = kv.Range{Begin: append(append([]byte(nil), p...), 0x00), End: append(p, 0xff)}
	}
	rows, err := s.tr.Snapshot().GetRange(r, kv.RangeOptions{Limit: 1}).GetSlice()
	if err != nil {
		return 0, err
	}
	if len(rows) > 0 {
		return math.MaxInt64, nil
	}
	return 0, nil
}

// singleTypeWithPrefix returns the one record type every index covers alone, when its primary
// key starts with its record type key (FDBRecordStore.singleRecordTypeWithPrefixKey), or nil.
func singleTypeWithPrefix(indexes []*Index) *RecordType {
	var rt *RecordType
	for _, ix := range indexes {
		if len(ix.types) != 1 || (rt != nil && ix.types[0] != rt) {
			return nil
		}
		rt = ix.types[0]
	}
	if rt == nil || !hasTypePrefix(rt) {
		return nil
	}
	return rt
}

func hasTypePrefix(rt *RecordType) bool {
	if len(rt.pkColumns) == 0 {
		return false
	}
	_, ok := rt.pkColumns[0].(recordTypeExpr)
	return ok
}
