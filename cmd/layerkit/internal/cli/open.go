package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/kv/fdbkv"
)

// database opens the database the global flags name, once per Run.
func (a *app) database(ctx context.Context) (kv.Database, error) {
	if a.given && (a.dbPath != "" || a.clusterFile != "") {
		return nil, errors.New("this run has its database already: leave out --db and --cluster-file")
	}
	if a.db != nil {
		return a.db, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch {
	case a.dbPath != "" && a.clusterFile != "":
		return nil, errors.New("give --db or --cluster-file, not both")
	case a.clusterFile != "":
		db, err := fdbkv.Open(a.clusterFile, nil)
		if err != nil {
			return nil, fmt.Errorf("open the cluster %s: %w", a.clusterFile, err)
		}
		a.db, a.close = db, func() error { return nil }
	case a.dbPath != "":
		db, err := openEmbedded(a.dbPath)
		if err != nil {
			return nil, err
		}
		a.db, a.close = db, db.Close
	default:
		return nil, errors.New("no database: give --db DIR (an embedded database directory, or set $LAYERKIT_DB) or --cluster-file FILE")
	}
	return a.db, nil
}

// openEmbedded opens an existing embedded database directory. It refuses a path that is not
// one, so that a typo never leaves a new empty database (or Pebble's files in a directory of
// something else) behind: embedded.Open itself would create one.
func openEmbedded(path string) (*embedded.DB, error) {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("no database at %s: the directory does not exist", path)
	case err != nil:
		return nil, fmt.Errorf("open the database %s: %w", path, err)
	case !st.IsDir():
		return nil, fmt.Errorf("%s is a file, not a database directory", path)
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("open the database %s: %w", path, err)
	}
	if !hasPebbleManifest(entries) {
		return nil, fmt.Errorf("%s is not a layerkit database: it holds no Pebble manifest", path)
	}
	db, err := embedded.Open(path, nil)
	if err != nil {
		// The engine locks the directory: another process, or another open in this one, gets
		// lock_file_failure (1529).
		if errors.Is(err, kv.ErrLockFileFailure) {
			return nil, fmt.Errorf("the database %s is in use (by another process, or already open in this one)", path)
		}
		return nil, fmt.Errorf("cannot open the database: %w", err)
	}
	return db, nil
}

// hasPebbleManifest reports whether a directory holds a Pebble store: Pebble names its current
// manifest in a marker file (marker.manifest.*), and older formats in a file named CURRENT.
func hasPebbleManifest(entries []fs.DirEntry) bool {
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "marker.manifest.") || e.Name() == "CURRENT" {
			return true
		}
	}
	return false
}

// exactArgs is cobra.ExactArgs with a pointer to the help in its error.
func exactArgs(n int) cobra.PositionalArgs { return argsHint(cobra.ExactArgs(n)) }

// rangeArgs is cobra.RangeArgs with a pointer to the help in its error.
func rangeArgs(lo, hi int) cobra.PositionalArgs { return argsHint(cobra.RangeArgs(lo, hi)) }

func argsHint(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return fmt.Errorf("%s: %w (see '%s --help')", cmd.Name(), err, cmd.CommandPath())
		}
		return nil
	}
}
