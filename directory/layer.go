package directory

import (
	"bytes"
	"context"
	"fmt"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/subspace"
)

// Layer is a directory layer: the root of a tree of directories whose metadata lives in a node
// subspace and whose contents get prefixes inside a content subspace. [Root] is the default
// layer; [NewDirectoryLayer] makes others. A partition has a Layer of its own inside its prefix.
//
// A Layer is immutable and safe for concurrent use. Its methods take paths relative to its root.
type Layer struct {
	nodePrefix    []byte
	contentPrefix []byte
	allowManual   bool
	rootNode      []byte
	hca           allocator
	// path is the absolute path of the partition this layer serves; empty for a top-level layer.
	path []string
}

var _ Directory = (*Layer)(nil)

// NewDirectoryLayer returns a directory layer that keeps its metadata in nodeSS and gives
// directories prefixes inside contentSS. The default layer ([Root]) uses node subspace 0xfe
// and the whole keyspace for contents. With allowManualPrefixes false, CreatePrefix fails with
// [ErrManualPrefixesNotAllowed] and every prefix comes from the allocator.
func NewDirectoryLayer(nodeSS, contentSS subspace.Subspace, allowManualPrefixes bool) *Layer {
	return newLayer(nodeSS.Bytes(), contentSS.Bytes(), allowManualPrefixes, nil)
}

func newLayer(nodePrefix, contentPrefix []byte, allowManual bool, path []string) *Layer {
	l := &Layer{
		nodePrefix:    clone(nodePrefix),
		contentPrefix: clone(contentPrefix),
		allowManual:   allowManual,
		path:          path,
	}
	if l.nodePrefix == nil {
		l.nodePrefix = []byte{}
	}
	l.rootNode = l.nodeKey(l.nodePrefix)
	l.hca = newAllocator(concat(l.rootNode, hcaSuffix))
	return l
}

func (l *Layer) versionKey() []byte { return concat(l.rootNode, versionSuffix) }

// abs is the absolute form of a path relative to l, for messages.
func (l *Layer) abs(path []string) string { return formatPath(join(l.path, path)) }

// partition returns the layer inside the partition with content prefix prefix, found at path
// (relative to l).
func (l *Layer) partition(prefix []byte, path []string) *Layer {
	return newLayer(concat(prefix, []byte{0xfe}), prefix, false, join(l.path, path))
}

// contents returns the directory with the given prefix at path (relative to l).
func (l *Layer) contents(prefix []byte, path []string, layer []byte) DirectorySubspace {
	d := &dirSubspace{dl: l, path: join(l.path, path), prefix: clone(prefix), layer: clone(layer)}
	if d.layer == nil {
		d.layer = []byte{}
	}
	if isPartition(layer) {
		d.inner = l.partition(prefix, path)
	}
	return d
}

