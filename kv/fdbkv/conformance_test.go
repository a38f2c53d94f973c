//go:build fdb

package fdbkv_test

import (
	"os"
	"testing"

	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/kvtest"
)

// skipWithoutCluster skips tests that need a FoundationDB cluster when none is configured.
func skipWithoutCluster(t *testing.T) string {
	t.Helper()
	path := os.Getenv(testdb.ClusterFileEnv)
	if path == "" {
		t.Skipf("%s is not set: no FoundationDB cluster to run against (integration/run.sh starts one in Docker and sets it)", testdb.ClusterFileEnv)
	}
	return path
}

// TestConformance runs the kv conformance suite on FoundationDB. testdb hands each subtest the
// cluster with the user keyspace cleared, one subtest at a time.
func TestConformance(t *testing.T) {
	skipWithoutCluster(t)
	open := func(t *testing.T) kv.Database {
		db := testdb.Open(t)
		if _, embedded := db.(kv.FaultInjector); embedded {
			t.Fatalf("testdb.Open returned the embedded engine although %s is set", testdb.ClusterFileEnv)
		}
		return db
	}
	kvtest.Run(t, open)
}
