package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/layerkit/layerkit/kv"
)

// Exit codes of Run.
const (
	// ExitOK means the command did what it was asked.
	ExitOK = 0
	// ExitFailure means the command failed (a bad path, a damaged store, a check that found
	// problems); the reason is the last line on stderr.
	ExitFailure = 1
	// ExitUsage means the command line itself was wrong: an unknown command or flag, a missing
	// or extra argument, a flag value that does not parse.
	ExitUsage = 2
)

// Run runs the layerkit command line args (without the program name), writing results to
// stdout and progress and errors to stderr, and returns the exit code. An error is reported as
// one line, "layerkit: <what went wrong>". Run is what main calls; tests call it in process.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	return run(ctx, &app{stdout: stdout, stderr: stderr}, args)
}

// RunOn is Run on a database the caller has open (a program that embeds these commands, or a
// test that writes while a command reads): --db and --cluster-file are refused, and db is not
// closed.
func RunOn(ctx context.Context, db kv.Database, args []string, stdout, stderr io.Writer) int {
	return run(ctx, &app{stdout: stdout, stderr: stderr, db: db, given: true}, args)
}

func run(ctx context.Context, a *app, args []string) (code int) {
	stdout, stderr := a.stdout, a.stderr
	defer func() {
		// A panic is a bug in layerkit, never the user's fault; report it as one line rather
		// than a stack trace, so the exit is still clean.
		if p := recover(); p != nil {
			a.closeDB()
			fmt.Fprintf(stderr, "layerkit: internal error (please report it): %v\n", p)
			code = ExitFailure
		}
	}()
	root := a.rootCommand()
	if args == nil {
		args = []string{} // cobra reads os.Args for nil
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetContext(ctx)
	err := root.ExecuteContext(ctx)
	if cerr := a.closeDB(); err == nil && cerr != nil {
		err = runFailure(fmt.Errorf("close the database: %w", cerr))
	}
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(stderr, "layerkit: %s\n", oneLine(err))
	var rf *runError
	if !errors.As(err, &rf) {
		// Everything that did not come back from a command's own run is cobra refusing the
		// command line: an unknown command or flag, a bad flag value, a wrong argument count.
		return ExitUsage
	}
	return ExitFailure
}

// runError marks an error returned by a command's run, as opposed to one from parsing the
// command line.
type runError struct{ err error }

func (e *runError) Error() string { return e.err.Error() }
func (e *runError) Unwrap() error { return e.err }

func runFailure(err error) error {
	if err == nil {
		return nil
	}
	return &runError{err}
}

// oneLine folds a multi-line error (such as one from errors.Join) into one line.
func oneLine(err error) string {
	lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, "; ")
}

// app holds what the commands of one Run share: the output streams, the global flags and the
// database once opened.
type app struct {
	stdout, stderr io.Writer

	dbPath      string
	clusterFile string
	progress    string

	db    kv.Database
	close func() error
	// given reports a database handed to RunOn.
	given bool
}

func (a *app) closeDB() error {
	if a.close == nil {
		return nil
	}
	c := a.close
	a.close, a.db = nil, nil
	return c()
}

const rootExamples = `  # the directory tree of an embedded database
  layerkit --db ./data dirs

  # keys of one directory, decoded as tuples
  layerkit --db ./data keys /library/catalogue --limit 20

  # records of a store as JSON, given the descriptor set protoc wrote
  layerkit --db ./data records /library/catalogue Book --descriptor catalogue.pb --where author=Tolkien

  # every consistency checker over the whole database
  layerkit --db ./data check --descriptor catalogue.pb

  # the same on FoundationDB (a build with -tags fdb)
  layerkit --cluster-file /etc/foundationdb/fdb.cluster dirs`

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "layerkit",
		Short: "Look inside a layerkit database",
		Long: `layerkit looks inside a layerkit database: the directory tree, raw keys decoded as
tuples, record stores as JSON, index states, and the consistency of everything; it also
builds indexes and measures the engine's throughput.

It opens an embedded database directory (--db, or $LAYERKIT_DB) or, in a build with
-tags fdb, a FoundationDB cluster (--cluster-file). Paths are directory-layer paths
such as /library/catalogue; "raw:" and "hex:" name a raw key prefix instead
(raw:\x15\x01 or hex:1501).`,
		Example:           rootExamples,
		SilenceErrors:     true,
		SilenceUsage:      true,
		Args:              cobra.NoArgs,
		DisableAutoGenTag: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	pf := root.PersistentFlags()
	pf.StringVar(&a.dbPath, "db", os.Getenv("LAYERKIT_DB"), "embedded database directory (default $LAYERKIT_DB)")
	pf.StringVar(&a.clusterFile, "cluster-file", "", "FoundationDB cluster file (needs a build with -tags fdb)")
	pf.StringVar(&a.progress, "progress", "auto", "progress bars on stderr: auto (when stderr is a terminal), always or never")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())
	})
	root.AddCommand(
		a.dirsCommand(),
		a.keysCommand(),
		a.recordsCommand(),
		a.checkCommand(),
		a.indexCommand(),
		a.queueCommand(),
		a.streamCommand(),
		a.docsCommand(),
		a.benchCommand(),
	)
	return root
}

// run adapts a command's run function: its errors are marked as run failures (exit code 1), and
// the context is the command's.
func (a *app) run(fn func(ctx context.Context, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		return runFailure(fn(cmd.Context(), args))
	}
}
