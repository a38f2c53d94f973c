// Command catalogue is the library catalogue of a state library network: about 700 branch
// libraries, each with shelves of books, kept in a record store on the embedded engine.
//
// It loads a generated catalogue, lists one shelf with a primary-key prefix scan, finds a book
// anywhere in the network through a unique index, pages through an author's books with
// continuations (each page in its own transaction), moves a book between shelves atomically,
// and finally races two moves of the same book: exactly one succeeds, the other reports that the
// book was not found at its source, and a full consistency check shows nothing lost or
// duplicated. Every step prints its timing.
//
//	go run ./examples/catalogue                 # 100,000 books, in memory
//	go run ./examples/catalogue -books 20000    # a smaller catalogue
//	go run ./examples/catalogue -dir /tmp/cat   # durable, in a directory
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
)

func main() {
	cfg := defaultConfig()
	flag.IntVar(&cfg.books, "books", cfg.books, "number of books to generate")
	flag.IntVar(&cfg.branches, "branches", cfg.branches, "number of branch libraries")
	flag.StringVar(&cfg.dir, "dir", "", "directory for a durable database (default: in memory)")
	flag.Int64Var(&cfg.seed, "seed", cfg.seed, "seed of the generated catalogue")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "catalogue:", err)
		os.Exit(1)
	}
}
