package record

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/layerkit/layerkit/kv"
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

// clearIndexData clears what an index holds: its entries (through its maintainer), its
// secondary space, the range set of its build, its uniqueness violations and its build data but
// the lock (FDBRecordStore.clearIndexData).
func (s *Store) clearIndexData(ix *Index) {
	ix.kind.maintainer.clear(s, ix)
	s.tr.ClearRange(s.subKeyRange(keyIndexSecondary, ix.Name))
	s.indexRangeSet(ix.Name).clear(s.tr)
	s.tr.ClearRange(s.subKeyRange(keyUniqueViolations, ix.Name))
	s.tr.ClearRange(s.subKeyRange(keySlidingWindow, ix.Name))
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
		_, err := s.markReadable(ix, false)
		return err
	case WriteOnly:
		return s.markNotReadable(ix, WriteOnly)
	case Disabled:
		if err := s.markNotReadable(ix, Disabled); err != nil {
			return err
		}
		s.clearIndexData(ix)
		return nil
	}
	return fmt.Errorf("record: index %q cannot be set to %v this way", ix.Name, state)
}

// markReadable makes a built index READABLE (FDBRecordStore.markIndexReadable): its build's range
// set must cover every record, and a unique index must have no uniqueness violations recorded,
// unless allowPending, which then makes it READABLE_UNIQUE_PENDING
// (markIndexReadableOrUniquePending). It returns the state it set.
func (s *Store) markReadable(ix *Index, allowPending bool) (IndexState, error) {
	cur := s.states[ix.Name]
	missing, err := s.indexRangeSet(ix.Name).missing(s.tr, nil, nil, 1, false)
	if err != nil {
		return cur, err
	}
	if len(missing) > 0 {
		return cur, fmt.Errorf("record: index %q is %v and not built (from %s on); build it (BuildIndex) or rebuild it (RebuildIndex) to make it readable: %w", ix.Name, cur, kv.Printable(missing[0].Begin), ErrIndexNotBuilt)
	}
	if ix.Unique {
		vs, err := s.UniquenessViolations(ix.Name, 1)
		if err != nil {
			return cur, err
		}
		if len(vs) > 0 {
			if !allowPending {
				return cur, &UniqueViolationError{Index: ix.Name, Values: vs[0].Values, Existing: vs[0].Other, New: vs[0].PrimaryKey}
			}
			// The build data stays until the violations are resolved.
			if cur != ReadableUniquePending {
				s.writeIndexState(ix, ReadableUniquePending)
			}
			return ReadableUniquePending, nil
		}
	}
	s.markBuilt(ix)
	return Readable, nil
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
		empty, err := rs.isEmpty(s.tr)
		if err != nil {
			return err
		}
		if empty {
			if _, err := rs.insert(s.tr, nil, nil, false); err != nil {
				return err
			}
		}
	}
	s.writeIndexState(ix, state)
	return nil
}

// markBuilt makes ix READABLE and drops the data of its build: the range set and the build data
// but the lock (FDBRecordStore.markIndexReadable, clearReadableIndexBuildData).
func (s *Store) markBuilt(ix *Index) {
	s.writeIndexState(ix, Readable)
	s.indexRangeSet(ix.Name).clear(s.tr)
	s.clearIndexBuildData(ix.Name)
}

// builtPredicate returns, for a WRITE_ONLY index, what tells whether a record (by its packed
// primary key) is in a range its build covered; nil for any other state, where every record
// counts. A build in progress leaves the records it has not reached without entries, or (for
// idempotent index types, which saves maintain anywhere) with entries only when saved since.
func (s *Store) builtPredicate(ix *Index) (func(pk []byte) bool, error) {
	if s.states[ix.Name] != WriteOnly {
		return nil, nil
	}
	missing, err := s.indexRangeSet(ix.Name).missing(s.tr, nil, nil, 0, true)
	if err != nil {
		return nil, err
	}
	return func(pk []byte) bool {
		i := sort.Search(len(missing), func(i int) bool { return bytes.Compare(pk, missing[i].End) < 0 })
		return i == len(missing) || bytes.Compare(pk, missing[i].Begin) < 0
	}, nil
}

// removeFormerIndex clears the data of an index the metadata removed: entries, secondary
// space, range set, state, uniqueness violations (FDBRecordStore.removeFormerIndex) and build
// data. Unlike Java it also clears the key S+(2, name) itself, where an ungrouped aggregate
// index keeps its value, and the build data at S+(9, name).
func (s *Store) removeFormerIndex(fi FormerIndex) {
	s.tr.Clear(s.key(keyIndex, fi.Name))
	for _, id := range []int{keyIndex, keyIndexSecondary, keyIndexRange, keyUniqueViolations, keyIndexBuild, keySlidingWindow} {
		s.tr.ClearRange(s.subKeyRange(id, fi.Name))
	}
	s.tr.Clear(s.key(keyIndexState, fi.Name))
}

