// Package testdb is the one place tests get a database. By default it opens the embedded engine
// in memory with a low rate of injected commit faults, so every layer test also proves that the
// layer is safe to retry.
//
// Built with -tags fdb and with LAYERKIT_FDB_CLUSTER_FILE set, it opens that FoundationDB cluster
// instead, so the same tests run on FoundationDB. Each test then gets the cluster with the user
// keyspace cleared, and empties it when it ends. Because that wipes whatever the cluster holds,
// testdb refuses (failing the test, clearing nothing) unless LAYERKIT_FDB_ALLOW_CLEAR=1 is set,
// the cluster carries MarkerKey (integration/run.sh writes it into the cluster it creates), and
// the user keyspace holds nothing but what tests wrote.
package testdb
