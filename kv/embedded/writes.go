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
	// unreadable is set when the key's value is not known before commit: it was written with a
	// versionstamped value, or written inside the range a versionstamped key may land in. As in
	// FoundationDB's write map, later writes keep it unreadable; only a clear makes it readable.
	unreadable bool
	// cleared is set when the key's state comes from a clear (not from an atomic mutation that
	// cleared it), which FoundationDB sends as part of a range clear.
	cleared bool
	// shadow counts the bytes of mutations FoundationDB still sends for this key that this entry
	// folded away: on an unreadable key FoundationDB stacks later writes instead of combining
	// them. Only the transaction size uses it.
	shadow int
}

// independent reports whether the entry's value is decided without the stored value, so that a
// read of it needs neither the database nor a read conflict range.
func (e *entry) independent() bool { return e.known }

// mutationBytes is what FoundationDB counts towards the transaction size for the mutations of
// this entry at key (each mutation: its fixed overhead, key and parameter).
func (e *entry) mutationBytes(key []byte) int {
	n := e.shadow
	switch {
	case !e.known:
	case len(e.ops) > 0:
		// A versionstamped value (the value field is then unused).
	case e.present:
		n += mutationOverhead + len(key) + len(e.value)
	case !e.cleared:
		// Cleared by an atomic mutation: sent as a clear of the key alone.
		n += mutationOverhead + 2*len(key) + 1
	}
	for _, o := range e.ops {
		n += mutationOverhead + len(key) + len(o.param)
	}
	return n
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
	// placeholder is the key as written, suffix included, with the stamp of the read version
	// (or zeros) at the offset: where FoundationDB's write map holds the mutation until commit.
	placeholder []byte
	// dropped is set by a later clear over the placeholder, which removes the mutation from the
	// write map; flushed is set when a later versionstamped key's range covered the placeholder,
	// which sends the mutation at once so that no later clear can remove it.
	dropped, flushed bool
}

// writeBuffer holds a transaction's writes in key order.
type writeBuffer struct {
	points pointMap
	// clears are the cleared ranges, sorted, disjoint and not adjacent.
	clears []kv.Range
	// unreadable are the parts, not cleared since, of the ranges versionstamped keys may land in;
	// reading them fails with 1036.
	unreadable []kv.Range
	vsKeys     []vsKey
	// needsRead is set when an entry has ops over an unknown base.
	needsRead bool
	// mem holds the copies of written keys, values and params, and slab the entries, so that a
	// write allocates a few chunks per transaction instead of three objects. mem starts afresh on
	// reset (never reused), since committed keys may live on in the resolver. The first entry is
	// one, inside the transaction's own allocation: most transactions write a key or two.
	mem  arena
	slab []entry
	one  [1]entry
}

func (w *writeBuffer) reset() {
	// Committed keys may live on in the resolver, so the map is replaced, not cleared.
	w.points = pointMap{}
	w.clears = w.clears[:0]
	w.unreadable = w.unreadable[:0]
	w.vsKeys = w.vsKeys[:0]
	w.needsRead = false
	w.mem, w.slab = arena{}, nil
	w.one = [1]entry{}
}

