package subspace

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/tuple"
)

// ErrKeyOutside is returned by Unpack for a key that does not start with the subspace's prefix.
var ErrKeyOutside = errors.New("subspace: key is outside the subspace")

// Subspace is a raw key prefix. The zero value is the subspace of the whole key space (empty
// prefix). It is immutable and safe for concurrent use.
type Subspace struct {
	prefix []byte
}

// FromBytes returns the subspace whose prefix is a copy of b.
func FromBytes(b []byte) Subspace {
	return Subspace{prefix: bytes.Clone(b)}
}

// Sub returns the subspace whose prefix is the packed tuple of elems. It panics where
// tuple.Tuple.Pack does.
func Sub(elems ...any) Subspace {
	return Subspace{prefix: tuple.Tuple(elems).Pack()}
}

// Sub returns the subspace nested in s whose prefix is s's prefix followed by the packed tuple of
// elems. It panics where tuple.Tuple.Pack does.
func (s Subspace) Sub(elems ...any) Subspace {
	return Subspace{prefix: s.Pack(tuple.Tuple(elems))}
}

// Bytes returns the prefix. The slice is shared and must not be modified; its capacity is
// clipped, so appending to it copies.
func (s Subspace) Bytes() []byte {
	return s.prefix[:len(s.prefix):len(s.prefix)]
}

// Pack returns the prefix followed by the packed tuple t, sized exactly: one allocation for a
// key of at most 256 bytes, two beyond. It panics where tuple.Tuple.Pack does.
func (s Subspace) Pack(t tuple.Tuple) []byte {
	// As tuple.Tuple.Pack: encode on the stack, copy out once; AppendPack does not let its
	// buffer escape. A key longer than buf is sized and packed again.
	var buf [256]byte
	b, err := t.AppendPack(append(buf[:0], s.prefix...))
	if err != nil {
		panic(err)
	}
	if len(b) > len(buf) {
		exact, _ := t.AppendPack(append(make([]byte, 0, len(s.prefix)+t.PackedSize()), s.prefix...))
		return exact
	}
	out := make([]byte, len(b))
	copy(out, b)
	return out
}

// PackWithVersionstamp returns the prefix, the packed tuple t and the 4-byte little-endian offset
// of t's one incomplete versionstamp, counted from the start of the key: the key of a
// versionstamped-key mutation. See tuple.Tuple.PackWithVersionstamp.
func (s Subspace) PackWithVersionstamp(t tuple.Tuple) ([]byte, error) {
	return t.PackWithVersionstamp(s.prefix)
}

// Unpack returns the tuple packed in key after the prefix. It fails with an error wrapping
// ErrKeyOutside when key does not start with the prefix, or tuple.ErrMalformed when the rest is
// not a packed tuple.
func (s Subspace) Unpack(key []byte) (tuple.Tuple, error) {
	if !bytes.HasPrefix(key, s.prefix) {
		return nil, fmt.Errorf("%w: key %s, prefix %s", ErrKeyOutside, kv.Printable(key), kv.Printable(s.prefix))
	}
	t, err := tuple.Unpack(key[len(s.prefix):])
	if err != nil {
		// The tuple error counts bytes from the end of the prefix; say so.
		return nil, fmt.Errorf("subspace: key %s after the %d-byte prefix: %w", kv.Printable(key), len(s.prefix), err)
	}
	return t, nil
}

// Contains reports whether key starts with the prefix (the prefix itself included).
func (s Subspace) Contains(key []byte) bool {
	return bytes.HasPrefix(key, s.prefix)
}

// Range returns [prefix+00, prefix+ff): every key of a tuple packed in the subspace.
func (s Subspace) Range() kv.Range {
	n := len(s.prefix)
	begin := make([]byte, n+1)
	copy(begin, s.prefix)
	end := make([]byte, n+1)
	copy(end, s.prefix)
	end[n] = 0xff
	return kv.Range{Begin: begin, End: end}
}

// Selectors makes a Subspace a kv.Ranger, so it can be passed to a range read directly: the
// selectors of Range.
func (s Subspace) Selectors() (kv.KeySelector, kv.KeySelector) {
	return s.Range().Selectors()
}

// String prints the subspace as the official binding does: Subspace(rawPrefix=<prefix with
// non-printable bytes escaped>).
func (s Subspace) String() string {
	return "Subspace(rawPrefix=" + kv.Printable(s.prefix) + ")"
}

var _ kv.Ranger = Subspace{}
