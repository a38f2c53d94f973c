package record

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/tuple"
)

// indexEntry is one entry of a value index: the indexed values and the primary key of the record
// it points to (rebuilt from the entry's key).
type indexEntry struct {
	Index      *Index
	Values     tuple.Tuple
	PrimaryKey tuple.Tuple
	Key        []byte
}

// indexMaintainer keeps one kind of index up to date. Value indexes are the only kind so far;
// aggregate indexes (atomic mutations) will implement the same interface.
type indexMaintainer interface {
	// entries appends to dst the entries rec needs in the index, one per key, in no particular
	// order.
	entries(dst []indexWrite, s *Store, ix *Index, rec *Record) ([]indexWrite, error)
}

// indexWrite is one entry to write (or clear).
type indexWrite struct {
	ix     *Index
	values tuple.Tuple
	pk     tuple.Tuple
	key    []byte
}

type indexUpdates struct {
	clears []indexWrite
	sets   []indexWrite
}

func maintainerFor(ix *Index) indexMaintainer { return valueMaintainer{} }

type valueMaintainer struct{}

func (valueMaintainer) entries(dst []indexWrite, s *Store, ix *Index, rec *Record) ([]indexWrite, error) {
	m := rec.Message.ProtoReflect()
	if !ix.Expression.fansOut() {
		// One key: evaluated straight into one tuple, without the list of keys.
		values, err := appendSingle(make(tuple.Tuple, 0, len(ix.columns)), ix.Expression, m, rec.Type)
		if err != nil {
			return nil, fmt.Errorf("record: index %q of %s %v: %w", ix.Name, rec.Type.name, rec.PrimaryKey, err)
		}
		k, err := s.entryKey(ix, values, rec.PrimaryKey)
		if err != nil {
			return nil, err
		}
		return append(dst, indexWrite{ix: ix, values: values, pk: rec.PrimaryKey, key: k}), nil
	}
	keys, err := ix.Expression.evaluate(m, rec.Type)
	if err != nil {
		return nil, fmt.Errorf("record: index %q of %s %v: %w", ix.Name, rec.Type.name, rec.PrimaryKey, err)
	}
	out := dst
	at := make(map[string]int, len(keys))
	for _, values := range keys {
		k, err := s.entryKey(ix, values, rec.PrimaryKey)
		if err != nil {
			return nil, err
		}
		w := indexWrite{ix: ix, values: values, pk: rec.PrimaryKey, key: k}
		// A fan-out can yield the same entry twice; it is written once (the last one kept).
		if i, ok := at[string(k)]; ok {
			out[i] = w
			continue
		}
		at[string(k)] = len(out)
		out = append(out, w)
	}
	return out, nil
}

// entryKey returns S+(2, name) + values + the primary-key columns not among the values.
func (s *Store) entryKey(ix *Index, values, pk tuple.Tuple) ([]byte, error) {
	base := s.ixKeys[ix.Name]
	b, err := values.AppendPack(append(make([]byte, 0, len(base)+48), base...))
	if err != nil {
		return nil, fmt.Errorf("record: index %q values %v: %v: %w", ix.Name, values, err, ErrInvalidKey)
	}
	for i, pos := range ix.pkPositions {
		if pos >= 0 || i >= len(pk) {
			continue
		}
		if b, err = (tuple.Tuple{pk[i]}).AppendPack(b); err != nil {
			return nil, fmt.Errorf("record: index %q primary key %v: %v: %w", ix.Name, pk, err, ErrInvalidKey)
		}
	}
	if len(b) > kv.MaxKeySize {
		return nil, fmt.Errorf("record: index %q entry for %v is %d bytes, over the key limit: %w", ix.Name, pk, len(b), ErrInvalidKey)
	}
	return b, nil
}