// IndexStateFunc chooses the state of an index that metadata newer than the store added or
// changed, when Open upgrades the store (the Java Record Layer's
// UserVersionChecker.needRebuildIndex): READABLE builds it in the opening transaction, WRITE_ONLY
// clears it and leaves it for BuildIndex while saves maintain it, DISABLED clears it and leaves
// it for BuildIndex. recordCount returns how many records a build would read (see
// upgradeIndexes); onNewTypes reports that the index covers only record types newer than the
// store, which hold no records, so it is made READABLE without a build unless DISABLED is chosen.
type IndexStateFunc func(ix *Index, recordCount func() (int64, error), onNewTypes bool) (IndexState, error)

// DisabledIfTooManyRecords is the IndexStateFunc Open uses by default, as the Java Record Layer
// does since 3.0 (FDBRecordStore.disabledIfTooManyRecordsForRebuild): READABLE for an index on new
// record types or when at most 200 records would be read, else DISABLED.
func DisabledIfTooManyRecords(ix *Index, recordCount func() (int64, error), onNewTypes bool) (IndexState, error) {
	return readableIfFewRecords(recordCount, onNewTypes, Disabled)
}

// WriteOnlyIfTooManyRecords is the Java Record Layer's default before 3.0
// (FDBRecordStore.writeOnlyIfTooManyRecordsForRebuild): as DisabledIfTooManyRecords, with
// WRITE_ONLY instead of DISABLED, so saves maintain the index until it is built.
func WriteOnlyIfTooManyRecords(ix *Index, recordCount func() (int64, error), onNewTypes bool) (IndexState, error) {
	return readableIfFewRecords(recordCount, onNewTypes, WriteOnly)
}

func readableIfFewRecords(recordCount func() (int64, error), onNewTypes bool, otherwise IndexState) (IndexState, error) {
	if onNewTypes {
		return Readable, nil
	}
	n, err := recordCount()
	if err != nil {
		return 0, err
	}
	if n <= maxRecordsForRebuild {
		return Readable, nil
	}
	return otherwise, nil
}

// WithIndexStates makes Open choose the states of the indexes that newer metadata added or
// changed with fn instead of DisabledIfTooManyRecords.
func WithIndexStates(fn IndexStateFunc) OpenOption {
	return func(o *openOptions) { o.indexStates = fn }
}

// upgradeIndexes brings the indexes of a store written with metadata version stored up to the
// current metadata, as FDBRecordStore.checkVersion does: former indexes removed since are
// cleared, and each index added or modified since gets the state choose (nil:
// DisabledIfTooManyRecords) picks for it (FDBRecordStore.rebuildOrMarkIndex). The record count
// choose is given is read once, for all of them.
func (s *Store) upgradeIndexes(stored int, choose IndexStateFunc) error {
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
	if choose == nil {
		choose = DisabledIfTooManyRecords
	}
	count, counted, countErr := int64(0), false, error(nil)
	recordCount := func() (int64, error) {
		if !counted {
			count, countErr = s.recordCountForRebuild(changed)
			counted = true
		}
		return count, countErr
	}
	// Decide every state before changing any, as Java does (the counts must not see the
	// indexes being rebuilt).
	states := make([]IndexState, len(changed))
	for i, ix := range changed {
		st, err := choose(ix, recordCount, onNewTypes(ix, stored))
		if err != nil {
			return err
		}
		states[i] = st
	}
	for i, ix := range changed {
		switch state := states[i]; {
		case state != Disabled && onNewTypes(ix, stored):
			s.markBuilt(ix)
		case state == Readable:
			if err := s.RebuildIndex(ix.Name); err != nil {
				return err
			}
		case state == WriteOnly || state == Disabled:
			if s.states[ix.Name] != state {
				if err := s.markNotReadable(ix, state); err != nil {
					return err
				}
			}
			s.clearIndexData(ix)
		default:
			return fmt.Errorf("record: index %q: an upgrade cannot make it %v", ix.Name, state)
		}
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
// whose primary key starts with its record type key, the records of that type from a COUNT
// index; else all records, from a COUNT index or the record count key; without either, as Java
// does, it only tells an empty range (0) from a non-empty one (too many). The indexes being
// upgraded are not used for counting (Java's IndexQueryabilityFilter).
func (s *Store) recordCountForRebuild(indexes []*Index) (int64, error) {
	saved := make(map[string]IndexState, len(indexes))
	for _, ix := range indexes {
		saved[ix.Name] = s.states[ix.Name]
		s.states[ix.Name] = Disabled // hidden from the counts below
	}
	defer func() {
		for name, st := range saved {
			s.states[name] = st
		}
	}()
	r := s.subRange(keyRecord)
	rt := singleTypeWithPrefix(indexes)
	if rt != nil {
		if n, err := s.RecordCountOfType(rt.name); err == nil {
			return n, nil
		} else if !errors.Is(err, ErrNoAggregateIndex) {
			return 0, err
		}
		p := s.key(keyRecord, rt.typeKey)
		r = kv.Range{Begin: append(append([]byte(nil), p...), 0x00), End: append(p, 0xff)}
	}
	if n, err := s.RecordCount(); err == nil {
		return n, nil
	} else if !errors.Is(err, ErrNoAggregateIndex) {
		return 0, err
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
