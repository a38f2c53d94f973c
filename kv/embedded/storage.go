package embedded

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/layerkit/layerkit/kv"
)

// storageFormat is the Pebble format the engine writes. Its write-ahead log records carry the
// offset up to which the log had been synced when they were written (from FormatWALSyncChunks
// on), which is how Open tells an acknowledged record that was damaged from a torn tail (see
// checkLog), and its sstables checksum their footers. Opening a store written in an older format
// upgrades it, which cannot be undone.
// From FormatValueSeparation on, large values can live in blob files (see pebbleOptions).
const storageFormat = pebble.FormatValueSeparation

// pebbleOptions returns the storage settings. Bloom filters spare point reads of absent keys a
// walk through every level. In memory, there is no write-ahead log (nothing survives the
// process anyway) and no block compression, which would only trade CPU for memory that the
// in-memory engine, meant for tests and small stores, does not need to save.
//
// On disk the settings keep a steady mix of small commits and large values (the 100 KB chunks
// of a split record) from stalling writers:
//   - 64 MB memtables (Pebble starts small and grows them to this size): fewer flushes, so
//     fewer L0 files for reads to look through and for compactions to merge;
//   - L0 compactions start at two files, and writes never stop for L0's file count (they stop
//     only when memtables are full): a burst of large values makes L0 deeper for a while
//     instead of stalling every commit behind it;
//   - values of 4 KB and more are separated into blob files when flushed: compactions then
//     move their references, not the values, so large values are written about once, not once
//     per level — the work that otherwise competes with the commits for the disk and the CPU.
//
// The memtable and L0 settings are those CockroachDB runs Pebble with (the OPTIONS file of its
// stores: mem_table_size=67108864, l0_compaction_threshold=2, l0_stop_writes_threshold=1000,
// lbase_max_bytes=67108864); value separation is Pebble's blob files.
func pebbleOptions(inMemory bool) *pebble.Options {
	o := &pebble.Options{CacheSize: 64 << 20, FormatMajorVersion: storageFormat}
	for i := range o.Levels {
		o.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		if inMemory {
			o.Levels[i].Compression = func() *sstable.CompressionProfile { return sstable.NoCompression }
		}
	}
	if !inMemory {
		o.MemTableSize = 64 << 20
		o.MemTableStopWritesThreshold = 4
		o.L0CompactionThreshold = 2
		o.L0StopWritesThreshold = 1000
		o.LBaseMaxBytes = 64 << 20
		// The memtables are reserved in the block cache (see the in-memory case below).
		o.CacheSize = 64<<20 + 2*int64(o.MemTableSize)
		o.Experimental.ValueSeparationPolicy = func() pebble.ValueSeparationPolicy {
			return pebble.ValueSeparationPolicy{
				Enabled:               true,
				MinimumSize:           4 << 10,
				MaxBlobReferenceDepth: 10,
				RewriteMinimumAge:     5 * time.Minute,
				TargetGarbageRatio:    0.2,
			}
		}
	}
	if inMemory {
		o.FS = vfs.NewMem()
		o.DisableWAL = true
		// Fewer, larger memtables mean fewer flushes and shallower point reads. Pebble starts
		// small and grows memtables to this size, so small stores stay small.
		o.MemTableSize = 32 << 20
		// Pebble reserves the memtables (the mutable one and the one being flushed) in the block
		// cache, so 64 MB of cache would hold no blocks at all once memtables are full size, and
		// every point read below them would read and checksum its filter, index and data blocks
		// again. The cache only takes memory as blocks are cached.
		o.CacheSize = 64<<20 + 2*int64(o.MemTableSize)
	}
	return o
}

// eventListener handles what Pebble reports from the background. Pebble's default sends a
// corrupt file to Logger.Fatalf, which must not return; here a read that meets corruption gets
// it back as its error (storageErr), and corruption met by a compaction or another background
// job puts the database in its failed state.
func (db *DB) eventListener(logger pebble.Logger) *pebble.EventListener {
	return &pebble.EventListener{
		DataCorruption: func(info pebble.DataCorruptionInfo) {
			logger.Errorf("%s", info)
		},
		BackgroundError: func(err error) {
			logger.Errorf("background error: %s", err)
			if pebble.IsCorruptionError(err) {
				db.fail(corruptErr("background compaction", err))
			}
		},
		// A flush leaves one version of each key below the memtable: no key is hot any more.
		FlushEnd: func(pebble.FlushInfo) { db.hot.reset() },
	}
}

// corruptErr is the error of an operation (what) that met a damaged data file.
func corruptErr(what string, err error) error {
	file := "a data file"
	if info := pebble.ExtractDataCorruptionInfo(err); info != nil {
		file = info.Path
	}
	return fmt.Errorf("embedded: %s: %s is corrupt: %v: %w", what, file, err, kv.ErrFileCorrupt)
}

// storageErr is the error of an operation (what) that Pebble failed: kv.ErrFileCorrupt naming
// the file when Pebble found it damaged, kv.ErrOperationFailed otherwise.
func storageErr(what string, err error) error {
	if pebble.IsCorruptionError(err) {
		return corruptErr(what, err)
	}
	return fmt.Errorf("embedded: %s: %v: %w", what, err, kv.ErrOperationFailed)
}

// fail puts the database in its failed state: from now on every operation returns err. The
// first failure is the one reported.
func (db *DB) fail(err error) {
	err = fmt.Errorf("embedded: the database has failed: %w", err)
	if db.failure.CompareAndSwap(nil, &err) {
		close(db.failed)
	}
}

// failedErr returns the error of the failed state, or nil.
func (db *DB) failedErr() error {
	if p := db.failure.Load(); p != nil {
		return *p
	}
	return nil
}

// lockDir creates the directory of a store if needed and locks it for this process, so that a
// second process (or a second Open in this one) gets a clear error rather than two writers on
// one store.
func lockDir(path string) (*pebble.Lock, error) {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, fmt.Errorf("embedded: open %q: %w", path, err)
	}
	lock, err := pebble.LockDirectory(path, vfs.Default)
	if err == nil {
		return lock, nil
	}
	var pathErr *fs.PathError
	switch {
	case errors.As(err, &pathErr):
		// The lock file itself could not be created: not a conflict.
		return nil, fmt.Errorf("embedded: open %q: %w", path, err)
	case errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES):
		return nil, fmt.Errorf("embedded: open %q: the database is in use by another process: %w", path, kv.ErrLockFileFailure)
	case strings.Contains(err.Error(), "held by current process"):
		return nil, fmt.Errorf("embedded: open %q: the database is already open in this process: %w", path, kv.ErrLockFileFailure)
	}
	return nil, fmt.Errorf("embedded: open %q: lock: %v: %w", path, err, kv.ErrLockFileFailure)
}
