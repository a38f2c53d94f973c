// Package record is a record store: protobuf messages kept in a kv database under a subspace or
// directory, with indexes maintained in the saving transaction, queries planned onto those
// indexes, and cursors that resume from continuations in later transactions. The keys and values
// are those of Apple's Java Record Layer (spec/record_store.md), so stores can be shared with it
// for the features both have.
//
// # Basics
//
// Describe the records in a .proto file with a union message that has one field per record type
// (marked with the Java Record Layer's option usage = UNION, named RecordTypeUnion, or named with
// SetUnion), then declare primary keys and indexes. Start each primary key with RecordTypeKey()
// when the store has several record types: without it the types share one key space.
//
//	md, err := record.NewMetaDataBuilder(librarypb.File_library_proto).
//		SetPrimaryKey("Book", record.Concat(record.RecordTypeKey(), record.Field("branch"), record.Field("id"))).
//		AddIndex(record.Index{Name: "by_author", RecordTypes: []string{"Book"}, Expression: record.Field("author")}).
//		AddIndex(record.Index{Name: "books_per_branch", RecordTypes: []string{"Book"}, Type: record.CountIndex,
//			Expression: record.GroupBy(record.Empty(), record.Field("branch"))}).
//		Build()
//
// Open a [Store] in each transaction; its methods work in that transaction. The prefix is a
// subspace or a directory.DirectorySubspace as it is:
//
//	err = db.Transact(ctx, func(tr kv.Transaction) error {
//		st, err := record.Open(ctx, tr, md, dir)
//		if err != nil {
//			return err
//		}
//		_, err = st.SaveRecord(book)
//		return err
//	})
//
// [OpenReadOnly] opens a store in a kv.ReadTransaction (inside kv.ReadTransact). Save, Load,
// LoadAs, Delete and DeleteRecordsWhere work on records; [RecordType.PrimaryKeyOf] builds a
// primary key from values. Key expressions ([Field], [FieldNotNull], [FanOut], [Concatenate],
// [Nest], [NestFanOut], [Concat], [RecordTypeKey], [VersionKey], [Empty], [GroupBy]) compute
// primary keys and index keys. A [Query] names record types, a [Filter] and a sort;
// [Store.Plan] makes a plan ([Plan.Explain] shows it) and [Store.Execute] returns a [Cursor]
// that stops at a returned-row, scanned-record, byte or time limit with a continuation.
//
// Index types ([IndexType]): VALUE; VERSION, whose entries hold the record's version and serve
// [Store.ChangesSince], the "what changed since version V" query of sync clients; and the
// aggregates COUNT, COUNT_UPDATES, COUNT_NOT_NULL, SUM, MIN_EVER/MAX_EVER (long and tuple) and
// MAX_EVER_VERSION, maintained with atomic mutations and read one group per read by
// [Store.Count], [Store.Sum], [Store.MinEver], [Store.MaxEver], [Store.RecordCount]. With
// SetStoreRecordVersions every save gives the record a version (Record.Version), a 12-byte
// versionstamp; [CompleteVersion] completes the one a save returns once the transaction has
// committed.
//
// Plans are trees of the Java Record Layer's plan kinds: index and record scans, IN joins (one
// scan per value, or merged in sort order), unions of the scans of an OR's branches,
// intersections of equality scans, and covering scans, which answer from index entries alone
// when Query.RequiredFields allows (Record.Partial):
//
//	IndexScan(by_author eq=("Tolkien")) | Fetch | Filter(year > 1950)
//	InJoin[author in ("A", "B")](IndexScan(by_author eq=($author))) | Fetch
//	Union[pk](IndexScan(by_author eq=("A")) ∪ IndexScan(by_tag eq=("sf"))) | Fetch
//	Intersection[pk](IndexScan(by_tag eq=("sf")) ∩ IndexScan(by_year eq=(1965))) | Fetch
//	Covering(IndexScan(by_year eq=(1965)) -> [title, id])
//
// An index added to a store that holds records is DISABLED when the store is opened with the
// new metadata (unless the store is known to be small, or the index covers only record types
// newer than the store; [WithIndexStates] chooses otherwise); [BuildIndex] builds it over the
// existing records in many transactions while clients keep writing, resumes after a crash, and
// shares the work with other builders. [ValidateEvolution] checks, before new metadata is
// deployed, that stores written with the old metadata can be opened with it; a removed index is
// declared a [FormerIndex], whose data Open clears.
//
// Proto3: as in the Java Record Layer, [Field] evaluates a field the message does not have to
// null — and a proto3 field without presence at its default value (0, "", false) is
// indistinguishable from unset, so it is null too, in primary keys, index entries and queries
// (Where("shelf").Equals(0) matches nothing; IsNull matches the zeros). Use [FieldNotNull] where
// the default value must be stored as a value, or proto3 optional fields.
//
// [Store.CheckConsistency] (and [Check], shaped for testdb.Check) verifies that records, their
// versions, every index and the record counts agree.
//
// # Key layout
//
// Under the store's prefix S (FDBRecordStoreKeyspace):
//
//	key                              value
//	S+(0)                            store header: DataStoreInfo (format and metadata versions,
//	                                 user version, record count key, flags, user fields)
//	S+(1)+pk+(0)                     the record: the union message with one field set
//	S+(1)+pk+(1…n)                   its chunks of 100,000 bytes, when larger
//	S+(1)+pk                         the record, in a store that omits the unsplit suffix
//	S+(1)+pk+(-1)                    its version: pack((versionstamp)), from format 6
//	S+(2, index)+values+pk rest      VALUE and VERSION entries (primary-key columns already among
//	                                 the values are left out for an index on one record type);
//	                                 empty value
//	S+(2, index)+group               aggregate value: 8-byte little-endian count, sum, min or
//	                                 max, or a packed tuple; S+(2, index) itself without groups
//	S+(3, index)                     secondary structures (none of this package's types)
//	S+(4)+count key value            record count: 8-byte little-endian, atomic ADD
//	S+(5, index)                     index state (code); no key: READABLE
//	S+(6, index)+(begin bytes)       built-range set of an index being built: the end of a range
//	                                 of packed primary keys already indexed (Java's RangeSet)
//	S+(7, index)+values+pk           uniqueness violation of a WRITE_ONLY unique index: the other
//	                                 record's packed primary key
//	S+(8)+pk                         record version before format 6: 12 raw bytes
//	S+(9, index)+(n)                 index build state: n = 1 records scanned (8-byte ADD), 2 the
//	                                 build stamp (IndexBuildIndexingStamp, BY_RECORDS)
//	S+(10, index)+…                  never written (Java's leaderboard indexes keep their time
//	                                 windows there); cleared with an index's data, as Java does
//
// # Caveats
//
//   - A save of a record writes the whole record again, and clears its old keys first; a save that
//     changes nothing writes nothing (unless the store keeps versions or a COUNT_UPDATES index
//     counts the save). Saves, deletes and Open are safe to retry after commit_unknown_result, as
//     is every aggregate but COUNT_UPDATES, which counts a retried save twice, as in Java.
//   - Versions written in a transaction cannot be read back before it commits (FoundationDB
//     refuses, 1036): the Store remembers the ones it gave, but a scan of the records or of a
//     VERSION index that meets them in the same transaction fails, and a record saved earlier in
//     the transaction whose VERSION index entry would change, or that is deleted, is refused
//     with ErrVersionPending. A record saved twice in one transaction keeps its first version.
//     Open one Store per transaction: versions are numbered per Store.
//   - A COUNT index over a repeated field counts a value listed twice twice, and an update that
//     drops one copy leaves the count unchanged, as in Java.
//   - Without SplitLongRecords(false) records larger than one value are split, where Java's
//     default refuses them; declare the setting of a shared store's Java metadata.
//   - Unique indexes exempt keys with a null column. A WRITE_ONLY unique index records
//     violations instead of refusing the save; RebuildIndex refuses to make it READABLE while
//     violations exist, while BuildIndex ends such a build READABLE_UNIQUE_PENDING at any store
//     format (Java's indexer does so only when asked, at format 9 or later, and otherwise fails
//     the build).
//   - A FieldNotNull column under an unset nested message evaluates to a plain null here, so a
//     unique index exempts it and COUNT_NOT_NULL does not count it; Java's NOT_NULL stand-in
//     packs the same bytes but is neither exempt nor skipped.
//   - MIN_EVER_TUPLE and MAX_EVER_TUPLE apply nothing when a record is removed; Java applies the
//     removed value again, which changes the stored bytes only where the group did not yet hold
//     it (a record deleted ahead of an online build).
//   - Making an index READABLE clears all its build data at S+(9, name); Java's markIndexReadable
//     leaves it to its indexer, and its indexer also clears it on READABLE_UNIQUE_PENDING, where
//     this package keeps it.
//   - The record count key is maintained when the metadata or the header has one, except its
//     kinds of key expression this package does not evaluate (those refuse the store); a store
//     whose index is WRITE_ONLY_WITH_QUEUE refuses record writes, since its queue is not kept.
//   - The planner has no statistics: it prefers the scan matching the most equality columns, an
//     intersection only when it leaves fewer conditions to filter and each of its scans matches
//     as many equalities, and a union only when no single scan narrows the query. An IN becomes
//     a join only on a single (non-repeated) field, one IN per scan; an OR becomes a union only
//     at the top of the filter (not inside Nested) and when every branch is narrowed by an index
//     or the primary key; unions and intersections need the queried types to share their
//     primary key. A range on a fan-out column is not used, and a FieldNotNull column is not used
//     at all (its index holds defaults where a filter's field is null). Covering
//     plans are made for one queried record type, from index columns that are single fields.
//     An in-memory sort reads every match (up to its bound) in each page; its continuation is
//     the sort key and primary key of the last record returned.
//   - BuildIndex builds by records (Java's BY_RECORDS); it neither continues nor coexists with a
//     Java build by index or a mutual build, takes no build lock and writes no heartbeats at
//     S+(9, name, 0) and S+(9, name, 7). Its estimate of the records left extrapolates from
//     where keys lie, so it is rough while keys are unevenly spread.
//   - Without a COUNT index over the indexed types or a record count key, a store that holds
//     any record counts as too big to build a new index in the opening transaction (as in Java),
//     so the index is DISABLED until BuildIndex builds it.
//   - Rank, text and the other index types of Java, synthetic record types and metadata stored
//     as protobuf are not implemented.
package record
