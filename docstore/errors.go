package docstore

import "errors"

// Errors about documents and values.
var (
	// ErrInvalidDocument is returned when a document or a value cannot be stored: a Go type
	// without a JSON form, a NaN, a field name starting with '$' or holding '.', nesting deeper
	// than MaxDepth, a string that is not UTF-8, or malformed JSON text.
	ErrInvalidDocument = errors.New("docstore: invalid document")
	// ErrInvalidID is returned when an _id is not a string, an integer, a UUID or bytes.
	ErrInvalidID = errors.New("docstore: invalid _id")
	// ErrDocumentTooLarge is returned when an encoded document is larger than MaxDocumentSize.
	ErrDocumentTooLarge = errors.New("docstore: document too large")
	// ErrCorrupt is returned when stored bytes do not decode: a field value, a key, the
	// collection header or an index definition.
	ErrCorrupt = errors.New("docstore: corrupt stored data")
)

// Errors of writes.
var (
	// ErrNotFound is returned by Get, Replace and ReplaceIf when no (unexpired) document has the
	// _id.
	ErrNotFound = errors.New("docstore: document not found")
	// ErrDuplicateID is returned by Insert when a different document with the _id exists.
	ErrDuplicateID = errors.New("docstore: duplicate _id")
	// ErrDuplicateKey is returned when a write would give two documents the same key in a
	// unique index; the error names the index and the key.
	ErrDuplicateKey = errors.New("docstore: duplicate key in unique index")
	// ErrRevisionMismatch is returned by ReplaceIf when the document's revision is not the one
	// given: it changed since it was read.
	ErrRevisionMismatch = errors.New("docstore: document revision changed")
	// ErrInvalidUpdate is returned for a malformed update: an unknown operator, a wrong operand
	// type, conflicting paths, or an operator that does not fit the stored value (such as $inc
	// of a string). The error names the operator and the path.
	ErrInvalidUpdate = errors.New("docstore: invalid update")
	// ErrValidation is returned when a document does not satisfy its collection's JSON Schema.
	ErrValidation = errors.New("docstore: document fails the collection's schema")
	// ErrTooManyIndexEntries is returned when a document would have more than
	// MaxIndexEntriesPerDocument entries in one index, or arrays in two fields of one compound
	// index (which MongoDB calls parallel arrays).
	ErrTooManyIndexEntries = errors.New("docstore: too many index entries for one document")
)

// Errors of queries.
var (
	// ErrInvalidFilter is returned for a malformed filter: an unknown operator, an operand of
	// the wrong type, a bad regular expression. The error names the operator and the path.
	ErrInvalidFilter = errors.New("docstore: invalid filter")
	// ErrInvalidContinuation is returned for a continuation token that was not made by the same
	// query on the same collection.
	ErrInvalidContinuation = errors.New("docstore: invalid continuation")
	// ErrSortTooLarge is returned when a sort that no index provides would hold more documents
	// in memory than FindOptions.MaxInMemorySort.
	ErrSortTooLarge = errors.New("docstore: in-memory sort too large")
)

// Errors of collections and indexes.
var (
	// ErrCollectionNotFound is returned when a read names a collection that does not exist.
	ErrCollectionNotFound = errors.New("docstore: collection not found")
	// ErrCollectionExists is returned by CreateCollection when the collection exists.
	ErrCollectionExists = errors.New("docstore: collection exists")
	// ErrIndexExists is returned by CreateIndex when an index of that name exists with another
	// definition.
	ErrIndexExists = errors.New("docstore: index exists with another definition")
	// ErrIndexNotFound is returned when an index name is not defined on the collection.
	ErrIndexNotFound = errors.New("docstore: index not found")
	// ErrInvalidIndex is returned for an index definition that cannot be built: no fields, a
	// bad path, a TTL on more than one field, a bad partial filter.
	ErrInvalidIndex = errors.New("docstore: invalid index definition")
	// ErrInvalidSchema is returned when a collection's JSON Schema does not compile.
	ErrInvalidSchema = errors.New("docstore: invalid JSON Schema")
	// ErrUnsupportedFormat is returned for a collection whose header names a key layout format
	// this version does not read: format 1 (every array element in a key of its own, before
	// small arrays were packed) or a newer one. Such a collection can still be dropped.
	ErrUnsupportedFormat = errors.New("docstore: unsupported collection format")
)
