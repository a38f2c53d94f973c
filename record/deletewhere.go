package record

import (
	"fmt"

	"github.com/layerkit/layerkit/tuple"
)

// DeleteRecordsWhere deletes every record whose primary key starts with prefix, with range
// clears only: no record is read, so it costs the same for ten records or ten million (the Java
// Record Layer's deleteRecordsWhere). That is possible only when every index of the records
// starts with the same columns as the primary key's prefix, so that their entries lie in one
// range too; an index that does not fails the call with ErrInvalidQuery, naming it, and nothing
// is deleted.
//
// When every record type's primary key starts with RecordTypeKey, prefix[0] must be a type key
// and only records of that type are deleted; an index on that type alone may then skip the type
// key (its entries are cleared from prefix[1:]), and one on other types too refuses the call.
// Otherwise the prefix applies to every record type, whose primary keys must begin with the same
// columns. A record count key must also begin with them; its counts under the prefix are
// cleared. A proto3 field at its default value is null in a primary key: give nil for it.
func (s *Store) DeleteRecordsWhere(prefix tuple.Tuple) error {
	if err := s.recordsWritable(); err != nil {
		return err
	}
	if len(prefix) == 0 {
		return fmt.Errorf("record: DeleteRecordsWhere needs a prefix; use DeleteAllRecords to delete everything: %w", ErrInvalidQuery)
	}
	types, typed, err := s.deleteWhereTypes(prefix)
	if err != nil {
		return err
	}
	pkCols := types[0].pkColumns[:len(prefix)]
	type clear struct {
		ix     *Index
		prefix tuple.Tuple
	}
	var clears []clear
	for _, ix := range s.md.indexes {
		if !s.maintained(ix) || !coversAny(ix, types) {
			continue
		}
		cols, p := pkCols, prefix
		if typed && !startsWithTypeKey(ix.columns) {
			if len(ix.types) > 1 {
				return fmt.Errorf("record: index %q covers more record types than %s, so its entries of %s are not one range: %w", ix.Name, types[0].name, types[0].name, ErrInvalidQuery)
			}
			cols, p = pkCols[1:], prefix[1:]
		}
		if !leadingColumns(ix.columns, cols) {
			return fmt.Errorf("record: index %q on %s does not start with the primary-key columns %s, so its entries under %v are not one range: %w", ix.Name, ix.Expression, columnsString(cols), prefix, ErrInvalidQuery)
		}
		clears = append(clears, clear{ix, p})
	}
	countKey := s.countKey
	if countKey != nil && !leadingColumns(countKey.flatten(nil), pkCols) {
		return fmt.Errorf("record: the record count key %s does not start with the primary-key columns %s: %w", countKey, columnsString(pkCols), ErrInvalidQuery)
	}

	records, err := prefix.AppendPack(append([]byte(nil), s.records...))
	if err != nil {
		return fmt.Errorf("record: primary-key prefix %v: %v: %w", prefix, err, ErrInvalidKey)
	}
	s.tr.ClearRange(prefixRange(records))
	if s.md.storeRecordVersions && s.usesOldVersionFormat() {
		k, _ := prefix.AppendPack(s.key(keyRecordVersion))
		s.tr.ClearRange(prefixRange(k))
	}
	if countKey != nil {
		k, _ := prefix.AppendPack(s.key(keyRecordCount))
		if len(prefix) == countKey.ColumnCount() {
			s.tr.Clear(k)
		} else {
			s.tr.ClearRange(prefixRange(k))
		}
	}
	for _, c := range clears {
		if err := c.ix.kind.maintainer.deleteWhere(s, c.ix, c.prefix); err != nil {
			return err
		}
	}
	s.forgetVersionsUnder(records)
	return nil
}

// deleteWhereTypes returns the record types a DeleteRecordsWhere of prefix affects, and whether
// the prefix names one type by its type key.
func (s *Store) deleteWhereTypes(prefix tuple.Tuple) ([]*RecordType, bool, error) {
	allTyped := true
	for _, rt := range s.md.types {
		allTyped = allTyped && startsWithTypeKey(rt.pkColumns)
	}
	if allTyped {
		for _, rt := range s.md.types {
			if key, ok := prefix[0].(int64); ok && key == rt.typeKey {
				if len(prefix) > len(rt.pkColumns) {
					return nil, false, fmt.Errorf("record: prefix %v is longer than the primary key %s of %s: %w", prefix, rt.primaryKey, rt.name, ErrInvalidQuery)
				}
				return []*RecordType{rt}, true, nil
			}
		}
		return nil, false, fmt.Errorf("record: every primary key starts with the record type key, and %v names no record type: %w", prefix[0], ErrInvalidQuery)
	}
	first := s.md.types[0]
	for _, rt := range s.md.types {
		if len(rt.pkColumns) < len(prefix) || !sameColumns(rt.pkColumns[:len(prefix)], first.pkColumns[:min(len(prefix), len(first.pkColumns))]) {
			return nil, false, fmt.Errorf("record: the primary keys of %s (%s) and %s (%s) do not begin with the same %d columns: %w", first.name, first.primaryKey, rt.name, rt.primaryKey, len(prefix), ErrInvalidQuery)
		}
	}
	return s.md.types, false, nil
}

func startsWithTypeKey(cols []KeyExpression) bool {
	if len(cols) == 0 {
		return false
	}
	_, ok := cols[0].(recordTypeExpr)
	return ok
}

func leadingColumns(cols, want []KeyExpression) bool {
	if len(cols) < len(want) {
		return false
	}
	for i, w := range want {
		if cols[i].fansOut() || cols[i].String() != w.String() {
			return false
		}
	}
	return true
}

func coversAny(ix *Index, types []*RecordType) bool {
	for _, rt := range types {
		if covers(ix, rt) {
			return true
		}
	}
	return false
}

func columnsString(cols []KeyExpression) string {
	switch len(cols) {
	case 0:
		return "()"
	case 1:
		return cols[0].String()
	}
	return Concat(cols...).String()
}

// forgetVersionsUnder drops the versions given in this transaction to records under the key
// prefix p.
func (s *Store) forgetVersionsUnder(p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.localVersions {
		if len(k) > len(p) && k[:len(p)] == string(p) {
			delete(s.localVersions, k)
		}
	}
}
