package kv

import "fmt"

// KeySelector names a key relative to another, as in FoundationDB: it resolves to the last key
// less than Key (OrEqual false) or less than or equal to Key (OrEqual true), then moves Offset
// keys forwards (positive) or backwards. Use the constructors below rather than the fields.
//
// A selector that resolves before the first key resolves to the empty key; one that resolves
// past the last key resolves to 0xff (the end of the user keyspace).
type KeySelector struct {
	Key     []byte
	OrEqual bool
	Offset  int
}

// FirstGreaterOrEqual selects the first key >= key.
func FirstGreaterOrEqual(key []byte) KeySelector { return KeySelector{key, false, 1} }

// FirstGreaterThan selects the first key > key.
func FirstGreaterThan(key []byte) KeySelector { return KeySelector{key, true, 1} }

// LastLessOrEqual selects the last key <= key.
func LastLessOrEqual(key []byte) KeySelector { return KeySelector{key, true, 0} }

// LastLessThan selects the last key < key.
func LastLessThan(key []byte) KeySelector { return KeySelector{key, false, 0} }

// Add returns the selector moved n keys forwards (n > 0) or backwards (n < 0).
func (s KeySelector) Add(n int) KeySelector {
	s.Offset += n
	return s
}

// String prints the selector in the style of FoundationDB's tools.
func (s KeySelector) String() string {
	return fmt.Sprintf("KeySelector(%s, orEqual=%v, offset=%d)", Printable(s.Key), s.OrEqual, s.Offset)
}
