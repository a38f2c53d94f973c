// Command quickstart is a tour of layerkit's kv contract and tuple keys on the embedded engine:
// writes and reads in one transaction, a range read of a tuple subspace, an atomic counter
// bumped by concurrent writers without conflicts, a versionstamped log entry, and a conflict
// that the retry loop resolves.
//
//	go run ./examples/quickstart            # in memory
//	go run ./examples/quickstart -dir /tmp/qs   # on disk
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"log"
	"sync"
	"sync/atomic"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/subspace"
	"github.com/layerkit/layerkit/tuple"
)

func main() {
	dir := flag.String("dir", "", "directory for a durable store (empty: in memory)")
	flag.Parse()
	if err := run(context.Background(), *dir); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, dir string) error {
	db, err := embedded.Open(dir, nil)
	if err != nil {
		return err
	}
	defer db.Close()

	app := subspace.Sub("quickstart")
	fruit := app.Sub("fruit")
	counter := app.Pack(tuple.Tuple{"visits"})
	events := app.Sub("events")

	// 1. Write several keys atomically; they appear together or not at all.
	_, err = kv.Transact(ctx, db, func(tr kv.Transaction) (struct{}, error) {
		for i, name := range []string{"apple", "banana", "cherry", "damson"} {
			tr.Set(fruit.Pack(tuple.Tuple{name}), tuple.Tuple{int64(i + 1), "in stock"}.Pack())
		}
		return struct{}{}, nil
	})
	if err != nil {
		return err
	}

	// 2. Read them back with a range read over the subspace, decoding tuple keys and values.
	rows, err := kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) ([]kv.KeyValue, error) {
		return tr.GetRange(fruit, kv.RangeOptions{}).GetSlice()
	})
	if err != nil {
		return err
	}
	fmt.Println("fruit, in key order:")
	for _, row := range rows {
		k, err := fruit.Unpack(row.Key)
		if err != nil {
			return err
		}
		v, err := tuple.Unpack(row.Value)
		if err != nil {
			return err
		}
		fmt.Printf("  %v -> %v\n", k, v)
	}

	// 3. Atomic ADD: 8 writers bump one counter 100 times each without a single conflict.
	var wg sync.WaitGroup
	var retries atomic.Int64
	one := binary.LittleEndian.AppendUint64(nil, 1)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				attempts := 0
				_, err := kv.Transact(ctx, db, func(tr kv.Transaction) (struct{}, error) {
					if attempts++; attempts > 1 {
						retries.Add(1)
					}
					tr.Atomic(kv.Add, counter, one)
					return struct{}{}, nil
				})
				if err != nil {
					log.Fatal(err)
				}
			}
		}()
	}
	wg.Wait()
	visits, err := kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) (uint64, error) {
		v, err := tr.Get(counter).Get()
		if err != nil || len(v) != 8 {
			return 0, err
		}
		return binary.LittleEndian.Uint64(v), nil
	})
	if err != nil {
		return err
	}
	fmt.Printf("counter after 800 concurrent atomic adds: %d (retries: %d)\n", visits, retries.Load())

	// 4. A versionstamped key: the engine fills in the commit's unique, increasing stamp.
	var stamps []kv.Future[[10]byte]
	for _, msg := range []string{"first", "second"} {
		f, err := kv.Transact(ctx, db, func(tr kv.Transaction) (kv.Future[[10]byte], error) {
			key, err := events.PackWithVersionstamp(tuple.Tuple{tuple.IncompleteVersionstamp(0)})
			if err != nil {
				return nil, err
			}
			tr.Atomic(kv.SetVersionstampedKey, key, []byte(msg))
			return tr.GetVersionstamp(), nil
		})
		if err != nil {
			return err
		}
		stamps = append(stamps, f)
	}
	for i, f := range stamps {
		vs, err := f.Get()
		if err != nil {
			return err
		}
		fmt.Printf("log entry %d committed with versionstamp %x\n", i+1, vs)
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
	fmt.Printf("stale writer's commit: %v (retryable: %v)\n", err, kv.IsRetryable(err))
	if !errors.Is(err, kv.ErrNotCommitted) {
		return fmt.Errorf("expected a conflict, got %v", err)
	}
	return nil
}
