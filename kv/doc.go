// Package kv is the contract every layerkit layer is written against: an ordered key-value store
// with FoundationDB's transaction semantics. Two engines implement it: kv/embedded (in process,
// Pebble underneath; the default) and kv/fdbkv (FoundationDB through the official binding, build
// tag fdb). The conformance suite kv/kvtest proves each engine against this contract.
//
// # Basics
//
// A [Database] hands out [Transaction]s. A transaction reads at one read version and buffers its
// writes; at commit every key and range it read (without [ReadTransaction.Snapshot]) is checked
// against writes committed since its read version, and a hit fails the commit with
// [ErrNotCommitted] (1020). Reads see the transaction's own writes (read-your-writes), including
// clears, range clears and atomic mutations.
//
// Most code never commits by hand. [Transact] runs a function in a retry loop: it commits, and on a
// retryable error ([IsRetryable]) backs off, resets the transaction and runs the function again.
// Because a [Transaction] is itself a [Transactor] (it runs the function in place), layer
// functions that take a Transactor compose inside one caller's transaction:
//
//	n, err := kv.Transact(ctx, db, func(tr kv.Transaction) (int, error) {
//		v, err := tr.Get([]byte("counter")).Get()
//		...
//	})
//
// Reads return a [Future] so a layer can issue many reads before it waits for any; on
// FoundationDB each round trip costs about a millisecond and pipelining them is how layers stay
// fast. Keys and ranges follow FoundationDB: a [Range] is [Begin, End); a [KeySelector] resolves
// to a key relative to another.
//
// # Limits
//
// Keys are at most 10,000 bytes ([ErrKeyTooLarge], 2102), values at most 100,000 bytes
// ([ErrValueTooLarge], 2103). Keys from 0xff up belong to the system keyspace and may not be
// written ([ErrKeyOutsideLegalRange], 2004); the one system key a transaction may read, watch
// and (only through [BumpMetadataVersion]) change is [MetadataVersionKey].
//
// A commit may send at most 10,000,000 bytes ([ErrTransactionTooLarge], 2101), counted as
// FoundationDB's client counts them: the mutations left once the transaction's writes are
// combined (a key set many times counts once, a set erased by a later clear not at all, two range
// clears that touch count as one), plus the read and write conflict ranges once merged, each
// mutation with 56 bytes of overhead and each range with 32. Conflict ranges count as much as
// data: 1,000 reads of 5,000-byte keys make 10 MB. A commit that writes nothing is not checked.
//
// # The transaction window
//
// A read version lives about five seconds. After that, a read that needs the database fails
// with [ErrTransactionTooOld] (1007), and so does a commit that writes (every commit that
// writes carries a read conflict range, whether or not the transaction read anything without
// Snapshot). What does not need the database never fails with 1007: a read answered from the
// transaction's own writes, a repeated read of keys or ranges the transaction already read
// (snapshot or not: a transaction keeps what it fetched), GetReadVersion, a commit that writes
// nothing, and a blind write (a transaction that took no read version gets one at commit).
//
// # Conflict ranges
//
// A read adds a read conflict range over what it covered, except on keys the transaction
// wrote before reading them (its own writes answered the read). A range read conflicts from the
// moment GetRange is called: the first batch of rows is read at once. Rows are then fetched in
// batches (a few KB at first, growing as an iterator goes on; [RangeResult.GetSlice] reads
// everything), and a read conflicts on every batch it fetched, consumed or not, and on nothing
// beyond: a read conflicts at least from the start of its range to the last row it returned,
// and at most on its whole range. A watch reads its key and so conflicts on it. An explicit read
// conflict range leaves out keys the transaction wrote before, as a read does.
//
// # Versions
//
// Versions advance with time, about 1,000,000 a second, whether or not anything commits, and
// never go back (on one database, across restarts of a durable embedded one). A difference of
// two versions measures the time between them, so a read version is a usable clock for leases
// and expiry; versionstamps (commit version and batch order) from two runs order correctly.
// Versions are not wall-clock time: compare them or take differences only.
//
// # Watches
//
// A watch holds one of the database's 10,000 watch slots until it fires, fails, is cancelled,
// or is dropped: a Watch the program no longer references is cancelled when it is garbage
// collected, as a dropped watch future is in FoundationDB's Go binding. A Wait that ends with
// its ctx leaves the watch armed and starts nothing that outlives it. Cancel watches no longer
// needed to give their slots back at once.
//
// # Caveats
//
// [ErrCommitUnknownResult] (1021) is retried by [Transact] although the commit may have
// happened. Everything run inside [Transact] must therefore be idempotent under retry.
//
// Mutations ([Transaction.Set], [Transaction.Clear], ...) do not return errors, as in
// FoundationDB: an invalid key or value makes the transaction fail, and the error is returned by
// the next read and by [Transaction.Commit]. Conflict range calls do the same, except that an
// inverted range is refused at once.
//
// Byte slices returned by reads belong to the caller; slices passed to writes may be reused by the
// caller once the call returns.
package kv
