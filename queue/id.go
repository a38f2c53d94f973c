package queue

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/layerkit/layerkit/tuple"
)

// EntryID identifies a stream entry: the 12-byte versionstamp of its key, the 10-byte
// transaction version the database assigned when the appending transaction committed (8-byte
// big-endian commit version, 2-byte batch order) followed by a 2-byte big-endian user version
// that orders the entries one transaction appended.
//
// IDs order as their bytes do, which is the order of the entries in the stream: comparing two
// IDs (Compare, bytes.Compare of Bytes, or their String forms) answers which entry came first.
// An ID can be stored as 12 bytes (Bytes, MarshalBinary), as 24 lower-case hex digits (String,
// MarshalText; the text sorts as the ID does) or as a tuple element (Versionstamp), and read back
// with EntryIDFromBytes, ParseEntryID and EntryIDFromVersionstamp. An EntryID is a value; copies
// are independent.
type EntryID [12]byte

// MessageID identifies a queue message; it is the EntryID of the message's key, assigned the
// same way, so everything said of EntryID holds for it.
type MessageID = EntryID

// StreamStart and StreamEnd are the cursors before the first and after the last entry of every
// stream: reading forward from StreamStart starts at the oldest entry, reading backward from
// StreamEnd starts at the newest. No entry has either ID. Treat them as constants.
var (
	StreamStart = EntryID{}
	StreamEnd   = EntryID{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
)

// EntryIDFromBytes returns the ID whose 12 bytes are b. It fails with an error wrapping
// ErrInvalidID when b is not 12 bytes long.
func EntryIDFromBytes(b []byte) (EntryID, error) {
	var id EntryID
	if len(b) != len(id) {
		return id, fmt.Errorf("%w: %d bytes, want %d", ErrInvalidID, len(b), len(id))
	}
	copy(id[:], b)
	return id, nil
}

// ParseEntryID parses the 24 hex digits of EntryID.String (either case). It fails with an error
// wrapping ErrInvalidID for anything else.
func ParseEntryID(s string) (EntryID, error) {
	var id EntryID
	if len(s) != 2*len(id) {
		return id, fmt.Errorf("%w: %q has %d characters, want %d hex digits", ErrInvalidID, s, len(s), 2*len(id))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return EntryID{}, fmt.Errorf("%w: %q: %v", ErrInvalidID, s, err)
	}
	return id, nil
}

// EntryIDFromVersionstamp returns the ID of a complete tuple versionstamp. An incomplete one
// (transaction version all 0xff) names no entry and fails with an error wrapping ErrInvalidID.
func EntryIDFromVersionstamp(v tuple.Versionstamp) (EntryID, error) {
	if !v.IsComplete() {
		return EntryID{}, fmt.Errorf("%w: %v is incomplete", ErrInvalidID, v)
	}
	var id EntryID
	copy(id[:], v.TransactionVersion[:])
	binary.BigEndian.PutUint16(id[10:], v.UserVersion)
	return id, nil
}

// Bytes returns the 12 bytes of the ID in a new slice.
func (id EntryID) Bytes() []byte { return bytes.Clone(id[:]) }

// String returns the ID as 24 lower-case hex digits; strings of IDs sort as the IDs do.
func (id EntryID) String() string { return hex.EncodeToString(id[:]) }

// Versionstamp returns the ID as a tuple versionstamp, the form it has inside keys, for use as a
// tuple element.
func (id EntryID) Versionstamp() tuple.Versionstamp {
	var v tuple.Versionstamp
	copy(v.TransactionVersion[:], id[:10])
	v.UserVersion = binary.BigEndian.Uint16(id[10:])
	return v
}

// Version returns the commit version of the transaction that wrote the entry (the first 8
// bytes, big-endian).
func (id EntryID) Version() int64 { return int64(binary.BigEndian.Uint64(id[:8])) }

// UserVersion returns the last two bytes: the entry's place among those its transaction wrote.
func (id EntryID) UserVersion() uint16 { return binary.BigEndian.Uint16(id[10:]) }

// Compare returns -1, 0 or +1 as id orders before, equal to or after other.
func (id EntryID) Compare(other EntryID) int { return bytes.Compare(id[:], other[:]) }

// IsZero reports whether id is StreamStart, the zero ID.
func (id EntryID) IsZero() bool { return id == EntryID{} }

// MarshalText returns String's hex digits, so IDs encode as JSON strings.
func (id EntryID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText parses hex digits as ParseEntryID does.
func (id *EntryID) UnmarshalText(b []byte) error {
	v, err := ParseEntryID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// MarshalBinary returns the 12 bytes of the ID.
func (id EntryID) MarshalBinary() ([]byte, error) { return id.Bytes(), nil }

// UnmarshalBinary reads 12 bytes as EntryIDFromBytes does.
func (id *EntryID) UnmarshalBinary(b []byte) error {
	v, err := EntryIDFromBytes(b)
	if err != nil {
		return err
	}
	*id = v
	return nil
}
