package directory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/tuple"
)

// Check verifies the invariants of the default directory layer ([Root]); see [Layer.Check].
func Check(ctx context.Context, t kv.ReadTransactor) error { return root.Check(ctx, t) }

// maxProblems bounds how many problems one Check reports.
const maxProblems = 20

// Check reads the whole tree of the layer in one read transaction and verifies its invariants:
//   - the version key is absent or a readable version this layer can open;
//   - every child entry has a string name and a prefix a directory can have: not empty, not in
//     the system keyspace, neither inside nor containing the node subspace, and (without manual
//     prefixes) inside the content subspace; and its node has a layer key;
//   - no prefix is used twice and none is a prefix of another;
//   - every node in the node subspace belongs to a directory reachable from the root;
//   - the allocator's counters and marks decode, the marks at or after the current window start
//     number at most its counter (the bindings' validate_hca_state), and (without manual
//     prefixes) every directory allocated in the current window is marked;
//   - the same, recursively, inside every partition, whose directories must lie in its prefix.
//
// Problems are returned joined, each wrapping [ErrCorrupt]; read errors are returned as they are.
// It is safe for concurrent use; a large tree may need more than one transaction's five seconds.
func (l *Layer) Check(ctx context.Context, t kv.ReadTransactor) error {
	_, err := kv.ReadTransact(ctx, t, func(rtr kv.ReadTransaction) (struct{}, error) {
		c := &checker{}
		if err := c.layer(rtr, l); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, errors.Join(c.problems...)
	})
	return err
}

type checker struct {
	problems []error
}

func (c *checker) fail(format string, args ...any) {
	if len(c.problems) < maxProblems {
		c.problems = append(c.problems, fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...))
	}
}

type checkedDir struct {
	path   []string
	prefix []byte
	layer  []byte
}

// layer checks one layer and, recursively, the partitions inside it. It returns only read
// errors; invariant violations go to c.problems.
func (c *checker) layer(rtr kv.ReadTransaction, l *Layer) error {
	where := "root"
	if len(l.path) > 0 {
		where = "partition " + formatPath(l.path)
	}
	if err := l.checkVersion(rtr.Get(l.versionKey()), nil); err != nil {
		if !errors.Is(err, ErrVersionTooNew) && !errors.Is(err, ErrInvalidVersion) {
			return err
		}
		c.fail("%s: %v", where, err)
	}

	// Walk the tree from the root node.
	var dirs []checkedDir
	byPrefix := map[string][]string{}
	queue := []checkedDir{{prefix: l.nodePrefix}}
	for len(queue) > 0 {
		parent := queue[0]
		queue = queue[1:]
		nodeKey := l.nodeKey(parent.prefix)
		kvs, err := rtr.GetRange(subdirRange(nodeKey), kv.RangeOptions{Mode: kv.StreamingWantAll}).GetSlice()
		if err != nil {
			return err
		}
		for _, row := range kvs {
			name, err := childName(nodeKey, row.Key)
			if err != nil {
				c.fail("%s: %v", where, err)
				continue
			}
			path := join(parent.path, []string{name})
			p := row.Value
			if problem := l.prefixProblem(p); problem != "" {
				// The rule of the operations (checkPrefix). A prefix that is merely outside the
				// content subspace still has a node of its own, which is walked so that it is
				// not also reported as unreachable.
				c.fail("%s: directory %s %s", where, formatPath(join(l.path, path)), problem)
				if l.metadataProblem(p) != "" {
					continue
				}
			}
			if other, dup := byPrefix[string(p)]; dup {
				c.fail("%s: directories %s and %s share prefix %s", where,
					formatPath(join(l.path, other)), formatPath(join(l.path, path)), kv.Printable(p))
				continue // do not walk the same node twice
			}
			byPrefix[string(p)] = path
			layer, err := rtr.Get(layerKey(l.nodeKey(p))).Get()
			if err != nil {
				return err
			}
			if layer == nil {
				c.fail("%s: directory %s (prefix %s) has no layer key", where, formatPath(join(l.path, path)), kv.Printable(p))
			}
			d := checkedDir{path: path, prefix: p, layer: layer}
			dirs = append(dirs, d)
			queue = append(queue, d)
		}
	}

	// No prefix may contain another: after sorting, containment shows between neighbours.
	sorted := append([]checkedDir(nil), dirs...)
	sort.Slice(sorted, func(i, j int) bool { return bytes.Compare(sorted[i].prefix, sorted[j].prefix) < 0 })
	for i := 1; i < len(sorted); i++ {
		a, b := sorted[i-1], sorted[i]
		if bytes.HasPrefix(b.prefix, a.prefix) && !bytes.Equal(a.prefix, b.prefix) {
			c.fail("%s: prefix %s of %s contains prefix %s of %s", where, kv.Printable(a.prefix),
				formatPath(join(l.path, a.path)), kv.Printable(b.prefix), formatPath(join(l.path, b.path)))
		}
	}

	if err := c.orphans(rtr, l, where, byPrefix); err != nil {
		return err
	}
	if err := c.allocator(rtr, l, where, dirs); err != nil {
		return err
	}
	for _, d := range dirs {
		if isPartition(d.layer) {
			if err := c.layer(rtr, l.partition(d.prefix, d.path)); err != nil {
				return err
			}
		}
	}
	return nil
}

