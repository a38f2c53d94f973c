// Package queue keeps append-only streams in a kv database: logs ordered by the versionstamps
// of the transactions that appended to them, read from cursors, tailed with watches, and
// consumed by named groups whose cursors commit together with the consumer's work. A stream
// lives under a prefix (a subspace, a directory's subspace, or raw bytes), like a record store.
//
// # Basics
//
// [NewStream] returns a [Stream] handle. [Stream.Append] appends inside the caller's
// transaction, so an entry commits with the writes it describes (a record saved, a message of a
// conversation); it returns a future of the entry's [EntryID], known once the transaction
// commits:
//
//	chat, err := queue.NewStream(sub, nil) // sub: a subspace.Subspace, a directory's Subspace()...
//	err = db.Transact(ctx, func(tr kv.Transaction) error {
//		f, err := chat.Append(ctx, tr, []byte("user: hello"), nil)
//		...
//	})
//	id, err := f.Get() // after the commit
//
// Appenders never conflict: the entry's key is a versionstamped key, and nothing an append
// reads carries a read conflict. [Stream.Read] returns a [Page] of entries after a cursor (or
// before it, newest first), and the page's Cursor resumes the read; [StreamStart] and
// [StreamEnd] are the two ends. [Stream.Wait] and [Stream.Follow] tail the stream with a watch.
//
// A [Group] is a consumer group: a cursor stored in the database. [Group.Read] and
// [Group.Advance] in the transaction that does the consumer's work make that work exactly-once
// for database-only consumers; [Group.Consume] is that loop, waiting on a watch when idle.
// [Stream.Trim] and [Stream.TrimOlderThan] remove old entries (before a cursor or an age).
//
// An EntryID is 12 bytes: the 10-byte versionstamp of the commit (8-byte big-endian commit
// version, 2-byte batch order) and a 2-byte user version counting the appends of that
// transaction. IDs order as their bytes and as their hex String, and convert to and from tuple
// versionstamps, so they can be stored as resume tokens or inside keys.
//
// Why a cursor never skips an entry: a transaction reading at version R sees every commit with
// version ≤ R, and every later commit gets a version > R, hence a versionstamp greater than any
// entry visible at R. A page that ended before its limit therefore holds everything after its
// cursor up to R, and whatever is appended later orders after the page's last entry.
//
// # Key layout
//
// Under a stream's prefix P (tuple-encoded elements after P):
//
//	key                     value                                        written by
//	P+(1, id)               entry: 0x01, uvarint unix ms, payload        Append (versionstamped key)
//	P+(4, key)              idempotency record: 12-byte ID,               Append with a key
//	                        8-byte big-endian expiry (unix ms)            (versionstamped value)
//	P+(5, expiry, key)      "" (idempotency records by expiry)           Append with a key; swept
//	P+(6, name)             group cursor: 12-byte ID                     Group.Advance, Reset
//	P+(7)                   trim point: 12-byte ID                       Trim (BYTE_MAX)
//	P+(8)                   8-byte little-endian counter                 Append (ADD): tail watches
//	P+(9)                   read version + next user version (scratch)   Append (blind set)
//
// id is a tuple versionstamp (code 0x33, 12 bytes); key is a byte string for a caller's
// idempotency key, or a UUID for the key a call on a database draws for itself. Appends read
// nothing with a conflict except their own idempotency record; readers use snapshot reads; a
// group's cursor is read with a conflict, so only members of one group serialise. [CheckStream]
// (and [Stream.Check]) verify this layout.
//
// # Caveats
//
//   - Retries: an append in a caller's transaction is part of that transaction, so a retry after
//     commit_unknown_result (1021) appends again unless an idempotency key is given
//     (AppendOptions.IdempotencyKey): the key makes the append happen once, and answers the
//     first entry's ID. An append given a database uses a key of its own for the call, and is
//     safe to retry as it is. Keys are remembered for StreamOptions.IdempotencyRetention (24
//     hours by default); every append with a key removes up to two expired records, with
//     compare-and-clear so that sweepers never conflict.
//   - One transaction may append at most 65,536 entries to one stream (the user version has two
//     bytes; ErrTooManyAppends), and may not use one idempotency key twice (ErrKeyUsedTwice).
//   - Reading, in the appending transaction, a range that may hold the new entry fails with
//     kv.ErrAccessedUnreadable (1036), as in FoundationDB: read before appending.
//   - An entry is one value: at most kv.MaxValueSize (100,000) bytes including an 11-byte
//     header; larger payloads fail with ErrPayloadTooLarge (nothing is split). Store large
//     payloads elsewhere and append their key.
//   - Entry times come from the appender's clock (StreamOptions.Clock); the order of entries is
//     the order of commits, never of clocks. TrimOlderThan stops at the first entry that is not
//     old enough.
//   - A group is one cursor: its members take turns (their transactions conflict on it). For
//     parallel consumption, use several streams or a queue.
package queue
