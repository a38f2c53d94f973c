// Package directory is the directory layer: it maps paths of names, such as ("app", "users"),
// to short prefixes chosen by an allocator, so applications name their keyspaces with readable
// paths while keys stay short, and renaming a path moves no data. It reads and writes exactly the
// keys and values of the official FoundationDB bindings (Python, Java, Go), so directories made by
// one are opened by the others.
//
// # Basics
//
// [CreateOrOpen], [Open], [Create], [Move], [Exists] and [List] work on the default layer,
// [Root]; [NewDirectoryLayer] makes a layer elsewhere in the keyspace. Each returns a
// [DirectorySubspace], a [Directory] with paths relative to itself, whose Subspace method gives
// the prefix to store keys under:
//
//	users, err := directory.CreateOrOpen(ctx, db, []string{"app", "users"}, nil)
//	ss, err := users.Subspace()
//	key := ss.Pack(tuple.Tuple{"alice"})
//
// Every operation takes a kv.Transactor: a database (the operation runs in its own retry loop)
// or a transaction (it composes with the caller's other work and commits with it). Read-only
// operations (Open, Exists, List) take a kv.ReadTransactor and never write, not even the
// version key.
//
// A directory created with the layer "partition" is a partition: a directory layer of its own
// inside the partition's prefix. Paths below it resolve inside it, moves cannot cross its
// boundary ([ErrCannotMoveBetweenPartitions]), and its root cannot be used as a subspace
// ([ErrPartitionRoot]).
//
// [Check] (and [Layer.Check]) verify the stored tree: unique, non-overlapping prefixes, readable
// layers and version, no orphan nodes, and the allocator's state.
//
// # Caveats
//
// Where the bindings differ, this package chooses as follows:
//   - A nil layer means "do not check" on open, while []byte{} is checked (as in Go; Python
//     treats the empty layer as "do not check").
//   - Remove of a missing directory fails with [ErrDirNotExists] (as in Python);
//     [Layer.RemoveIfExists] reports false instead (Go's Remove).
//   - Nothing panics: the official Go package panics when the root of a partition is used as a
//     subspace; here DirectorySubspace.Subspace returns [ErrPartitionRoot].
//   - Versions are read as unsigned 32-bit integers (as in Python), and a version value longer
//     than 12 bytes is accepted (as in Go).
//
// Damaged metadata: the official bindings use the prefix a child entry holds without looking at
// it. Here every operation that walks a path refuses, with [ErrCorrupt] naming the directory, a
// prefix that is empty, lies in the system keyspace, lies inside or contains the node subspace,
// or (without manual prefixes) lies outside the content subspace or partition; and Open,
// CreateOrOpen, Exists, List, Move and Remove refuse a directory whose prefix lies inside, or
// contains, another directory's. That check costs two snapshot reads (key selectors) of the
// node subspace for the directory the path ends at, issued with its layer read, so no extra
// round trip (on the embedded engine a depth-1 Open takes about half as long again). Remove
// checks every directory it would clear before it clears any. One kind of damage is not caught
// this way: two child entries holding the same prefix, which only a scan of the whole tree can
// find ([Check] reports it).
//
// Retries: a commit that fails with 1021 (commit_unknown_result) may have been applied.
// CreateOrOpen is safe to retry as it is: the retry opens what the first attempt created, and no
// prefix is allocated twice. Create, Move, Remove and RemoveIfExists, when given a database,
// remember what an attempt that ended in 1021 did (the prefix it created, moved or removed) and
// on the retry report success instead of "already exists" or "does not exist" when they find
// their own work applied. The one case this cannot tell apart: the 1021 commit was not applied,
// and meanwhile another client did the very same thing with the very same prefix (for Create,
// created the same path and drew the same allocator candidate). Given a transaction, these
// operations run once and the caller's retry loop owns that decision.
//
// Operations on one transaction from several goroutines are allowed; allocations serialise the
// few steps that must not interleave.
package directory
