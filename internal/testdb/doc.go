// Package testdb is the one place tests get a database. By default it opens the embedded engine
// in memory with a low rate of injected commit faults, so every layer test also proves that the
// layer is safe to retry. Built with -tags fdb and with LAYERKIT_FDB_CLUSTER_FILE set, it opens
// that FoundationDB cluster instead (clearing the user keyspace first), so the same tests run on
// FoundationDB.
package testdb
