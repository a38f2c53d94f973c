package directory

import (
	"bytes"
	"fmt"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/tuple"
)

// node is the result of walking a path: the deepest directory reached, which is the target
// itself, the first missing directory, or a partition the walk cannot see into.
type node struct {
	found  bool
	prefix []byte   // content prefix of the directory (the node subspace prefix for the root)
	key    []byte   // node key: NS + pack((prefix,))
	layer  []byte   // the stored layer; empty for the root
	path   []string // the part of target this node stands for
	target []string // the path that was looked up
	// parent is, for a missing directory, the node key of its parent, which the walk found.
	parent []byte
}

// inPartition reports whether the walk stopped at a partition with path left to resolve inside
// it; includeSelf also counts the partition itself.
func (n *node) inPartition(includeSelf bool) bool {
	return n.found && isPartition(n.layer) && (includeSelf || len(n.target) > len(n.path))
}

// subpath is the rest of the target, relative to the partition the walk stopped at.
func (n *node) subpath() []string { return n.target[len(n.path):] }

// nodeKey is the key of the node of the directory with content prefix prefix.
func (l *Layer) nodeKey(prefix []byte) []byte {
	return concat(l.nodePrefix, tuple.Tuple{prefix}.Pack())
}

// find walks path from the root of l, reading each child entry and each layer without
// snapshot, as the official bindings do. The layer of node i and the child entry of node i+1
// are issued together, so a path of depth d costs d+1 round trips rather than 2d. first, when
// not nil, is the already issued read of the first child entry.
//
// Every prefix on the way must be one a directory of l can have (checkPrefix), and the prefix
// of the node the walk ends at must not overlap another directory's (overlap; its reads go out
// with the node's layer read): a damaged or hostile child entry is an ErrCorrupt error, never a
// subspace over keys that are not the directory's.
func (l *Layer) find(rtr kv.ReadTransaction, path []string, first kv.Future[[]byte]) (*node, error) {
	n := &node{found: true, prefix: l.nodePrefix, key: l.rootNode, layer: []byte{}, target: path}
	if len(path) == 0 {
		return n, nil
	}
	sub := first
	if sub == nil {
		sub = rtr.Get(subdirKey(l.rootNode, path[0]))
	}
	for i := range path {
		p, err := sub.Get()
		if err != nil {
			return nil, err
		}
		if p == nil {
			return &node{path: path[:i+1], target: path, parent: n.key}, nil
		}
		if err := l.checkPrefix(path[:i+1], p); err != nil {
			return nil, err
		}
		key := l.nodeKey(p)
		layerF := rtr.Get(layerKey(key))
		last := i+1 == len(path)
		var ov overlap
		if last {
			ov = l.startOverlap(rtr, p)
		} else {
			sub = rtr.Get(subdirKey(key, path[i+1]))
		}
		layer, err := layerF.Get()
		if err != nil {
			return nil, err
		}
		if layer == nil {
			layer = []byte{}
		}
		n = &node{found: true, prefix: p, key: key, layer: layer, path: path[:i+1], target: path}
		if !last && isPartition(layer) {
			// The walk goes on inside the partition, whose prefix holds everything below it.
			ov = l.startOverlap(rtr, p)
		}
		if last || isPartition(layer) {
			if err := ov.check(l, n.path); err != nil {
				return nil, err
			}
			return n, nil
		}
	}
	return n, nil
}

// subdirNames lists the children of node n in key order, that is by the UTF-8 bytes of their
// names, refusing children whose prefixes no directory of l can have.
func (l *Layer) subdirNames(rtr kv.ReadTransaction, n *node) ([]string, error) {
	kvs, err := rtr.GetRange(subdirRange(n.key), kv.RangeOptions{Mode: kv.StreamingWantAll}).GetSlice()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(kvs))
	for _, row := range kvs {
		name, err := childName(n.key, row.Key)
		if err != nil {
			return nil, err
		}
		if err := l.checkPrefix(join(n.path, []string{name}), row.Value); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	return names, nil
}

// childName decodes the name of a child entry N + pack((0, name)).
func childName(nodeKey, key []byte) (string, error) {
	t, err := tuple.Unpack(key[len(nodeKey):])
	if err == nil && len(t) == 2 {
		if name, ok := t[1].(string); ok {
			return name, nil
		}
	}
	return "", fmt.Errorf("%w: child entry %s does not hold (0, name)", ErrCorrupt, kv.Printable(key))
}

// isPrefixFree reports whether prefix can be given to a new directory: no prefixProblem, and it
// neither contains nor lies inside another directory's prefix.
func (l *Layer) isPrefixFree(rtr kv.ReadTransaction, prefix []byte) (bool, error) {
	if l.prefixProblem(prefix) != "" {
		return false, nil
	}
	end, err := kv.Strinc(prefix)
	if err != nil {
		// An all-0xff prefix has no key range of its own; it cannot hold a directory.
		return false, nil
	}
	// The last node at or before prefix: its directory contains prefix when its prefix is a
	// prefix of ours.
	before := rtr.GetRange(kv.Range{Begin: concat(l.nodePrefix, []byte{0x00}), End: concat(l.nodeKey(prefix), []byte{0x00})},
		kv.RangeOptions{Limit: 1, Reverse: true})
	// Any node whose prefix starts with ours lies inside it.
	inside := rtr.GetRange(kv.Range{Begin: l.nodeKey(prefix), End: l.nodeKey(end)}, kv.RangeOptions{Limit: 1})
	kvs, err := before.GetSlice()
	if err != nil {
		return false, err
	}
	if len(kvs) == 1 {
		t, err := tuple.Unpack(kvs[0].Key[len(l.nodePrefix):])
		if err != nil || len(t) == 0 {
			return false, fmt.Errorf("%w: node key %s: %v", ErrCorrupt, kv.Printable(kvs[0].Key), err)
		}
		prev, ok := t[0].([]byte)
		if !ok {
			return false, fmt.Errorf("%w: node key %s does not start with a byte string", ErrCorrupt, kv.Printable(kvs[0].Key))
		}
		if bytes.HasPrefix(prefix, prev) {
			return false, nil
		}
	}
	kvs, err = inside.GetSlice()
	if err != nil {
		return false, err
	}
	return len(kvs) == 0, nil
}

