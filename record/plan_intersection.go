package record

import (
	"strings"
)

// intersectionNode yields the records that every child yields (the Java Record Layer's
// RecordQueryIntersectionPlan). The children are scans in merge-key order, usually equality
// scans of different indexes, so the intersection reads index entries only and fetches just
// the records that match them all.
type intersectionNode struct{ mergeNode }

func (n *intersectionNode) describe(b *strings.Builder) { n.describeMerge(b, "Intersection", "∩") }

func (n *intersectionNode) fetched() bool {
	for _, k := range n.kids {
		if k.fetched() {
			return true // the item of an intersection comes from the kid that carries a record
		}
	}
	return false
}

func (n *intersectionNode) open(c *Cursor, state any) (source, error) {
	return n.openKids(c, state, true)
}

// nextIntersection advances the kids that are behind the furthest head until every head has
// the same key, which it yields. It stops at the first exhausted kid. Passing over entries
// counts towards the page's limits; when one is reached it returns a pause.
func (m *mergeSource) nextIntersection(c *Cursor) (item, bool, error) {
	for {
		for i := range m.kids {
			k := &m.kids[i]
			if k.hasHead {
				continue
			}
			if !k.done {
				p, err := m.pull(c, k)
				if err != nil {
					return item{}, false, err
				}
				if p != nil {
					return *p, true, nil
				}
			}
			if k.done {
				return item{}, false, nil
			}
		}
		far := 0
		for i := range m.kids {
			if k, f := &m.kids[i], &m.kids[far]; m.key.cmp(k.key, k.packed, f.key, f.packed) > 0 {
				far = i
			}
		}
		key, packed, behind := m.kids[far].key, m.kids[far].packed, false
		for i := range m.kids {
			if k := &m.kids[i]; m.key.cmp(k.key, k.packed, key, packed) < 0 {
				m.take(k)
				behind = true
			}
		}
		if !behind {
			return m.yield(key, packed), true, nil
		}
		if r, hit := c.limitHit(c.scanned+m.scanned, c.bytes+m.bytes); hit {
			return m.pauseItem(r), true, nil
		}
	}
}
