//go:build !fdb

package testdb

import (
	"testing"

	"github.com/layerkit/layerkit/kv"
)

// openExternal returns nil: without the fdb build tag every test uses the embedded engine.
func openExternal(testing.TB) kv.Database { return nil }
