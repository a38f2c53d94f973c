package record

import "fmt"

// RebuildIndex clears the named index (entries, built ranges, uniqueness violations, build
// data), adds the entries of every record in this transaction, and marks the index READABLE. It
// reads the whole store in one transaction, so it suits small stores; larger ones need the
// online indexer (BuildIndex). A unique index whose records violate uniqueness fails with
// *UniqueViolationError, as the Java Record Layer's rebuildIndex does when it marks the index
// readable.
func (s *Store) RebuildIndex(name string) error {
	ix := s.md.byIndex[name]
	if ix == nil {
		return fmt.Errorf("record: index %q: %w", name, ErrUnknownIndex)
	}
	if err := s.writable(); err != nil {
		return err
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
	if ix.Unique {
		vs, err := s.UniquenessViolations(name, 1)
		if err != nil {
			return err
		}
		if len(vs) > 0 {
			return &UniqueViolationError{Index: name, Values: vs[0].Values, Existing: vs[0].Other, New: vs[0].PrimaryKey}
		}
	}
	s.writeIndexState(ix, Readable)
	return nil
}
