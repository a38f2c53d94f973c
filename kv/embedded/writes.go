package embedded

import (
	"bytes"
	"sort"

	"github.com/layerkit/layerkit/kv"
)

// op is an atomic mutation waiting for commit.
type op struct {
	typ   kv.MutationType
	param []byte
}

// entry is what a transaction wrote to one key. When known is true the key's value before ops
// is decided by the transaction itself (a set, a clear, or a range clear over it); otherwise ops
// apply to the value the key has when they are evaluated: the snapshot for reads, the latest
// committed state at commit.
type entry struct {
	known   bool
	present bool
	value   []byte
	ops     []op
	// conflict is set when some write to the key asked for a write conflict range.
	conflict bool
}

// unreadable reports whether the entry's value depends on the commit's versionstamp.
func (e *entry) unreadable() bool {
	for _, o := range e.ops {
		if o.typ == kv.SetVersionstampedValue {
			return true
		}
	}
	return false
}

// resolve evaluates the entry on top of a base value.
func (e *entry) resolve(base []byte, basePresent bool) ([]byte, bool) {
	v, present := base, basePresent
	if e.known {
		v, present = e.value, e.present
	}
	for _, o := range e.ops {
		nv, np, err := kv.ApplyAtomic(o.typ, v, present, o.param)
		if err != nil {
			// Only versionstamp types fail here and those are never resolved for reads.
			continue
		}
		v, present = nv, np
	}
	return v, present
}

// vsKey is a SET_VERSIONSTAMPED_KEY waiting for its commit version.
type vsKey struct {
	key    []byte // with the 4-byte offset suffix removed
	offset int
	value  []byte
	// clears is how many range clears the transaction had issued before this write, so that
	// a later clear over the final key still wins, as mutation order says.
	clears   int
	conflict bool
}

// writeBuffer holds a transaction's writes in key order.
type writeBuffer struct {
	points pointMap
	// clears are the cleared ranges, sorted, disjoint and not adjacent.
	clears []kv.Range
	// clearLog is every range clear in issue order (for versionstamped keys).
	clearLog []kv.Range
	// unreadable are the ranges a versionstamped key may land in; reading them fails with 1036.
	unreadable []kv.Range
	vsKeys     []vsKey
	// needsRead is set when an entry has ops over an unknown base.
	needsRead bool
	// mem holds the copies of written keys, values and params, and slab the entries, so that a
	// write allocates a few chunks per transaction instead of three objects. Both start afresh
	// on reset (never reused), since committed keys may live on in the resolver.
	mem  arena
	slab []entry
}

func (w *writeBuffer) reset() {
	// Committed keys may live on in the resolver, so the map is replaced, not cleared.
	w.points = pointMap{}
	w.clears = w.clears[:0]
	w.clearLog = w.clearLog[:0]
	w.unreadable = w.unreadable[:0]
	w.vsKeys = w.vsKeys[:0]
	w.needsRead = false
	w.mem, w.slab = arena{}, nil
}

// newEntry returns a zero entry from the slab.
func (w *writeBuffer) newEntry() *entry {
	if len(w.slab) == cap(w.slab) {
		// Slabs double from 1 to 256 entries, so a transaction of one write allocates what it
		// did without a slab, and a large one allocates little more than a slab per 256 writes.
		w.slab = make([]entry, 0, min(max(2*cap(w.slab), 1), 256))
	}
	w.slab = w.slab[:len(w.slab)+1]
	return &w.slab[len(w.slab)-1]
}

func (w *writeBuffer) empty() bool {
	return w.points.Len() == 0 && len(w.clears) == 0 && len(w.vsKeys) == 0
}

func (w *writeBuffer) get(key []byte) *entry {
	return w.points.Get(key)
}

// put returns the entry for key, creating it (owning a copy of key) when absent.
func (w *writeBuffer) put(key []byte) *entry {
	if e := w.points.Get(key); e != nil {
		return e
	}
	e := w.newEntry()
	if w.cleared(key) {
		e.known = true
	}
	w.points.Insert(w.mem.copy(key), e)
	return e
}

