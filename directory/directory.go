package directory

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/subspace"
	"github.com/layerkit/layerkit/tuple"
)

// Directory is a node of a directory tree: a [Layer] (the root of a tree) or a
// [DirectorySubspace]. Paths given to its methods are relative to it. Every method is safe for
// concurrent use; those that take a kv.Transactor compose inside the caller's transaction when
// given one, and run their own retry loop when given a database.
type Directory interface {
	// CreateOrOpen opens the directory at path, creating it and missing parents when absent.
	// A non-nil layer is recorded on creation and checked on open.
	CreateOrOpen(ctx context.Context, t kv.Transactor, path []string, layer []byte) (DirectorySubspace, error)
	// Open opens an existing directory; a non-nil layer must match. It never writes.
	Open(ctx context.Context, t kv.ReadTransactor, path []string, layer []byte) (DirectorySubspace, error)
	// Create creates a directory and missing parents; ErrDirAlreadyExists if it exists.
	Create(ctx context.Context, t kv.Transactor, path []string, layer []byte) (DirectorySubspace, error)
	// CreatePrefix is Create with a manually chosen prefix.
	CreatePrefix(ctx context.Context, t kv.Transactor, path []string, layer, prefix []byte) (DirectorySubspace, error)
	// Move renames the directory at oldPath to newPath without moving its contents.
	Move(ctx context.Context, t kv.Transactor, oldPath, newPath []string) (DirectorySubspace, error)
	// MoveTo moves this directory to an absolute path within its partition.
	MoveTo(ctx context.Context, t kv.Transactor, newAbsolutePath []string) (DirectorySubspace, error)
	// Remove removes the directory at path with its contents and subdirectories;
	// ErrDirNotExists when there is none.
	Remove(ctx context.Context, t kv.Transactor, path []string) error
	// RemoveIfExists is Remove that returns false instead of failing when there is none.
	RemoveIfExists(ctx context.Context, t kv.Transactor, path []string) (bool, error)
	// Exists reports whether the directory at path exists.
	Exists(ctx context.Context, t kv.ReadTransactor, path []string) (bool, error)
	// List returns the names of the subdirectories at path in key order.
	List(ctx context.Context, t kv.ReadTransactor, path []string) ([]string, error)
	// GetLayer returns the layer the directory was created with.
	GetLayer() []byte
	// GetPath returns the directory's absolute path.
	GetPath() []string
}

// DirectorySubspace is a directory other than a root: a Directory whose contents live under a
// prefix. As in the official bindings it is also that prefix's subspace — Bytes, Pack, Sub,
// Unpack, Range, … — so it can be passed wherever a prefix is taken (a record store, a queue):
//
//	users, err := directory.CreateOrOpen(ctx, db, []string{"app", "users"}, nil)
//	key := users.Pack(tuple.Tuple{"alice"})
//
// The root of a partition is also a DirectorySubspace, but its prefix holds the partition's own
// directory tree, which must not be written directly. Where the official Go package panics, its
// subspace methods here return keys in the system keyspace (its prefix behind 0xff), which every
// read and write refuses with key_outside_legal_range (2004), so misuse fails at the first
// operation and corrupts nothing; Subspace returns [ErrPartitionRoot], which layers check to
// refuse such a prefix with a clear error. The directories inside a partition are ordinary.
type DirectorySubspace interface {
	Directory
	// Subspace returns the subspace holding the directory's contents, or ErrPartitionRoot.
	Subspace() (subspace.Subspace, error)
	// Bytes returns the directory's prefix (see the type's doc for a partition root). The slice
	// must not be modified.
	Bytes() []byte
	// Pack returns the prefix followed by the packed tuple t.
	Pack(t tuple.Tuple) []byte
	// PackWithVersionstamp is Pack for a tuple with one incomplete versionstamp: the key of a
	// versionstamped-key mutation.
	PackWithVersionstamp(t tuple.Tuple) ([]byte, error)
	// Sub returns the subspace nested in the directory's prefix by the packed elems.
	Sub(elems ...any) subspace.Subspace
	// Unpack returns the tuple packed in key after the prefix.
	Unpack(key []byte) (tuple.Tuple, error)
	// Contains reports whether key starts with the prefix.
	Contains(key []byte) bool
	// Range returns the range of every key of a tuple packed under the prefix.
	Range() kv.Range
	// Selectors makes the directory a kv.Ranger: the selectors of Range.
	Selectors() (kv.KeySelector, kv.KeySelector)
	// IsPartition reports whether the directory is the root of a partition.
	IsPartition() bool
	// String prints DirectorySubspace((a,b), <prefix>) as the official package does, or
	// DirectoryPartition(...) for a partition.
	String() string
}

