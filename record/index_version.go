package record

import (
	"errors"
	"fmt"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/tuple"
)

// A VERSION index is a value index whose expression holds the record's version (VersionKey):
// S+(2, name) + values with the 12-byte versionstamp among them + the primary-key columns not
// among them, empty value (VersionIndexMaintainer in the Java Record Layer). A save writes its
// entry with SET_VERSIONSTAMPED_KEY, so the database puts the commit version into the key; the
// index lists records in the order they last changed, which is what "changed since" queries of
// sync clients read (Store.ChangesSince).
func init() {
	registerIndexType(VersionIndex, &indexType{maintainer: versionMaintainer{}, validate: validateVersionIndex, scannable: true})
}

// ErrVersionPending is returned when a record saved earlier in the same transaction must lose a
// VERSION index entry: that entry's key holds the commit's versionstamp, which FoundationDB only
// fills in at commit, so it cannot be cleared before. Save or delete such a record once per
// transaction, or keep the VERSION index's other columns unchanged.
var ErrVersionPending = errors.New("record: versionstamped index entry written in this transaction")

func validateVersionIndex(md *MetaData, ix *Index) error {
	if !md.storeRecordVersions {
		return fmt.Errorf("record: index %q is a VERSION index, which needs SetStoreRecordVersions(true)", ix.Name)
	}
	if n := countVersions(ix.Expression); n != 1 {
		return fmt.Errorf("record: VERSION index %q names the version %d times, want once", ix.Name, n)
	}
	if ix.Unique {
		return fmt.Errorf("record: VERSION index %q cannot be unique", ix.Name)
	}
	if isGrouping(ix.Expression) {
		return fmt.Errorf("record: VERSION index %q has a grouping expression, which only aggregate indexes take", ix.Name)
	}
	return nil
}

type versionMaintainer struct{}

// idempotent: an entry written twice is one entry (StandardIndexMaintainer.isIdempotent).
func (versionMaintainer) idempotent() bool { return true }

func (versionMaintainer) skipsUnchanged() bool { return true }

func (versionMaintainer) entries(dst []indexEntry, s *Store, ix *Index, rec *Record) ([]indexEntry, error) {
	keys, err := evaluateRecord(ix.Expression, rec)
	if err != nil {
		return nil, fmt.Errorf("record: index %q of %s %v: %w", ix.Name, rec.Type.name, rec.PrimaryKey, err)
	}
	from := len(dst)
	for _, values := range keys {
		k, err := s.versionEntryKey(ix, values, rec.PrimaryKey)
		if err != nil {
			return nil, err
		}
		dst = append(dst, indexEntry{Index: ix, Values: values, PrimaryKey: rec.PrimaryKey, Key: k})
	}
	return dedupEntries(dst, from), nil
}

// versionEntryKey is entryKey for values that may hold an incomplete versionstamp: then the key
// is the versionstamped-key form, ending with the 4-byte offset of the stamp.
func (s *Store) versionEntryKey(ix *Index, values, pk tuple.Tuple) ([]byte, error) {
	if !incomplete(values) {
		return s.entryKey(ix, values, pk)
	}
	t := append(tuple.Tuple{}, values...)
	if ix.pkPositions == nil {
		t = append(t, pk...)
	}
	for i, pos := range ix.pkPositions {
		if pos < 0 && i < len(pk) {
			t = append(t, pk[i])
		}
	}
	k, err := t.PackWithVersionstamp(s.ixKeys[ix.Name])
	if err != nil {
		return nil, fmt.Errorf("record: index %q entry %v: %v: %w", ix.Name, t, err, ErrInvalidKey)
	}
	if len(k)-4 > kv.MaxKeySize {
		return nil, fmt.Errorf("record: index %q entry for %v is %d bytes, over the key limit: %w", ix.Name, pk, len(k)-4, ErrInvalidKey)
	}
	return k, nil
}

// incomplete reports whether t holds an incomplete versionstamp.
func incomplete(t tuple.Tuple) bool {
	has, _ := t.HasIncompleteVersionstamp()
	return has
}

func (versionMaintainer) check(_ *Store, ix *Index, ch *indexChange) (func() error, error) {
	for _, e := range ch.removed {
		if incomplete(e.Values) {
			return nil, fmt.Errorf("record: %s %v: its entry %v in index %q: %w", ch.old.Type.name, e.PrimaryKey, e.Values, ix.Name, ErrVersionPending)
		}
	}
	return nil, nil
}

func (versionMaintainer) write(s *Store, _ *Index, ch *indexChange) error {
	for _, e := range ch.removed {
		s.tr.Clear(e.Key)
	}
	for _, e := range ch.added {
		if incomplete(e.Values) {
			s.tr.Atomic(kv.SetVersionstampedKey, e.Key, emptyValue)
		} else {
			s.tr.Set(e.Key, emptyValue)
		}
	}
	return nil
}

func (versionMaintainer) clear(s *Store, ix *Index) { s.tr.ClearRange(s.indexRange(ix)) }

func (versionMaintainer) deleteWhere(s *Store, ix *Index, prefix tuple.Tuple) error {
	return s.clearIndexPrefix(ix, prefix)
}

func (versionMaintainer) checker(s *Store, ix *Index) indexChecker {
	return &entryChecker{s: s, ix: ix, want: map[string]bool{}}
}
