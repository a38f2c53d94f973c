// Package queue keeps work queues and append-only streams in a kv database. A queue holds
// messages that consumers lease, acknowledge, give back and, after too many attempts, find in a
// dead-letter queue; a stream is a log ordered by the versionstamps of the transactions that
// appended to it, read from cursors and consumed by named groups. Both live under a prefix (a
// subspace, a directory's subspace, or raw bytes), like a record store, and both are written
// inside the caller's transaction, so a message or an entry commits together with the data it
// is about.
//
// # Basics: queues
//
// [NewQueue] returns a [Queue] handle. [Queue.Enqueue] adds a message in a transaction (or in
// one of its own, given a database) and returns a future of its [MessageID]; options give a
// delay, a priority and an idempotency key. [Queue.Receive] leases up to N visible messages
// (highest priority first, then in order of visible time); each [Lease] carries a token, an
// expiry and the attempt count. The holder then calls [Queue.Ack] (done: the message is
// removed), [Queue.Nack] (visible again after a backoff that grows with the attempts, or dead
// after the last one) or [Queue.Extend]. [Queue.ReceiveWait] blocks until something can be
// leased. Ack in the transaction that does the work makes database-only work exactly-once:
//
//	leases, err := jobs.ReceiveWait(ctx, db, queue.ReceiveOptions{Max: 10})
//	for _, l := range leases {
//		err := db.Transact(ctx, func(tr kv.Transaction) error {
//			... the work, in tr ...
//			return jobs.Ack(ctx, tr, l)
//		})
//	}
//
// [Queue.PeekDead], [Queue.Redrive] and [Queue.PurgeDead] manage the dead letters;
// [Queue.Peek] and [Queue.Get] look without leasing; [Queue.Purge] empties the queue;
// [Queue.Stats] reads the counts.
//
// Producers never conflict: a message's keys are versionstamped, and enqueue reads nothing with
// a conflict but its own idempotency record. Consumers conflict only when two pick the same
// message: the visible messages are read with snapshot reads (a window at the head of each
// priority lane), and only the picked messages are read with a conflict. The consumers of one
// handle share a pool of visible messages and never pick the same one; consumers of different
// handles (processes) pick at random among a window that widens after conflicts, as Apple's
// QuiCK does. The counts are kept with atomic additions, which add no conflicts.
//
// # Basics: streams
//
// [NewStream] returns a [Stream] handle. [Stream.Append] appends inside the caller's
// transaction and returns a future of the entry's [EntryID], known once the transaction
// commits:
//
//	chat, err := queue.NewStream(sub, nil) // sub: a subspace.Subspace, a directory's Subspace()...
//	err = db.Transact(ctx, func(tr kv.Transaction) error {
//		f, err = chat.Append(ctx, tr, []byte("user: hello"), nil)
//		return err
//	})
//	id, err := f.Get() // after the commit
//
// Appenders never conflict. [Stream.Read] returns a [Page] of entries after a cursor (or before
// it, newest first), and the page's Cursor resumes the read; [StreamStart] and [StreamEnd] are
// the two ends. [Stream.Wait] and [Stream.Follow] tail the stream with a watch. A [Group] is a
// consumer group: a cursor stored in the database; [Group.Read] and [Group.Advance] in the
// transaction that does the consumer's work make that work exactly-once, and [Group.Consume] is
// that loop. [Stream.Trim] and [Stream.TrimOlderThan] apply retention.
//
// An EntryID (and a MessageID, the same type) is 12 bytes: the 10-byte versionstamp of the
// commit (8-byte big-endian commit version, 2-byte batch order) and a 2-byte user version
// counting the appends of that transaction. IDs order as their bytes and as their hex String,
// and convert to and from tuple versionstamps, so they can be stored as resume tokens or inside
// keys.
//
// Why a stream cursor never skips an entry: a transaction reading at version R sees every
// commit with version ≤ R, and every later commit gets a version > R, hence a versionstamp
// greater than any entry visible at R. A page that ended before its limit therefore holds
// everything after its cursor up to R, and whatever is appended later orders after the page's
// last entry.
//
// # The lease clock
//
// Leases, delays and backoffs use wall-clock time (Options.Clock, time.Now by default), stored as
// unix milliseconds, not commit versions: versions tell time only roughly (about a million a
// second on both engines, with jumps when a cluster recovers), while delays and leases are
// stated in wall time and tests move Options.Clock. A lease expires at the receiving
// consumer's now plus the lease duration; another consumer takes the message over only once
// its own clock has passed that expiry plus Options.ClockTolerance (one second by default).
// Clocks that disagree by less than the tolerance therefore never give a message to two holders
// at once. If they disagree by more, a message can be delivered again while its first holder
// still works on it; the first holder's Ack, Nack and Extend are then refused (ErrLeaseLost)
// because the lease token changed, so its database work, done in the Ack's transaction, is
// refused with it. Until a lease is taken over, its holder may still ack or extend it, even
// past its expiry.
//
// # Stats
//
// [Stats] counts messages by the state the last transaction that touched each left it
// (Visible, Delayed, InFlight, Dead), with one atomic ADD per state per transaction, so the
// counts are exact under any concurrency and cost four reads. Every transaction that changes a
// count also reads the message it moves with a conflict (or, for an enqueue, writes a new key),
// so a retry after commit_unknown_result that finds its work done does not count it again.
// Time alone changes no count: a delayed message stays Delayed, and an expired lease InFlight,
// until a receive (or ack, nack, dead-lettering) moves it. OldestVisibleAge reads the head of
// each lane and does follow the clock.
//
// # Key layout
//
// Under a queue's prefix P (tuple-encoded elements after P):
//
//	key                     value                                        written by
//	P+(1, id)               message (protobuf queuepb.Message)           Enqueue (versionstamped key);
//	                                                                     Receive, Nack, Extend; Ack clears
//	P+(2, lane, at, id)     ""                                           the schedule: lane = -priority;
//	                                                                     at = unix ms it can next be
//	                                                                     received (visible time, or lease
//	                                                                     expiry + clock tolerance)
//	P+(3, id)               dead message (queuepb.Message, state DEAD)   dead-lettering; Redrive clears
//	P+(4, key)              idempotency record: 12-byte ID,               Enqueue with a key
//	                        8-byte big-endian expiry (unix ms)            (versionstamped value)
//	P+(5, expiry, key)      "" (idempotency records by expiry)           Enqueue with a key; swept
//	P+(6, state)            8-byte little-endian count                   ADD in every state change
//	P+(8)                   8-byte little-endian counter                 ADD by Enqueue, Nack, Redrive:
//	                                                                     ReceiveWait's watch
//	P+(9)                   read version + next user version (scratch)   Enqueue (blind set)
//	P+(10, lane)            ""                                           the lanes in use (blind set)
//
// Under a stream's prefix P:
//
//	key                     value                                        written by
//	P+(1, id)               entry: 0x01, uvarint unix ms, payload        Append (versionstamped key)
//	P+(4, key), P+(5, …)    idempotency records, as for queues           Append with a key
//	P+(6, name)             group cursor: 12-byte ID                     Group.Advance, Reset
//	P+(7)                   trim point: 12-byte ID                       Trim (BYTE_MAX)
//	P+(8)                   8-byte little-endian counter                 Append (ADD): tail watches
//	P+(9)                   read version + next user version (scratch)   Append (blind set)
//
// id is a tuple versionstamp (type code 0x33, 12 bytes); key is a byte string for a caller's
// idempotency key, or a UUID for the key a call on a database draws for itself; state is 1
// (visible), 2 (delayed), 3 (in flight) or 4 (dead). [Check] and [CheckStream] verify these
// layouts, the queue's counters against a recount included.
//
// # Caveats
//
//   - Retries: an enqueue or append given a database uses an idempotency key of its own for
//     that call, so it is safe under commit_unknown_result (1021). One in a caller's transaction
//     is part of that transaction: a retry of it after 1021 enqueues or appends again unless
//     the caller gives an IdempotencyKey. Keys are remembered for the handle's
//     IdempotencyRetention (24 hours by default), then forgotten; each write with a key removes
//     up to two expired records, with compare-and-clear so that sweepers never conflict. A
//     Receive given a database recognises its own claims after 1021; an Ack given a database
//     takes a message found gone after 1021 for its own work; Nack and Extend recognise theirs
//     by the token. In a caller's transaction, a retried Ack after an applied 1021 reports
//     ErrLeaseLost — the work committed once, with the first attempt.
//   - A message or entry is one value: at most kv.MaxValueSize (100,000) bytes including its
//     header; larger payloads fail with ErrPayloadTooLarge and nothing is split. Store large
//     payloads elsewhere and enqueue their key.
//   - One transaction may enqueue or append at most 65,536 times under one prefix
//     (ErrTooManyAppends), and use an idempotency key once (ErrKeyUsedTwice).
//   - Reading, in the transaction that enqueued or appended, a range where the new key may land
//     fails with kv.ErrAccessedUnreadable (1036), as on FoundationDB: read before writing.
//   - Order: a receive takes the first visible messages of the highest lane in order of visible
//     time, except after conflicts with other handles, when it picks at random among a window
//     of them. A handle's consumers are served from a pool refilled at least every 100 ms, so a
//     message that becomes visible may wait that long behind the pool. Reads of a lane start
//     where the handle last found its first live entry (in an LSM engine the keys a queue
//     deletes linger at the head of each lane until compaction), and every second from the
//     lane's start: a message written by a producer whose clock runs behind the consumer's may
//     wait up to a second longer than its place in the order.
//   - Options are not stored: every handle on a queue should use the same lease duration, clock
//     tolerance, attempts and backoff.
//   - Stream times come from the appender's clock; the order of entries is the order of
//     commits. TrimOlderThan stops at the first entry that is not old enough. A group is one
//     cursor: its members take turns (their transactions conflict on it).
package queue