// dirSubspace is every DirectorySubspace. dl is the layer the directory lives in; inner is set
// for a partition and is the layer inside it.
type dirSubspace struct {
	dl     *Layer
	inner  *Layer
	path   []string // absolute
	prefix []byte
	layer  []byte

	spaceOnce sync.Once
	space     subspace.Subspace // see contents
}

var (
	_ DirectorySubspace = (*dirSubspace)(nil)
	_ kv.Ranger         = (*dirSubspace)(nil)
)

// own is the layer that resolves paths below this directory.
func (d *dirSubspace) own() *Layer {
	if d.inner != nil {
		return d.inner
	}
	return d.dl
}

// layerFor is the layer that handles path: a partition itself (empty path) belongs to its
// parent layer, everything below it to the inner one.
func (d *dirSubspace) layerFor(path []string) *Layer {
	if d.inner != nil && len(path) == 0 {
		return d.dl
	}
	return d.own()
}

// sub is path relative to the root of layer l.
func (d *dirSubspace) sub(l *Layer, path []string) []string { return join(d.path[len(l.path):], path) }

func (d *dirSubspace) CreateOrOpen(ctx context.Context, t kv.Transactor, path []string, layer []byte) (DirectorySubspace, error) {
	l := d.own()
	return l.CreateOrOpen(ctx, t, d.sub(l, path), layer)
}

func (d *dirSubspace) Open(ctx context.Context, t kv.ReadTransactor, path []string, layer []byte) (DirectorySubspace, error) {
	l := d.own()
	return l.Open(ctx, t, d.sub(l, path), layer)
}

func (d *dirSubspace) Create(ctx context.Context, t kv.Transactor, path []string, layer []byte) (DirectorySubspace, error) {
	l := d.own()
	return l.Create(ctx, t, d.sub(l, path), layer)
}

func (d *dirSubspace) CreatePrefix(ctx context.Context, t kv.Transactor, path []string, layer, prefix []byte) (DirectorySubspace, error) {
	l := d.own()
	return l.CreatePrefix(ctx, t, d.sub(l, path), layer, prefix)
}

func (d *dirSubspace) Move(ctx context.Context, t kv.Transactor, oldPath, newPath []string) (DirectorySubspace, error) {
	l := d.own()
	return l.Move(ctx, t, d.sub(l, oldPath), d.sub(l, newPath))
}

// MoveTo moves this directory to newAbsolutePath, which must lie in the same partition
// ([ErrCannotMoveBetweenPartitions]).
func (d *dirSubspace) MoveTo(ctx context.Context, t kv.Transactor, newAbsolutePath []string) (DirectorySubspace, error) {
	l := d.layerFor(nil)
	n := len(l.path)
	if len(newAbsolutePath) < n || !equalPaths(newAbsolutePath[:n], l.path) {
		return nil, fmt.Errorf("%w: %s to %s", ErrCannotMoveBetweenPartitions, formatPath(d.path), formatPath(newAbsolutePath))
	}
	return l.Move(ctx, t, d.path[n:], newAbsolutePath[n:])
}

func (d *dirSubspace) Remove(ctx context.Context, t kv.Transactor, path []string) error {
	l := d.layerFor(path)
	return l.Remove(ctx, t, d.sub(l, path))
}

func (d *dirSubspace) RemoveIfExists(ctx context.Context, t kv.Transactor, path []string) (bool, error) {
	l := d.layerFor(path)
	return l.RemoveIfExists(ctx, t, d.sub(l, path))
}

func (d *dirSubspace) Exists(ctx context.Context, t kv.ReadTransactor, path []string) (bool, error) {
	l := d.layerFor(path)
	return l.Exists(ctx, t, d.sub(l, path))
}

