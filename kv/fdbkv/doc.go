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
//	db, err := fdbkv.Open("", nil) // "" = the default cluster file, e.g. /etc/foundationdb/fdb.cluster
//	if err != nil { ... }
//	n, err := kv.Transact(ctx, db, func(tr kv.Transaction) (int, error) { ... })
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
// # Caveats
//
// The API version is chosen once per process, by the first [Open] ([Options.APIVersion], 730 by
// default); a later Open that asks for another version fails. The client's network thread runs
// until the process exits, and the binding keeps one database handle per cluster file, so Open
// is cheap to call again and there is nothing to close.
//
// A transaction's timeout ([kv.Transaction.SetTimeout], [kv.WithTimeout]) is FoundationDB's: it
// counts from the transaction's creation or last Reset, and a retry through OnError does not
// restart it, so on FoundationDB a timeout bounds a whole retry loop rather than one attempt.
//
// A watch fires on any change FoundationDB sees after the watching transaction commits; it also
// fires at once if the same transaction writes the key after setting the watch. Cancel watches you
// no longer need: each holds a slot of the cluster's watch limit (10,000 per client by default)
// until it fires or is cancelled.
//
// The tests of this package that need a cluster carry the fdb tag and read the cluster file from
// LAYERKIT_FDB_CLUSTER_FILE; integration/run.sh starts FoundationDB in Docker and runs the whole
// suite against it.
package fdbkv
