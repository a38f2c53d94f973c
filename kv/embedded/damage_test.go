package embedded_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
)

// The damaged-file tests build a durable store, close it, copy its directory and break the
// copy the way a disk or an operator might, then check what Open and the operations after it
// report. None may panic, and none may quietly lose or invent data.

// buildStore makes a durable store in a new directory with fill and closes it.
func buildStore(t *testing.T, fill func(db *embedded.DB)) string {
	t.Helper()
	dir := t.TempDir()
	db, err := embedded.Open(dir, nil)
	require.NoError(t, err)
	fill(db)
	require.NoError(t, db.Close())
	return dir
}

// copyStore copies the files of a closed store into a new directory.
func copyStore(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644))
	}
	return dst
}

// storeFiles lists the files of dir whose names match pattern (filepath.Match), sorted.
func storeFiles(t *testing.T, dir, pattern string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, pattern))
	require.NoError(t, err)
	sort.Strings(names)
	return names
}

// flushedStore copies a closed store whose n keys are in one sstable, and returns the copy and
// the path of its sstable.
func flushedStore(t *testing.T, n int) (dir, sst string) {
	t.Helper()
	dir = copyStore(t, buildStore(t, func(db *embedded.DB) {
		writeKeys(t, db, 0, n)
		require.NoError(t, embedded.Flush(db))
	}))
	ssts := storeFiles(t, dir, "*.sst")
	require.Len(t, ssts, 1)
	return dir, ssts[0]
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Less(t, off, int64(len(b)), "%s has %d bytes", path, len(b))
	b[off] ^= 0x40
	require.NoError(t, os.WriteFile(path, b, 0o644))
}

func damageKey(i int) []byte { return []byte(fmt.Sprintf("k%04d", i)) }

func damageValue(round, i int) []byte {
	return []byte(fmt.Sprintf("%d-%d-%s", round, i, strings.Repeat("v", 90)))
}

// writeKeys writes keys 0..n-1 with values of round, 100 per transaction.
func writeKeys(t *testing.T, db kv.Database, round, n int) {
	t.Helper()
	for lo := 0; lo < n; lo += 100 {
		require.NoError(t, db.Transact(context.Background(), func(tr kv.Transaction) error {
			for i := lo; i < min(lo+100, n); i++ {
				tr.Set(damageKey(i), damageValue(round, i))
			}
			return nil
		}))
	}
}

// TestDamagedSSTableFailsTheRead guards that a read meeting a block whose checksum does not
// match fails with kv.ErrFileCorrupt naming the file (Pebble's default would stop the process),
// while reads elsewhere go on.
func TestDamagedSSTableFailsTheRead(t *testing.T) {
	dir, sst := flushedStore(t, 400) // about ten 4 KB blocks
	flipByte(t, sst, 20)             // inside the first data block

	db, err := embedded.Open(dir, nil)
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	_, err = kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) ([]byte, error) {
		return tr.Get(damageKey(0)).Get()
	})
	require.ErrorIs(t, err, kv.ErrFileCorrupt)
	require.Contains(t, err.Error(), filepath.Base(sst))
	_, err = kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) ([]kv.KeyValue, error) {
		return tr.GetRange(kv.Range{Begin: damageKey(0), End: damageKey(10)}, kv.RangeOptions{}).GetSlice()
	})
	require.ErrorIs(t, err, kv.ErrFileCorrupt)
	require.Contains(t, err.Error(), filepath.Base(sst))

	// A read elsewhere, and a write, still work: the damage failed those reads only.
	v, err := kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) ([]byte, error) {
		return tr.Get(damageKey(399)).Get()
	})
	require.NoError(t, err)
	require.Equal(t, damageValue(0, 399), v)
	set(t, db, "after", "1")
	require.Equal(t, []byte("1"), get(t, db, "after"))
}

