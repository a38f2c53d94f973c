package directory_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/layerkit/layerkit/directory"
	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/stretchr/testify/require"
)

// openDB returns a database with the default fault rate, checked with directory.Check (and the
// check of any extra layers) when the test ends.
func openDB(t testing.TB, extra ...*directory.Layer) kv.Database {
	t.Helper()
	db := testdb.Open(t)
	registerCheck(t, db, extra...)
	return db
}

// openExactDB returns a database without injected faults, for tests that fix the allocator's
// candidates (a retried attempt would draw again) or count operations.
func openExactDB(t testing.TB, extra ...*directory.Layer) kv.Database {
	t.Helper()
	db := testdb.OpenEmbedded(t, &embedded.Options{})
	registerCheck(t, db, extra...)
	return db
}

func registerCheck(t testing.TB, db kv.Database, extra ...*directory.Layer) {
	testdb.Check(t, db, "directory", func(ctx context.Context, db kv.Database) error {
		if err := directory.Check(ctx, db); err != nil {
			return err
		}
		for _, l := range extra {
			if err := l.Check(ctx, db); err != nil {
				return err
			}
		}
		return nil
	})
}

// dump returns every user key and value of the database as "key = value" lines in hex.
func dump(t testing.TB, db kv.Database) []string {
	t.Helper()
	rows, err := kv.ReadTransact(context.Background(), db, func(tr kv.ReadTransaction) ([]kv.KeyValue, error) {
		// From 00, not the empty key: under -race Pebble's invariants reject a seek to an empty
		// key in the embedded engine (reported to its owner). No test writes the empty key.
		return tr.GetRange(kv.Range{Begin: []byte{0x00}, End: []byte{0xff}}, kv.RangeOptions{}).GetSlice()
	})
	require.NoError(t, err)
	out := make([]string, len(rows))
	for i, r := range rows {
		v := hex.EncodeToString(r.Value)
		if v == "" {
			v = "''"
		}
		out[i] = hex.EncodeToString(r.Key) + " = " + v
	}
	return out
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	require.NoError(t, err)
	return b
}

func prefixOf(t testing.TB, d directory.DirectorySubspace) []byte {
	t.Helper()
	ss, err := d.Subspace()
	require.NoError(t, err)
	return ss.Bytes()
}

// sentinels names every sentinel error, for scripts and messages.
var sentinels = []struct {
	name string
	err  error
}{
	{"ErrDirAlreadyExists", directory.ErrDirAlreadyExists},
	{"ErrDirNotExists", directory.ErrDirNotExists},
	{"ErrParentDirDoesNotExist", directory.ErrParentDirDoesNotExist},
	{"ErrIncompatibleLayer", directory.ErrIncompatibleLayer},
	{"ErrPrefixInUse", directory.ErrPrefixInUse},
	{"ErrManualPrefixesNotAllowed", directory.ErrManualPrefixesNotAllowed},
	{"ErrAllocatedPrefixNotFree", directory.ErrAllocatedPrefixNotFree},
	{"ErrCannotMoveBetweenPartitions", directory.ErrCannotMoveBetweenPartitions},
	{"ErrMoveToSubdirectory", directory.ErrMoveToSubdirectory},
	{"ErrCannotOpenRoot", directory.ErrCannotOpenRoot},
	{"ErrCannotMoveRoot", directory.ErrCannotMoveRoot},
	{"ErrCannotRemoveRoot", directory.ErrCannotRemoveRoot},
	{"ErrPartitionRoot", directory.ErrPartitionRoot},
	{"ErrVersionTooNew", directory.ErrVersionTooNew},
	{"ErrInvalidVersion", directory.ErrInvalidVersion},
	{"ErrInvalidPath", directory.ErrInvalidPath},
	{"ErrCorrupt", directory.ErrCorrupt},
}

// errName names the sentinel err wraps, or prints err when it wraps none.
func errName(err error) string {
	var names []string
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			names = append(names, s.name)
		}
	}
	if len(names) == 0 {
		return fmt.Sprintf("unexpected error %v", err)
	}
	return strings.Join(names, ",")
}
