package record

import (
	"fmt"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/tuple"
)

// Uniqueness violations of a unique index that is being built (WRITE_ONLY), kept as the Java
// Record Layer keeps them (StandardIndexMaintainer.addUniquenessViolation,
// FDBRecordStoreBase.uniquenessViolationKey): for two records a and b sharing the indexed values,
// S+(7, index)+values+pk(a) holds pack(pk(b)) and S+(7, index)+values+pk(b) holds pack(pk(a)).
// Deleting a record (or moving it off the values) clears its key, and the last remaining key of
// those values with it.

// uniqueViolation is two primary keys that share the values of a unique index.
type uniqueViolation struct {
	values tuple.Tuple
	a, b   tuple.Tuple
}

// violationsPrefix is S+(7, index).
func (s *Store) violationsPrefix(ix *Index) []byte { return s.key(keyUniqueViolations, ix.Name) }

// addUniquenessViolation records that pk shares values with other.
func (s *Store) addUniquenessViolation(ix *Index, values, pk, other tuple.Tuple) error {
	k, err := append(append(tuple.Tuple{}, values...), pk...).AppendPack(s.violationsPrefix(ix))
	if err != nil {
		return fmt.Errorf("record: uniqueness violation of index %q: %v: %w", ix.Name, err, ErrInvalidKey)
	}
	v, err := other.AppendPack(nil)
	if err != nil {
		return fmt.Errorf("record: uniqueness violation of index %q: %v: %w", ix.Name, err, ErrInvalidKey)
	}
	s.tr.Set(k, v)
	return nil
}

// removeUniquenessViolation clears pk's violation of values, and the other record's too when it
// is the last one left (StandardIndexMaintainer.removeUniquenessViolationsAsync).
func (s *Store) removeUniquenessViolation(ix *Index, values, pk tuple.Tuple) error {
	p, err := values.AppendPack(s.violationsPrefix(ix))
	if err != nil {
		return fmt.Errorf("record: uniqueness violation of index %q: %v: %w", ix.Name, err, ErrInvalidKey)
	}
	k, err := pk.AppendPack(append([]byte(nil), p...))
	if err != nil {
		return fmt.Errorf("record: uniqueness violation of index %q: %v: %w", ix.Name, err, ErrInvalidKey)
	}
	s.tr.Clear(k)
	end := strincOrEnd(p)
	rows, err := s.tr.GetRange(kv.Range{Begin: p, End: end}, kv.RangeOptions{Limit: 2}).GetSlice()
	if err != nil {
		return err
	}
	if len(rows) == 1 {
		s.tr.ClearRange(kv.Range{Begin: p, End: end})
	}
	return nil
}

// UniquenessViolation is one recorded violation of a unique index: the record with PrimaryKey
// shares Values with the record Other.
type UniquenessViolation struct {
	// Values are the indexed values.
	Values tuple.Tuple
	// PrimaryKey is the record this violation is recorded for.
	PrimaryKey tuple.Tuple
	// Other is the record it conflicts with.
	Other tuple.Tuple
}

// UniquenessViolations returns up to limit (0: all) recorded violations of the named unique
// index, in key order. They are recorded while the index is WRITE_ONLY and cleared as the
// conflicting records are deleted or changed.
func (s *Store) UniquenessViolations(name string, limit int) ([]UniquenessViolation, error) {
	ix := s.md.byIndex[name]
	if ix == nil {
		return nil, fmt.Errorf("record: index %q: %w", name, ErrUnknownIndex)
	}
	p := s.violationsPrefix(ix)
	rows, err := s.tr.GetRange(prefixRange(p), kv.RangeOptions{Limit: limit, Mode: kv.StreamingWantAll}).GetSlice()
	if err != nil {
		return nil, err
	}
	n := len(ix.columns)
	out := make([]UniquenessViolation, 0, len(rows))
	for _, r := range rows {
		t, err := tuple.Unpack(r.Key[len(p):])
		if err != nil || len(t) <= n {
			return nil, fmt.Errorf("record: uniqueness violation key %s of index %q: %w", kv.Printable(r.Key), name, ErrCorruptStore)
		}
		other, err := tuple.Unpack(r.Value)
		if err != nil {
			return nil, fmt.Errorf("record: uniqueness violation value of index %q: %w", name, ErrCorruptStore)
		}
		out = append(out, UniquenessViolation{Values: t[:n], PrimaryKey: t[n:], Other: other})
	}
	return out, nil
}
