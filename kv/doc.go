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
// ([ErrValueTooLarge], 2103), and a transaction may write at most 10,000,000 bytes
// ([ErrTransactionTooLarge], 2101). Keys from 0xff up belong to the system keyspace and may not be
// written ([ErrKeyOutsideLegalRange], 2004). A transaction older than five seconds fails with
// [ErrTransactionTooOld] (1007).
//
// # Caveats
//
// [ErrCommitUnknownResult] (1021) is retried by [Transact] although the commit may have
// happened. Everything run inside [Transact] must therefore be idempotent under retry.
//
// Mutations ([Transaction.Set], [Transaction.Clear], ...) do not return errors, as in
// FoundationDB: an invalid key or value makes the transaction fail, and the error is returned by
// the next read and by [Transaction.Commit].
//
// Byte slices returned by reads belong to the caller; slices passed to writes may be reused by the
// caller once the call returns.
package kv