// TestDamagedSSTableFailsTheDatabaseOnCompaction guards that corruption a compaction meets puts
// the database in a failed state that every later call reports with kv.ErrFileCorrupt: new
// transactions, reads and commits of transactions already open, and pending watches.
func TestDamagedSSTableFailsTheDatabaseOnCompaction(t *testing.T) {
	dir, sst := flushedStore(t, 400)
	flipByte(t, sst, 20)

	db, err := embedded.Open(dir, nil)
	require.NoError(t, err)
	ctx := context.Background()
	open, err := db.CreateTransaction()
	require.NoError(t, err)
	v, err := open.Get(damageKey(399)).Get()
	require.NoError(t, err)
	require.Equal(t, damageValue(0, 399), v)
	var w kv.Watch
	require.NoError(t, db.Transact(ctx, func(tr kv.Transaction) error {
		w = tr.Watch([]byte("watched"))
		return nil
	}))
	// A second table over the same keys, so that a compaction merges it with the damaged one.
	writeKeys(t, db, 1, 400)
	require.NoError(t, embedded.Flush(db))

	require.Error(t, embedded.Compact(db))
	require.Eventually(t, func() bool {
		_, err := db.CreateTransaction()
		return err != nil
	}, 5*time.Second, time.Millisecond)

	_, err = db.CreateTransaction()
	require.ErrorIs(t, err, kv.ErrFileCorrupt)
	require.Contains(t, err.Error(), filepath.Base(sst))
	require.Contains(t, err.Error(), "the database has failed")
	err = db.Transact(ctx, func(tr kv.Transaction) error { return nil })
	require.ErrorIs(t, err, kv.ErrFileCorrupt)
	require.Eventually(t, func() bool {
		_, err := open.Get(damageKey(398)).Get()
		return err != nil
	}, 5*time.Second, time.Millisecond)
	_, err = open.Get(damageKey(398)).Get()
	require.ErrorIs(t, err, kv.ErrFileCorrupt)
	open.Set([]byte("x"), []byte("1"))
	require.ErrorIs(t, open.Commit(), kv.ErrFileCorrupt)
	require.ErrorIs(t, w.Wait(ctx), kv.ErrFileCorrupt)
	require.NoError(t, db.Close())
}

// TestMissingManifestMarker guards that a store whose manifest marker is gone is refused with
// kv.ErrFileCorrupt instead of being opened as a new, empty store, and that its files are left
// as they were.
func TestMissingManifestMarker(t *testing.T) {
	src := buildStore(t, func(db *embedded.DB) {
		writeKeys(t, db, 0, 100)
		require.NoError(t, embedded.Flush(db))
		writeKeys(t, db, 1, 10) // some in the log too
	})
	dir := copyStore(t, src)
	markers := storeFiles(t, dir, "marker.manifest.*")
	require.Len(t, markers, 1)
	require.NoError(t, os.Remove(markers[0]))
	before := storeFiles(t, dir, "*")

	_, err := embedded.Open(dir, nil)
	require.ErrorIs(t, err, kv.ErrFileCorrupt)
	require.Contains(t, err.Error(), "manifest marker")
	require.Equal(t, before, storeFiles(t, dir, "*"), "a refused open must not touch the files")
}

// TestMissingManifest guards that a store whose marker names a manifest that is gone is refused
// with kv.ErrFileCorrupt.
func TestMissingManifest(t *testing.T) {
	src := buildStore(t, func(db *embedded.DB) { writeKeys(t, db, 0, 100) })
	dir := copyStore(t, src)
	manifests := storeFiles(t, dir, "MANIFEST-*")
	require.NotEmpty(t, manifests)
	for _, m := range manifests {
		require.NoError(t, os.Remove(m))
	}
	_, err := embedded.Open(dir, nil)
	require.ErrorIs(t, err, kv.ErrFileCorrupt)
	require.Contains(t, err.Error(), "MANIFEST")
}

// TestMissingSSTable guards that a store missing a table its manifest lists is refused with
// kv.ErrFileCorrupt naming the table.
func TestMissingSSTable(t *testing.T) {
	dir, sst := flushedStore(t, 100)
	require.NoError(t, os.Remove(sst))
	_, err := embedded.Open(dir, nil)
	require.ErrorIs(t, err, kv.ErrFileCorrupt)
	require.Contains(t, err.Error(), strings.TrimSuffix(filepath.Base(sst), ".sst"))
}

// logCommits is how many one-record commits the write-ahead log tests make.
const logCommits = 6

// logStore builds a store whose newest log holds logCommits records, one commit each, and
// returns it with the path of that log (relative to the store) and the record offsets.
func logStore(t *testing.T) (dir, log string, records []int64) {
	t.Helper()
	dir = buildStore(t, func(db *embedded.DB) {
		for i := range logCommits {
			set(t, db, fmt.Sprintf("log%d", i), strings.Repeat("v", 50))
		}
	})
	logs := storeFiles(t, dir, "*.log")
	require.NotEmpty(t, logs)
	log = filepath.Base(logs[len(logs)-1])
	b, err := os.ReadFile(logs[len(logs)-1])
	require.NoError(t, err)
	// Each record is one chunk of the WAL-sync format (a 19-byte header whose bytes 4-5 hold the
	// payload length and byte 6 the chunk type 9); the log ends with an 11-byte trailer.
	for off := int64(0); off+19 <= int64(len(b)) && b[off+6] == 9; off += 19 + int64(binary.LittleEndian.Uint16(b[off+4:])) {
		records = append(records, off)
	}
	require.Len(t, records, logCommits, "log %s: %x", log, b)
	return dir, log, records
}

