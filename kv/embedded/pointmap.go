package embedded

import (
	"bytes"
	"iter"
	"sort"

	"github.com/RaduBerinde/btreemap"
)

// smallPoints is how many keys a transaction writes before its write buffer moves from a sorted
// slice to a B-tree. Most transactions write a handful of keys, and for them a slice is cheaper
// to build and to search than a tree.
const smallPoints = 32

// pointMap is the ordered map from key to entry of a write buffer: a sorted slice while small,
// a B-tree once large. Keys are owned by the map and never change.
type pointMap struct {
	small []pointEntry
	tree  *btreemap.BTreeMap[[]byte, *entry]
	// buf holds the first keys, inside the transaction's own allocation.
	buf [4]pointEntry
}

type pointEntry struct {
	key []byte
	e   *entry
}

func (m *pointMap) Len() int {
	if m.tree != nil {
		return m.tree.Len()
	}
	return len(m.small)
}

// search returns the index of the first small entry >= key.
func (m *pointMap) search(key []byte) int {
	return sort.Search(len(m.small), func(i int) bool { return bytes.Compare(m.small[i].key, key) >= 0 })
}

func (m *pointMap) Get(key []byte) *entry {
	if m.tree != nil {
		_, e, _ := m.tree.Get(key)
		return e
	}
	if i := m.search(key); i < len(m.small) && bytes.Equal(m.small[i].key, key) {
		return m.small[i].e
	}
	return nil
}

// Insert adds a key that is not in the map.
func (m *pointMap) Insert(key []byte, e *entry) {
	if m.tree != nil {
		m.tree.ReplaceOrInsert(key, e)
		return
	}
	if len(m.small) == smallPoints {
		m.tree = btreemap.New[[]byte, *entry](16, bytes.Compare)
		for _, p := range m.small {
			m.tree.ReplaceOrInsert(p.key, p.e)
		}
		m.small = nil
		m.tree.ReplaceOrInsert(key, e)
		return
	}
	if m.small == nil {
		m.small = m.buf[:0]
	}
	i := m.search(key)
	m.small = append(m.small, pointEntry{})
	copy(m.small[i+1:], m.small[i:])
	m.small[i] = pointEntry{key, e}
}

// DeleteRange removes the keys in [lo, hi) and calls fn with each.
func (m *pointMap) DeleteRange(lo, hi []byte, fn func(key []byte, e *entry)) {
	if m.tree != nil {
		var keys [][]byte
		for k, e := range m.tree.Ascend(btreemap.GE(lo), btreemap.LT(hi)) {
			keys = append(keys, k)
			fn(k, e)
		}
		for _, k := range keys {
			m.tree.Delete(k)
		}
		return
	}
	i, j := m.search(lo), m.search(hi)
	for _, p := range m.small[i:j] {
		fn(p.key, p.e)
	}
	m.small = append(m.small[:i], m.small[j:]...)
}

// Ascend yields the entries in [lo, hi) in key order; a nil hi means no upper bound.
func (m *pointMap) Ascend(lo, hi []byte) iter.Seq2[[]byte, *entry] {
	return func(yield func([]byte, *entry) bool) {
		if m.tree != nil {
			upper := btreemap.Max[[]byte]()
			if hi != nil {
				upper = btreemap.LT(hi)
			}
			for k, e := range m.tree.Ascend(btreemap.GE(lo), upper) {
				if !yield(k, e) {
					return
				}
			}
			return
		}
		for i := m.search(lo); i < len(m.small); i++ {
			p := m.small[i]
			if hi != nil && bytes.Compare(p.key, hi) >= 0 {
				return
			}
			if !yield(p.key, p.e) {
				return
			}
		}
	}
}

// Descend yields the entries in [lo, hi) in reverse key order.
func (m *pointMap) Descend(hi, lo []byte) iter.Seq2[[]byte, *entry] {
	return func(yield func([]byte, *entry) bool) {
		if m.tree != nil {
			for k, e := range m.tree.Descend(btreemap.LT(hi), btreemap.GE(lo)) {
				if !yield(k, e) {
					return
				}
			}
			return
		}
		for i := m.search(hi) - 1; i >= 0; i-- {
			p := m.small[i]
			if bytes.Compare(p.key, lo) < 0 {
				return
			}
			if !yield(p.key, p.e) {
				return
			}
		}
	}
}