// createOrOpen is the one path behind CreateOrOpen, Open, Create and CreatePrefix (tr is nil for
// Open). The order of checks, reads and writes is the official bindings' (spec §3).
func (l *Layer) createOrOpen(rtr kv.ReadTransaction, tr kv.Transaction, path []string, layer, prefix []byte,
	allowCreate, allowOpen bool, st *retryState) (DirectorySubspace, error) {
	versionF := rtr.Get(l.versionKey())
	var first kv.Future[[]byte]
	if len(path) > 0 {
		first = rtr.Get(subdirKey(l.rootNode, path[0]))
	}
	if err := l.checkVersion(versionF, nil); err != nil {
		return nil, err
	}
	if prefix != nil && !l.allowManual {
		if len(l.path) == 0 {
			return nil, fmt.Errorf("%w: cannot specify a prefix unless manual prefixes are enabled", ErrManualPrefixesNotAllowed)
		}
		return nil, fmt.Errorf("%w: cannot specify a prefix in a partition", ErrManualPrefixesNotAllowed)
	}
	if len(path) == 0 {
		return nil, ErrCannotOpenRoot
	}

	n, err := l.find(rtr, path, first)
	if err != nil {
		return nil, err
	}
	if n.found {
		if n.inPartition(false) {
			return l.partition(n.prefix, n.path).createOrOpen(rtr, tr, n.subpath(), layer, prefix, allowCreate, allowOpen, st)
		}
		compatible := layer == nil || bytes.Equal(layer, n.layer)
		if !allowOpen {
			if compatible && st.mayHaveDone(n.prefix) {
				// An earlier attempt of this call created it and its commit reported 1021.
				return l.contents(n.prefix, path, n.layer), nil
			}
			return nil, fmt.Errorf("%w: %s", ErrDirAlreadyExists, l.abs(path))
		}
		if !compatible {
			return nil, fmt.Errorf("%w: %s has layer %q, not %q", ErrIncompatibleLayer, l.abs(path), n.layer, layer)
		}
		return l.contents(n.prefix, path, n.layer), nil
	}
	if !allowCreate {
		return nil, fmt.Errorf("%w: %s", ErrDirNotExists, l.abs(path))
	}

	if err := l.checkVersion(rtr.Get(l.versionKey()), tr); err != nil {
		return nil, err
	}
	if prefix == nil {
		c, err := l.hca.allocate(tr)
		if err != nil {
			return nil, fmt.Errorf("directory: unable to allocate new directory prefix: %w", err)
		}
		prefix = concat(l.contentPrefix, c)
		r, err := kv.PrefixRange(prefix)
		if err != nil {
			return nil, err
		}
		// Python reads [P, strinc(P)) and Go [P+00, P+ff); the first also sees a key equal to P.
		kvs, err := rtr.GetRange(r, kv.RangeOptions{Limit: 1}).GetSlice()
		if err != nil {
			return nil, err
		}
		if len(kvs) > 0 {
			return nil, fmt.Errorf("%w: the database has keys stored at the prefix chosen by the automatic prefix allocator: %s",
				ErrAllocatedPrefixNotFree, kv.Printable(prefix))
		}
		free, err := l.isPrefixFree(rtr.Snapshot(), prefix)
		if err != nil {
			return nil, err
		}
		if !free {
			return nil, fmt.Errorf("%w: the directory layer has manually allocated prefixes that conflict with the automatic prefix allocator (%s)",
				ErrAllocatedPrefixNotFree, kv.Printable(prefix))
		}
	} else {
		if problem := l.prefixProblem(prefix); problem != "" {
			return nil, fmt.Errorf("%w: the new directory %s", ErrPrefixInUse, problem)
		}
		free, err := l.isPrefixFree(rtr, prefix)
		if err != nil {
			return nil, err
		}
		if !free {
			return nil, fmt.Errorf("%w: %s", ErrPrefixInUse, kv.Printable(prefix))
		}
	}

	// The child's prefix is allocated before missing parents are created, as the bindings do.
	// When the walk found every parent, the bindings' second walk to open the parent would read
	// the same keys again (adding no conflict range); its node key is taken from the first.
	var parentNode []byte
	if len(n.path) == len(path) {
		parentNode = n.parent
	} else {
		pd, err := l.createOrOpen(rtr, tr, path[:len(path)-1], nil, nil, true, true, nil)
		if err != nil {
			return nil, err
		}
		parentNode = l.nodeKey(pd.(*dirSubspace).prefix)
	}
	tr.Set(subdirKey(parentNode, path[len(path)-1]), prefix)
	if layer == nil {
		layer = []byte{}
	}
	tr.Set(layerKey(l.nodeKey(prefix)), layer)
	st.record(prefix)
	return l.contents(prefix, path, layer), nil
}

func (l *Layer) exists(rtr kv.ReadTransaction, path []string) (bool, error) {
	if err := l.checkVersion(rtr.Get(l.versionKey()), nil); err != nil {
		return false, err
	}
	n, err := l.find(rtr, path, nil)
	if err != nil || !n.found {
		return false, err
	}
	if n.inPartition(false) {
		return l.partition(n.prefix, n.path).exists(rtr, n.subpath())
	}
	return true, nil
}

