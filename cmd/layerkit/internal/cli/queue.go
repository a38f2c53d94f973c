package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/queue"
)

func (a *app) queueCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "queue",
		Short: "Inspect a work queue: counts, waiting and dead messages, redrive",
		Long: `queue inspects the work queue at a path (a directory or raw prefix holding a queue of
the queue package): its counts, its messages, and sends dead letters back.`,
		Example: `  layerkit --db ./data queue stats /jobs
  layerkit --db ./data queue peek /jobs --all --limit 20
  layerkit --db ./data queue peek /jobs --dead
  layerkit --db ./data queue redrive /jobs`,
		Args: argsHint(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.queueStatsCommand(), a.queuePeekCommand(), a.queueRedriveCommand())
	return cmd
}

// openQueue opens the database and the queue handle at arg.
func (a *app) openQueue(ctx context.Context, arg string) (kv.Database, location, *queue.Queue, error) {
	db, loc, err := a.openAt(ctx, arg)
	if err != nil {
		return nil, location{}, nil, err
	}
	q, err := queue.NewQueue(kvPrefix(loc.prefix), nil)
	if err != nil {
		return nil, location{}, nil, fmt.Errorf("queue %s: %w", loc.display(), err)
	}
	return db, loc, q, nil
}

func (a *app) queueStatsCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "stats <path>",
		Short: "Show a queue's message counts",
		Long: `stats prints the queue's counts: visible, delayed, in flight (leased) and dead
messages, kept exact by the transactions that move messages, and how long the
longest-waiting visible message has waited.`,
		Example: `  layerkit --db ./data queue stats /jobs`,
		Args:    exactArgs(1),
		RunE: a.run(func(ctx context.Context, args []string) error {
			db, loc, q, err := a.openQueue(ctx, args[0])
			if err != nil {
				return err
			}
			st, err := q.Stats(ctx, db)
			if err != nil {
				return fmt.Errorf("queue %s: %w", loc.display(), err)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "visible\t%d\n", st.Visible)
			fmt.Fprintf(tw, "delayed\t%d\n", st.Delayed)
			fmt.Fprintf(tw, "in flight\t%d\n", st.InFlight)
			fmt.Fprintf(tw, "dead\t%d\n", st.Dead)
			fmt.Fprintf(tw, "oldest visible\t%v\n", st.OldestVisibleAge.Round(time.Millisecond))
			return tw.Flush()
		}),
	}
}

func (a *app) queuePeekCommand() *cobra.Command {
	var limit int
	var all, dead bool
	cmd := &cobra.Command{
		Use:   "peek <path>",
		Short: "List a queue's messages without leasing them",
		Long: `peek lists messages without taking them: by default those that can be received now,
in the order consumers get them (priority, then time); --all adds delayed and leased
ones; --dead lists the dead-letter queue. Each line shows the message ID, state,
priority, attempts, enqueue time, the time it becomes receivable (or was
dead-lettered), its headers, its last error and its payload.`,
		Example: `  layerkit --db ./data queue peek /jobs
  layerkit --db ./data queue peek /jobs --all --limit 50
  layerkit --db ./data queue peek /jobs --dead`,
		Args: exactArgs(1),
		RunE: a.run(func(ctx context.Context, args []string) error {
			if limit < 1 {
				return fmt.Errorf("--limit %d: want 1 or more", limit)
			}
			if all && dead {
				return fmt.Errorf("--all and --dead: give one")
			}
			db, loc, q, err := a.openQueue(ctx, args[0])
			if err != nil {
				return err
			}
			var msgs []queue.Message
			if dead {
				msgs, err = q.PeekDead(ctx, db, queue.PeekOptions{Limit: limit})
			} else {
				msgs, err = q.Peek(ctx, db, queue.PeekOptions{Limit: limit, All: all})
			}
			if err != nil {
				return fmt.Errorf("queue %s: %w", loc.display(), err)
			}
			if len(msgs) == 0 {
				fmt.Fprintf(a.stderr, "layerkit: no messages to show in %s\n", loc.display())
			}
			for _, m := range msgs {
				when := "visible " + formatTime(m.VisibleAt)
				if !m.DeadAt.IsZero() {
					when = "dead " + formatTime(m.DeadAt)
				}
				line := fmt.Sprintf("%s %s priority=%d attempts=%d enqueued %s %s", m.ID, m.State, m.Priority, m.Attempts, formatTime(m.EnqueuedAt), when)
				if len(m.Headers) > 0 {
					line += " headers=" + formatHeaders(m.Headers)
				}
				if m.LastError != "" {
					line += fmt.Sprintf(" error=%q", m.LastError)
				}
				if _, err := fmt.Fprintf(a.stdout, "%s %s\n", line, quoteBytes(m.Payload)); err != nil {
					return err
				}
			}
			return nil
		}),
	}
	cmd.Flags().IntVar(&limit, "limit", queue.DefaultPeekLimit, "most messages to list")
	cmd.Flags().BoolVar(&all, "all", false, "include delayed and leased messages")
	cmd.Flags().BoolVar(&dead, "dead", false, "list the dead-letter queue")
	return cmd
}

func (a *app) queueRedriveCommand() *cobra.Command {
	var ids []string
	cmd := &cobra.Command{
		Use:   "redrive <path>",
		Short: "Send dead letters back into the queue",
		Long: `redrive moves dead letters back into the queue, visible at once with their attempts
reset: all of them, or those named by --id. It is safe to run again after an error.`,
		Example: `  layerkit --db ./data queue redrive /jobs
  layerkit --db ./data queue redrive /jobs --id 0000000000001a2b00000000`,
		Args: exactArgs(1),
		RunE: a.run(func(ctx context.Context, args []string) error {
			opts := queue.RedriveOptions{}
			for _, s := range ids {
				id, err := queue.ParseEntryID(s)
				if err != nil {
					return fmt.Errorf("--id %q: %w", s, err)
				}
				opts.IDs = append(opts.IDs, id)
			}
			db, loc, q, err := a.openQueue(ctx, args[0])
			if err != nil {
				return err
			}
			n, err := q.Redrive(ctx, db, opts)
			if err != nil {
				return fmt.Errorf("queue %s: redrive: %w", loc.display(), err)
			}
			_, err = fmt.Fprintf(a.stdout, "redrove %s\n", plural(n, "message", "messages"))
			return err
		}),
	}
	cmd.Flags().StringArrayVar(&ids, "id", nil, "redrive only this dead letter (its ID as peek prints it; repeatable)")
	return cmd
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

func formatHeaders(h map[string]string) string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, h[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
}
