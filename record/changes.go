package record

import (
	"fmt"

	"github.com/layerkit/layerkit/tuple"
)

// ChangesSince returns a cursor over the records whose version is after since, in version order,
// read from the VERSION index named index: the "what changed since I last synced" query of a
// client that keeps the version of the last record it saw. group fixes the index's columns
// before the version (empty for an index on VersionKey alone); since nil starts from the first
// record. Pages resume from opts.Continuation like any cursor's.
//
// The index lists each record once, under the version of its last save, so a record changed
// twice since the client's version comes back once, at its new place. Deleted records leave no
// entry: a client that must learn of deletions needs them recorded as records (tombstones).
func (s *Store) ChangesSince(index string, group tuple.Tuple, since *tuple.Versionstamp, opts ExecuteOptions) (*Cursor, error) {
	ix := s.md.byIndex[index]
	if ix == nil {
		return nil, fmt.Errorf("record: index %q: %w", index, ErrUnknownIndex)
	}
	if ix.Type != VersionIndex {
		return nil, fmt.Errorf("record: index %q is a %s index, not a version index: %w", index, ix.Type, ErrInvalidQuery)
	}
	if len(group) >= len(ix.columns) {
		return nil, fmt.Errorf("record: index %q has %d columns; %v leaves none for the version: %w", index, len(ix.columns), group, ErrInvalidQuery)
	}
	if _, ok := ix.columns[len(group)].(versionExpr); !ok {
		return nil, fmt.Errorf("record: column %d of index %q is %s, not the version; give the %d columns before it: %w", len(group), index, ix.columns[len(group)], len(group), ErrInvalidQuery)
	}
	sc := &scanNode{ix: ix, eq: append(tuple.Tuple{}, group...)}
	if since != nil {
		sc.low = &bound{value: *since}
	}
	return s.Execute(newPlan(&fetchNode{child: sc}, recordFilter{}), opts), nil
}