func (l *Layer) list(rtr kv.ReadTransaction, path []string) ([]string, error) {
	if err := l.checkVersion(rtr.Get(l.versionKey()), nil); err != nil {
		return nil, err
	}
	n, err := l.find(rtr, path, nil)
	if err != nil {
		return nil, err
	}
	if !n.found {
		return nil, fmt.Errorf("%w: %s", ErrDirNotExists, l.abs(path))
	}
	if n.inPartition(true) {
		return l.partition(n.prefix, n.path).list(rtr, n.subpath())
	}
	return l.subdirNames(rtr, n)
}

func (l *Layer) move(tr kv.Transaction, oldPath, newPath []string, st *retryState) (DirectorySubspace, error) {
	if err := l.checkVersion(tr.Get(l.versionKey()), tr); err != nil {
		return nil, err
	}
	if len(oldPath) <= len(newPath) && equalPaths(oldPath, newPath[:len(oldPath)]) {
		return nil, fmt.Errorf("%w: cannot move %s to %s", ErrMoveToSubdirectory, l.abs(oldPath), l.abs(newPath))
	}
	oldN, err := l.find(tr, oldPath, nil)
	if err != nil {
		return nil, err
	}
	newN, err := l.find(tr, newPath, nil)
	if err != nil {
		return nil, err
	}
	if !oldN.found {
		if newN.found && !newN.inPartition(false) && st.mayHaveDone(newN.prefix) {
			// An earlier attempt of this call moved it and its commit reported 1021.
			return l.contents(newN.prefix, newPath, newN.layer), nil
		}
		return nil, fmt.Errorf("%w: the source directory %s does not exist", ErrDirNotExists, l.abs(oldPath))
	}
	if oldN.inPartition(false) || newN.inPartition(false) {
		if !oldN.inPartition(false) || !newN.inPartition(false) || !equalPaths(oldN.path, newN.path) {
			return nil, fmt.Errorf("%w: %s to %s", ErrCannotMoveBetweenPartitions, l.abs(oldPath), l.abs(newPath))
		}
		return l.partition(newN.prefix, newN.path).move(tr, oldN.subpath(), newN.subpath(), st)
	}
	if newN.found {
		return nil, fmt.Errorf("%w: the destination directory %s already exists; remove it first", ErrDirAlreadyExists, l.abs(newPath))
	}
	parent, err := l.find(tr, newPath[:len(newPath)-1], nil)
	if err != nil {
		return nil, err
	}
	if !parent.found {
		return nil, fmt.Errorf("%w: the parent of the destination directory %s does not exist; create it first",
			ErrParentDirDoesNotExist, l.abs(newPath))
	}
	tr.Set(subdirKey(parent.key, newPath[len(newPath)-1]), oldN.prefix)
	if err := l.removeFromParent(tr, oldPath); err != nil {
		return nil, err
	}
	st.record(oldN.prefix)
	return l.contents(oldN.prefix, newPath, oldN.layer), nil
}

// remove removes the directory at path with its contents and subdirectories. A missing
// directory is ErrDirNotExists when mustExist, otherwise (false, nil).
func (l *Layer) remove(tr kv.Transaction, path []string, mustExist bool, st *retryState) (bool, error) {
	if err := l.checkVersion(tr.Get(l.versionKey()), tr); err != nil {
		return false, err
	}
	if len(path) == 0 {
		return false, ErrCannotRemoveRoot
	}
	n, err := l.find(tr, path, nil)
	if err != nil {
		return false, err
	}
	if n.found && n.inPartition(false) {
		return l.partition(n.prefix, n.path).remove(tr, n.subpath(), mustExist, st)
	}
	if st.retried() && (!n.found || !st.mayHaveDone(n.prefix)) {
		// An earlier attempt of this call removed the directory and its commit reported 1021;
		// whatever is there now is not what the caller asked to remove.
		return true, nil
	}
	if !n.found {
		if mustExist {
			return false, fmt.Errorf("%w: %s", ErrDirNotExists, l.abs(path))
		}
		return false, nil
	}
	// Every node is read and checked before anything is cleared, so damaged metadata below the
	// directory fails the removal without leaving part of it in the caller's transaction.
	var nodes []removal
	if err := l.collectRemoval(tr, n.path, n.key, n.prefix, map[string]bool{}, &nodes); err != nil {
		return false, err
	}
	for _, r := range nodes {
		tr.ClearRange(r.contents)
		tr.ClearRange(nodeRange(r.nodeKey))
	}
	if err := l.removeFromParent(tr, path); err != nil {
		return false, err
	}
	st.record(n.prefix)
	return true, nil
}

