package embedded

import (
	"bytes"
	"sort"

	"github.com/cockroachdb/pebble/v2"
)

// maxPooledIters is how many idle iterators a view keeps for later reads.
const maxPooledIters = 4

// viewIter is a Pebble iterator over a view whose reverse positioning (Last, SeekLT, Prev) reads
// hot keys as hotkeys.go describes. Its other methods are Pebble's. Close gives it back to the
// view, which reuses it (and its Pebble iterator) for a later read with new bounds: a Pebble
// iterator reads the view's version whatever its bounds, and making one costs more than most
// short reads.
type viewIter struct {
	v     *view
	it    *pebble.Iterator
	reg   *hotKeys
	upper []byte
	// hot are the registry's keys within the iterator's bounds when it was made, and those it
	// learned since.
	hot []hotKey
}

// newIter returns an iterator over the view within o's bounds. The caller holds v.mu shared and
// closes the iterator before it lets go.
func (v *view) newIter(o *pebble.IterOptions) (*viewIter, error) {
	var h *viewIter
	v.poolMu.Lock()
	if n := len(v.pool); n > 0 {
		h = v.pool[n-1]
		v.pool = v.pool[:n-1]
	}
	v.poolMu.Unlock()
	if h != nil {
		h.it.SetBounds(o.LowerBound, o.UpperBound)
	} else {
		var it *pebble.Iterator
		var err error
		if v.snap != nil {
			it, err = v.snap.NewIter(o)
		} else {
			it, err = v.db.NewIter(o)
		}
		if err != nil {
			return nil, err
		}
		h = &viewIter{v: v, it: it, reg: v.hot}
	}
	h.upper, h.hot = o.UpperBound, v.hot.within(o.LowerBound, o.UpperBound)
	return h, nil
}

// Close gives the iterator back to the view, or closes it.
func (h *viewIter) Close() error {
	v := h.v
	if err := h.it.Error(); err == nil && !v.closed {
		h.upper, h.hot = nil, nil
		v.poolMu.Lock()
		pooled := len(v.pool) < maxPooledIters
		if pooled {
			v.pool = append(v.pool, h)
		}
		v.poolMu.Unlock()
		if pooled {
			return nil
		}
	}
	return h.it.Close()
}

// closeIters closes the view's idle iterators; the caller holds v.mu.
func (v *view) closeIters() {
	v.poolMu.Lock()
	pool := v.pool
	v.pool = nil
	v.poolMu.Unlock()
	for _, h := range pool {
		h.it.Close()
	}
}

func (h *viewIter) First() bool          { return h.it.First() }
func (h *viewIter) Next() bool           { return h.it.Next() }
func (h *viewIter) SeekGE(k []byte) bool { return h.it.SeekGE(k) }
func (h *viewIter) Key() []byte          { return h.it.Key() }
func (h *viewIter) Value() []byte        { return h.it.Value() }
func (h *viewIter) Error() error         { return h.it.Error() }

// Last moves to the last key within the bounds.
func (h *viewIter) Last() bool {
	if h.upper == nil {
		return h.learn(h.steps(), h.it.Last())
	}
	return h.SeekLT(h.upper)
}

// SeekLT moves to the last key before k.
func (h *viewIter) SeekLT(k []byte) bool {
	i := h.below(k)
	if i < 0 {
		return h.learn(h.steps(), h.it.SeekLT(k))
	}
	before := h.steps()
	return h.settle(before, h.it.SeekLTWithLimit(k, h.hot[i].after), i)
}

// Prev moves to the key before the current one.
func (h *viewIter) Prev() bool {
	i := -1
	if len(h.hot) > 0 {
		i = h.below(h.it.Key())
	}
	if i < 0 {
		return h.learn(h.steps(), h.it.Prev())
	}
	before := h.steps()
	return h.settle(before, h.it.PrevWithLimit(h.hot[i].after), i)
}

// settle finishes a reverse step limited at hot key i: a key above the hot key was found, or
// the range is exhausted, or nothing is visible between the hot key and where the step started,
// and then the answer is the hot key itself, read forwards, or a key below it.
func (h *viewIter) settle(before int, state pebble.IterValidityState, i int) bool {
	switch state {
	case pebble.IterValid:
		return h.learn(before, true)
	case pebble.IterExhausted:
		return false
	}
	k := h.hot[i].key
	if len(k) == 0 {
		// The empty key: nothing lies below it, and Pebble's invariant checks reject a seek to
		// it (First is the same seek).
		return h.it.First() && len(h.it.Key()) == 0
	}
	if h.it.SeekGE(k) && bytes.Equal(h.it.Key(), k) {
		return true
	}
	if h.it.Error() != nil {
		return false
	}
	return h.SeekLT(k)
}

// below returns the index of the last hot key before k, or -1.
func (h *viewIter) below(k []byte) int {
	return sort.Search(len(h.hot), func(i int) bool { return bytes.Compare(h.hot[i].key, k) >= 0 }) - 1
}

// steps counts the internal steps of reverse positioning so far, including those over versions
// that a range deletion hides.
func (h *viewIter) steps() int {
	s := h.it.Stats()
	return s.ReverseStepCount[pebble.InternalIterCall] + int(s.InternalStats.PointsCoveredByRangeTombstones)
}

// learn records the key a reverse positioning landed on as hot when reaching it took more than
// hotSteps steps, and passes valid through.
func (h *viewIter) learn(before int, valid bool) bool {
	if valid && h.steps()-before > hotSteps {
		h.hot = insertHot(h.hot, h.reg.add(h.it.Key()))
	}
	return valid
}
