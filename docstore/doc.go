// Package docstore keeps collections of JSON documents in a kv database: each document stored
// field by field, secondary indexes (compound, unique, multikey, sparse, partial, TTL) built
// online, MongoDB-style filters, update operators, sorts and projections, queries planned onto
// indexes and paged by continuations, a change feed on a queue stream, and optional JSON Schema
// validation. Every operation runs in a kv.Transactor, so it composes in one transaction with
// record stores, queues and other collections.
//
// # Basics
//
// Open a database (a directory) and take a collection (a subdirectory, created by its first
// write or by CreateCollection):
//
//	ds, err := docstore.Open(ctx, db, []string{"app", "docs"}, nil)
//	users := ds.Collection("users")
//	id, err := users.Insert(ctx, db, docstore.M{"name": "Ada", "age": 36, "tags": docstore.A{"math"}})
//	err = users.CreateIndex(ctx, db, docstore.Index{Name: "by_age", Fields: []string{"age"}})
//	page, err := users.Find(ctx, db, docstore.M{"age": docstore.M{"$gt": 30}}, docstore.FindOptions{Sort: []string{"-age"}, Limit: 20})
//	_, err = users.UpdateByID(ctx, db, id, docstore.M{"$inc": docstore.M{"logins": 1}})
//
// Documents go in as an M (map[string]any), as a struct (through encoding/json, so json tags
// apply) or as JSON text, and come out as a [Document] (Map, Decode into a struct, JSON).
// Filters and updates are Go values or JSON text (`{"age": {"$gt": 30}}`); [ParseFilter] and
// [ParseUpdate] check them ahead of time. A value's type decides its order, as in MongoDB:
// null < numbers < strings < objects < arrays < binary data < booleans < dates ([Compare]).
//
// Give an operation the database and it runs its own retry loop; give it a transaction and it
// runs in place and commits with the caller's other work. Results page by continuation:
// pass Page.Continuation back in FindOptions.Continuation, in the same or a later transaction,
// and the next page starts exactly after the last document returned.
//
// # Key layout
//
// A database is a directory (layer "docstore"); each collection a subdirectory (layer
// "docstore.collection") with prefix P. Keys below P are tuples:
//
//	key                                   value                               written by
//	P+(0)                                 header: JSON (format, indexes,      CreateCollection, first write,
//	                                      schema, change feed on/off)         CreateIndex, DropIndex, builds
//	P+(1, id…)                            'o': the document root              Insert, Replace
//	P+(1, id…, name|index …)              one field: 'o' object, 'a'+len      Insert, Replace, updates
//	                                      array, 'A' packed array, or a
//	                                      scalar (below)
//	P+(1, id…, path…, nil, i)             chunk i of a scalar over 100 KB     (its path holds 'x' n size)
//	P+(2, id…)                            revision: 10-byte versionstamp      every write (versionstamped value)
//	P+(3, ix, value…, id…)                "" : an index entry                 writes, index builds
//	P+(4, ix)                             1: the index has met an array       first write with an array there
//	P+(5, ix)                             packed id… of the last document     online index build (batches)
//	                                      an unfinished build indexed
//	P+(6, …)                              the change feed: a queue.Stream     writes, when the feed is on
//	P+(7, token)                          JSON result of a non-idempotent     writes given a database
//	                                      write, for its retries              (cleared after 10 minutes)
//
// id… is the _id in the value key form below (an integer 7 is (30, 7.0, 0), a string "a" is
// (40, "a")); name is a field name (tuple string), index an array position (tuple integer), ix
// the index's number. Scalars are a type byte and the value: 'n' null, 't'/'f', 'i' zig-zag
// varint int64, 'd' 8-byte float64, 's' UTF-8, 'b' subtype + bytes, 'D' varint milliseconds.
// Objects are kept field by field, a key per field below the object's marker. An array whose
// packed form takes at most 2 KiB is kept whole in one value: 'A', the length, then each element
// as a type byte and a payload that says its own length (strings and binary data after a uvarint
// length, objects as a count and name-sorted (length, name, element) fields, arrays as a count
// and elements). A larger array has a marker and a key per element. So a 1 KB document of ten
// top-level fields, one of them a small array and one an object of two fields, is 14 keys with
// its root and revision, plus its index entries. The format (2 since small arrays were packed)
// is in the collection header; a collection of another format (1 kept every array element in a
// key of its own) is refused with ErrUnsupportedFormat, and can only be dropped.
//
// Values in index keys (and in sorts, and _ids) are tuple elements led by a type tag, the
// FoundationDB Document Layer's type codes, so that byte order is MongoDB's type order:
// 15 an empty array's undefined, 20 null, (30, float64 f, int64 r) a number, (40, string),
// (50, nested (tag, name, payload)… in name order) an object, (60, nested (tag, payload)…) an
// array, (70, length, subtype, bytes) binary data, (90, bool), (100, int64 ms) a date. A number
// is split into f, the largest float64 not above it, and the integer remainder r, so int64 and
// float64 values order together exactly and equal values (3 and 3.0) have one key. A multikey
// index has one entry per distinct element of the array at its path (at most
// MaxIndexEntriesPerDocument); a missing field is null (unless the index is sparse).
//
// [Collection.Check] (and [Check], shaped for testdb.Check) verifies that documents decode and
// are stored exactly as this version writes them (every small array packed, every large one
// not), that revisions and documents pair up, that indexes hold exactly the entries their
// documents call for (no more, no fewer, no duplicate in a unique index) and that the change
// feed's stream is sound.
//
// # Concurrency and revisions
//
// A partial update by _id (UpdateOne with a filter on _id, UpdateByID, Upsert) reads only the
// keys of the paths it names (the update's, the filter's, those of the indexes the update
// touches, and TTL fields): the containers above each path and the path's subtree, the root only
// when none of those keys exists. Two transactions updating different fields of one document,
// at the top level or inside objects, therefore both commit; updates of one field conflict, and
// the retry loop applies them one after the other. An array is one unit: an update of any of its
// elements reads all of it. Reading a whole document (Get, Find, Replace, an update by another
// filter) reads its whole key range, so it conflicts with a concurrent change of any field.
//
// Every write sets the document's revision with a versionstamped value, without reading it:
// field-level writers stay conflict-free and the later commit's stamp wins. ReplaceIf reads the
// revision and fails with ErrRevisionMismatch when it is not the one given.
//
// # Caveats
//
//   - _id is a string, an integer (an integral float is taken as one), a UUID or bytes; a
//     document without one gets a UUIDv7. Field names may not start with '$' or hold '.'.
//     Objects are kept in field-name order: the order of a document's fields is not kept, and
//     objects compare as if sorted by name.
//   - JSON numbers without a fraction or exponent that fit int64 are integers, others float64;
//     NaN and infinities are refused. Dates are time.Time at millisecond precision, written in
//     JSON as {"$date": "…"} (Extended JSON); a struct's time.Time field goes through
//     encoding/json as a string, so use [Date] for a field that must be a date (TTL, date
//     order).
//   - Documents are limited to 16 MiB (MaxDocumentSize) but one transaction may write at most
//     10,000,000 bytes (FoundationDB's limit), so a document larger than about 9.5 MB cannot be
//     written; values above 100 KB are split into chunks. A partial update checks the size of
//     what it writes, not of the whole document.
//   - Retries: given a database, a write that is not idempotent (an insert of a new document
//     is made idempotent by comparing with what is stored; $inc, $mul, $push, $pop and
//     $currentDate updates, filtered updates, upserts, deletes and FindOneAndUpdate record
//     their result under P+(7)) returns the first attempt's result when a commit's result was
//     unknown. Given a transaction, the caller's retry loop runs the write again: give
//     documents an _id and prefer idempotent operators there. A retried $set by _id reports
//     Modified 0.
//   - Unique indexes treat a missing field as null (only one such document) unless sparse;
//     1 and 1.0 are one key. A unique index whose build meets a duplicate is dropped.
//     Compound indexes refuse documents with arrays in two of their fields.
//   - The planner uses one scan: the index with the longest equality prefix, then one range
//     on the next field (one bound only for a multikey index), then the sort; $or, $in (except
//     on _id), $regex and negations are filters on the documents fetched. The full filter is
//     checked on every document fetched. A sort that no scan gives is done in memory, bounded
//     by FindOptions.MaxInMemorySort, and every page of it reads every match. Indexes are
//     ascending; a reverse scan gives an all-descending sort.
//   - TTL: a document expires ExpireAfter after the earliest date in the TTL field, and from
//     that moment no read or write sees it (an insert may reuse its _id and its unique keys,
//     and removes it); Sweep (or RunSweeper) reclaims the space. Documents whose field holds
//     no date never expire.
//   - Regular expressions are Go's RE2 syntax (options i, m, s), not PCRE. Positional update
//     operators ($, $[]), aggregation, text search and $where are not supported.
//   - Change feed: one queue stream append per change (3 keys: the entry, the stream's
//     trigger and scratch keys), in the writing transaction. Entries carry the _id and, for
//     updates, the changed paths, not the documents.
package docstore
