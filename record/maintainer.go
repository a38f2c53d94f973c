package record

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/tuple"
)

// indexMaintainer is what the store asks of an index type: it is the one interface between the
// store and the index types, as the Java Record Layer's IndexMaintainer is. Each index type
// lives in its own file (index_value.go, …) and registers itself with registerIndexType, so
// adding an index type touches one place.
//
// A maintainer holds no state of its own: the store and index are passed to each call, and what
// a transaction must remember lives in the Store.
type indexMaintainer interface {
	// entries appends to dst the entries rec has in index ix, without duplicates, in no
	// particular order.
	entries(dst []indexEntry, s *Store, ix *Index, rec *Record) ([]indexEntry, error)
	// skipsUnchanged reports whether an entry that the old and the new record both have is
	// left alone. Only an index that counts updates says no.
	skipsUnchanged() bool
	// check starts what a change must pass before the save writes anything (a unique index's
	// reads) and returns the function that waits for it; nil when there is nothing to wait
	// for. It writes nothing, so a failed save leaves the transaction as it was.
	check(s *Store, ix *Index, ch *indexChange) (wait func() error, err error)
	// write applies a change to the index.
	write(s *Store, ix *Index, ch *indexChange) error
	// clear removes every entry and every secondary structure of the index.
	clear(s *Store, ix *Index)
	// deleteWhere removes what the records whose index keys start with prefix put in the index,
	// for DeleteRecordsWhere.
	deleteWhere(s *Store, ix *Index, prefix tuple.Tuple) error
	// checker returns what verifies the index against the records, for CheckConsistency.
	checker(s *Store, ix *Index) indexChecker
}

// indexChecker verifies one index: it is shown every record the index covers, then reads the
// index and reports what disagrees.
type indexChecker interface {
	// add takes the expected contribution of one record.
	add(rec *Record) error
	// finish reads the stored index and reports up to max problems.
	finish(max int) ([]error, error)
}

// optionalChecker is an indexChecker that can also be shown a record whose entries may exist
// but need not: one an online build has not reached, which a save may have indexed.
type optionalChecker interface {
	addOptional(rec *Record) error
}

// indexType is the registry entry of an index type.
type indexType struct {
	maintainer indexMaintainer
	// validate checks an index definition of this type at Build, after the expression was
	// checked against every record type the index covers.
	validate func(md *MetaData, ix *Index) error
	// scannable: the entries point at records (value, version), so queries may scan the index.
	scannable bool
}

var indexTypes = map[IndexType]*indexType{}

// registerIndexType adds an index type; each index type's file calls it from init.
func registerIndexType(t IndexType, it *indexType) {
	if _, dup := indexTypes[t]; dup {
		panic("record: index type " + string(t) + " registered twice")
	}
	indexTypes[t] = it
}

// indexEntry is one entry of an index for one record: the evaluated index key and the record's
// primary key. Key identifies the entry within the index for diffs (the stored key for value
// indexes; the packed evaluated key for the others).
type indexEntry struct {
	Index      *Index
	Values     tuple.Tuple
	PrimaryKey tuple.Tuple
	Key        []byte
}

// indexChange is what one index needs when a record changes from old to rec (either nil for an
// insert or a delete): the entries only the old record has, and those the new one adds.
type indexChange struct {
	ix       *Index
	old, rec *Record
	removed  []indexEntry
	added    []indexEntry
	// violations are the uniqueness violations check found for a WRITE_ONLY unique index, for
	// write to record.
	violations []uniqueViolation
	// ops are the atomic mutations check worked out for an aggregate index, for write to apply.
	ops []indexOp
}

