// Command catalogue is the library catalogue of a state library network: about 700 branch
// libraries, each with shelves of books, kept in a record store on the embedded engine.
//
// It loads a generated catalogue, lists one shelf with a primary-key prefix scan, finds a book
// anywhere in the network through a unique index, pages through an author's books with
// continuations (each page in its own transaction), moves a book between shelves atomically,
// and races two moves of the same book: exactly one wins, the other is refused because the book
// is no longer at its source, as expected, and an audit shows nothing lost or duplicated.
// Every step prints its timing; long steps show a progress bar on a terminal.
//
// With -dir the catalogue is kept on disk and outlives the run: a later run on the same
// directory says what it found and uses it as it is (finishing a load that was stopped part
// way), refuses -books, -branches or -seed values other than the stored catalogue's, and starts
// over only with -reset.
//
//	go run ./examples/catalogue                     # 100,000 books, in memory
//	go run ./examples/catalogue -books 20000        # a smaller catalogue
//	go run ./examples/catalogue -dir /tmp/cat       # durable: run it twice
//	go run ./examples/catalogue -dir /tmp/cat -reset
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
)

func main() {
	cfg := defaultConfig()
	flag.IntVar(&cfg.books, "books", cfg.books, "number of books to generate")
	flag.IntVar(&cfg.branches, "branches", cfg.branches, "number of branch libraries")
	flag.StringVar(&cfg.dir, "dir", "", "directory for a durable database, kept between runs (default: in memory)")
	flag.BoolVar(&cfg.reset, "reset", false, "with -dir: remove the catalogue an earlier run left there and start over")
	flag.Int64Var(&cfg.seed, "seed", cfg.seed, "seed of the generated catalogue")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "catalogue: unexpected argument %q (flags start with -; see -help)\n", flag.Arg(0))
		os.Exit(2)
	}
	cfg.set = map[string]bool{}
	flag.Visit(func(f *flag.Flag) { cfg.set[f.Name] = true })
	cfg.progress = terminalStderr()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Stdout, cfg)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "catalogue:", err)
		os.Exit(1)
	}
}