// openLogStore opens a copy of the store after breaking its log with damage.
func openLogStore(t *testing.T, src, log string, damage func(path string)) (*embedded.DB, error) {
	t.Helper()
	dir := copyStore(t, src)
	damage(filepath.Join(dir, log))
	db, err := embedded.Open(dir, nil)
	if err == nil {
		t.Cleanup(func() { require.NoError(t, db.Close()) })
	}
	return db, err
}

// dropTrailer removes the trailer a clean close writes, leaving the log as a crash would.
func dropTrailer(t *testing.T, path string) {
	t.Helper()
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.NoError(t, os.Truncate(path, st.Size()-11))
}

// presentLogCommits reports which of the log tests' commits the store holds.
func presentLogCommits(t *testing.T, db kv.Database) []bool {
	t.Helper()
	present := make([]bool, logCommits)
	for i := range present {
		present[i] = get(t, db, fmt.Sprintf("log%d", i)) != nil
	}
	return present
}

// TestDamagedLogRecord guards what Open does with a write-ahead log record that does not read
// back. Pebble stops replaying at such a record and drops the rest; Open must fail with
// kv.ErrFileCorrupt when the log proves that acknowledged commits follow the damage, and may
// only open when the damage is indistinguishable from a torn tail.
func TestDamagedLogRecord(t *testing.T) {
	src, log, records := logStore(t)
	payload := func(i int) int64 { return records[i] + 19 + 3 }

	t.Run("damage=middle,close=clean", func(t *testing.T) {
		// The trailer of the clean close follows the damage.
		_, err := openLogStore(t, src, log, func(p string) { flipByte(t, p, payload(2)) })
		require.ErrorIs(t, err, kv.ErrFileCorrupt)
		require.Contains(t, err.Error(), log)
		require.Contains(t, err.Error(), fmt.Sprintf("damaged at offset %d", records[2]))
	})
	t.Run("damage=last,close=clean", func(t *testing.T) {
		// Only the trailer of the clean close follows the damage.
		_, err := openLogStore(t, src, log, func(p string) { flipByte(t, p, payload(logCommits-1)) })
		require.ErrorIs(t, err, kv.ErrFileCorrupt)
		require.Contains(t, err.Error(), fmt.Sprintf("damaged at offset %d", records[logCommits-1]))
		require.Contains(t, err.Error(), "closed cleanly")
	})
	t.Run("damage=middle,close=crash", func(t *testing.T) {
		// Later records say the log was synced past the damaged one.
		_, err := openLogStore(t, src, log, func(p string) {
			dropTrailer(t, p)
			flipByte(t, p, payload(2))
		})
		require.ErrorIs(t, err, kv.ErrFileCorrupt)
		require.Contains(t, err.Error(), fmt.Sprintf("damaged at offset %d", records[2]))
		require.Contains(t, err.Error(), "synced to offset")
	})
	t.Run("damage=last,close=crash", func(t *testing.T) {
		// Nothing follows the damaged record: it reads as a tail torn by the crash, and the
		// store opens without the last commit. This is the case that stays undetectable.
		db, err := openLogStore(t, src, log, func(p string) {
			dropTrailer(t, p)
			flipByte(t, p, payload(logCommits-1))
		})
		require.NoError(t, err)
		require.Equal(t, []bool{true, true, true, true, true, false}, presentLogCommits(t, db))
	})
	t.Run("damage=torn,close=crash", func(t *testing.T) {
		// A tail cut inside the last record: a torn write, normal after a crash.
		db, err := openLogStore(t, src, log, func(p string) { require.NoError(t, os.Truncate(p, payload(logCommits-1))) })
		require.NoError(t, err)
		require.Equal(t, []bool{true, true, true, true, true, false}, presentLogCommits(t, db))
	})
	t.Run("damage=none", func(t *testing.T) {
		db, err := openLogStore(t, src, log, func(string) {})
		require.NoError(t, err)
		require.Equal(t, []bool{true, true, true, true, true, true}, presentLogCommits(t, db))
	})
}