func (d *dirSubspace) List(ctx context.Context, t kv.ReadTransactor, path []string) ([]string, error) {
	l := d.own()
	return l.List(ctx, t, d.sub(l, path))
}

// GetLayer returns the layer the directory was created with (empty by default, "partition"
// for a partition). The slice is the caller's.
func (d *dirSubspace) GetLayer() []byte { return clone(d.layer) }

// GetPath returns the absolute path the directory was opened at. The slice is the caller's.
func (d *dirSubspace) GetPath() []string { return join(nil, d.path) }

func (d *dirSubspace) Subspace() (subspace.Subspace, error) {
	if d.inner != nil {
		var zero subspace.Subspace
		return zero, fmt.Errorf("%w: %s", ErrPartitionRoot, formatPath(d.path))
	}
	return subspace.FromBytes(d.prefix), nil
}

func (d *dirSubspace) IsPartition() bool { return d.inner != nil }

// contents is the subspace the subspace methods use: the prefix, or for the root of a partition
// the prefix behind 0xff, a key that no read or write accepts.
func (d *dirSubspace) contents() subspace.Subspace {
	d.spaceOnce.Do(func() {
		if d.inner != nil {
			d.space = subspace.FromBytes(append([]byte{0xff}, d.prefix...))
			return
		}
		d.space = subspace.FromBytes(d.prefix)
	})
	return d.space
}

func (d *dirSubspace) Bytes() []byte                      { return d.contents().Bytes() }
func (d *dirSubspace) Pack(t tuple.Tuple) []byte          { return d.contents().Pack(t) }
func (d *dirSubspace) Sub(elems ...any) subspace.Subspace { return d.contents().Sub(elems...) }
func (d *dirSubspace) Contains(key []byte) bool           { return d.contents().Contains(key) }
func (d *dirSubspace) Range() kv.Range                    { return d.contents().Range() }

func (d *dirSubspace) PackWithVersionstamp(t tuple.Tuple) ([]byte, error) {
	return d.contents().PackWithVersionstamp(t)
}

func (d *dirSubspace) Unpack(key []byte) (tuple.Tuple, error) { return d.contents().Unpack(key) }

func (d *dirSubspace) Selectors() (kv.KeySelector, kv.KeySelector) {
	return d.contents().Selectors()
}

func (d *dirSubspace) String() string {
	path := "nil"
	if len(d.path) > 0 {
		path = "(" + strings.Join(d.path, ",") + ")"
	}
	kind := "DirectorySubspace"
	if d.inner != nil {
		kind = "DirectoryPartition"
	}
	return fmt.Sprintf("%s(%s, %s)", kind, path, kv.Printable(d.prefix))
}

// root is the default directory layer: nodes under 0xfe, contents anywhere else, no manual
// prefixes. It is what the other bindings use by default.
var root = newLayer([]byte{0xfe}, nil, false, nil)

// Root returns the default directory layer (node subspace 0xfe, contents in the whole
// keyspace, manual prefixes off), shared with the official bindings' default.
func Root() *Layer { return root }

// CreateOrOpen is Root().CreateOrOpen.
func CreateOrOpen(ctx context.Context, t kv.Transactor, path []string, layer []byte) (DirectorySubspace, error) {
	return root.CreateOrOpen(ctx, t, path, layer)
}

// Open is Root().Open.
func Open(ctx context.Context, t kv.ReadTransactor, path []string, layer []byte) (DirectorySubspace, error) {
	return root.Open(ctx, t, path, layer)
}

// Create is Root().Create.
func Create(ctx context.Context, t kv.Transactor, path []string, layer []byte) (DirectorySubspace, error) {
	return root.Create(ctx, t, path, layer)
}

// Move is Root().Move.
func Move(ctx context.Context, t kv.Transactor, oldPath, newPath []string) (DirectorySubspace, error) {
	return root.Move(ctx, t, oldPath, newPath)
}

// Exists is Root().Exists.
func Exists(ctx context.Context, t kv.ReadTransactor, path []string) (bool, error) {
	return root.Exists(ctx, t, path)
}

// List is Root().List.
func List(ctx context.Context, t kv.ReadTransactor, path []string) ([]string, error) {
	return root.List(ctx, t, path)
}