// cleared reports whether key lies in a cleared range.
func (w *writeBuffer) cleared(key []byte) bool {
	return findRange(w.clears, key) >= 0
}

// findRange returns the index of the range of the sorted disjoint list rs containing key, or -1.
func findRange(rs []kv.Range, key []byte) int {
	i := sort.Search(len(rs), func(i int) bool { return bytes.Compare(rs[i].End, key) > 0 })
	if i < len(rs) && bytes.Compare(rs[i].Begin, key) <= 0 {
		return i
	}
	return -1
}

func (w *writeBuffer) set(key, value []byte, conflict bool) {
	e := w.put(key)
	// The arena's copy is never nil, so a set of an empty value stays present.
	e.known, e.present, e.value, e.ops = true, true, w.mem.copy(value), nil
	e.conflict = e.conflict || conflict
}

func (w *writeBuffer) clear(key []byte, conflict bool) {
	e := w.put(key)
	e.known, e.present, e.value, e.ops = true, false, nil, nil
	e.conflict = e.conflict || conflict
}

func (w *writeBuffer) atomic(typ kv.MutationType, key, param []byte, conflict bool) {
	e := w.put(key)
	e.conflict = e.conflict || conflict
	p := w.mem.copy(param) // never nil
	if typ == kv.SetVersionstampedValue {
		e.known, e.present, e.value = true, true, nil
		e.ops = []op{{typ, p}}
		return
	}
	if e.known && len(e.ops) == 0 {
		v, present, err := kv.ApplyAtomic(typ, e.value, e.present, p)
		if err == nil {
			e.value, e.present = v, present
			return
		}
	}
	if !e.known {
		w.needsRead = true
	}
	e.ops = append(e.ops, op{typ, p})
}

// clearRange clears [b, e). Entries inside are dropped; their conflict ranges are returned when
// they had one, so the caller can keep them if the range clear itself adds none.
func (w *writeBuffer) clearRange(r kv.Range) (dropped [][]byte) {
	w.points.DeleteRange(r.Begin, r.End, func(k []byte, e *entry) {
		if e.conflict {
			dropped = append(dropped, k)
		}
	})
	r = kv.Range{Begin: bytes.Clone(r.Begin), End: bytes.Clone(r.End)}
	w.clearLog = append(w.clearLog, r)
	// Merge into the sorted disjoint list.
	i := sort.Search(len(w.clears), func(i int) bool { return bytes.Compare(w.clears[i].End, r.Begin) >= 0 })
	j := i
	for j < len(w.clears) && bytes.Compare(w.clears[j].Begin, r.End) <= 0 {
		if bytes.Compare(w.clears[j].Begin, r.Begin) < 0 {
			r.Begin = w.clears[j].Begin
		}
		if bytes.Compare(w.clears[j].End, r.End) > 0 {
			r.End = w.clears[j].End
		}
		j++
	}
	if i == j {
		w.clears = append(w.clears, kv.Range{})
		copy(w.clears[i+1:], w.clears[i:])
		w.clears[i] = r
	} else {
		w.clears[i] = r
		w.clears = append(w.clears[:i+1], w.clears[j:]...)
	}
	return dropped
}

// unreadableAt reports whether key may be overwritten by a versionstamped key.
func (w *writeBuffer) unreadableAt(key []byte) bool {
	for _, r := range w.unreadable {
		if r.Contains(key) {
			return true
		}
	}
	return false
}

// unreadableIn reports whether [b, e) meets a range a versionstamped key may land in.
func (w *writeBuffer) unreadableIn(b, e []byte) bool {
	for _, r := range w.unreadable {
		if bytes.Compare(r.Begin, e) < 0 && bytes.Compare(b, r.End) < 0 {
			return true
		}
	}
	return false
}
