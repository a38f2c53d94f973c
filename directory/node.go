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
			return &node{path: path[:i+1], target: path}, nil
		}
		key := l.nodeKey(p)
		layerF := rtr.Get(layerKey(key))
		if i+1 < len(path) {
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
		if isPartition(layer) {
			return n, nil
		}
	}
	return n, nil
}

// subdirNames lists the children of the node in key order, that is by the UTF-8 bytes of
// their names.
func subdirNames(rtr kv.ReadTransaction, nodeKey []byte) ([]string, error) {
	kvs, err := rtr.GetRange(subdirRange(nodeKey), kv.RangeOptions{Mode: kv.StreamingWantAll}).GetSlice()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(kvs))
	for _, row := range kvs {
		name, err := childName(nodeKey, row.Key)
		if err != nil {
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

// isPrefixFree reports whether prefix can be given to a new directory: it is not empty, does
// not overlap the node subspace, and neither contains nor lies inside another directory's
// prefix.
func (l *Layer) isPrefixFree(rtr kv.ReadTransaction, prefix []byte) (bool, error) {
	if len(prefix) == 0 || bytes.HasPrefix(prefix, l.nodePrefix) {
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