// orphans checks that every key of the node subspace belongs to the root node or to the node of
// a reachable directory.
func (c *checker) orphans(rtr kv.ReadTransaction, l *Layer, where string, byPrefix map[string][]string) error {
	r, err := kv.PrefixRange(l.nodePrefix)
	if err != nil {
		return nil // an empty or all-0xff node prefix cannot be scanned on its own
	}
	it := rtr.GetRange(r, kv.RangeOptions{Mode: kv.StreamingWantAll}).Iterator()
	reported := map[string]bool{}
	for it.Next() {
		key := it.KeyValue().Key
		t, err := tuple.Unpack(key[len(l.nodePrefix):])
		var p []byte
		if err == nil && len(t) > 0 {
			p, _ = t[0].([]byte)
		}
		if p == nil {
			c.fail("%s: key %s in the node subspace is not a node key", where, kv.Printable(key))
			continue
		}
		if bytes.Equal(p, l.nodePrefix) {
			continue
		}
		if _, ok := byPrefix[string(p)]; !ok && !reported[string(p)] {
			reported[string(p)] = true
			c.fail("%s: node of prefix %s is not reachable from the root (key %s)", where, kv.Printable(p), kv.Printable(key))
		}
	}
	return it.Err()
}

// allocator checks the allocator's state (spec §2 step 5).
func (c *checker) allocator(rtr kv.ReadTransaction, l *Layer, where string, dirs []checkedDir) error {
	a := l.hca
	kvs, err := rtr.GetRange(a.countersRange(), kv.RangeOptions{Limit: 1, Reverse: true}).GetSlice()
	if err != nil {
		return err
	}
	start, count := int64(0), int64(0)
	if len(kvs) == 1 {
		t, err := tuple.Unpack(kvs[0].Key[len(a.counters):])
		s, ok := int64(0), false
		if err == nil && len(t) == 1 {
			s, ok = t[0].(int64)
		}
		if !ok {
			c.fail("%s: allocator counter key %s does not hold a window start", where, kv.Printable(kvs[0].Key))
			return nil
		}
		start, count = s, decodeCount(kvs[0].Value)
		if len(kvs[0].Value) != 8 {
			c.fail("%s: allocator counter %d has a %d-byte value, want 8", where, start, len(kvs[0].Value))
		}
	}
	marks, err := rtr.GetRange(kv.Range{Begin: a.recentKey(start), End: concat(a.recent, []byte{0xff})},
		kv.RangeOptions{Mode: kv.StreamingWantAll}).GetSlice()
	if err != nil {
		return err
	}
	if int64(len(marks)) > count {
		c.fail("%s: allocator has %d marked candidates from window start %d but counted %d", where, len(marks), start, count)
	}
	marked := map[int64]bool{}
	for _, m := range marks {
		t, err := tuple.Unpack(m.Key[len(a.recent):])
		cand, ok := int64(0), false
		if err == nil && len(t) == 1 {
			cand, ok = t[0].(int64)
		}
		if !ok {
			c.fail("%s: allocator mark %s does not hold a candidate", where, kv.Printable(m.Key))
			continue
		}
		marked[cand] = true
	}
	if l.allowManual {
		return nil // a manual prefix may look like an allocated one
	}
	for _, d := range dirs {
		if !bytes.HasPrefix(d.prefix, l.contentPrefix) {
			continue // reported by the walk
		}
		t, err := tuple.Unpack(d.prefix[len(l.contentPrefix):])
		if err != nil || len(t) != 1 {
			c.fail("%s: directory %s has prefix %s, which the allocator cannot have chosen", where,
				formatPath(join(l.path, d.path)), kv.Printable(d.prefix))
			continue
		}
		cand, ok := t[0].(int64)
		if ok && cand >= start && !marked[cand] {
			c.fail("%s: directory %s was allocated candidate %d in the current window, but the allocator has not marked it",
				where, formatPath(join(l.path, d.path)), cand)
		}
	}
	return nil
}
