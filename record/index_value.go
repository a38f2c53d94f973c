package record

import (
	"fmt"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/tuple"
)

// A VALUE index keeps one entry per indexed key: S+(2, name) + the indexed values + the
// primary-key columns not among them, with an empty value (StandardIndexMaintainer and
// ValueIndexMaintainer in the Java Record Layer).
func init() {
	registerIndexType(ValueIndex, &indexType{maintainer: valueMaintainer{}, validate: validateValueIndex, scannable: true})
}

func validateValueIndex(_ *MetaData, ix *Index) error {
	if countVersions(ix.Expression) > 0 {
		return fmt.Errorf("record: value index %q names the version: make it a VERSION index", ix.Name)
	}
	if isGrouping(ix.Expression) {
		return fmt.Errorf("record: value index %q has a grouping expression, which only aggregate indexes take", ix.Name)
	}
	return nil
}

type valueMaintainer struct{}

func (valueMaintainer) skipsUnchanged() bool { return true }

// idempotent: writing an entry twice leaves one entry, so online builds need no range conflicts.
func (valueMaintainer) idempotent() bool { return true }

func (valueMaintainer) entries(dst []indexEntry, s *Store, ix *Index, rec *Record) ([]indexEntry, error) {
	if !ix.Expression.fansOut() {
		// One key: evaluated straight into one tuple, without the list of keys.
		values, err := appendSingle(make(tuple.Tuple, 0, len(ix.columns)), ix.Expression, rec.Message.ProtoReflect(), rec.Type)
		if err != nil {
			return nil, fmt.Errorf("record: index %q of %s %v: %w", ix.Name, rec.Type.name, rec.PrimaryKey, err)
		}
		k, err := s.entryKey(ix, values, rec.PrimaryKey)
		if err != nil {
			return nil, err
		}
		return append(dst, indexEntry{Index: ix, Values: values, PrimaryKey: rec.PrimaryKey, Key: k}), nil
	}
	keys, err := evaluateIndex(ix, rec)
	if err != nil {
		return nil, err
	}
	from := len(dst)
	for _, values := range keys {
		k, err := s.entryKey(ix, values, rec.PrimaryKey)
		if err != nil {
			return nil, err
		}
		dst = append(dst, indexEntry{Index: ix, Values: values, PrimaryKey: rec.PrimaryKey, Key: k})
	}
	return dedupEntries(dst, from), nil
}

// check reads, for every new entry of a unique index, the entries with the same values; an entry
// of another primary key (that this change does not remove) is a violation. The reads add read
// conflicts, so two concurrent saves of the same value cannot both commit. A READABLE (or
// READABLE_UNIQUE_PENDING) index refuses the save; a WRITE_ONLY one, being built, lets it
// through and has write record the violation (StandardIndexMaintainer.checkUniqueness).
func (valueMaintainer) check(s *Store, ix *Index, ch *indexChange) (func() error, error) {
	if !ix.Unique {
		return nil, nil
	}
	record := s.states[ix.Name] == WriteOnly
	type read struct {
		e  indexEntry
		rr kv.RangeResult
	}
	var reads []read
	for _, e := range ch.added {
		if hasNull(e.Values) {
			continue // a null column is exempt from uniqueness
		}
		p, err := e.Values.AppendPack(append([]byte(nil), s.ixKeys[ix.Name]...))
		if err != nil {
			return nil, fmt.Errorf("record: index %q values %v: %v: %w", ix.Name, e.Values, err, ErrInvalidKey)
		}
		opts := kv.RangeOptions{Limit: 3}
		if record {
			opts = kv.RangeOptions{Mode: kv.StreamingWantAll}
		}
		reads = append(reads, read{e, s.tr.GetRange(kv.Range{Begin: p, End: append(p, 0xff)}, opts)})
	}
	if len(reads) == 0 {
		return nil, nil
	}
	return func() error {
		for _, r := range reads {
			rows, err := r.rr.GetSlice()
			if err != nil {
				return err
			}
			for _, row := range rows {
				if string(row.Key) == string(r.e.Key) || removes(ch, row.Key) {
					continue
				}
				other, err := s.decodeEntry(ix, row.Key)
				if err != nil {
					return err
				}
				if tuple.Compare(other.PrimaryKey, r.e.PrimaryKey) == 0 {
					continue
				}
				if !record {
					return &UniqueViolationError{Index: ix.Name, Values: r.e.Values, Existing: other.PrimaryKey, New: r.e.PrimaryKey}
				}
				ch.violations = append(ch.violations, uniqueViolation{values: r.e.Values, a: r.e.PrimaryKey, b: other.PrimaryKey})
			}
		}
		return nil
	}, nil
}

// removes reports whether the change removes the entry stored under key.
func removes(ch *indexChange, key []byte) bool {
	for _, e := range ch.removed {
		if string(e.Key) == string(key) {
			return true
		}
	}
	return false
}

