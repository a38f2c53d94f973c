// Command quickstart is a tour of layerkit's kv contract and tuple keys on the embedded engine:
// writes and reads in one transaction, a range read of a tuple subspace, an atomic counter
// bumped by concurrent writers without conflicts, versionstamped log entries, and a conflict,
// provoked on purpose, that the retry loop would resolve.
//
// With -dir the keys are kept on disk: a later run on the same directory says what the earlier
// runs left (the counter goes on counting, the log grows) and -reset clears it first.
//
//	go run ./examples/quickstart                  # in memory
//	go run ./examples/quickstart -dir /tmp/qs     # on disk: run it twice
//	go run ./examples/quickstart -dir /tmp/qs -reset
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/subspace"
	"github.com/layerkit/layerkit/tuple"
)

func main() {
	var cfg config
	flag.StringVar(&cfg.dir, "dir", "", "directory for a durable store, kept between runs (empty: in memory)")
	flag.BoolVar(&cfg.reset, "reset", false, "with -dir: clear the keys earlier runs left before starting")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "quickstart: unexpected argument %q (flags start with -; see -help)\n", flag.Arg(0))
		os.Exit(2)
	}
	if err := run(context.Background(), os.Stdout, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

type config struct {
	dir   string
	reset bool
}

// The quickstart's keys, all under the tuple ("quickstart").
var (
	app     = subspace.Sub("quickstart")
	fruit   = app.Sub("fruit")
	counter = app.Pack(tuple.Tuple{"visits"})
	events  = app.Sub("events")
)

const (
	writers        = 8
	addsPerWriter  = 100
	showLogEntries = 6
)

func run(ctx context.Context, w io.Writer, cfg config) error {
	db, err := embedded.Open(cfg.dir, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := opening(ctx, w, db, cfg); err != nil {
		return err
	}

	// 1. Write several keys atomically; they appear together or not at all.
	names := []string{"apple", "banana", "cherry", "damson"}
	_, err = kv.Transact(ctx, db, func(tr kv.Transaction) (struct{}, error) {
		for i, name := range names {
			tr.Set(fruit.Pack(tuple.Tuple{name}), tuple.Tuple{int64(i + 1), "in stock"}.Pack())
		}
		return struct{}{}, nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "1. Wrote %d fruit in one transaction: all of them commit, or none.\n", len(names))

	// 2. Read them back with a range read over the subspace, decoding tuple keys and values.
	rows, err := kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) ([]kv.KeyValue, error) {
		return tr.GetRange(fruit, kv.RangeOptions{}).GetSlice()
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "2. One range read of the subspace (\"quickstart\", \"fruit\") returns them in key order:")
	for _, row := range rows {
		k, err := fruit.Unpack(row.Key)
		if err != nil {
			return err
		}
		v, err := tuple.Unpack(row.Value)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "     %v -> %v\n", k, v)
	}

	// 3. Atomic ADD: concurrent writers bump one counter without reading it, so without conflicts.
	before, err := readCounter(ctx, db)
	if err != nil {
		return err
	}
	retries, err := addConcurrently(ctx, db)
	if err != nil {
		return err
	}
	after, err := readCounter(ctx, db)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "3. %d writers added 1 to one counter %d times each with atomic ADD, which reads nothing and so conflicts with nothing: %d -> %d (%d retries).\n",
		writers, addsPerWriter, before, after, retries)
	if after-before != writers*addsPerWriter {
		return fmt.Errorf("the counter went from %d to %d, want %d more", before, after, writers*addsPerWriter)
	}

	// 4. Versionstamped keys: the engine fills in each commit's unique, increasing stamp, so the
	// log orders by commit.
	for _, msg := range []string{"first", "second"} {
		_, err := kv.Transact(ctx, db, func(tr kv.Transaction) (struct{}, error) {
			key, err := events.PackWithVersionstamp(tuple.Tuple{tuple.IncompleteVersionstamp(0)})
			if err != nil {
				return struct{}{}, err
			}
			tr.Atomic(kv.SetVersionstampedKey, key, []byte(msg))
			return struct{}{}, nil
		})
		if err != nil {
			return err
		}
	}
	log, err := kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) ([]kv.KeyValue, error) {
		return tr.GetRange(events, kv.RangeOptions{}).GetSlice()
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "4. Appended 2 entries to a log with versionstamped keys; the log holds %d, in commit order:\n", len(log))
	if len(log) > showLogEntries {
		fmt.Fprintf(w, "     … %d older\n", len(log)-showLogEntries)
		log = log[len(log)-showLogEntries:]
	}
	for _, e := range log {
		k, err := events.Unpack(e.Key)
		if err != nil {
			return err
		}
		vs, ok := k[0].(tuple.Versionstamp)
		if !ok {
			return fmt.Errorf("log key %v: want a versionstamp", k)
		}
		fmt.Fprintf(w, "     %x  %s\n", vs.TransactionVersion, e.Value)
	}

	// 5. A conflict: t1 reads apple, t2 changes it and commits, so t1's commit fails with 1020
	// and the retry loop would run t1's function again on fresh data.
	t1, err := db.CreateTransaction()
	if err != nil {
		return err
	}
	apple := fruit.Pack(tuple.Tuple{"apple"})
	if _, err := t1.Get(apple).Get(); err != nil {
		return err
	}
	t1.Set(apple, tuple.Tuple{int64(0), "sold out"}.Pack())
	_, err = kv.Transact(ctx, db, func(tr kv.Transaction) (struct{}, error) {
		tr.Set(apple, tuple.Tuple{int64(10), "restocked"}.Pack())
		return struct{}{}, nil
	})
	if err != nil {
		return err
	}
	err = t1.Commit()
	if !errors.Is(err, kv.ErrNotCommitted) {
		return fmt.Errorf("the stale writer's commit: got %v, want a conflict (1020)", err)
	}
	fmt.Fprintln(w, "5. A conflict, on purpose: t1 reads apple, t2 changes apple and commits, then t1 commits.")
	fmt.Fprintf(w, "     t1's commit failed, as expected: %v (retryable: %v; kv.Transact would run t1's function again on the new data).\n", err, kv.IsRetryable(err))
	if cfg.dir != "" {
		fmt.Fprintf(w, "The keys stay in %s: run again with the same -dir to see the counter and the log grow, or add -reset to clear them.\n", cfg.dir)
	}
	return nil
}

