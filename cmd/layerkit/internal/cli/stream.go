package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/layerkit/layerkit/queue"
)

func (a *app) streamCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stream",
		Short: "Read an append-only stream",
		Long:  `stream reads the append-only stream (of the queue package) at a path.`,
		Example: `  layerkit --db ./data stream tail /chat/messages
  layerkit --db ./data stream tail /chat/messages --limit 50 --follow`,
		Args: argsHint(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.streamTailCommand())
	return cmd
}

func (a *app) streamTailCommand() *cobra.Command {
	var limit int
	var follow bool
	cmd := &cobra.Command{
		Use:   "tail <path>",
		Short: "Print the newest entries of a stream, and with --follow the new ones as they come",
		Long: `tail prints the last --limit entries of the stream, oldest first, one per line: the
entry ID (24 hex digits: commit version, batch order, user version), the appender's
time and the value (as a tuple when it is a packed tuple, otherwise as bytes). With
--follow it then waits for new entries, through a watch, and prints them until
interrupted.`,
		Example: `  layerkit --db ./data stream tail /chat/messages
  layerkit --db ./data stream tail /chat/messages --limit 5 --follow`,
		Args: exactArgs(1),
		RunE: a.run(func(ctx context.Context, args []string) error {
			if limit < 1 || limit > queue.MaxBatch {
				return fmt.Errorf("--limit %d: want 1 to %d", limit, queue.MaxBatch)
			}
			db, loc, err := a.openAt(ctx, args[0])
			if err != nil {
				return err
			}
			s, err := queue.NewStream(kvPrefix(loc.prefix), nil)
			if err != nil {
				return fmt.Errorf("stream %s: %w", loc.display(), err)
			}
			page, err := s.Read(ctx, db, queue.StreamEnd, queue.ReadOptions{Limit: limit, Reverse: true})
			if err != nil {
				return fmt.Errorf("stream %s: %w", loc.display(), err)
			}
			entries := slices.Clone(page.Entries)
			slices.Reverse(entries)
			if err := a.printEntries(entries); err != nil {
				return err
			}
			cursor := queue.StreamStart
			if len(entries) > 0 {
				cursor = entries[len(entries)-1].ID
			} else if !follow {
				fmt.Fprintf(a.stderr, "layerkit: the stream %s is empty\n", loc.display())
			}
			if !follow {
				return nil
			}
			err = s.Follow(ctx, db, cursor, queue.ReadOptions{Limit: queue.MaxBatch}, func(p queue.Page) error {
				return a.printEntries(p.Entries)
			})
			if errors.Is(err, context.Canceled) {
				return nil // interrupted: the normal end of --follow
			}
			return err
		}),
	}
	cmd.Flags().IntVar(&limit, "limit", 20, "how many of the newest entries to print")
	cmd.Flags().BoolVar(&follow, "follow", false, "keep printing new entries until interrupted")
	return cmd
}

func (a *app) printEntries(entries []queue.Entry) error {
	for _, e := range entries {
		if _, err := fmt.Fprintf(a.stdout, "%s %s %s\n", e.ID, formatTime(e.Time), formatValue(e.Value)); err != nil {
			return err
		}
	}
	return nil
}
