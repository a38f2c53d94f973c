package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/layerkit/layerkit/directory"
	"github.com/layerkit/layerkit/docstore"
	"github.com/layerkit/layerkit/kv"
)

// docstoreLayer and collectionLayer are the directory layers of a docstore database and of
// its collections.
const (
	docstoreLayer   = "docstore"
	collectionLayer = "docstore.collection"
)

func (a *app) docsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "docs",
		Short: "Query a document collection",
		Long:  `docs queries the JSON document collections of the docstore package.`,
		Example: `  layerkit --db ./data docs find /app/users '{"age": {"$gte": 30}}'
  layerkit --db ./data docs find /app/users '{}' --sort -age --limit 10`,
		Args: argsHint(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.docsFindCommand())
	return cmd
}

func (a *app) docsFindCommand() *cobra.Command {
	var limit int
	var sortBy []string
	var projection string
	cmd := &cobra.Command{
		Use:   "find <collection> '<filter-json>'",
		Short: "Print the documents of a collection that match a MongoDB-style filter",
		Long: `find runs a query on the collection at <collection>, the directory path of the
docstore database followed by the collection's name (/app/users: collection users of
the database at /app), and prints the matching documents as JSON, one per line. The
filter is MongoDB's query language as JSON ('{}' for all); --sort takes dotted paths,
'-' first for descending; --projection keeps (1) or drops (0) fields.`,
		Example: `  # every user 30 or older, oldest first
  layerkit --db ./data docs find /app/users '{"age": {"$gte": 30}}' --sort -age

  # names only, of users with a tag
  layerkit --db ./data docs find /app/users '{"tags": "admin"}' --projection '{"name": 1}'`,
		Args: exactArgs(2),
		RunE: a.run(func(ctx context.Context, args []string) error {
			if err := checkLimit(limit); err != nil {
				return err
			}
			path, err := parsePath(args[0])
			if err != nil {
				return err
			}
			if len(path) < 2 {
				return fmt.Errorf("%q names no collection: want /<database path>/<collection>", args[0])
			}
			db, err := a.database(ctx)
			if err != nil {
				return err
			}
			coll, err := openCollection(ctx, db, path)
			if err != nil {
				return err
			}
			opts := docstore.FindOptions{Sort: sortBy}
			if projection != "" {
				opts.Projection = projection
			}
			return a.findDocuments(ctx, db, coll, "/"+strings.Join(path, "/"), args[1], opts, limit)
		}),
	}
	cmd.Flags().IntVar(&limit, "limit", 100, "most documents to print (0: no limit)")
	cmd.Flags().StringArrayVar(&sortBy, "sort", nil, "sort by a dotted path, -path for descending (repeatable)")
	cmd.Flags().StringVar(&projection, "projection", "", `fields to keep or drop, as JSON: '{"name": 1}'`)
	return cmd
}

// openCollection opens the collection whose docstore database is path[:len-1], without creating
// anything: the database directory must exist with the docstore layer, and the collection must
// be one of its collections.
func openCollection(ctx context.Context, db kv.Database, path []string) (*docstore.Collection, error) {
	dbPath, name := path[:len(path)-1], path[len(path)-1]
	display := "/" + strings.Join(dbPath, "/")
	d, err := directory.Open(ctx, db, dbPath, nil)
	if errors.Is(err, directory.ErrDirNotExists) {
		return nil, fmt.Errorf("no docstore database %s: the directory does not exist", display)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", display, err)
	}
	if string(d.GetLayer()) != docstoreLayer {
		return nil, fmt.Errorf("%s is not a docstore database (its directory layer is %q, not %q)", display, d.GetLayer(), docstoreLayer)
	}
	var ds *docstore.DB
	// Open takes a transactor it could create the database with; it exists, and this
	// transaction is never committed, so nothing is written either way.
	err = kv.RunTransact(ctx, db, true, func(tr kv.Transaction) error {
		var err error
		ds, err = docstore.Open(ctx, tr, dbPath, nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open the docstore database %s: %w", display, err)
	}
	names, err := ds.ListCollections(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("list the collections of %s: %w", display, err)
	}
	if !slices.Contains(names, name) {
		return nil, fmt.Errorf("the docstore database %s has no collection %q (its collections: %s)", display, name, strings.Join(names, ", "))
	}
	return ds.Collection(name), nil
}

func (a *app) findDocuments(ctx context.Context, db kv.Database, coll *docstore.Collection, display, filter string, opts docstore.FindOptions, limit int) error {
	n, more := 0, false
	for {
		opts.Limit = 1000 // pages of a bounded size, each its own transaction
		if limit > 0 {
			opts.Limit = limit - n + 1 // one more than wanted tells whether there are more
		}
		page, err := coll.Find(ctx, db, filter, opts)
		if err != nil {
			return fmt.Errorf("find in %s: %w", display, err)
		}
		for _, d := range page.Docs {
			if limit > 0 && n == limit {
				more = true
				break
			}
			b, err := d.JSON()
			if err != nil {
				return fmt.Errorf("find in %s: document %v: %w", display, d.ID(), err)
			}
			if _, err := fmt.Fprintf(a.stdout, "%s\n", b); err != nil {
				return err
			}
			n++
		}
		if more || page.Continuation == nil {
			break
		}
		opts.Continuation, opts.Skip = page.Continuation, 0
	}
	a.noteLimit(n, more, plural(n, "document", "documents"), "no documents in "+display+" match")
	return nil
}
