package testdb

import (
	"fmt"

	"github.com/layerkit/layerkit/kv"
)

// The FoundationDB cluster the tests run on is cleared before and after every test, so testdb
// makes sure it is a cluster meant for that. Three things must hold:
//
//   - the run opts in: AllowClearEnv is "1" beside ClusterFileEnv;
//   - the cluster carries MarkerKey, which integration/run.sh writes into the fresh cluster it
//     creates (and which a person can write into a disposable cluster of their own);
//   - its user keyspace holds nothing but what tests wrote. A test that holds the cluster records
//     itself under inUseKey and empties the keyspace when it ends, so between tests the keyspace
//     is empty; data found there with no test recorded was written by someone else.
//
// The two keys live in the non-metadata system keyspace [\xff\x02, \xff\x03), which the tests'
// reads and clears of ["", \xff) never see.

// ClusterFileEnv names the environment variable that points the tests (built with -tags fdb) at a
// FoundationDB cluster.
const ClusterFileEnv = "LAYERKIT_FDB_CLUSTER_FILE"

// AllowClearEnv must be "1" for testdb to use the cluster ClusterFileEnv names: it confirms that
// the cluster is disposable, since testdb clears its whole user keyspace.
const AllowClearEnv = "LAYERKIT_FDB_ALLOW_CLEAR"

// MarkerKey marks a FoundationDB cluster as disposable test ground. testdb refuses a cluster
// without it. integration/run.sh writes it (fdbcli, with ACCESS_SYSTEM_KEYS) into the cluster it
// creates.
const MarkerKey = "\xff\x02/layerkit/disposable-test-cluster"

// inUseKey holds the name of the test that holds the cluster, from the moment it clears the
// keyspace until it empties it again at its end.
const inUseKey = "\xff\x02/layerkit/test-in-progress"

// markCommand is the fdbcli command that writes MarkerKey into the cluster of path.
func markCommand(path string) string {
	return fmt.Sprintf(`fdbcli -C %s --exec 'writemode on; option on ACCESS_SYSTEM_KEYS; set %s yes'`, path, kv.Printable([]byte(MarkerKey)))
}

// optedIn reports why the tests may not use the cluster file at path, or nil when they may.
func optedIn(path, allow string) error {
	if allow == "1" {
		return nil
	}
	return fmt.Errorf("testdb: %s=%s names a FoundationDB cluster, and the tests clear its whole user keyspace; "+
		"set %s=1 to confirm that this cluster is disposable (integration/run.sh does, for the cluster it creates)",
		ClusterFileEnv, path, AllowClearEnv)
}

// clusterState is what testdb reads from a cluster, in the transaction that then clears it.
type clusterState struct {
	marker   []byte // MarkerKey's value; nil when absent
	holder   []byte // inUseKey's value: a test that held the cluster and has not finished; nil when none
	firstKey []byte // the first key of the user keyspace; nil when it is empty
}

// mayClear reports why testdb must not clear the cluster of path in state st, or nil.
func mayClear(path string, st clusterState) error {
	if st.marker == nil {
		return fmt.Errorf("testdb: refusing to clear the FoundationDB cluster of %s: it lacks the marker key %s that integration/run.sh writes into the fresh cluster it creates. "+
			"If this cluster is disposable, write the marker first: %s",
			path, kv.Printable([]byte(MarkerKey)), markCommand(path))
	}
	if st.firstKey != nil && st.holder == nil {
		return fmt.Errorf("testdb: refusing to clear the FoundationDB cluster of %s: its user keyspace holds data that no test is recorded as writing (first key %s). "+
			"Tests empty the keyspace when they end, so this data came from elsewhere; if it is disposable, clear it yourself (fdbcli: writemode on; clearrange \"\" \\xff)",
			path, kv.Printable(st.firstKey))
	}
	return nil
}
