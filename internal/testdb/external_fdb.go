//go:build fdb

package testdb

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/fdbkv"
)

// ClusterFileEnv names the environment variable that points the tests at a FoundationDB cluster.
const ClusterFileEnv = "LAYERKIT_FDB_CLUSTER_FILE"

// openExternal returns the FoundationDB cluster named by $LAYERKIT_FDB_CLUSTER_FILE, with the user
// keyspace ["", 0xff) cleared, or nil when the variable is unset (the embedded engine is used).
//
// Every test of the run shares that one cluster, so tests must take turns:
//   - across packages, run `go test -tags fdb -p 1 ./...` (integration/run.sh does): each package
//     is its own process and nothing coordinates them;
//   - within a package, each test holds the cluster from Open until it ends, so parallel tests
//     (t.Parallel, and kvtest's subtests) run one after the other here. A test's subtests, and a
//     second Open in the same test, share the holder's data instead of clearing it: on
//     FoundationDB they do not get a database of their own.
func openExternal(t testing.TB) kv.Database {
	t.Helper()
	path := os.Getenv(ClusterFileEnv)
	if path == "" {
		return nil
	}
	db, err := openCluster(path)
	if err != nil {
		t.Fatalf("testdb: %s=%s: %v", ClusterFileEnv, path, err)
	}
	if !hold(t) {
		t.Logf("testdb: sharing the FoundationDB cluster with %s, which holds it", holderName())
		return db
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = db.Transact(ctx, func(tr kv.Transaction) error {
		tr.ClearRange(kv.Range{Begin: []byte{}, End: []byte{0xff}})
		return nil
	})
	if err != nil {
		t.Fatalf("testdb: clear the user keyspace of FoundationDB cluster %s: %v", path, err)
	}
	return db
}

// openCluster opens each cluster file once per test binary.
func openCluster(path string) (kv.Database, error) {
	clustersMu.Lock()
	defer clustersMu.Unlock()
	if db, ok := clusters[path]; ok {
		return db, nil
	}
	db, err := fdbkv.Open(path, nil)
	if err != nil {
		return nil, err
	}
	clusters[path] = db
	return db, nil
}

var (
	clustersMu sync.Mutex
	clusters   = map[string]kv.Database{}
)

// The cluster is held by one test (and its subtests) at a time.
var (
	holdMu    sync.Mutex
	holdFree  = sync.NewCond(&holdMu)
	holder    string // name of the holding test; "" when free
	holdCount int    // Opens by the holder and its subtests not yet ended
)

// hold waits until t may use the cluster and releases it when t ends. It reports false when t
// or an ancestor of t already holds it: then the data is shared, not cleared.
func hold(t testing.TB) bool {
	holdMu.Lock()
	defer holdMu.Unlock()
	name := t.Name()
	shared := holder != "" && (name == holder || strings.HasPrefix(name, holder+"/"))
	if !shared {
		for holder != "" {
			holdFree.Wait()
		}
		holder = name
	}
	holdCount++
	t.Cleanup(release)
	return !shared
}

func release() {
	holdMu.Lock()
	defer holdMu.Unlock()
	holdCount--
	if holdCount == 0 {
		holder = ""
		holdFree.Broadcast()
	}
}

func holderName() string {
	holdMu.Lock()
	defer holdMu.Unlock()
	return holder
}