func (valueMaintainer) write(s *Store, ix *Index, ch *indexChange) error {
	pending := ix.Unique && (s.states[ix.Name] == WriteOnly || s.states[ix.Name] == ReadableUniquePending)
	for _, e := range ch.removed {
		s.tr.Clear(e.Key)
		if pending {
			if err := s.removeUniquenessViolation(ix, e.Values, e.PrimaryKey); err != nil {
				return err
			}
		}
	}
	for _, e := range ch.added {
		s.tr.Set(e.Key, emptyValue)
	}
	for _, v := range ch.violations {
		if err := s.addUniquenessViolation(ix, v.values, v.a, v.b); err != nil {
			return err
		}
		if err := s.addUniquenessViolation(ix, v.values, v.b, v.a); err != nil {
			return err
		}
	}
	return nil
}

func (valueMaintainer) clear(s *Store, ix *Index) { s.tr.ClearRange(s.indexRange(ix)) }

func (valueMaintainer) deleteWhere(s *Store, ix *Index, prefix tuple.Tuple) error {
	return s.clearIndexPrefix(ix, prefix)
}

func (valueMaintainer) checker(s *Store, ix *Index) indexChecker {
	return &entryChecker{s: s, ix: ix, want: map[string]bool{}}
}

// entryChecker verifies an index whose entries point at records: every record's entries exist,
// and every entry belongs to a record with those values.
type entryChecker struct {
	s  *Store
	ix *Index
	// want holds the keys of the entries the records call for: true when required, false when
	// allowed (a record an online build has not reached).
	want map[string]bool
}

func (c *entryChecker) add(rec *Record) error { return c.expect(rec, true) }

func (c *entryChecker) addOptional(rec *Record) error { return c.expect(rec, false) }

func (c *entryChecker) expect(rec *Record, required bool) error {
	es, err := c.ix.kind.maintainer.entries(nil, c.s, c.ix, rec)
	if err != nil {
		return err
	}
	for _, e := range es {
		c.want[string(e.Key)] = c.want[string(e.Key)] || required
	}
	return nil
}

func (c *entryChecker) finish(max int) ([]error, error) {
	var problems []error
	it := c.s.tr.GetRange(c.s.indexRange(c.ix), kv.RangeOptions{Mode: kv.StreamingWantAll}).Iterator()
	for it.Next() && len(problems) < max {
		k := it.KeyValue().Key
		if _, ok := c.want[string(k)]; !ok {
			e, err := c.s.decodeEntry(c.ix, k)
			if err != nil {
				problems = append(problems, err)
			} else {
				problems = append(problems, fmt.Errorf("index %q entry %v → %v has no record with those values", c.ix.Name, e.Values, e.PrimaryKey))
			}
			continue
		}
		delete(c.want, string(k))
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	for k, required := range c.want {
		if len(problems) >= max {
			break
		}
		if !required {
			continue
		}
		e, _ := c.s.decodeEntry(c.ix, []byte(k))
		problems = append(problems, fmt.Errorf("index %q lacks entry %v → %v", c.ix.Name, e.Values, e.PrimaryKey))
	}
	return problems, nil
}

// entryKey returns S+(2, name) + values + the primary-key columns not among them.
func (s *Store) entryKey(ix *Index, values, pk tuple.Tuple) ([]byte, error) {
	base := s.ixKeys[ix.Name]
	b, err := values.AppendPack(append(make([]byte, 0, len(base)+48), base...))
	if err != nil {
		return nil, fmt.Errorf("record: index %q values %v: %v: %w", ix.Name, values, err, ErrInvalidKey)
	}
	if ix.pkPositions == nil {
		if b, err = pk.AppendPack(b); err != nil {
			return nil, fmt.Errorf("record: index %q primary key %v: %v: %w", ix.Name, pk, err, ErrInvalidKey)
		}
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

// decodeEntry splits the key of an entry that points at a record into the values and the
// primary key. When the primary key is the tail of the entry it is a part of the decoded tuple,
// not a copy.
func (s *Store) decodeEntry(ix *Index, key []byte) (indexEntry, error) {
	base := s.ixKeys[ix.Name]
	t, err := tuple.Unpack(key[len(base):])
	n := len(ix.columns)
	if ix.pkPositions == nil {
		if err != nil || len(t) <= n {
			return indexEntry{}, fmt.Errorf("record: index %q entry %s does not hold %d values and a primary key: %w", ix.Name, kv.Printable(key), n, ErrCorruptStore)
		}
		return indexEntry{Index: ix, Values: t[:n:n], PrimaryKey: t[n:], Key: key}, nil
	}
	if err != nil || len(t) != n+ix.pkRest {
		return indexEntry{}, fmt.Errorf("record: index %q entry %s does not hold %d values and %d primary-key columns: %w", ix.Name, kv.Printable(key), n, ix.pkRest, ErrCorruptStore)
	}
	if ix.pkTail {
		return indexEntry{Index: ix, Values: t[:n:n], PrimaryKey: t[n:], Key: key}, nil
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
	return indexEntry{Index: ix, Values: t[:n:n], PrimaryKey: pk, Key: key}, nil
}

func hasNull(t tuple.Tuple) bool {
	for _, v := range t {
		if v == nil {
			return true
		}
	}
	return false
}

// emptyValue is the value of a value-index entry: empty, and not nil, so no engine can mistake
// it for an absent value.
var emptyValue = []byte{}
