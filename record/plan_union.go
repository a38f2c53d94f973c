package record

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/layerkit/layerkit/tuple"
)

// unionNode yields the records of all its children, each record once, merged in the order of a
// merge key: the primary key, or the query's sort then the primary key (the Java Record Layer's
// RecordQueryUnionPlan with its comparison key). Every child yields its records in that order;
// the planner makes one child per branch of an OR.
type unionNode struct{ mergeNode }

// mergeNode holds the children of a union or an intersection and the key that merges them
// (the Java Record Layer's RecordQueryUnionPlanBase).
type mergeNode struct {
	kids []planNode
	key  mergeKey
}

// describeMerge prints name[key](kid op kid …).
func (n *mergeNode) describeMerge(b *strings.Builder, name, op string) {
	b.WriteString(name + "[" + n.key.String() + "](")
	for i, k := range n.kids {
		if i > 0 {
			b.WriteString(" " + op + " ")
		}
		k.describe(b)
	}
	b.WriteString(")")
}

func (n *mergeNode) scans(dst []*scanNode) []*scanNode {
	for _, k := range n.kids {
		dst = k.scans(dst)
	}
	return dst
}

func (n *mergeNode) openKids(c *Cursor, state any, intersect bool) (source, error) {
	return openMerge(c, len(n.kids), func(i int, st any) (source, error) { return n.kids[i].open(c, st) }, state, &n.key, intersect)
}

func (n *unionNode) describe(b *strings.Builder) { n.describeMerge(b, "Union", "∪") }

func (n *unionNode) fetched() bool {
	for _, k := range n.kids {
		if !k.fetched() {
			return false
		}
	}
	return true
}

func (n *unionNode) open(c *Cursor, state any) (source, error) { return n.openKids(c, state, false) }

// mergeKey is the order in which a union or an intersection meets its children's records: by
// the sort columns (if any), then by primary key, ascending or descending.
type mergeKey struct {
	sort    []KeyExpression
	reverse bool
}

// String names the key in Explain: "pk", "(year, pk)", "pk desc".
func (k *mergeKey) String() string {
	s := "pk"
	if len(k.sort) > 0 {
		parts := make([]string, 0, len(k.sort)+1)
		for _, c := range k.sort {
			parts = append(parts, c.String())
		}
		s = "(" + strings.Join(append(parts, "pk"), ", ") + ")"
	}
	if k.reverse {
		s += " desc"
	}
	return s
}

// cmp compares two merge keys: a and b, or when both are known ap and bp, the same keys packed,
// whose bytes order as the tuples do (tuple.Compare) at a fraction of the cost.
func (k *mergeKey) cmp(a tuple.Tuple, ap []byte, b tuple.Tuple, bp []byte) int {
	var r int
	if ap != nil && bp != nil {
		r = bytes.Compare(ap, bp)
	} else {
		r = tuple.Compare(a, b)
	}
	if k.reverse {
		return -r
	}
	return r
}

// sortCache is where the sort columns are in the entries of the last index a merge child read,
// so that finding them costs nothing per item.
type sortCache struct {
	ix  *Index
	pos []int
}

// of computes the merge key of an item, and the key packed when it is the primary key and the
// item holds it packed: from its index entry when the index holds every sort column, else from
// its record.
func (k *mergeKey) of(it *item, cache *sortCache) (tuple.Tuple, []byte, error) {
	if len(k.sort) == 0 {
		return it.pk, it.pkKey, nil
	}
	out := make(tuple.Tuple, 0, len(k.sort)+len(it.pk))
	if ix := it.entry.Index; ix != nil {
		if cache.ix != ix {
			cache.ix, cache.pos = ix, sortPositions(ix, k.sort)
		}
		if pos := cache.pos; pos != nil {
			for _, p := range pos {
				out = append(out, it.entry.Values[p])
			}
			return append(out, it.pk...), nil, nil
		}
	}
	if it.rec == nil {
		return nil, nil, fmt.Errorf("record: merge by %s needs the record of %v, which was not fetched", k, it.pk)
	}
	var err error
	m := it.rec.Message.ProtoReflect()
	for _, col := range k.sort {
		if out, err = appendSingle(out, col, m, it.rec.Type); err != nil {
			return nil, nil, err
		}
	}
	return append(out, it.pk...), nil, nil
}

// sortPositions returns where each sort column is among the index's columns, or nil when one
// is missing.
func sortPositions(ix *Index, sort []KeyExpression) []int {
	pos := make([]int, len(sort))
	for i, s := range sort {
		pos[i] = -1
		for j, c := range ix.columns {
			if c.String() == s.String() && !c.fansOut() {
				pos[i] = j
				break
			}
		}
		if pos[i] < 0 {
			return nil
		}
	}
	return pos
}

