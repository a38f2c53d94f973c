package record

import "fmt"

// RebuildIndex clears the named index (entries, build progress, violations), adds the entries of every record in this transaction,
// and marks the index READABLE. It reads the whole store in one transaction, so it suits small
// stores; larger ones need the online indexer. A unique index whose records violate uniqueness
// fails with *UniqueViolationError.
func (s *Store) RebuildIndex(name string) error {
	ix := s.md.byIndex[name]
	if ix == nil {
		return fmt.Errorf("record: index %q: %w", name, ErrUnknownIndex)
	}
	s.clearIndexData(ix)
	err := s.scanAllRecords(func(rec *Record) error {
		if !covers(ix, rec.Type) {
			return nil
		}
		return s.updateIndex(ix, nil, rec)
	})
	if err != nil {
		return err
	}
	s.tr.Clear(s.key(keyIndexState, name))
	s.states[name] = Readable
	return nil
}
