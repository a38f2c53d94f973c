package embedded

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/record"

	"github.com/layerkit/layerkit/kv"
)

// checkStore looks, before Pebble opens the store in dir, for damage that Pebble would not
// report: a store whose manifest marker is gone (Pebble would create a fresh store beside the
// old files and delete them as obsolete), and acknowledged commits behind a damaged record of
// the write-ahead log (Pebble would stop replaying at the damage and drop them; see checkLog).
// It returns the store's format (zero for a new store). The caller holds the directory's lock.
func checkStore(dir string) (pebble.FormatMajorVersion, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("embedded: open %q: %w", dir, err)
	}
	var format pebble.FormatMajorVersion
	hasMarker := false
	var data []string
	var lastLog string
	var lastNum uint64
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, "marker.manifest."):
			hasMarker = true
		case strings.HasSuffix(name, ".log"):
			data = append(data, name)
			// Pebble names logs by their number; the newest is the one it replays leniently.
			if n, err := strconv.ParseUint(strings.TrimSuffix(name, ".log"), 10, 64); err == nil && n >= lastNum {
				lastLog, lastNum = name, n
			}
		case strings.HasPrefix(name, "marker.format-version."):
			// marker.format-version.<marker version>.<format>
			data = append(data, name)
			if v, err := strconv.ParseUint(name[strings.LastIndexByte(name, '.')+1:], 10, 64); err == nil {
				format = pebble.FormatMajorVersion(v)
			}
		case strings.HasSuffix(name, ".sst"), strings.HasSuffix(name, ".blob"), strings.HasPrefix(name, "OPTIONS-"):
			data = append(data, name)
		}
	}
	// A lone MANIFEST without a marker is what a crash during the very first Open leaves behind;
	// anything else means the store existed.
	if !hasMarker && len(data) > 0 {
		return 0, fmt.Errorf("embedded: open %q: the store's manifest marker (marker.manifest.*) is missing but its data files are there (%s): "+
			"the list of live files is lost, and opening would start an empty store over them: %w",
			dir, strings.Join(data[:min(len(data), 5)], ", "), kv.ErrFileCorrupt)
	}
	if lastLog != "" {
		if err := checkLog(filepath.Join(dir, lastLog), lastNum); err != nil {
			return 0, err
		}
	}
	return format, nil
}

// openErr is the error of a failed pebble.Open: kv.ErrFileCorrupt for damage (a checksum that
// does not match, a file the manifest lists that is missing, a log record lost in the middle
// of the log), the error as it is otherwise.
func openErr(dir string, err error) error {
	if pebble.IsCorruptionError(err) || errors.Is(err, os.ErrNotExist) || errors.Is(err, pebble.ErrDBNotPristine) {
		return fmt.Errorf("embedded: open %q: the store is damaged: %v: %w", dir, err, kv.ErrFileCorrupt)
	}
	return fmt.Errorf("embedded: open %q: %w", dir, err)
}

// Pebble's log format (record/record.go of Pebble): the log is cut in 32 KiB blocks of chunks,
// and a chunk of the WAL-sync format has a 19-byte header: checksum (4), payload length (2),
// encoding (1), log number (4), and the offset up to which the log had been synced when the
// chunk was written (8). A log closed cleanly ends with an 11-byte trailer of the recyclable
// format with a zero checksum and length and the next log number.
const (
	logBlockSize        = 32 << 10
	walSyncHeaderSize   = 19
	trailerSize         = 11
	walSyncFullChunk    = 9
	walSyncFirstChunk   = 10
	recyclableFullChunk = 5
)

// checkLog reads the newest write-ahead log the way Pebble replays it. Pebble replays the newest
// log leniently: at the first record that does not read back, it assumes the process died while
// writing it (a torn tail), stops, and drops everything after it, unless a later block of the log
// proves the log was synced past the record. checkLog looks for that proof anywhere after the
// damaged record, including the rest of its own block, which Pebble does not look at: a valid
// record written after the log had been synced past the damaged one, or the trailer that closes
// a log cleanly. Either means the damaged record was complete on disk and acknowledged commits
// follow it, so Open fails rather than lose them.
func checkLog(path string, num uint64) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("embedded: open: write-ahead log: %w", err)
	}
	defer f.Close()
	r := newLogReader(f, num)
	for {
		off := r.Offset()
		rec, err := r.Next()
		if err == nil {
			_, err = io.Copy(io.Discard, rec)
		}
		switch {
		case err == nil:
			continue
		case errors.Is(err, record.ErrUnexpectedEOF):
			// What Pebble takes for a torn tail.
			return checkTail(f, path, off, num)
		default:
			// A clean end, damage Pebble itself reports, or an I/O error Open will meet again.
			return nil
		}
	}
}

// checkTail looks for proof, after the damaged record at offset bad, that the log was synced
// past it or closed cleanly.
func checkTail(f *os.File, path string, bad int64, num uint64) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("embedded: open: write-ahead log: %w", err)
	}
	var trailer [trailerSize]byte
	trailer[6] = recyclableFullChunk
	binary.LittleEndian.PutUint32(trailer[7:], uint32(num)+1)
	buf := make([]byte, logBlockSize)
	for start := bad / logBlockSize * logBlockSize; start < st.Size(); start += logBlockSize {
		n, err := f.ReadAt(buf, start)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("embedded: open: write-ahead log: %w", err)
		}
		block := buf[:n]
		from := 0
		if start <= bad {
			from = int(bad-start) + 1
		}
		for p := from; p+trailerSize <= len(block); p++ {
			c := block[p:]
			if binary.LittleEndian.Uint32(c[7:]) == uint32(num)+1 && bytes.Equal(c[:trailerSize], trailer[:]) {
				return logDamaged(path, bad, start+int64(p), "the log was closed cleanly after it")
			}
			if (c[6] != walSyncFullChunk && c[6] != walSyncFirstChunk) || len(c) < walSyncHeaderSize ||
				binary.LittleEndian.Uint32(c[7:]) != uint32(num) {
				continue
			}
			synced := binary.LittleEndian.Uint64(c[11:])
			if synced > uint64(bad) && validChunk(c, num) {
				return logDamaged(path, bad, start+int64(p),
					fmt.Sprintf("a record written after the log was synced to offset %d follows it", synced))
			}
		}
	}
	return nil
}

// validChunk reports whether c starts with a whole, valid first (or only) chunk of a record of
// the log: it is copied to the start of an empty block, where Pebble's reader checks it.
func validChunk(c []byte, num uint64) bool {
	end := walSyncHeaderSize + int(binary.LittleEndian.Uint16(c[4:]))
	if end > len(c) {
		return false
	}
	block := make([]byte, logBlockSize)
	copy(block, c[:end])
	_, err := newLogReader(bytes.NewReader(block), num).Next()
	return err == nil
}

func logDamaged(path string, bad, proof int64, why string) error {
	return fmt.Errorf("embedded: open: write-ahead log %s is damaged at offset %d, and %s (offset %d): "+
		"replaying it would drop acknowledged commits from the damaged record on: %w", path, bad, why, proof, kv.ErrFileCorrupt)
}

// newLogReader returns Pebble's reader of the log numbered num. The type of a log number is not
// exported under a name, so it is taken from a field that has it.
func newLogReader(r io.Reader, num uint64) *record.Reader {
	var info pebble.WALCreateInfo
	setNum(&info.FileNum, num)
	return record.NewReader(r, info.FileNum)
}

func setNum[N ~uint64](p *N, n uint64) { *p = N(n) }