// mergeSource merges sources that each yield items in merge-key order: a union (each key once)
// or an intersection (the keys every source yields).
//
// Its position is a tuple: the merge key of the last item it yielded, then each source's
// position after the last item taken from it. On resume each source restarts at its position
// and items at or before the last key are passed over, so a record inserted behind the
// cursor into a source that had not reached it is not returned out of order.
type mergeSource struct {
	kids      []mergeKid
	key       *mergeKey
	intersect bool
	last      tuple.Tuple
	lastKey   []byte // last packed, when known
	// What was read and passed over since the last item yielded.
	scanned, bytes int
	// snaps is room for the positions of later items, cut off one at a time.
	snaps []any
}

type mergeKid struct {
	src     source
	head    item
	key     tuple.Tuple
	packed  []byte // key packed, when known
	hasHead bool
	done    bool
	state   any
	sort    sortCache
}

func openMerge(c *Cursor, n int, open func(i int, state any) (source, error), state any, key *mergeKey, intersect bool) (*mergeSource, error) {
	m := &mergeSource{kids: make([]mergeKid, n), key: key, intersect: intersect}
	var states tuple.Tuple
	switch st := state.(type) {
	case nil:
	case tuple.Tuple:
		if len(st) != n+1 {
			return nil, fmt.Errorf("record: continuation holds %d merge positions, want %d: %w", len(st)-1, n, ErrInvalidContinuation)
		}
		switch last := st[0].(type) {
		case nil:
		case tuple.Tuple:
			m.last = last
		default:
			return nil, badState("the last key of a merge", st[0])
		}
		states = st[1:]
	default:
		return nil, badState("a merge", state)
	}
	for i := range m.kids {
		var st any
		if states != nil {
			st = states[i]
		}
		src, err := open(i, st)
		if err != nil {
			return nil, err
		}
		m.kids[i] = mergeKid{src: src, state: st}
	}
	return m, nil
}

// snapshot returns the merge's position: the last key, then each child's position. Positions
// are cut from a shared block, as one is taken for every item.
func (m *mergeSource) snapshot() tuple.Tuple {
	n := len(m.kids) + 1
	if len(m.snaps) < n {
		m.snaps = make([]any, 32*n)
	}
	t := tuple.Tuple(m.snaps[:n:n])
	m.snaps = m.snaps[n:]
	if m.last != nil {
		t[0] = m.last
	}
	for i := range m.kids {
		t[i+1] = m.kids[i].state
	}
	return t
}

// take records that the head of k was consumed.
func (m *mergeSource) take(k *mergeKid) {
	k.state = k.head.position()
	m.scanned += k.head.scanned
	m.bytes += k.head.bytes
	k.head, k.key, k.packed, k.hasHead = item{}, nil, nil, false
}

// pull reads the next head of k, passing over items at or before the last key yielded. It
// returns a pause item when k paused.
func (m *mergeSource) pull(c *Cursor, k *mergeKid) (*item, error) {
	for {
		it, ok, err := k.src.next(c)
		if err != nil {
			return nil, err
		}
		if !ok {
			k.done = true
			return nil, nil
		}
		if it.pause {
			k.state = it.position()
			m.scanned += it.scanned
			m.bytes += it.bytes
			p := m.pauseItem(it.stop)
			return &p, nil
		}
		key, packed, err := m.key.of(&it, &k.sort)
		if err != nil {
			return nil, err
		}
		k.head, k.key, k.packed, k.hasHead = it, key, packed, true
		if m.last != nil && m.key.cmp(key, packed, m.last, m.lastKey) <= 0 {
			m.take(k)
			continue
		}
		return nil, nil
	}
}

func (m *mergeSource) pauseItem(r StopReason) item {
	p := item{state: m.snapshot(), scanned: m.scanned, bytes: m.bytes, pause: true, stop: r}
	m.scanned, m.bytes = 0, 0
	return p
}

// yield consumes the heads of every kid at key (packed: key packed, when known) and returns the
// item, preferring a head that carries its record.
func (m *mergeSource) yield(key tuple.Tuple, packed []byte) item {
	var out item
	found := false
	for i := range m.kids {
		k := &m.kids[i]
		if !k.hasHead || m.key.cmp(k.key, k.packed, key, packed) != 0 {
			continue
		}
		if !found || (out.rec == nil && k.head.rec != nil) {
			out, found = k.head, true
		}
		m.take(k)
	}
	m.last, m.lastKey = key, packed
	out.pos, out.state = nil, m.snapshot()
	out.scanned, out.bytes = m.scanned, m.bytes
	m.scanned, m.bytes = 0, 0
	return out
}

func (m *mergeSource) next(c *Cursor) (item, bool, error) {
	if m.intersect {
		return m.nextIntersection(c)
	}
	for i := range m.kids {
		k := &m.kids[i]
		if k.done || k.hasHead {
			continue
		}
		p, err := m.pull(c, k)
		if err != nil {
			return item{}, false, err
		}
		if p != nil {
			return *p, true, nil
		}
	}
	best := -1
	for i := range m.kids {
		if k := &m.kids[i]; k.hasHead && (best < 0 || m.key.cmp(k.key, k.packed, m.kids[best].key, m.kids[best].packed) < 0) {
			best = i
		}
	}
	if best < 0 {
		return item{}, false, nil
	}
	b := &m.kids[best]
	return m.yield(b.key, b.packed), true, nil
}
