// Package cli is the layerkit command: a cobra command tree that looks inside a layerkit
// database (the directory tree, raw keys, record stores, consistency) and measures the engine.
// cmd/layerkit's main calls [Run]; [RunOn] runs the same commands on a database the caller has
// open. The tests call them in process and compare transcripts with
// golden files in testdata (go test ./cmd/layerkit/... -update rewrites them).
//
// # Basics
//
// Every command opens one database: an embedded database directory (--db, or $LAYERKIT_DB)
// or, in a build with -tags fdb, a FoundationDB cluster (--cluster-file, through kv/fdbkv;
// without the tag, fdbkv.Open explains how to rebuild). Paths name directories of the default
// directory layer (/library/catalogue); "raw:" (FoundationDB's printable form, \xNN escapes)
// and "hex:" name raw key prefixes.
//
//   - dirs walks the directory tree: path, layer and prefix of every directory.
//   - keys lists keys under a prefix, relative to it, decoded as tuples where they are tuples.
//   - records reads a record store by its key layout and prints the records of one type as
//     protojson, decoding the union message of a descriptor set with dynamicpb.
//   - check runs directory.Check, every docstore collection's Check, queue and stream checks
//     for the prefixes named, the layout of every record store found in a directory and,
//     given metadata, record.Store.CheckConsistency.
//   - index state shows a record store's indexes and their states.
//   - queue stats|peek|redrive inspect a work queue; stream tail reads (and follows) a stream.
//   - docs find queries a docstore collection with a MongoDB-style JSON filter.
//   - bench measures write, point-read and range-read transactions per second.
//
// Results go to stdout; progress bars and notes (such as "there are more") go to stderr. An
// error is one line, "layerkit: …", with exit code 1, or 2 when the command line itself is
// wrong.
//
// # Record stores without stored metadata
//
// The database does not hold a store's metadata, so the commands learn what they need as
// follows. records needs only the record types: it reads the key layout of
// spec/record_store.md (the Java Record Layer's): the header at S+(0), each record at
// S+(1)+pk+(0) or in chunks S+(1)+pk+(1…n), its version at S+(1)+pk+(-1), and decodes the
// union message. check and the index commands need primary keys and indexes: they take them
// from the Java Record Layer's options in the .proto (the extensions numbered 1233:
// field.primary_key, field.index, record.usage = UNION, and the file's schema options
// split_long_records and store_record_versions), which protoc keeps in the descriptor set, and
// from flags (--primary-key, --index, --store-record-versions, --split-long-records); they
// build the metadata at the metadata version the store's header records and open the store
// with record.OpenReadOnly, so nothing is ever upgraded or written. check also fails a store
// that holds entries of an index the metadata does not declare, since it cannot compare those.
//
// # Caveats
//
// Scans read in pages of 1,000 keys, each page in its own read transaction, so they are not one
// snapshot of a store that is being written; a split record is always read whole within one
// page. check opens each record store in one transaction to run CheckConsistency, which a store
// too large to read in five seconds does not fit. Reading commands never commit; bench writes
// only inside a directory of its own, which it removes.
package cli