// decodeEntry splits an index key into the values and the primary key.
func (s *Store) decodeEntry(ix *Index, key []byte) (indexEntry, error) {
	base := s.ixKeys[ix.Name]
	t, err := tuple.Unpack(key[len(base):])
	n := len(ix.columns)
	rest := 0
	for _, p := range ix.pkPositions {
		if p < 0 {
			rest++
		}
	}
	if err != nil || len(t) != n+rest {
		return indexEntry{}, fmt.Errorf("record: index %q entry %s does not hold %d values and %d primary-key columns: %w", ix.Name, kv.Printable(key), n, rest, ErrCorruptStore)
	}
	pk := make(tuple.Tuple, len(ix.pkPositions))
	j := n
	for i, p := range ix.pkPositions {
		if p >= 0 {
			pk[i] = t[p]
		} else {
			pk[i] = t[j]
			j++
		}
	}
	return indexEntry{Index: ix, Values: t[:n], PrimaryKey: pk, Key: key}, nil
}

// planIndexUpdates diffs the index entries of the old and new versions of a record (either may be
// nil) over every index that is not DISABLED.
func (s *Store) planIndexUpdates(old, rec *Record) (*indexUpdates, error) {
	var ixs []*Index
	for _, r := range []*Record{old, rec} {
		if r == nil || (r == rec && old != nil && old.Type == rec.Type) {
			continue
		}
		for _, ix := range r.Type.indexes {
			if s.states[ix.Name] != Disabled && !slices.ContainsFunc(ixs, func(o *Index) bool { return o.Name == ix.Name }) {
				ixs = append(ixs, ix)
			}
		}
	}
	up := &indexUpdates{sets: make([]indexWrite, 0, len(ixs))}
	var scratch []indexWrite
	for _, ix := range ixs {
		m := maintainerFor(ix)
		var err error
		if old == nil {
			// A new record: every entry is a set, appended in place.
			if covers(ix, rec.Type) {
				if up.sets, err = m.entries(up.sets, s, ix, rec); err != nil {
					return nil, err
				}
			}
			continue
		}
		scratch = scratch[:0]
		if covers(ix, old.Type) {
			if scratch, err = m.entries(scratch, s, ix, old); err != nil {
				return nil, err
			}
		}
		n := len(scratch)
		if rec != nil && covers(ix, rec.Type) {
			if scratch, err = m.entries(scratch, s, ix, rec); err != nil {
				return nil, err
			}
		}
		before, after := scratch[:n], scratch[n:]
		up.clears = appendMissing(up.clears, before, after)
		up.sets = appendMissing(up.sets, after, before)
	}
	// Write in key order so a transaction's mutations are reproducible. Keys are unique.
	byKey := func(a, b indexWrite) int { return bytes.Compare(a.key, b.key) }
	slices.SortFunc(up.clears, byKey)
	slices.SortFunc(up.sets, byKey)
	return up, nil
}

// appendMissing appends the entries of ws whose keys are not in other.
func appendMissing(dst, ws, other []indexWrite) []indexWrite {
	if len(other) == 0 {
		return append(dst, ws...)
	}
	if len(ws)*len(other) <= 64 {
		// Usually one entry on each side: comparing beats building a set.
	next:
		for _, w := range ws {
			for _, o := range other {
				if bytes.Equal(w.key, o.key) {
					continue next
				}
			}
			dst = append(dst, w)
		}
		return dst
	}
	in := make(map[string]bool, len(other))
	for _, o := range other {
		in[string(o.key)] = true
	}
	for _, w := range ws {
		if !in[string(w.key)] {
			dst = append(dst, w)
		}
	}
	return dst
}

func covers(ix *Index, rt *RecordType) bool {
	for _, t := range ix.types {
		if t == rt {
			return true
		}
	}
	return false
}

