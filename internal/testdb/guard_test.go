package testdb

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOptedIn(t *testing.T) {
	require.NoError(t, optedIn("/tmp/fdb.cluster", "1"))
	for _, v := range []string{"", "0", "yes", "true"} {
		err := optedIn("/tmp/fdb.cluster", v)
		require.Error(t, err, "%q", v)
		require.Contains(t, err.Error(), "LAYERKIT_FDB_CLUSTER_FILE=/tmp/fdb.cluster")
		require.Contains(t, err.Error(), "set LAYERKIT_FDB_ALLOW_CLEAR=1")
	}
}

func TestMayClear(t *testing.T) {
	const path = "/etc/foundationdb/fdb.cluster"
	marked := []byte("yes")

	require.NoError(t, mayClear(path, clusterState{marker: marked}), "a fresh marked cluster")
	require.NoError(t, mayClear(path, clusterState{marker: marked, holder: []byte("TestX"), firstKey: []byte("a")}),
		"data left by a test that did not finish (a crash or a timeout) is test data")

	err := mayClear(path, clusterState{})
	require.Error(t, err, "a cluster without the marker, such as a production cluster")
	require.Contains(t, err.Error(), "refusing to clear the FoundationDB cluster of "+path)
	require.Contains(t, err.Error(), `lacks the marker key \xff\x02/layerkit/disposable-test-cluster`)
	require.Contains(t, err.Error(), `fdbcli -C `+path+` --exec 'writemode on; option on ACCESS_SYSTEM_KEYS; set \xff\x02/layerkit/disposable-test-cluster yes'`,
		"the message says how to mark a disposable cluster")

	err = mayClear(path, clusterState{firstKey: []byte("users/1")})
	require.ErrorContains(t, err, "lacks the marker key", "the marker is checked first")

	err = mayClear(path, clusterState{marker: marked, firstKey: []byte("\x01users")})
	require.Error(t, err, "a marked cluster holding data no test wrote")
	require.Contains(t, err.Error(), `no test is recorded as writing (first key \x01users)`)
}

func TestMarkerKeysAreOutsideTheUserKeyspace(t *testing.T) {
	for _, k := range []string{MarkerKey, inUseKey} {
		require.True(t, k >= "\xff\x02" && k < "\xff\x03", "%q must be in FoundationDB's non-metadata system keyspace", k)
	}
}
