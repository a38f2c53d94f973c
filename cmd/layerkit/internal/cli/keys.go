package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/layerkit/layerkit/kv"
)

func (a *app) keysCommand() *cobra.Command {
	var limit int
	var reverse bool
	cmd := &cobra.Command{
		Use:   "keys <path>",
		Short: "List the keys and values under a directory or raw prefix",
		Long: `keys lists the keys under a directory (or raw prefix) with their values, one per
line as "key = value". Keys are printed relative to the prefix: as a tuple when the
rest of the key is a packed tuple, otherwise as bytes in FoundationDB's printable
form ("\x15\x01"). Values are printed as tuples when they are packed tuples without
nulls, otherwise as bytes. "/" lists the whole user keyspace, directory metadata
(\xfe…) included.`,
		Example: `  # the first 20 keys of a directory
  layerkit --db ./data keys /library/catalogue --limit 20

  # the last 5 keys, newest first, under a raw prefix
  layerkit --db ./data keys raw:\x15\x01 --reverse --limit 5

  # every key of the database
  layerkit --db ./data keys / --limit 0`,
		Args: exactArgs(1),
		RunE: a.run(func(ctx context.Context, args []string) error {
			if err := checkLimit(limit); err != nil {
				return err
			}
			db, loc, err := a.openAt(ctx, args[0])
			if err != nil {
				return err
			}
			return a.listKeys(ctx, db, loc, limit, reverse)
		}),
	}
	cmd.Flags().IntVar(&limit, "limit", 100, "most keys to list (0: no limit)")
	cmd.Flags().BoolVar(&reverse, "reverse", false, "list from the last key backwards")
	return cmd
}

func (a *app) listKeys(ctx context.Context, db kv.ReadTransactor, loc location, limit int, reverse bool) error {
	n := 0
	more := false
	page := scanPageSize
	if limit > 0 && limit+1 < page {
		page = limit + 1
	}
	err := scanRange(ctx, db, contentRange(loc.prefix), reverse, page, func(row kv.KeyValue) error {
		if limit > 0 && n == limit {
			more = true
			return errStopScan
		}
		n++
		_, err := fmt.Fprintf(a.stdout, "%s = %s\n", formatKey(row.Key[len(loc.prefix):]), formatValue(row.Value))
		return err
	})
	if err != nil {
		return fmt.Errorf("read %s: %w", loc.display(), err)
	}
	a.noteLimit(n, more, plural(n, "key", "keys")+" of "+loc.display(), "no keys under "+loc.display())
	return nil
}
