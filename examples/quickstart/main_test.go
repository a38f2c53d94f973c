package main

import (
	"context"
	"testing"
)

// TestRun keeps the tour working: it fails if any step errors, including the final conflict,
// which must come back as kv.ErrNotCommitted.
func TestRun(t *testing.T) {
	if err := run(context.Background(), t.TempDir()); err != nil {
		t.Fatal(err)
	}
}
