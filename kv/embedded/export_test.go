package embedded

import (
	"context"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// HotKeyCount is the number of keys the registry of hot keys holds (see hotkeys.go).
func HotKeyCount(db *DB) int {
	if p := db.hot.keys.Load(); p != nil {
		return len(*p)
	}
	return 0
}

// Compact compacts the whole keyspace, as a background compaction would. It gives up after
// 300 ms: a compaction that fails is retried in the background, and the database may close its
// storage meanwhile. When a background compaction met damage first and the database has
// already closed its storage, Pebble panics with "pebble: closed"; that is returned as an error.
func Compact(db *DB) (err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("compact: %v", r)
		}
	}()
	return db.pdb.Compact(ctx, nil, []byte{0xff, 0xff}, false)
}

// Flush flushes the memtable to an sstable.
func Flush(db *DB) error { return db.pdb.Flush() }

// PebbleOptions are the storage settings the engine opens Pebble with, for benchmarks that
// compare the engine with raw Pebble doing the same work.
func PebbleOptions(inMemory bool) *pebble.Options { return pebbleOptions(inMemory) }
