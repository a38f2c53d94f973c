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
// values+the primary-key columns not among them; index states at S+(5, index name); the ranges
// of primary keys an index build has covered at S+(6, index name) (the Java Record Layer's
// RangeSet: S+(6, name, begin bytes) → end bytes); an index build's data at S+(9, index name, n)
// (n = 1: records scanned, 2: the BY_RECORDS build stamp).
//
// Key expressions ([Field], [FanOut], [Concatenate], [Nest], [NestFanOut], [Concat],
// [RecordTypeKey]) compute primary keys and index keys with protoreflect. A [Query] names record
// types, a [Filter] and a sort; [Store.Plan] makes a plan ([Plan.Explain] shows it) and
// [Store.Execute] returns a [Cursor] that stops at a returned-row, scanned-record, byte or time
// limit with a continuation to resume from. Plans are trees of the Java Record Layer's plan
// kinds: index and record scans, IN joins (one scan per value, or merged in sort order), unions
// of the scans of an OR's branches, intersections of equality scans, and covering scans, which
// answer from index entries alone when Query.RequiredFields allows (Record.Partial):
//
//	IndexScan(by_author eq=("Tolkien")) | Fetch | Filter(year > 1950)
//	InJoin[author in ("A", "B")](IndexScan(by_author eq=($author))) | Fetch
//	Union[pk](IndexScan(by_author eq=("A")) ∪ IndexScan(by_tag eq=("sf"))) | Fetch
//	Intersection[pk](IndexScan(by_tag eq=("sf")) ∩ IndexScan(by_year eq=(1965))) | Fetch
//	Covering(IndexScan(by_year eq=(1965)) -> [title, id])
//
// An index added to a store that holds records is DISABLED when the store is opened with the
// new metadata (unless the store is known to be small, or the index covers only record types
// newer than the store); [BuildIndex] builds it over the existing records in many transactions
// while clients keep writing, resumes after a crash, and shares the work with other builders.
// [ValidateEvolution] checks, before new metadata is deployed, that stores written with the old
// metadata can be opened with it; a removed index is declared a [FormerIndex], whose data Open
// clears.
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
//   - Only VALUE indexes exist so far; aggregate, rank and version indexes, record versions and
//     record counts are not implemented.
//   - The planner has no statistics: it prefers the scan matching the most equality columns, an
//     intersection only when it leaves fewer conditions to filter and each of its scans matches
//     as many equalities, and a union only when no single scan narrows the query. An IN becomes
//     a join only on a single (non-repeated) field, one IN per scan; an OR becomes a union only
//     at the top of the filter (not inside Nested) and when every branch is narrowed by an index
//     or the primary key; unions and intersections need the queried types to share their
//     primary key. A range on a fan-out column is not used. Covering plans are made for one
//     queried record type, from index columns that are single fields. An in-memory sort reads
//     every match (up to its bound) in each page; its continuation is the sort key and primary
//     key of the last record returned, so a later page starts strictly after it even when
//     records changed in between.
//   - BuildIndex builds by records (Java's BY_RECORDS); it neither continues nor coexists with a
//     Java build by index or a mutual build, takes no build lock and writes no heartbeats at
//     S+(9, name, 0) and S+(9, name, 7). Its estimate of the records left extrapolates from
//     where keys lie, so it is rough while keys are unevenly spread.
//   - Without a COUNT index over the indexed types or a record count key, a store that holds
//     any record counts as too big to build a new index in the opening transaction (as in Java),
//     so the index is DISABLED until BuildIndex builds it.
//   - Integers of every protobuf kind are stored as 64-bit signed tuple integers, as in Java:
//     uint64 values above 2^63-1 wrap to negative numbers.
//   - The header records format version 8 and is refused when a store is newer (format or
//     metadata version) or omits the unsplit record suffix.
package record
