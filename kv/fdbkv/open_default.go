//go:build !fdb

package fdbkv

import "github.com/layerkit/layerkit/kv"

// Open returns ErrUnavailable: this build has no FoundationDB client. Build with -tags fdb (see
// the package documentation) to connect to a cluster.
func Open(clusterFile string, opts *Options) (kv.Database, error) {
	return nil, ErrUnavailable
}
