//go:build fdb

package testdb

import (
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apple/foundationdb/bindings/go/src/fdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/fdbkv"
)

// openExternal returns the FoundationDB cluster named by $LAYERKIT_FDB_CLUSTER_FILE, with the user
// keyspace ["", 0xff) cleared, or nil when the variable is unset (the embedded engine is used).
// It fails the test, clearing nothing, unless the run opted in and the cluster is marked as
// disposable and holds no foreign data (see guard.go).
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
	if err := optedIn(path, os.Getenv(AllowClearEnv)); err != nil {
		t.Fatal(err)
	}
	c, err := openCluster(path)
	if err != nil {
		t.Fatalf("testdb: %s=%s: %v", ClusterFileEnv, path, err)
	}
	if !hold(t) {
		t.Logf("testdb: sharing the FoundationDB cluster with %s, which holds it", holderName())
		return c.db
	}
	if err := c.claim(path, t.Name()); err != nil {
		t.Fatal(err)
	}
	// Registered after hold's release, so it runs before another test may hold the cluster, and
	// after the test's own cleanups (consistency checks among them), which see its data.
	t.Cleanup(func() {
		if err := c.finish(); err != nil {
			t.Errorf("testdb: empty the FoundationDB cluster of %s after the test: %v", path, err)
		}
	})
	return c.db
}

// cluster is one cluster file opened twice over the same client handle: as the kv.Database the
// tests use, and through the binding for the marker and in-use keys, which are system keys that
// kv does not reach.
type cluster struct {
	db  kv.Database
	raw fdb.Database
}

// guardTimeout bounds testdb's own transactions, so that a cluster that stops answering fails the
// test rather than hanging it.
const guardTimeout = time.Minute

// claim checks in one transaction that the cluster may be cleared (mayClear), clears the user
// keyspace and records test as its holder.
func (c cluster) claim(path, test string) error {
	_, err := c.raw.Transact(func(tr fdb.Transaction) (any, error) {
		if err := guardOptions(tr); err != nil {
			return nil, err
		}
		marker := tr.Get(fdb.Key(MarkerKey))
		holder := tr.Get(fdb.Key(inUseKey))
		first := tr.GetRange(fdb.KeyRange{Begin: fdb.Key(""), End: fdb.Key("\xff")}, fdb.RangeOptions{Limit: 1})
		var st clusterState
		var err error
		if st.marker, err = marker.Get(); err != nil {
			return nil, err
		}
		if st.holder, err = holder.Get(); err != nil {
			return nil, err
		}
		rows, err := first.GetSliceWithError()
		if err != nil {
			return nil, err
		}
		if len(rows) > 0 {
			st.firstKey = rows[0].Key
		}
		if err := mayClear(path, st); err != nil {
			return nil, refusal{err}
		}
		tr.ClearRange(fdb.KeyRange{Begin: fdb.Key(""), End: fdb.Key("\xff")})
		tr.Set(fdb.Key(inUseKey), []byte(test))
		return nil, nil
	})
	var r refusal
	if errors.As(err, &r) {
		return r.err
	}
	if err != nil {
		return errors.New("testdb: clear the user keyspace of the FoundationDB cluster of " + path + ": " + err.Error())
	}
	return nil
}

// finish empties the user keyspace and records that no test holds the cluster.
func (c cluster) finish() error {
	_, err := c.raw.Transact(func(tr fdb.Transaction) (any, error) {
		if err := guardOptions(tr); err != nil {
			return nil, err
		}
		tr.ClearRange(fdb.KeyRange{Begin: fdb.Key(""), End: fdb.Key("\xff")})
		tr.Clear(fdb.Key(inUseKey))
		return nil, nil
	})
	return err
}

// guardOptions lets tr reach the system keys and bounds it.
func guardOptions(tr fdb.Transaction) error {
	if err := tr.Options().SetAccessSystemKeys(); err != nil {
		return err
	}
	return tr.Options().SetTimeout(guardTimeout.Milliseconds())
}

// refusal carries mayClear's verdict out of the binding's retry loop unchanged.
type refusal struct{ err error }

func (r refusal) Error() string { return r.err.Error() }

// openCluster opens each cluster file once per test binary. The connection check makes a cluster
// that does not answer fail the first test with the coordinators named, instead of hanging.
func openCluster(path string) (cluster, error) {
	clustersMu.Lock()
	defer clustersMu.Unlock()
	if c, ok := clusters[path]; ok {
		return c, nil
	}
	db, err := fdbkv.Open(path, &fdbkv.Options{ConnectTimeout: 30 * time.Second})
	if err != nil {
		return cluster{}, err
	}
	// The API version is selected and the network runs: the binding returns the handle fdbkv
	// opened for this cluster file.
	raw, err := fdb.OpenDatabase(path)
	if err != nil {
		return cluster{}, err
	}
	c := cluster{db: db, raw: raw}
	clusters[path] = c
	return c, nil
}

var (
	clustersMu sync.Mutex
	clusters   = map[string]cluster{}
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
