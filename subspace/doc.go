// Package subspace gives a part of the key space a name: a raw byte prefix under which tuples are
// packed, byte for byte as the official FoundationDB bindings' subspaces do.
//
// # Basics
//
//	users := subspace.Sub("app", "users")       // prefix = pack(("app", "users"))
//	key := users.Pack(tuple.Tuple{42, "email"}) // prefix + pack((42, "email"))
//	t, err := users.Unpack(key)                 // (42, "email")
//	rows := tr.GetRange(users, kv.RangeOptions{})
//
// A [Subspace] is an immutable value: copy it, compare its Bytes, embed it, and use it from any
// number of goroutines.
//
// # Caveats
//
// The range of a subspace, [prefix+00, prefix+ff), holds every packed tuple under the prefix but
// not the prefix itself, nor keys whose next byte is 0xff; Contains answers for every key that
// starts with the prefix, as in the official bindings.
//
// Pack panics where tuple.Tuple.Pack does (an element no tuple type can hold, invalid UTF-8, an
// incomplete versionstamp); use PackWithVersionstamp for versionstamped keys and
// tuple.Tuple.AppendPack on Bytes for an error instead of a panic.
package subspace