// opening says where the keys live and what earlier runs left there, after clearing it when
// cfg.reset asks for that.
func opening(ctx context.Context, w io.Writer, db kv.Database, cfg config) error {
	if cfg.dir == "" {
		fmt.Fprintln(w, "Opened the embedded engine in memory; every key below is under the tuple (\"quickstart\").")
		return nil
	}
	left, err := kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) (int, error) {
		rows, err := tr.GetRange(app, kv.RangeOptions{}).GetSlice()
		return len(rows), err
	})
	if err != nil {
		return err
	}
	switch {
	case left == 0:
		fmt.Fprintf(w, "Opened the embedded engine on disk in %s; every key below is under the tuple (\"quickstart\").\n", cfg.dir)
	case cfg.reset:
		err := db.Transact(ctx, func(tr kv.Transaction) error {
			tr.ClearRange(app.Range())
			return nil
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "Opened the embedded engine on disk in %s; -reset cleared the %d keys earlier runs left under (\"quickstart\").\n", cfg.dir, left)
	default:
		visits, err := readCounter(ctx, db)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "Opened the embedded engine on disk in %s: it holds %d keys under (\"quickstart\") from earlier runs, the counter at %d. Continuing from them; -reset clears them first.\n", cfg.dir, left, visits)
	}
	return nil
}

// addConcurrently runs writers goroutines that each add 1 to the counter addsPerWriter times,
// one transaction per add, and returns how many transactions had to be run again.
func addConcurrently(ctx context.Context, db kv.Database) (int64, error) {
	var wg sync.WaitGroup
	var retries atomic.Int64
	errs := make([]error, writers)
	one := binary.LittleEndian.AppendUint64(nil, 1)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range addsPerWriter {
				attempts := 0
				_, err := kv.Transact(ctx, db, func(tr kv.Transaction) (struct{}, error) {
					if attempts++; attempts > 1 {
						retries.Add(1)
					}
					tr.Atomic(kv.Add, counter, one)
					return struct{}{}, nil
				})
				if err != nil {
					errs[i] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return retries.Load(), errors.Join(errs...)
}

// readCounter reads the counter: 8 bytes little-endian, or 0 when it is not there yet.
func readCounter(ctx context.Context, db kv.Database) (uint64, error) {
	return kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) (uint64, error) {
		v, err := tr.Get(counter).Get()
		if err != nil || v == nil {
			return 0, err
		}
		if len(v) != 8 {
			return 0, fmt.Errorf("counter %s: want 8 bytes, got %d", kv.Printable(counter), len(v))
		}
		return binary.LittleEndian.Uint64(v), nil
	})
}
