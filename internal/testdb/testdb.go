package testdb

import (
	"context"
	"testing"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
)

// DefaultFaults is the low fault rate layer tests run with on the embedded engine.
var DefaultFaults = kv.Faults{NotCommitted: 0.01, UnknownApplied: 0.01, UnknownNotApplied: 0.01}

// Open returns an empty database for the test, closed when the test ends: FoundationDB when the
// build and environment ask for it, otherwise the embedded engine in memory with DefaultFaults.
func Open(t testing.TB) kv.Database {
	t.Helper()
	if db := openExternal(t); db != nil {
		return db
	}
	return OpenEmbedded(t, &embedded.Options{Faults: DefaultFaults})
}

// OpenEmbedded opens an in-memory embedded database with opts, closed when the test ends.
func OpenEmbedded(t testing.TB, opts *embedded.Options) *embedded.DB {
	t.Helper()
	db, err := embedded.Open("", opts)
	if err != nil {
		t.Fatalf("testdb: open embedded engine: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("testdb: close embedded engine: %v", err)
		}
	})
	return db
}

// Check registers check to run against db when the test ends (before the database closes), the
// way bbolt runs Tx.Check after every test. Faults are switched off first, where the engine
// injects them, so the checker sees the store as it is.
func Check(t testing.TB, db kv.Database, name string, check func(ctx context.Context, db kv.Database) error) {
	t.Helper()
	t.Cleanup(func() {
		if fi, ok := db.(kv.FaultInjector); ok {
			fi.InjectFaults(kv.Faults{})
		}
		if err := check(context.Background(), db); err != nil {
			t.Errorf("%s consistency check failed: %v", name, err)
		}
	})
}