// removal is a node to clear: its contents (for a partition this includes its own metadata) and
// its node.
type removal struct {
	nodeKey  []byte
	contents kv.Range
}

// collectRemoval adds to out, subdirectories first, the node with prefix prefix at path and,
// recursively, its subdirectories, checking each child's prefix as find checks one (checkPrefix
// and overlap). Allocator keys are left alone: a prefix is never handed out again.
func (l *Layer) collectRemoval(tr kv.Transaction, path []string, nodeKey, prefix []byte, seen map[string]bool, out *[]removal) error {
	// A tree written by this package has no cycles; damaged metadata might, and must not make
	// the recursion run forever.
	if seen[string(prefix)] {
		return fmt.Errorf("%w: directory prefix %s is reachable twice", ErrCorrupt, kv.Printable(prefix))
	}
	seen[string(prefix)] = true
	kvs, err := tr.GetRange(subdirRange(nodeKey), kv.RangeOptions{Mode: kv.StreamingWantAll}).GetSlice()
	if err != nil {
		return err
	}
	type child struct {
		path []string
		ov   overlap
	}
	children := make([]child, len(kvs))
	for i, row := range kvs {
		name, err := childName(nodeKey, row.Key)
		if err != nil {
			return err
		}
		children[i].path = join(path, []string{name})
		if err := l.checkPrefix(children[i].path, row.Value); err != nil {
			return err
		}
		children[i].ov = l.startOverlap(tr, row.Value)
	}
	for i, c := range children {
		if err := c.ov.check(l, c.path); err != nil {
			return err
		}
		if err := l.collectRemoval(tr, c.path, l.nodeKey(kvs[i].Value), kvs[i].Value, seen, out); err != nil {
			return err
		}
	}
	r, err := kv.PrefixRange(prefix)
	if err != nil {
		return fmt.Errorf("%w: directory prefix %s", ErrCorrupt, kv.Printable(prefix))
	}
	*out = append(*out, removal{nodeKey: nodeKey, contents: r})
	return nil
}

func (l *Layer) removeFromParent(tr kv.Transaction, path []string) error {
	parent, err := l.find(tr, path[:len(path)-1], nil)
	if err != nil {
		return err
	}
	tr.Clear(subdirKey(parent.key, path[len(path)-1]))
	return nil
}

// CreateOrOpen opens the directory at path, creating it and any missing parents if it does
// not exist. A new directory records layer (nil is stored as empty); an existing one is
// checked against layer unless layer is nil ([]byte{} is checked). It is safe to retry: a retry
// after a commit that reported 1021 but was applied opens what was created.
func (l *Layer) CreateOrOpen(ctx context.Context, t kv.Transactor, path []string, layer []byte) (DirectorySubspace, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	return write(ctx, t, func(tr kv.Transaction, st *retryState) (DirectorySubspace, error) {
		return l.createOrOpen(tr, tr, path, layer, nil, true, true, st)
	})
}

// Open opens the existing directory at path; [ErrDirNotExists] when there is none. A non-nil
// layer must equal the stored one ([ErrIncompatibleLayer]). Open never writes.
func (l *Layer) Open(ctx context.Context, t kv.ReadTransactor, path []string, layer []byte) (DirectorySubspace, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	return kv.ReadTransact(ctx, t, func(rtr kv.ReadTransaction) (DirectorySubspace, error) {
		return l.createOrOpen(rtr, nil, path, layer, nil, false, true, nil)
	})
}

