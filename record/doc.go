// Package record is a record store: protobuf messages kept in a kv database under a subspace or
// directory, with secondary indexes maintained in the saving transaction, queries planned onto
// those indexes, and cursors that resume from continuations in later transactions. The keys are
// those of Apple's Java Record Layer (spec/record_store.md), so stores can be shared with it for
// the features both have.
//
// # Basics
//
// Describe the records in a .proto file with a union message that has one field per record type
// (marked with the Java Record Layer's option usage = UNION, named RecordTypeUnion, or named with
// SetUnion), then declare primary keys and indexes:
//
//	md, err := record.NewMetaDataBuilder(librarypb.File_library_proto).
//		SetPrimaryKey("Book", record.Concat(record.Field("branch"), record.Field("id"))).
//		AddIndex(record.Index{Name: "by_author", RecordTypes: []string{"Book"}, Expression: record.Field("author")}).
//		Build()
//
// Open a [Store] in each transaction; its methods work in that transaction:
//
//	err = db.Transact(ctx, func(tr kv.Transaction) error {
//		st, err := record.Open(ctx, tr, md, sub) // sub: a subspace or directory
//		if err != nil {
//			return err
//		}
//		_, err = st.SaveRecord(book)
//		return err
//	})
//
// The layout under the store's prefix S: the header (a DataStoreInfo message) at S+(0); each
// record at S+(1)+primary key+(0), or in chunks S+(1)+primary key+(1…n) of at most 100,000 bytes
// when its serialized union message is larger; value index entries at S+(2, index name)+indexed
// values+the primary-key columns not among them; index states at S+(5, index name).
//
// Key expressions ([Field], [FanOut], [Concatenate], [Nest], [NestFanOut], [Concat],
// [RecordTypeKey]) compute primary keys and index keys with protoreflect. A [Query] names record
// types, a [Filter] and a sort; [Store.Plan] picks a scan ([Plan.Explain] shows it) and
// [Store.Execute] returns a [Cursor] that stops at a returned-row, scanned-record, byte or time
// limit with a continuation to resume from.
//
// [Store.CheckConsistency] (and [Check], shaped for testdb.Check) verifies that records and
// index entries agree.
//
// # Caveats
//
//   - Saves, deletes and Open are safe to retry after commit_unknown_result: a retried InsertOnly
//     of an identical record succeeds. A save that changes nothing writes nothing, and a save
//     that changes no indexed field writes no index key.
//   - Unique indexes exempt keys with a null column; a violating save fails before writing. They
//     are enforced in the WRITE_ONLY state too (the Java Record Layer records such violations
//     under S+(7) instead; this package writes nothing there).
//   - Only VALUE indexes exist so far; aggregate, rank and version indexes, record versions,
//     record counts, the online indexer and metadata evolution checks are not implemented. When
//     a store is opened with newer metadata, new or changed indexes are rebuilt in that
//     transaction if the store holds at most 200 records, or else marked WRITE_ONLY until
//     RebuildIndex (one transaction) makes them READABLE.
//   - The planner uses one scan per query: OR and IN are residual filters, and a range on a
//     fan-out column is not used. An in-memory sort reads every match (up to its bound) in each
//     page; its continuation is the sort key and primary key of the last record returned, so
//     a later page starts strictly after it even when records changed in between.
//   - Integers of every protobuf kind are stored as 64-bit signed tuple integers, as in Java:
//     uint64 values above 2^63-1 wrap to negative numbers.
//   - The header records format version 8 and is refused when a store is newer (format or
//     metadata version) or omits the unsplit record suffix.
package record