// updateIndex maintains index ix for a record that changes from old to new (either may be nil:
// an insert, or a delete). Both records must have the same primary key. It checks and then
// writes, so a failed update (a unique index's violation) writes nothing. It is the one entry
// point for maintaining one index for one record: saves and deletes use it for every index the
// record has, and index builds for the records they add.
func (s *Store) updateIndex(ix *Index, old, rec *Record) error {
	ch, err := s.indexChange(ix, old, rec, new([]indexEntry))
	if err != nil {
		return err
	}
	if ch == nil {
		return nil
	}
	chs := []*indexChange{ch}
	if err := s.checkIndexChanges(chs); err != nil {
		return err
	}
	return s.writeIndexChanges(chs)
}

// maintained reports whether index ix is maintained in this store: every state but DISABLED.
func (s *Store) maintained(ix *Index) bool { return s.states[ix.Name] != Disabled }

// indexChanges returns the changes every maintained index needs when a record changes from old
// to rec (either may be nil). The changes and the entries of an insert share two allocations.
func (s *Store) indexChanges(old, rec *Record) ([]*indexChange, error) {
	// An online build owns the records it has not reached yet (indexer.go).
	r := rec
	if old != nil {
		r = old
	}
	ixs, err := s.skipUnbuilt(s.changedIndexes(old, rec), r.PrimaryKey)
	if err != nil {
		return nil, err
	}
	all := make([]indexChange, len(ixs))
	chs := make([]*indexChange, 0, len(ixs))
	scratch := new([]indexEntry)
	added := make([]indexEntry, 0, len(ixs))
	for i, ix := range ixs {
		ok, err := s.diffIndex(&all[i], ix, old, rec, scratch, &added)
		if err != nil {
			return nil, err
		}
		if ok {
			chs = append(chs, &all[i])
		}
	}
	return chs, nil
}

// changedIndexes returns the maintained indexes of old's and rec's types.
func (s *Store) changedIndexes(old, rec *Record) []*Index {
	var a, b []*Index
	if old != nil {
		a = old.Type.indexes
	}
	if rec != nil && (old == nil || old.Type != rec.Type) {
		b = rec.Type.indexes
	}
	all := true
	for _, ix := range a {
		all = all && s.maintained(ix)
	}
	for _, ix := range b {
		all = all && s.maintained(ix)
	}
	switch {
	case all && len(b) == 0:
		return a
	case all && len(a) == 0:
		return b
	}
	var ixs []*Index
	for _, ix := range append(append([]*Index(nil), a...), b...) {
		if s.maintained(ix) && !slices.Contains(ixs, ix) {
			ixs = append(ixs, ix)
		}
	}
	return ixs
}

// indexChange diffs the entries of old and rec in index ix; nil when nothing changes.
func (s *Store) indexChange(ix *Index, old, rec *Record, scratch *[]indexEntry) (*indexChange, error) {
	ch := &indexChange{}
	ok, err := s.diffIndex(ch, ix, old, rec, scratch, new([]indexEntry))
	if err != nil || !ok {
		return nil, err
	}
	return ch, nil
}

// diffIndex fills ch with the difference between the entries of old and rec in index ix and
// reports whether there is one. scratch is a buffer it reuses; the entries of an insert are
// appended to *added, and ch.added is their part of it.
func (s *Store) diffIndex(ch *indexChange, ix *Index, old, rec *Record, scratch, added *[]indexEntry) (bool, error) {
	m := ix.kind.maintainer
	*ch = indexChange{ix: ix, old: old, rec: rec}
	var err error
	if old == nil || !covers(ix, old.Type) {
		// Nothing to diff against: every entry is added, appended in place.
		if rec != nil && covers(ix, rec.Type) {
			start := len(*added)
			if *added, err = m.entries(*added, s, ix, rec); err != nil {
				return false, err
			}
			ch.added = (*added)[start:len(*added):len(*added)]
		}
	} else {
		buf := (*scratch)[:0]
		if buf, err = m.entries(buf, s, ix, old); err != nil {
			return false, err
		}
		n := len(buf)
		if rec != nil && covers(ix, rec.Type) {
			if buf, err = m.entries(buf, s, ix, rec); err != nil {
				return false, err
			}
		}
		*scratch = buf
		before, after := buf[:n], buf[n:]
		if m.skipsUnchanged() {
			ch.removed = appendMissing(nil, before, after)
			ch.added = appendMissing(nil, after, before)
		} else {
			ch.removed = append([]indexEntry(nil), before...)
			ch.added = append([]indexEntry(nil), after...)
		}
	}
	if len(ch.removed) == 0 && len(ch.added) == 0 {
		return false, nil
	}
	// Write in key order so a transaction's mutations are reproducible.
	byKey := func(a, b indexEntry) int { return bytes.Compare(a.Key, b.Key) }
	slices.SortFunc(ch.removed, byKey)
	slices.SortFunc(ch.added, byKey)
	return true, nil
}