// Create creates the directory at path and any missing parents; [ErrDirAlreadyExists] when it
// exists. When t is a database, a retry inside this call after a commit that reported 1021
// recognises the directory it created (by its prefix, which the allocator gives out once) and
// returns it instead of ErrDirAlreadyExists.
func (l *Layer) Create(ctx context.Context, t kv.Transactor, path []string, layer []byte) (DirectorySubspace, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	return write(ctx, t, func(tr kv.Transaction, st *retryState) (DirectorySubspace, error) {
		return l.createOrOpen(tr, tr, path, layer, nil, true, false, st)
	})
}

// CreatePrefix is Create with a manual prefix instead of an allocated one. It needs a layer
// made with allowManualPrefixes ([ErrManualPrefixesNotAllowed]) and a prefix that overlaps no
// other directory and not the node subspace ([ErrPrefixInUse]); a nil prefix counts as empty.
func (l *Layer) CreatePrefix(ctx context.Context, t kv.Transactor, path []string, layer, prefix []byte) (DirectorySubspace, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	if prefix == nil {
		prefix = []byte{}
	}
	return write(ctx, t, func(tr kv.Transaction, st *retryState) (DirectorySubspace, error) {
		return l.createOrOpen(tr, tr, path, layer, prefix, true, false, st)
	})
}

// Move moves the directory at oldPath to newPath. Its prefix, contents and subdirectories stay
// where they are; only the entry in the parent changes. The destination's parent must exist.
func (l *Layer) Move(ctx context.Context, t kv.Transactor, oldPath, newPath []string) (DirectorySubspace, error) {
	if err := checkPath(oldPath); err != nil {
		return nil, err
	}
	if err := checkPath(newPath); err != nil {
		return nil, err
	}
	return write(ctx, t, func(tr kv.Transaction, st *retryState) (DirectorySubspace, error) {
		return l.move(tr, oldPath, newPath, st)
	})
}

// MoveTo fails with [ErrCannotMoveRoot]: the root of a layer cannot be moved.
func (l *Layer) MoveTo(ctx context.Context, t kv.Transactor, newAbsolutePath []string) (DirectorySubspace, error) {
	return nil, ErrCannotMoveRoot
}

// Remove removes the directory at path, its contents and all its subdirectories;
// [ErrDirNotExists] when there is none (use RemoveIfExists to accept that). An empty path is
// [ErrCannotRemoveRoot].
func (l *Layer) Remove(ctx context.Context, t kv.Transactor, path []string) error {
	if err := checkPath(path); err != nil {
		return err
	}
	_, err := write(ctx, t, func(tr kv.Transaction, st *retryState) (bool, error) {
		return l.remove(tr, path, true, st)
	})
	return err
}

// RemoveIfExists is Remove that reports false, instead of failing, when there is nothing to
// remove.
func (l *Layer) RemoveIfExists(ctx context.Context, t kv.Transactor, path []string) (bool, error) {
	if err := checkPath(path); err != nil {
		return false, err
	}
	return write(ctx, t, func(tr kv.Transaction, st *retryState) (bool, error) {
		return l.remove(tr, path, false, st)
	})
}

// Exists reports whether a directory exists at path; the empty path (the root) always exists.
func (l *Layer) Exists(ctx context.Context, t kv.ReadTransactor, path []string) (bool, error) {
	if err := checkPath(path); err != nil {
		return false, err
	}
	return kv.ReadTransact(ctx, t, func(rtr kv.ReadTransaction) (bool, error) {
		return l.exists(rtr, path)
	})
}

// List returns the names of the subdirectories of the directory at path, ordered by their
// UTF-8 bytes; [ErrDirNotExists] when there is no directory.
func (l *Layer) List(ctx context.Context, t kv.ReadTransactor, path []string) ([]string, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	return kv.ReadTransact(ctx, t, func(rtr kv.ReadTransaction) ([]string, error) {
		return l.list(rtr, path)
	})
}

// GetLayer returns the empty layer of a root directory.
func (l *Layer) GetLayer() []byte { return []byte{} }

// GetPath returns the absolute path of the layer's root: empty, or the path of the partition
// it serves.
func (l *Layer) GetPath() []string { return join(nil, l.path) }