// newEntry returns a zero entry from the slab.
func (w *writeBuffer) newEntry() *entry {
	if len(w.slab) == cap(w.slab) {
		// Slabs double from 2 to 256 entries after the first, so a large transaction allocates
		// little more than a slab per 256 writes.
		if w.slab == nil {
			w.slab = w.one[:0]
		} else {
			w.slab = make([]entry, 0, min(2*cap(w.slab), 256))
		}
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

// put returns the entry for key, creating it (owning a copy of key) when absent, and a copy of
// data (a value or a parameter), made with the key's in one step. split reports whether a new
// entry lands inside a cleared range, where FoundationDB then sends the range clear as two.
func (w *writeBuffer) put(key, data []byte) (e *entry, dataCopy []byte, split bool) {
	if e := w.points.Get(key); e != nil {
		return e, w.mem.copy(data), false
	}
	key, dataCopy = w.mem.copy2(key, data)
	e = w.newEntry()
	if w.cleared(key) {
		e.known, e.cleared, split = true, true, true
	}
	if len(w.unreadable) > 0 && findAny(w.unreadable, key) {
		e.unreadable = true
	}
	w.points.Insert(key, e)
	return e, dataCopy, split
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

// findAny reports whether any range of the unsorted list rs contains key.
func findAny(rs []kv.Range, key []byte) bool {
	for _, r := range rs {
		if r.Contains(key) {
			return true
		}
	}
	return false
}

// set records a Set and reports whether it split a cleared range (see put).
func (w *writeBuffer) set(key, value []byte, conflict bool) bool {
	e, value, split := w.put(key, value)
	if e.unreadable {
		e.shadow = e.mutationBytes(key)
	}
	// The arena's copy is never nil, so a set of an empty value stays present.
	e.known, e.present, e.value, e.ops, e.cleared = true, true, value, nil, false
	e.conflict = e.conflict || conflict
	return split
}

// clear records a Clear of one key.
func (w *writeBuffer) clear(key []byte, conflict bool) {
	e, _, _ := w.put(key, nil)
	e.known, e.present, e.value, e.ops, e.cleared = true, false, nil, nil, true
	e.unreadable, e.shadow = false, 0
	e.conflict = e.conflict || conflict
	if len(w.unreadable) > 0 || len(w.vsKeys) > 0 {
		w.clearedSpan(key, kv.KeyAfter(key))
	}
}

// atomic records an atomic mutation, combining it with the key's earlier writes as
// FoundationDB's write map does (WriteMap::coalesceOver): onto a known value it is evaluated at
// once; onto an unknown value, consecutive mutations of one type are combined into one (so two
// APPEND_IF_FITS become one whose parameter is both, appended only if both fit), except
// COMPARE_AND_CLEAR and, for parameters of different lengths, the types that are not
// associative. It reports whether the write split a cleared range (see put).
func (w *writeBuffer) atomic(typ kv.MutationType, key, param []byte, conflict bool) bool {
	e, p, split := w.put(key, param) // p is never nil
	e.conflict = e.conflict || conflict
	if typ == kv.SetVersionstampedValue {
		if e.unreadable {
			e.shadow = e.mutationBytes(key)
		}
		e.known, e.present, e.value, e.cleared = true, true, nil, false
		e.ops = []op{{typ, p}}
		e.unreadable = true
		return split
	}
	if e.known && len(e.ops) == 0 {
		v, present, err := kv.ApplyAtomic(typ, e.value, e.present, p)
		if err == nil {
			if e.unreadable {
				e.shadow = e.mutationBytes(key)
			}
			e.value, e.present, e.cleared = v, present, false
			return split
		}
	}
	if !e.known {
		w.needsRead = true
	}
	if n := len(e.ops); n > 0 && !e.unreadable {
		last := &e.ops[n-1]
		if last.typ == typ && typ != kv.CompareAndClear && (!nonAssociative(typ) || len(last.param) == len(p)) {
			if combined, _, err := kv.ApplyAtomic(typ, last.param, true, p); err == nil {
				last.param = combined
				return split
			}
		}
	}
	e.ops = append(e.ops, op{typ, p})
	return split
}

// nonAssociative reports the mutation types FoundationDB combines only when the parameters have
// the same length (MutationRef::NON_ASSOCIATIVE_MASK).
func nonAssociative(typ kv.MutationType) bool {
	switch typ {
	case kv.Add, kv.BitOr, kv.BitXor, kv.Max, kv.Min, kv.SetVersionstampedKey, kv.SetVersionstampedValue, kv.CompareAndClear:
		return true
	}
	return false
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
	w.clearedSpan(r.Begin, r.End)
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

// clearedSpan updates the versionstamp state for a clear of [b, e): the cleared part of an
// unreadable range becomes readable (it now reads as empty), and a versionstamped key whose
// placeholder lies inside is removed, unless it was already sent.
func (w *writeBuffer) clearedSpan(b, e []byte) {
	if len(w.unreadable) > 0 {
		w.unreadable = subtractRange(w.unreadable, b, e)
	}
	for i := range w.vsKeys {
		vk := &w.vsKeys[i]
		if !vk.flushed && bytes.Compare(b, vk.placeholder) <= 0 && bytes.Compare(vk.placeholder, e) < 0 {
			vk.dropped = true
		}
	}
}

// subtractRange removes [b, e) from every range of rs.
func subtractRange(rs []kv.Range, b, e []byte) []kv.Range {
	out := rs[:0:0]
	for _, r := range rs {
		if bytes.Compare(r.End, b) <= 0 || bytes.Compare(e, r.Begin) <= 0 {
			out = append(out, r)
			continue
		}
		if bytes.Compare(r.Begin, b) < 0 {
			out = append(out, kv.Range{Begin: r.Begin, End: b})
		}
		if bytes.Compare(e, r.End) < 0 {
			out = append(out, kv.Range{Begin: e, End: r.End})
		}
	}
	return out
}

// addUnreadable records the range a versionstamped key written now may land in. As in
// FoundationDB, what the transaction wrote there earlier becomes unreadable too, and an earlier
// versionstamped key whose placeholder lies there is sent at once (flushed).
func (w *writeBuffer) addUnreadable(r kv.Range) {
	w.unreadable = append(w.unreadable, r)
	for _, e := range w.points.Ascend(r.Begin, r.End) {
		e.unreadable = true
	}
	for i := range w.vsKeys {
		if vk := &w.vsKeys[i]; r.Contains(vk.placeholder) {
			vk.flushed = true
		}
	}
}

// unreadableAt reports whether key, which has no entry, may be overwritten by a versionstamped
// key.
func (w *writeBuffer) unreadableAt(key []byte) bool {
	return len(w.unreadable) > 0 && findAny(w.unreadable, key)
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

// decided reports whether the transaction's own writes decide every key of [b, e): a read there
// needs no storage (FoundationDB answers it from the write map).
func (w *writeBuffer) decided(b, e []byte) bool {
	pos := b
	for bytes.Compare(pos, e) < 0 {
		if i := findRange(w.clears, pos); i >= 0 {
			pos = w.clears[i].End
			continue
		}
		if ent := w.points.Get(pos); ent != nil && ent.independent() {
			pos = kv.KeyAfter(pos)
			continue
		}
		return false
	}
	return true
}

// arena hands out copies of the keys, values and parameters a transaction writes from shared
// chunks, so that a transaction of many writes allocates a few chunks instead of two slices per
// write. Each copy is capped, so appending to one never writes into its neighbour.
type arena struct {
	buf []byte
	// missed counts the bytes of copies that did not fit the current chunk. Chunks grow to it,
	// so an arena whose copies are too big for its small first chunks soon takes them.
	missed int
}

// room makes room for n more bytes in the current chunk, or reports false when the copy should
// be allocated alone. Chunks double from 64 bytes to 256 KB, so a large transaction makes few
// allocations and a small one wastes little; a copy over a quarter of the next chunk is
// allocated alone, so a small arena costs no more than the copies it replaces.
func (a *arena) room(n int) bool {
	if n <= cap(a.buf)-len(a.buf) {
		return true
	}
	a.missed += n
	size := min(max(2*cap(a.buf), 64, a.missed), 256<<10)
	if n > size/4 {
		return false
	}
	a.buf = make([]byte, 0, size)
	return true
}

func (a *arena) copy(b []byte) []byte {
	if len(b) == 0 {
		return []byte{}
	}
	if !a.room(len(b)) {
		return append(make([]byte, 0, len(b)), b...)
	}
	n := len(a.buf)
	a.buf = append(a.buf, b...)
	return a.buf[n:len(a.buf):len(a.buf)]
}

// copy2 copies x and y next to each other, each capped: a key and its value take one allocation
// even when they are too large for a chunk.
func (a *arena) copy2(x, y []byte) ([]byte, []byte) {
	n := len(x) + len(y)
	if n == 0 {
		return []byte{}, []byte{}
	}
	var buf []byte
	if a.room(n) {
		buf = a.buf[len(a.buf) : len(a.buf)+n]
		a.buf = a.buf[:len(a.buf)+n]
	} else {
		buf = make([]byte, n)
	}
	copy(buf, x)
	copy(buf[len(x):], y)
	return buf[:len(x):len(x)], buf[len(x):n:n]
}
