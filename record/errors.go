package record

import (
	"errors"
	"fmt"

	"github.com/layerkit/layerkit/tuple"
)

// Errors when opening a store.
var (
	// ErrStoreTooNew is returned by Open when the store header names a metadata version newer
	// than the caller's metadata, or a format version this package does not know: the store was
	// written by newer code, and writing it with older metadata could corrupt its indexes.
	ErrStoreTooNew = errors.New("record: store is newer than this metadata or code")
	// ErrStoreNotEmpty is returned by Open when the store's prefix holds keys but no store
	// header, so it is not a record store (or its header was lost).
	ErrStoreNotEmpty = errors.New("record: prefix holds data but no store header")
	// ErrCorruptStore is returned when stored bytes cannot be decoded (header, record chunks,
	// index entries).
	ErrCorruptStore = errors.New("record: corrupt store data")
	// ErrUnsupportedStore is returned when a store uses a feature of the Java Record Layer this
	// package cannot honour (a record count key it cannot evaluate, an index state whose queue
	// it does not maintain): rather than ignore it, the store is refused, or only its record
	// writes are.
	ErrUnsupportedStore = errors.New("record: store uses a feature this package does not support")
	// ErrStoreLocked is returned when the store header's lock forbids the operation: a FULL_STORE
	// lock refuses Open, a FORBID_RECORD_UPDATE lock refuses saves and deletes.
	ErrStoreLocked = errors.New("record: store is locked")
	// ErrStaleUserVersion is returned by Open when WithUserVersion's function returns a user
	// version older than the store's.
	ErrStaleUserVersion = errors.New("record: stale user version")
)

// Errors when saving, loading and deleting.
var (
	// ErrUnknownRecordType is returned when a message's type is not a record type of the
	// metadata.
	ErrUnknownRecordType = errors.New("record: not a record type of the metadata")
	// ErrRecordExists is returned by a SaveInsert of a primary key that already has a record.
	ErrRecordExists = errors.New("record: a record with this primary key exists")
	// ErrRecordNotFound is returned by a SaveUpdate of a primary key without a record.
	ErrRecordNotFound = errors.New("record: no record with this primary key")
	// ErrRecordTypeChanged is returned by a save whose primary key holds a record of another
	// type (the Java Record Layer's ERROR_IF_RECORD_TYPE_CHANGED); UpsertAnyType allows it.
	ErrRecordTypeChanged = errors.New("record: the primary key holds a record of another type")
	// ErrWrongRecordType is returned by a load that finds a record of another type than asked
	// for (LoadAs), or than the record type key its primary key starts with.
	ErrWrongRecordType = errors.New("record: record of another type")
	// ErrUniqueViolation is wrapped by *UniqueViolationError.
	ErrUniqueViolation = errors.New("record: unique index violation")
	// ErrRecordTooLarge is returned when a record exceeds one value and the metadata does not
	// split long records.
	ErrRecordTooLarge = errors.New("record: record too large")
	// ErrInvalidKey is returned when a primary key or indexed value cannot be packed or is too
	// large for a key.
	ErrInvalidKey = errors.New("record: invalid key")
)

// Errors of index states.
var (
	// ErrUnknownIndex is returned when an index name is not in the metadata.
	ErrUnknownIndex = errors.New("record: unknown index")
	// ErrIndexNotReadable is returned when an index scan names an index that is not READABLE.
	ErrIndexNotReadable = errors.New("record: index is not readable")
	// ErrIndexNotBuilt is returned when an index is to be made READABLE but the range set of
	// its build does not cover every record (the Java Record Layer's IndexNotBuiltException).
	ErrIndexNotBuilt = errors.New("record: index is not built")
	// ErrIndexBuildConflict is returned by BuildIndex when the index is being built by another
	// method, or its state changed (to DISABLED, say) during the build.
	ErrIndexBuildConflict = errors.New("record: index build conflict")
)

// Errors when planning and executing queries.
var (
	// ErrInvalidQuery is returned for a query that names unknown record types or fields, or
	// compares a field with a value of the wrong type.
	ErrInvalidQuery = errors.New("record: invalid query")
	// ErrSortNotSupported is returned when no index provides the requested sort and the query
	// does not allow an in-memory sort.
	ErrSortNotSupported = errors.New("record: no index provides the sort")
	// ErrSortBoundExceeded is returned when an in-memory sort would hold more records than its
	// bound.
	ErrSortBoundExceeded = errors.New("record: in-memory sort bound exceeded")
	// ErrInvalidContinuation is returned for a continuation that was not produced by the same
	// plan.
	ErrInvalidContinuation = errors.New("record: invalid continuation")
)

// UniqueViolationError reports a save that would give a unique index a second primary key for
// the same indexed values. Nothing was written.
type UniqueViolationError struct {
	// Index is the unique index's name.
	Index string
	// Values are the indexed values both records share.
	Values tuple.Tuple
	// Existing is the primary key of the record already in the index.
	Existing tuple.Tuple
	// New is the primary key of the record being saved.
	New tuple.Tuple
}

// Error names the index, the values and both primary keys.
func (e *UniqueViolationError) Error() string {
	return fmt.Sprintf("record: unique index %q already maps %v to primary key %v; cannot add primary key %v", e.Index, e.Values, e.Existing, e.New)
}

// Unwrap returns ErrUniqueViolation.
func (e *UniqueViolationError) Unwrap() error { return ErrUniqueViolation }
