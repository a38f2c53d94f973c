package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/layerkit/layerkit/directory"
	"github.com/layerkit/layerkit/kv"
)

func (a *app) dirsCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "dirs [path]",
		Short: "Show the directory tree with prefixes and layers",
		Long: `dirs shows the directories of the default directory layer under path (the whole
tree when path is omitted), depth first, one per line with its prefix in
FoundationDB's printable form and its layer. A partition's directories follow it
with prefixes inside the partition's.`,
		Example: `  # the whole tree
  layerkit --db ./data dirs

  # one subtree
  layerkit --db ./data dirs /library`,
		Args: rangeArgs(0, 1),
		RunE: a.run(func(ctx context.Context, args []string) error {
			db, err := a.database(ctx)
			if err != nil {
				return err
			}
			arg := "/"
			if len(args) == 1 {
				arg = args[0]
			}
			if _, ok, _ := parseRawPrefix(arg); ok {
				return fmt.Errorf("dirs takes a directory path, not a raw prefix (%s)", arg)
			}
			start, err := locate(ctx, db, arg)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PATH\tLAYER\tPREFIX")
			n := 0
			err = walkDirs(ctx, db, start.path, func(d dirEntry) error {
				n++
				_, err := fmt.Fprintf(tw, "%s\t%s\t%s\n", d.display(), kv.Printable(d.layer), kv.Printable(d.prefix))
				return err
			})
			if ferr := tw.Flush(); err == nil {
				err = ferr
			}
			if err == nil && n == 0 {
				fmt.Fprintf(a.stderr, "layerkit: no directories under %s\n", start.display())
			}
			return err
		}),
	}
}

// dirEntry is one directory found by walkDirs.
type dirEntry struct {
	path      []string
	prefix    []byte
	layer     []byte
	partition bool
}

func (d dirEntry) display() string { return "/" + strings.Join(d.path, "/") }

// walkDirs calls fn for every directory below path (not path itself), depth first, children in
// the directory layer's order. Each listing and each open is a read transaction of its own, so
// a tree of any size can be walked.
func walkDirs(ctx context.Context, db kv.ReadTransactor, path []string, fn func(dirEntry) error) error {
	names, err := directory.List(ctx, db, path)
	if err != nil {
		return fmt.Errorf("list the directory /%s: %w", strings.Join(path, "/"), err)
	}
	for _, name := range names {
		child := append(append([]string{}, path...), name)
		d, err := directory.Open(ctx, db, child, nil)
		if err != nil {
			return fmt.Errorf("open the directory /%s: %w", strings.Join(child, "/"), err)
		}
		prefix, err := directoryPrefix(d)
		if err != nil {
			return err
		}
		if err := fn(dirEntry{path: child, prefix: prefix, layer: d.GetLayer(), partition: d.IsPartition()}); err != nil {
			return err
		}
		if err := walkDirs(ctx, db, child, fn); err != nil {
			return err
		}
	}
	return nil
}
