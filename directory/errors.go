package directory

import "errors"

// Errors returned by directory operations, grouped by when they happen. Every error a directory
// operation returns for one of these cases wraps the sentinel, so test with errors.Is; the
// message adds the path or prefix involved.
var (
	// ErrDirAlreadyExists is returned by Create and CreatePrefix when a directory already exists
	// at the path, and by Move and MoveTo when the destination exists.
	ErrDirAlreadyExists = errors.New("directory: the directory already exists")

	// ErrDirNotExists is returned by Open and List when no directory exists at the path, by Move
	// when the source does not exist, and by Remove when there is nothing to remove.
	ErrDirNotExists = errors.New("directory: the directory does not exist")

	// ErrParentDirDoesNotExist is returned by Move and MoveTo when the parent of the destination
	// does not exist. (Create makes missing parents, so it never returns it.)
	ErrParentDirDoesNotExist = errors.New("directory: the parent directory does not exist")

	// ErrIncompatibleLayer is returned by Open and CreateOrOpen when the directory was created
	// with a layer other than the one asked for.
	ErrIncompatibleLayer = errors.New("directory: the directory was created with an incompatible layer")

	// ErrPrefixInUse is returned by CreatePrefix when the manual prefix is empty, lies in the
	// system keyspace, overlaps the node subspace, or overlaps the prefix of another directory.
	ErrPrefixInUse = errors.New("directory: the given prefix is already in use")

	// ErrManualPrefixesNotAllowed is returned by CreatePrefix on a layer made without manual
	// prefixes, which includes the default layer and every partition.
	ErrManualPrefixesNotAllowed = errors.New("directory: manual prefixes are not allowed")

	// ErrAllocatedPrefixNotFree is returned when the prefix the allocator chose already holds keys
	// or overlaps a manually chosen prefix: the database was written outside the directory layer.
	ErrAllocatedPrefixNotFree = errors.New("directory: the prefix chosen by the automatic prefix allocator is not free")

	// ErrCannotMoveBetweenPartitions is returned by Move and MoveTo when the source and the
	// destination are not in the same partition.
	ErrCannotMoveBetweenPartitions = errors.New("directory: cannot move between partitions")

	// ErrMoveToSubdirectory is returned by Move when the destination is the source itself or lies
	// inside it.
	ErrMoveToSubdirectory = errors.New("directory: the destination directory cannot be a subdirectory of the source directory")

	// ErrCannotOpenRoot is returned when a create or open names the root of a directory layer
	// (an empty path).
	ErrCannotOpenRoot = errors.New("directory: the root directory cannot be opened")

	// ErrCannotMoveRoot is returned by MoveTo on the root of a directory layer.
	ErrCannotMoveRoot = errors.New("directory: the root directory cannot be moved")

	// ErrCannotRemoveRoot is returned by Remove and RemoveIfExists with an empty path on a
	// directory layer.
	ErrCannotRemoveRoot = errors.New("directory: the root directory cannot be removed")

	// ErrPartitionRoot is returned by DirectorySubspace.Subspace for the root of a partition,
	// whose prefix holds the partition's own metadata and must not be written directly.
	ErrPartitionRoot = errors.New("directory: the root of a directory partition cannot be used as a subspace")

	// ErrVersionTooNew is returned by every operation when the stored directory layer version has
	// a major version above 1, and by write operations when its minor version is above 0.
	ErrVersionTooNew = errors.New("directory: the directory layer version in the database is too new")

	// ErrInvalidVersion is returned when the stored version value is shorter than 12 bytes.
	ErrInvalidVersion = errors.New("directory: cannot determine directory version present in database")

	// ErrInvalidPath is returned for a path element that is not valid UTF-8 (names are stored as
	// tuple strings, which must be UTF-8).
	ErrInvalidPath = errors.New("directory: invalid path")

	// ErrCorrupt is returned when the stored directory metadata cannot be decoded or holds a
	// prefix no directory can have (empty, in the system keyspace, inside or containing the node
	// subspace, outside the content subspace, or overlapping another directory's prefix), and by
	// Check when an invariant does not hold.
	ErrCorrupt = errors.New("directory: corrupt directory metadata")
)