// checkUnique reads, for every new entry of a unique index, the entries with the same values; an
// entry of another primary key (that this save does not remove) is a violation. The reads are
// issued together before any is waited on, and they add read conflicts, so two concurrent saves
// of the same value cannot both commit.
func (s *Store) checkUnique(up *indexUpdates, pk tuple.Tuple) error {
	type check struct {
		w  indexWrite
		rr kv.RangeResult
	}
	var checks []check
	for _, w := range up.sets {
		if !w.ix.Unique || hasNull(w.values) {
			continue
		}
		p, err := w.values.AppendPack(append([]byte(nil), s.ixKeys[w.ix.Name]...))
		if err != nil {
			return fmt.Errorf("record: index %q values %v: %v: %w", w.ix.Name, w.values, err, ErrInvalidKey)
		}
		checks = append(checks, check{w, s.tr.GetRange(kv.Range{Begin: p, End: append(p, 0xff)}, kv.RangeOptions{Limit: 3})})
	}
	if len(checks) == 0 {
		return nil
	}
	cleared := make(map[string]bool, len(up.clears))
	for _, c := range up.clears {
		cleared[string(c.key)] = true
	}
	for _, c := range checks {
		rows, err := c.rr.GetSlice()
		if err != nil {
			return err
		}
		for _, r := range rows {
			if cleared[string(r.Key)] || string(r.Key) == string(c.w.key) {
				continue
			}
			e, err := s.decodeEntry(c.w.ix, r.Key)
			if err != nil {
				return err
			}
			if tuple.Compare(e.PrimaryKey, pk) != 0 {
				return &UniqueViolationError{Index: c.w.ix.Name, Values: c.w.values, Existing: e.PrimaryKey, New: pk}
			}
		}
	}
	return nil
}

func hasNull(t tuple.Tuple) bool {
	for _, v := range t {
		if v == nil {
			return true
		}
	}
	return false
}

func (s *Store) applyIndexUpdates(up *indexUpdates) {
	for _, w := range up.clears {
		s.tr.Clear(w.key)
	}
	for _, w := range up.sets {
		s.tr.Set(w.key, emptyValue)
	}
}

// RebuildIndex clears the named index, writes the entries of every record in this transaction,
// and marks the index READABLE. It reads the whole store in one transaction, so it suits small
// stores; larger ones need the online indexer (not yet written). A unique index whose records
// violate uniqueness fails with *UniqueViolationError.
func (s *Store) RebuildIndex(name string) error {
	ix := s.md.byIndex[name]
	if ix == nil {
		return fmt.Errorf("record: index %q: %w", name, ErrUnknownIndex)
	}
	s.tr.ClearRange(s.indexRange(ix))
	seen := map[string]tuple.Tuple{}
	err := s.scanAllRecords(func(rec *Record) error {
		if !covers(ix, rec.Type) {
			return nil
		}
		es, err := maintainerFor(ix).entries(nil, s, ix, rec)
		if err != nil {
			return err
		}
		// Write in key order, so a rebuild's mutations are reproducible.
		slices.SortFunc(es, func(a, b indexWrite) int { return bytes.Compare(a.key, b.key) })
		for _, w := range es {
			if ix.Unique && !hasNull(w.values) {
				vk := string(w.values.Pack())
				if other, ok := seen[vk]; ok && tuple.Compare(other, rec.PrimaryKey) != 0 {
					return &UniqueViolationError{Index: ix.Name, Values: w.values, Existing: other, New: rec.PrimaryKey}
				}
				seen[vk] = rec.PrimaryKey
			}
			s.tr.Set(w.key, emptyValue)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.tr.Clear(s.key(keyIndexState, name))
	s.states[name] = Readable
	return nil
}

// scanAllRecords calls fn for every record of the store in primary-key order.
func (s *Store) scanAllRecords(fn func(*Record) error) error {
	it := s.tr.GetRange(s.subRange(keyRecord), kv.RangeOptions{Mode: kv.StreamingWantAll}).Iterator()
	g := grouper{records: s.records}
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
	cur      []byte // key prefix of the current primary key
	pk       tuple.Tuple
	rows     []kv.KeyValue
	curBytes int
}

// add takes the next row and returns the previous record when the row starts a new one.
func (g *grouper) add(r kv.KeyValue) (*rawRecord, error) {
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

// emptyValue is the value of a value-index entry: empty, and not nil, so no engine can mistake
// it for an absent value.
var emptyValue = []byte{}
