package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/record"
)

func (a *app) indexCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "index",
		Short: "Show the state of a record store's indexes",
		Long: `index shows the indexes of a record store and their states (READABLE, WRITE_ONLY,
DISABLED, as the Java Record Layer names them).

` + keyExprHelp,
		Example: `  # every index of the store and its state
  layerkit --db ./data index state /library/catalogue --descriptor catalogue.pb

  # one index, metadata from flags
  layerkit --db ./data index state /library/catalogue book_by_author --descriptor catalogue.pb \
      --primary-key Book=branch,shelf,book_id --index book_by_author=Book:author`,
		Args: argsHint(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.indexStateCommand())
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
