// Package fdbkv runs layerkit on FoundationDB: it implements the [kv] contract over the official
// Go binding (github.com/apple/foundationdb/bindings/go, FoundationDB 7.3, API version 730), so
// every layer works unchanged on a real cluster.
//
// # Basics
//
// The binding needs cgo and FoundationDB's client library, libfdb_c, with its C header. Install
// the foundationdb-clients package of release 7.3 (7.3.63 is the release the binding is pinned
// to) and build with the fdb tag:
//
//	go build -tags fdb ./...
//	go test -tags fdb ./...
//
// Then open a cluster and hand the database to any layer:
//
//	db, err := fdbkv.Open("", &fdbkv.Options{ConnectTimeout: 5 * time.Second})
//	if err != nil { ... } // names the cluster file and what is wrong with it, or the coordinators
//	n, err := kv.Transact(ctx, db, func(tr kv.Transaction) (int, error) { ... })
//
// "" is the client's default cluster file ($FDB_CLUSTER_FILE, ./fdb.cluster, then
// /etc/foundationdb/fdb.cluster). [Open] reads and checks the file first, as FoundationDB's
// client parses it, and fails with a [*ClusterFileError] naming the path and the problem. With
// [Options.ConnectTimeout] it also asks the cluster for a read version and fails with "cannot
// reach the cluster at <coordinators>" when none comes in time.
//
// Without the fdb tag the package still compiles, so programs that offer FoundationDB as an
// option build everywhere, but [Open] then returns [ErrUnavailable].
//
// Every contract point maps onto the binding directly: reads return kv futures over the
// binding's futures (the read is issued at once, waited for in Get), range reads take kv selectors
// and streaming modes, [kv.ReadTransaction.Snapshot] is the binding's snapshot view, atomic
// mutations are the binding's atomic operations, and FoundationDB's errors come back as
// [kv.Error] with the same code, so errors.Is answers as on the embedded engine. The retry loop
// ([kv.Transact]) hands errors to FoundationDB's own OnError, which knows the backoff and which
// codes to retry.
//
// # Contexts
//
// FoundationDB's calls take no context. So that a context still stops them, a transaction run by
// [kv.Transact] or [kv.ReadTransact] on this database is bound to the context for the whole loop,
// and a transaction that runs a function in place (tr.Transact(ctx, fn), which is how layer
// functions run inside a caller's transaction) is bound to ctx while fn runs; OnError's backoff
// is bound to its ctx. When a bound context ends, the transaction is cancelled and given a 1 ms
// timeout (what ends the waits of the multi-version client before it has connected), which ends every pending read, range batch,
// commit and backoff within milliseconds, and those calls return the context's error. A
// transaction is unusable once cancelled, until Reset. Binding costs nothing until the context
// ends: no goroutine and no call into the client. A commit interrupted this way may still take
// effect, as after commit_unknown_result (1021). Transactions from [kv.Database.CreateTransaction]
// used outside these calls are bound to nothing: bound their waits with
// [kv.Transaction.SetTimeout] or [Options.TransactionTimeout].
//
// # Network options and sharing the binding
//
// [Options.Network] sets FoundationDB's client network options (TLS files, trace directory and
// format, knobs, the multi-version client's library directory). They take effect only before the
// client's network starts, so give them to the first Open of the process; an Open that gives
// them later fails rather than letting FoundationDB ignore them.
//
// An application that uses the binding itself shares it with this package: it selects API version
// 730 (fdb.APIVersion(730)), may set any network option through fdb.Options() before opening
// anything, and then either calls Open, which finds the version selected and the network running
// and returns a database over the binding's cached handle for that cluster file, or wraps its own
// fdb.Database with [FromDatabase]. A process has one API version: if the application selected
// another, Open fails and says so.
//
// # Caveats
//
// Only API version 730 is accepted ([Options.APIVersion] explains what older versions change).
// The client's network thread runs until the process exits, and the binding keeps one database
// handle per cluster file, so Open is cheap to call again and there is nothing to close.
//
// A transaction's timeout ([kv.Transaction.SetTimeout], [kv.WithTimeout]) is FoundationDB's: it
// counts from the transaction's creation or last Reset, and a retry through OnError does not
// restart it, so on FoundationDB a timeout bounds a whole retry loop rather than one attempt.
//
// OnError follows FoundationDB (API version 610 and later): for an error it does not retry it
// returns the error and leaves the transaction cancelled. The adapter applies the same rule to
// errors without a FoundationDB code and to an OnError whose ctx ends, so every OnError that
// returns an error leaves the transaction cancelled, until Reset.
//
// GetVersionstamp fails as on FoundationDB: with no_commit_version (2021) after a read-only
// commit, with the commit's own error when the commit failed in the client (key_too_large and the
// other errors a write defers), and with transaction_invalid_version (2020) when the cluster
// refused or lost the commit (not_committed, commit_unknown_result, ...). Range limits and
// key selector offsets are 32-bit in FoundationDB's client: larger values are refused
// ([kv.ErrInvalidOptionValue], [kv.ErrClientInvalidOperation]) rather than truncated.
//
// A watch fires on any change FoundationDB sees after the watching transaction commits; it also
// fires at once if the same transaction writes the key after setting the watch. Each pending
// watch holds a slot of the client's watch limit (10,000 by default; too_many_watches beyond it)
// and, once waited for, a goroutine. Both are released when the watch fires or is cancelled, and
// for a watch dropped without either (say, after a Wait whose ctx ended) when the garbage
// collector finds it unreachable. Cancel watches you no longer need to free the slot at once.
//
// The tests of this package that need a cluster carry the fdb tag and read the cluster file from
// LAYERKIT_FDB_CLUSTER_FILE; integration/run.sh starts FoundationDB in Docker and runs the whole
// suite against it.
package fdbkv