// checkIndexChanges starts every change's checks before waiting on any, so their reads are in
// flight together.
func (s *Store) checkIndexChanges(chs []*indexChange) error {
	var waits []func() error
	for _, ch := range chs {
		wait, err := ch.ix.kind.maintainer.check(s, ch.ix, ch)
		if err != nil {
			return err
		}
		if wait != nil {
			waits = append(waits, wait)
		}
	}
	for _, wait := range waits {
		if err := wait(); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) writeIndexChanges(chs []*indexChange) error {
	for _, ch := range chs {
		if err := ch.ix.kind.maintainer.write(s, ch.ix, ch); err != nil {
			return err
		}
	}
	return nil
}

// appendMissing appends the entries of ws whose keys are not in other.
func appendMissing(dst, ws, other []indexEntry) []indexEntry {
	if len(other) == 0 {
		return append(dst, ws...)
	}
	if len(ws)*len(other) <= 64 {
		// Usually one entry on each side: comparing beats building a set.
	next:
		for _, w := range ws {
			for _, o := range other {
				if bytes.Equal(w.Key, o.Key) {
					continue next
				}
			}
			dst = append(dst, w)
		}
		return dst
	}
	in := make(map[string]bool, len(other))
	for _, o := range other {
		in[string(o.Key)] = true
	}
	for _, w := range ws {
		if !in[string(w.Key)] {
			dst = append(dst, w)
		}
	}
	return dst
}

// dedupEntries drops entries whose key repeats an earlier one (a fan-out can yield the same
// entry twice); the last one is kept in the first one's place.
func dedupEntries(es []indexEntry, from int) []indexEntry {
	if len(es)-from < 2 {
		return es
	}
	at := make(map[string]int, len(es)-from)
	out := es[:from]
	for _, e := range es[from:] {
		if i, ok := at[string(e.Key)]; ok {
			out[i] = e
			continue
		}
		at[string(e.Key)] = len(out)
		out = append(out, e)
	}
	return out
}

// clearIndexPrefix removes the index keys that start with prefix, the key of prefix itself
// included (StandardIndexMaintainer.deleteWhere); the deleteWhere of every standard index type.
func (s *Store) clearIndexPrefix(ix *Index, prefix tuple.Tuple) error {
	k, err := prefix.AppendPack(append([]byte(nil), s.ixKeys[ix.Name]...))
	if err != nil {
		return fmt.Errorf("record: index %q prefix %v: %v: %w", ix.Name, prefix, err, ErrInvalidKey)
	}
	s.tr.ClearRange(kv.Range{Begin: k, End: strincOrEnd(k)})
	return nil
}

func covers(ix *Index, rt *RecordType) bool {
	for _, t := range ix.types {
		if t == rt {
			return true
		}
	}
	return false
}

// evaluateIndex returns the keys of ix's expression for rec, wrapping errors with where they
// happened.
func evaluateIndex(ix *Index, rec *Record) ([]tuple.Tuple, error) {
	keys, err := ix.Expression.evaluate(rec.Message.ProtoReflect(), rec.Type)
	if err != nil {
		return nil, fmt.Errorf("record: index %q of %s %v: %w", ix.Name, rec.Type.name, rec.PrimaryKey, err)
	}
	return keys, nil
}
