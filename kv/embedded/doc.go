// Package embedded is layerkit's default kv engine: FoundationDB's transaction semantics in
// process, on Pebble (github.com/cockroachdb/pebble/v2), in memory or in a directory on disk.
//
// # Basics
//
// [Open] returns a [DB], which implements kv.Database:
//
//	db, err := embedded.Open("", nil) // in memory; a path opens a durable store
//	...
//	defer db.Close()
//	err = db.Transact(ctx, func(tr kv.Transaction) error { ... })
//
// Each transaction reads at its read version, taken when it first needs the database, merged
// with its own buffered writes, and records the ranges it read; a read its own writes answer
// needs no read version. Transactions that start between
// two commits share one read view; it reads Pebble directly and is frozen in a Pebble snapshot
// only when a new commit is applied while some transaction still holds it. At commit an
// optimistic resolver checks the read ranges against the writes committed since the read
// version (a hit is kv.ErrNotCommitted). Concurrent committers form a group: one Pebble batch,
// one sync, one commit version, and a distinct batch order per transaction, so versionstamps
// stay unique and durable throughput grows with concurrency. A commit becomes visible only after
// its group is synced, and watches fire after that.
//
// [Options] set the transaction window (five seconds, after which reads that need the
// database and commits that write fail with kv.ErrTransactionTooOld), syncing, a logger for
// Pebble, and injected commit faults ([DB.InjectFaults]) that prove layers are safe to retry.
//
// # Caveats
//
// A database directory may be opened by one process at a time. As in FoundationDB, a
// transaction is done once Commit returns: later operations fail with kv.ErrUsedDuringCommit
// until Reset or OnError. Versions are microseconds of the clock, never below the last commit
// version (persisted), so they follow time across a reopen and never go back, even when the
// clock does. The resolver's history lives in memory for the length of the transaction window.
// A read view lives as long as a transaction that may still read it: a transaction kept past
// the window can still read what it fetched (kv's read cache rule), so it keeps its Pebble
// snapshot, and with it the old data Pebble cannot compact away, until it is finished, reset,
// cancelled or dropped (a dropped transaction lets go once garbage collected).
package embedded
