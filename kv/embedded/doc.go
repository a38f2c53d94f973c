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
// Reverse reads (a range read in reverse, a key selector that looks backwards) stay cheap on a
// key that every commit rewrites, such as a counter changed with atomic ADD: Pebble would step
// through every version of it since the last flush, so the engine learns such keys and reads
// them forwards instead.
//
// # Damaged files and locking
//
// A store on disk is locked by the process that opens it: a second process, or a second Open in
// the same process, gets kv.ErrLockFileFailure (1529, FoundationDB's lock_file_failure) saying
// that the database is in use.
//
// Damage is reported with kv.ErrFileCorrupt (1522, file_corrupt, the code FoundationDB's storage
// engines give a corrupt data file), never with a panic or by quietly opening something else:
//   - A read that meets an sstable block whose checksum does not match fails, naming the file;
//     reads of other blocks go on.
//   - Damage met by a compaction (or another background job of Pebble) puts the database in a
//     failed state: every later call returns the error, naming the file, and that includes
//     reads and commits of transactions already open and pending watches. The storage is closed
//     (Pebble would retry the compaction without end); only Close remains to call.
//   - Open refuses a store whose manifest marker is gone while its data files are there (Pebble
//     would start an empty store and delete the old files as obsolete), a store whose manifest
//     or one of its sstables is missing, and any damage Pebble reports while it opens.
//
// The write-ahead log: Pebble replays the newest log leniently. The first record that does not
// read back ends the replay, and everything after it is dropped: that is right for a torn tail
// (the process died while writing), and silent loss of acknowledged commits when a record in the
// middle was damaged. Pebble itself fails only when a later 32 KiB block of the log proves the
// log was synced past the damage. Open looks further, from the damaged record on, including the
// rest of its own block, and fails when it finds a valid record written after the log had been
// synced past the damaged one (the store's format, Pebble's FormatValueSeparation, records in each
// record the offset synced so far, so no fsync is added to the commit path), or the trailer of a
// clean close. What stays undetectable: damage to the last records of a log that was not closed
// cleanly when no later record vouches for them (with syncing on, the commits of the last group
// before a crash; with NoSync, whose records carry no synced offset, any damage that only the
// crash tail follows), damage that leaves a record's CRC-32C valid, and records written by an
// older Pebble format (Open upgrades a store and starts a new log at once). Older logs must end
// cleanly, and Pebble fails on any damage in them.
//
// Pebble still stops the process (Logger.Fatalf panics) where it cannot go on: a failed write
// of its manifest or log, or one of its own invariants broken.
//
// # Large values and range clears
//
// On disk, Pebble keeps values of 4 KB and more in blob files that compactions do not rewrite,
// its memtables grow to 64 MB, and writes never stop for the number of files in L0, so commits
// of large values (a record's 100 KB chunks) do not stall the small commits around them. A range
// clear that covers at most 16 keys when its commit is applied is written as point deletions of
// those keys, which Pebble reads past more cheaply than range deletions. Opening a store written
// by an older layerkit upgrades its Pebble format, after which older builds cannot open it.
//
// # Caveats
//
// As in FoundationDB, a transaction is done once Commit returns: later operations fail with
// kv.ErrUsedDuringCommit until Reset or OnError. Versions are microseconds of the clock, never below the last commit
// version (persisted on disk), so they follow time across a reopen and never go back, even when the
// clock does. The resolver's history lives in memory for the length of the transaction window.
// A read view lives as long as a transaction that may still read it: a transaction kept past
// the window can still read what it fetched (kv's read cache rule), so it keeps its Pebble
// snapshot, and with it the old data Pebble cannot compact away, until it is finished, reset,
// cancelled or dropped (a dropped transaction lets go once garbage collected).
package embedded
