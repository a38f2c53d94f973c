package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/record"
)

func (a *app) indexCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "index",
		Short: "Show the state of a record store's indexes, and build them online",
		Long: `index shows the indexes of a record store and their states (READABLE, WRITE_ONLY,
DISABLED, READABLE_UNIQUE_PENDING, as the Java Record Layer names them), and builds
an index that is not READABLE with the online indexer.

` + keyExprHelp,
		Example: `  # every index of the store and its state
  layerkit --db ./data index state /library/catalogue --descriptor catalogue.pb

  # build an index the application's new metadata added (DISABLED or WRITE_ONLY)
  layerkit --db ./data index build /library/catalogue book_by_title --descriptor catalogue.pb

  # one index, metadata from flags
  layerkit --db ./data index state /library/catalogue book_by_author --descriptor catalogue.pb \
      --primary-key Book=branch,shelf,book_id --index book_by_author=Book:author`,
		Args: argsHint(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.indexStateCommand(), a.indexBuildCommand())
	return cmd
}

// openStoreMetaData opens the database, resolves the store at arg and builds its metadata at the
// version its header records.
func (a *app) openStoreMetaData(ctx context.Context, mf *metaFlags, arg string) (kv.Database, location, *record.MetaData, error) {
	sch, err := mf.load()
	if err != nil {
		return nil, location{}, nil, err
	}
	spec, err := mf.parse(sch)
	if err != nil {
		return nil, location{}, nil, err
	}
	db, loc, err := a.openAt(ctx, arg)
	if err != nil {
		return nil, location{}, nil, err
	}
	h, err := openStoreHeader(ctx, db, loc)
	if err != nil {
		return nil, location{}, nil, err
	}
	md, err := spec.build(int(h.metaDataVersion))
	if err != nil {
		return nil, location{}, nil, err
	}
	return db, loc, md, nil
}

