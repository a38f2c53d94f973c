package readme

import (
	"context"
	"time"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/fdbkv"
)

// OnFoundationDB opens a FoundationDB cluster and runs a transaction on it. Without the fdb
// build tag fdbkv.Open returns fdbkv.ErrUnavailable; the function is here to be compiled.
func OnFoundationDB(ctx context.Context) error {
	// "" uses the default cluster file ($FDB_CLUSTER_FILE, ./fdb.cluster, /etc/foundationdb/fdb.cluster).
	db, err := fdbkv.Open("/etc/foundationdb/fdb.cluster", &fdbkv.Options{ConnectTimeout: 5 * time.Second})
	if err != nil {
		return err // e.g. "fdbkv: cluster file /etc/foundationdb/fdb.cluster: does not exist",
		// or "fdbkv: cannot reach the cluster at 10.0.0.1:4500 (cluster file ...): no read version within 5s ..."
	}
	_, err = kv.Transact(ctx, db, func(tr kv.Transaction) (struct{}, error) {
		tr.Atomic(kv.Add, []byte("visits"), []byte{1, 0, 0, 0, 0, 0, 0, 0})
		return struct{}{}, nil
	})
	return err
}

// FoundationDBWithTLS opens a cluster with TLS, client tracing and a knob: network options,
// which must come with the first Open of the process.
func FoundationDBWithTLS() (kv.Database, error) {
	return fdbkv.Open("/etc/foundationdb/fdb.cluster", &fdbkv.Options{
		Network: &fdbkv.NetworkOptions{
			TLSCertPath: "/etc/foundationdb/client.pem",
			TLSKeyPath:  "/etc/foundationdb/client.key",
			TLSCAPath:   "/etc/foundationdb/ca.pem",
			TraceDir:    "/var/log/myapp/fdb", // client trace files
			Knobs:       []string{"min_trace_severity=10"},
		},
	})
}
