// Package tuple encodes tuples of typed values into byte strings whose byte order is the order
// of the values, byte for byte as FoundationDB's official bindings (Go, Python, Java) do, so that
// keys written by layerkit can be read by any of them and the other way round.
//
// # Basics
//
// A [Tuple] is a slice of elements. [Tuple.Pack] encodes it; [Unpack] decodes it:
//
//	key := tuple.Tuple{"lib", 2, 5, 201}.Pack()
//	t, err := tuple.Unpack(key) // tuple.Tuple{"lib", int64(2), int64(5), int64(201)}
//
// Elements that encode: nil, []byte, string (valid UTF-8), every Go integer width (int, int8 …
// int64, uint, uint8 … uint64, uintptr), *big.Int and big.Int (up to 255 bytes of magnitude),
// float32, float64, bool, [UUID] and github.com/google/uuid.UUID, [Versionstamp], a nested
// [Tuple] (or []any), and values of named types of those kinds (type Name string, type ID int32,
// type Key []byte), which pack as their basic type. Unpack returns int64 for every integer that fits, uint64 for positive
// integers above math.MaxInt64 that fit 64 bits, *big.Int beyond; float32 for the 4-byte float
// code and float64 for the 8-byte one; []byte, string, bool, UUID, Versionstamp, Tuple and nil.
//
// [Tuple.AppendPack] appends the encoding to a caller's buffer and allocates nothing when the
// buffer has room; it returns errors where Pack panics. [Compare] orders tuples exactly as their
// packed bytes order. [Tuple.Range] is the key range of every tuple that extends t.
//
// [Tuple.PackWithVersionstamp] packs a tuple holding one incomplete versionstamp (see
// [IncompleteVersionstamp]) into a key for kv's SetVersionstampedKey mutation: the position of
// the stamp is appended as 4 little-endian bytes.
//
// All functions are safe for concurrent use; a Tuple is a plain slice and follows the usual Go
// rules for slices shared between goroutines.
//
// # Caveats
//
// Pack panics on a Tuple that cannot be encoded: an element of a Go type no tuple type can hold
// (a struct, a map, an array, a slice other than []byte and []any, a nil *big.Int …), a string that is not valid UTF-8, an
// integer of more than 255 bytes, or an incomplete versionstamp (which belongs in
// PackWithVersionstamp). Use AppendPack to get an error instead.
//
// Strings must be valid UTF-8 on both sides, as in the Python and Java bindings: the official Go
// package writes a Go string's bytes unchecked and reads them back unchecked, so a Go program
// that relied on that must store such values as []byte.
//
// Unpack never panics and never returns a partial tuple: malformed input, truncated input,
// unknown or reserved type codes and invalid UTF-8 all return an error wrapping [ErrMalformed].
// Integers are read by value: the Python binding's form of 2^64−1 (1d 08 ff…) decodes to the
// same uint64 as the Java/Go form (1c ff…), and packing always writes the Java/Go form.
//
// Unpack refuses tuples nested more than [MaxDepth] levels deep, so that hostile input cannot
// exhaust the stack. Decoded []byte values are copies; they never alias the input.
//
// Pack and AppendPack allocate nothing but their result; Pack allocates once for a result of up
// to 256 bytes and twice beyond. Unpack allocates the tuple, plus each string, []byte, big
// integer, nested tuple and boxed value that Go cannot store in an interface for free.
package tuple