// prefixProblem says why p cannot be the prefix of a directory of l, as "has prefix p, which
// ...", or returns "" when it can: an empty prefix or one in the system keyspace (0xff and up)
// covers keys no directory owns; one inside the node subspace, or containing it, covers the
// layer's own metadata; and without manual prefixes every prefix lies in the content subspace
// (for a partition: inside the partition).
func (l *Layer) prefixProblem(p []byte) string {
	if problem := l.metadataProblem(p); problem != "" {
		return problem
	}
	if !l.allowManual && !bytes.HasPrefix(p, l.contentPrefix) {
		return fmt.Sprintf("has prefix %s, which lies outside the content subspace %s", kv.Printable(p), kv.Printable(l.contentPrefix))
	}
	return ""
}

// metadataProblem is the part of prefixProblem that does not depend on the content subspace.
func (l *Layer) metadataProblem(p []byte) string {
	var why string
	switch {
	case len(p) == 0:
		return "has an empty prefix"
	case p[0] == 0xff:
		why = "lies in the system keyspace"
	case bytes.HasPrefix(p, l.nodePrefix):
		why = fmt.Sprintf("lies inside the node subspace %s", kv.Printable(l.nodePrefix))
	case bytes.HasPrefix(l.nodePrefix, p):
		why = fmt.Sprintf("contains the node subspace %s", kv.Printable(l.nodePrefix))
	default:
		return ""
	}
	return fmt.Sprintf("has prefix %s, which %s", kv.Printable(p), why)
}

// checkPrefix refuses a prefix read from the child entry of path that no directory of l can
// have. Such an entry was written outside the directory layer or damaged; using it would hand
// out, move or clear keys that are not the directory's.
func (l *Layer) checkPrefix(path []string, p []byte) error {
	if problem := l.prefixProblem(p); problem != "" {
		return fmt.Errorf("%w: directory %s %s", ErrCorrupt, l.abs(path), problem)
	}
	return nil
}

// overlap is the pair of snapshot reads that find another directory's node overlapping a
// directory's prefix p: the last node key before p's node (whose directory's prefix may contain
// p) and the first node key after p's own node keys (a node whose prefix starts with p). Snapshot
// reads: they look for damage, not for concurrent changes, and must not make opens conflict
// with unrelated creates. Both are range reads bounded to the node subspace, never key
// selectors, which could walk out of it into contents the transaction wrote with versionstamps
// and fail with accessed_unreadable (1036).
type overlap struct {
	p, end         []byte // p, and the node key of strinc(p) (nil when p has none)
	before, inside kv.RangeResult
}

func (l *Layer) startOverlap(rtr kv.ReadTransaction, p []byte) overlap {
	snap := rtr.Snapshot()
	node := l.nodeKey(p)
	o := overlap{p: p, before: snap.GetRange(kv.Range{Begin: l.nodePrefix, End: node}, kv.RangeOptions{Limit: 1, Reverse: true})}
	if end, err := kv.Strinc(p); err == nil {
		// p's own keys are node + a packed tuple, below node + ff; the node of a prefix p + x
		// starts at node + ff (x from 00) or above.
		o.end = l.nodeKey(end)
		o.inside = snap.GetRange(kv.Range{Begin: append(node, 0xff), End: o.end}, kv.RangeOptions{Limit: 1})
	}
	return o
}

// check waits for the reads and reports the overlap, wrapping ErrCorrupt, naming path.
func (o overlap) check(l *Layer, path []string) error {
	rows, err := o.before.GetSlice()
	if err != nil {
		return err
	}
	if len(rows) == 1 {
		if q, ok := l.nodePrefixOf(rows[0].Key); ok && bytes.HasPrefix(o.p, q) {
			return fmt.Errorf("%w: directory %s has prefix %s, which lies inside the prefix %s of another directory",
				ErrCorrupt, l.abs(path), kv.Printable(o.p), kv.Printable(q))
		}
	}
	if o.inside == nil {
		return nil
	}
	if rows, err = o.inside.GetSlice(); err != nil {
		return err
	}
	if len(rows) == 1 {
		return fmt.Errorf("%w: directory %s has prefix %s, which contains the prefix of another directory (node key %s)",
			ErrCorrupt, l.abs(path), kv.Printable(o.p), kv.Printable(rows[0].Key))
	}
	return nil
}

// nodePrefixOf decodes the prefix of the node a key of the node subspace belongs to: the key is
// the node subspace prefix and a tuple whose first element is that prefix.
func (l *Layer) nodePrefixOf(key []byte) ([]byte, bool) {
	t, err := tuple.Unpack(key[len(l.nodePrefix):])
	if err != nil || len(t) == 0 {
		return nil, false
	}
	p, ok := t[0].([]byte)
	return p, ok
}
