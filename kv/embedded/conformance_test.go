package embedded_test

import (
	"testing"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/kv/kvtest"
)

// TestConformance runs the kv conformance suite, workloads included, against the embedded engine
// in memory, one fresh database per subtest.
func TestConformance(t *testing.T) {
	kvtest.Run(t, func(t *testing.T) kv.Database {
		db, err := embedded.Open("", nil)
		if err != nil {
			t.Fatalf("open embedded engine: %v", err)
		}
		t.Cleanup(func() {
			if err := db.Close(); err != nil {
				t.Errorf("close embedded engine: %v", err)
			}
		})
		return db
	})
}
