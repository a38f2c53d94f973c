package kv

import (
	"bytes"
	"fmt"
)

// Range is the half-open key range [Begin, End).
type Range struct {
	Begin, End []byte
}

// Ranger is anything that names a range of keys by two key selectors: a [Range], a
// [SelectorRange], or a layer's own types (a tuple or subspace range).
type Ranger interface {
	// Selectors returns the selectors of the first key in the range and of the first key after it.
	Selectors() (begin, end KeySelector)
}

// Selectors returns FirstGreaterOrEqual(Begin) and FirstGreaterOrEqual(End).
func (r Range) Selectors() (KeySelector, KeySelector) {
	return FirstGreaterOrEqual(r.Begin), FirstGreaterOrEqual(r.End)
}

// Contains reports whether key lies in [Begin, End).
func (r Range) Contains(key []byte) bool {
	return bytes.Compare(key, r.Begin) >= 0 && bytes.Compare(key, r.End) < 0
}

// String prints the range with non-printable bytes escaped.
func (r Range) String() string {
	return fmt.Sprintf("[%s, %s)", Printable(r.Begin), Printable(r.End))
}

// SelectorRange is the range from the key Begin resolves to (included) up to the key End resolves
// to (excluded).
type SelectorRange struct {
	Begin, End KeySelector
}

// Selectors returns Begin and End.
func (r SelectorRange) Selectors() (KeySelector, KeySelector) { return r.Begin, r.End }

// PrefixRange returns the range of every key that starts with prefix: [prefix, Strinc(prefix)).
// It fails for a prefix made only of 0xff bytes, which has no such range.
func PrefixRange(prefix []byte) (Range, error) {
	end, err := Strinc(prefix)
	if err != nil {
		return Range{}, err
	}
	return Range{Begin: append([]byte(nil), prefix...), End: end}, nil
}

// Strinc returns the first key that does not start with prefix: prefix with trailing 0xff bytes
// removed and its last byte incremented. It fails when prefix is empty or all 0xff.
func Strinc(prefix []byte) ([]byte, error) {
	n := len(prefix)
	for n > 0 && prefix[n-1] == 0xff {
		n--
	}
	if n == 0 {
		return nil, fmt.Errorf("kv: key %s has no successor prefix (empty or all 0xff): %w", Printable(prefix), ErrClientInvalidOperation)
	}
	out := append([]byte(nil), prefix[:n]...)
	out[n-1]++
	return out, nil
}

// KeyAfter returns the first key ordered after key: key + 0x00.
func KeyAfter(key []byte) []byte {
	out := make([]byte, len(key)+1)
	copy(out, key)
	return out
}

// Printable formats key the way FoundationDB's tools do: printable ASCII as is, a backslash as
// \\, every other byte as \xNN.
func Printable(key []byte) string {
	var b []byte
	for _, c := range key {
		switch {
		case c == '\\':
			b = append(b, '\\', '\\')
		case c >= 32 && c < 127:
			b = append(b, c)
		default:
			b = append(b, fmt.Sprintf("\\x%02x", c)...)
		}
	}
	return string(b)
}

// KeyValue is one key and its value, as returned by range reads.
type KeyValue struct {
	Key, Value []byte
}

// StreamingMode hints how a range read should fetch its rows. It changes performance, never
// results. The zero value is StreamingIterator.
type StreamingMode int

// Streaming modes, as in FoundationDB.
const (
	// StreamingIterator fetches in growing batches: right for a read that may stop early.
	StreamingIterator StreamingMode = iota
	// StreamingWantAll fetches everything as fast as possible.
	StreamingWantAll
	// StreamingExact fetches exactly Limit rows in one batch; Limit must be set, else the read
	// fails with [ErrExactModeWithoutLimits] (2210).
	StreamingExact
	// StreamingSmall, StreamingMedium and StreamingLarge fetch batches of a fixed size.
	StreamingSmall
	StreamingMedium
	StreamingLarge
	// StreamingSerial fetches everything in one batch.
	StreamingSerial
)

// RangeOptions shape a range read. The zero value reads the whole range forwards.
type RangeOptions struct {
	// Limit is the largest number of rows to return; 0 means no limit.
	Limit int
	// Reverse returns rows from the end of the range backwards. A limited reverse read returns
	// the last Limit rows of the range.
	Reverse bool
	// Mode is a hint for how to fetch rows.
	Mode StreamingMode
}

// RangeResult is a range read that has been issued: its first batch of rows is read when
// GetRange is called, so the read conflicts on it from then on, consumed or not. Unless it is a
// snapshot read, it conflicts on every batch it fetched: at least from the start of the range to
// the last row returned (for a limited or partly iterated read), at most on the whole range.
type RangeResult interface {
	// GetSlice waits for and returns every row of the read.
	GetSlice() ([]KeyValue, error)
	// Iterator returns an iterator over the rows, fetched in batches that grow as it goes on
	// (the next batch is read when the last row of one is returned). It is not safe for
	// concurrent use.
	Iterator() RangeIterator
}

// RangeIterator walks the rows of a range read:
//
//	it := tr.GetRange(r, kv.RangeOptions{}).Iterator()
//	for it.Next() {
//		kv := it.KeyValue()
//	}
//	if err := it.Err(); err != nil { ... }
//
// It is not safe for concurrent use. The KeyValue returned stays valid after Next.
type RangeIterator interface {
	// Next advances to the next row and reports whether there is one. It returns false at the
	// end or on an error; Err tells which.
	Next() bool
	// KeyValue returns the current row.
	KeyValue() KeyValue
	// Err returns the error that stopped the iteration, or nil.
	Err() error
}