func (a *app) indexStateCommand() *cobra.Command {
	var mf metaFlags
	cmd := &cobra.Command{
		Use:   "state <store-path> [index]",
		Short: "Show the state of one index, or of every index, of a record store",
		Long: `state prints each index of the store (or the one named) with its type, the record
types it covers and its state, read in one transaction. An index without a state key
is READABLE.

` + keyExprHelp,
		Example: `  layerkit --db ./data index state /inventory --descriptor inventory.pb
  layerkit --db ./data index state /inventory 'Item$category' --descriptor inventory.pb`,
		Args: rangeArgs(1, 2),
		RunE: a.run(func(ctx context.Context, args []string) error {
			db, loc, md, err := a.openStoreMetaData(ctx, &mf, args[0])
			if err != nil {
				return err
			}
			indexes := md.Indexes()
			if len(args) == 2 {
				ix := md.Index(args[1])
				if ix == nil {
					return fmt.Errorf("record store %s has no index %q in its metadata (%s)", loc.display(), args[1], indexNames(md))
				}
				indexes = []*record.Index{ix}
			}
			if len(indexes) == 0 {
				fmt.Fprintf(a.stderr, "layerkit: the metadata of %s declares no index\n", loc.display())
				return nil
			}
			states := make([]record.IndexState, len(indexes))
			err = db.ReadTransact(ctx, func(tr kv.ReadTransaction) error {
				st, err := record.OpenReadOnly(ctx, tr, md, kvPrefix(loc.prefix))
				if err != nil {
					return err
				}
				for i, ix := range indexes {
					if states[i], err = st.IndexState(ix.Name); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("record store %s: %w", loc.display(), err)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "INDEX\tTYPE\tRECORD TYPES\tEXPRESSION\tSTATE")
			for i, ix := range indexes {
				typ := ix.Type
				if typ == "" {
					typ = record.ValueIndex
				}
				unique := ""
				if ix.Unique {
					unique = " unique"
				}
				fmt.Fprintf(tw, "%s\t%s%s\t%s\t%s\t%s\n", ix.Name, typ, unique, strings.Join(ix.RecordTypes, ", "), ix.Expression, states[i])
			}
			return tw.Flush()
		}),
	}
	mf.register(cmd)
	return cmd
}

func indexNames(md *record.MetaData) string {
	var names []string
	for _, ix := range md.Indexes() {
		names = append(names, ix.Name)
	}
	if len(names) == 0 {
		return "it declares none"
	}
	return "its indexes: " + strings.Join(names, ", ")
}

func (a *app) indexBuildCommand() *cobra.Command {
	var mf metaFlags
	var rate float64
	cmd := &cobra.Command{
		Use:   "build <store-path> <index>",
		Short: "Build an index online, in batches, with a progress bar",
		Long: `build builds an index of the store that is not READABLE (DISABLED or WRITE_ONLY, as
an application leaves a new index when it upgrades a large store) with the online
indexer (record.BuildIndex): batches of records in transactions of their own, while
other clients keep writing, resumable after an interruption (run it again), and
shared with other builders. The index becomes READABLE at the end (or
READABLE_UNIQUE_PENDING when a unique index met duplicates). A READABLE index is left
alone. The metadata is built at the store's own metadata version: build does not
upgrade the store, so declare the index as the application's metadata does.

` + keyExprHelp,
		Example: `  layerkit --db ./data index build /library/catalogue book_by_title --descriptor catalogue.pb \
      --primary-key Book=branch,shelf,book_id --index book_by_title=Book:title

  # at most 1,000 records a second, to spare a busy cluster
  layerkit --cluster-file fdb.cluster index build /inventory 'Item$category' \
      --descriptor inventory.pb --records-per-second 1000`,
		Args: exactArgs(2),
		RunE: a.run(func(ctx context.Context, args []string) error {
			if rate < 0 {
				return fmt.Errorf("--records-per-second %v: want 0 (no limit) or more", rate)
			}
			db, loc, md, err := a.openStoreMetaData(ctx, &mf, args[0])
			if err != nil {
				return err
			}
			name := args[1]
			if md.Index(name) == nil {
				return fmt.Errorf("record store %s has no index %q in its metadata (%s)", loc.display(), name, indexNames(md))
			}
			before, err := indexState(ctx, db, md, loc, name)
			if err != nil {
				return err
			}
			if before == record.Readable {
				fmt.Fprintf(a.stdout, "index %s of %s is READABLE: nothing to build\n", name, loc.display())
				return nil
			}
			bar, err := a.newProgress(1, "build "+name)
			if err != nil {
				return err
			}
			var last record.IndexBuildProgress
			start := time.Now()
			err = record.BuildIndex(ctx, db, md, kvPrefix(loc.prefix), name, record.IndexBuildOptions{
				RecordsPerSecond: rate,
				Progress: func(p record.IndexBuildProgress) {
					last = p
					bar.SetTotal(max(p.EstimatedTotal, p.Records))
					bar.Set(p.Records)
				},
			})
			if err != nil {
				return fmt.Errorf("build index %s of %s: %w (run the command again to resume)", name, loc.display(), err)
			}
			bar.Finish()
			after, err := indexState(ctx, db, md, loc, name)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.stdout, "built index %s of %s: %s in %v; %v, now %v\n", name, loc.display(),
				plural(int(last.Records), "record", "records"), time.Since(start).Round(time.Millisecond), before, after)
			return err
		}),
	}
	mf.register(cmd)
	cmd.Flags().Float64Var(&rate, "records-per-second", 0, "throttle the build to this many records a second (0: no limit)")
	return cmd
}

// indexState reads the state of one index in a read-only transaction.
func indexState(ctx context.Context, db kv.Database, md *record.MetaData, loc location, name string) (record.IndexState, error) {
	var state record.IndexState
	err := db.ReadTransact(ctx, func(tr kv.ReadTransaction) error {
		st, err := record.OpenReadOnly(ctx, tr, md, kvPrefix(loc.prefix))
		if err != nil {
			return err
		}
		state, err = st.IndexState(name)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("record store %s: %w", loc.display(), err)
	}
	return state, nil
}
