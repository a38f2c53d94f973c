package docstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/layerkit/layerkit/kv"
)

// tx is one operation's view of a collection inside a transaction: rtr reads, tr (nil in a
// read-only transaction) writes.
type tx struct {
	ctx    context.Context
	c      *Collection
	rtr    kv.ReadTransaction
	tr     kv.Transaction
	st     *collState
	now    time.Time
	events []changeEvent
	// multikey caches the multikey flags read in this transaction, by index id.
	multikey map[int64]bool
}

// readDoc reads a whole document: nil when there is none or it has expired. The read covers
// every key of the document, so a write to any field of it by a concurrent transaction conflicts.
func (t *tx) readDoc(id any) (map[string]any, error) {
	return t.startDoc(id).live()
}

// readDocRaw reads a whole document, expired or not.
func (t *tx) readDocRaw(id any) (map[string]any, error) {
	return t.startDoc(id).raw()
}

// docRead is the read of a whole document, issued and not waited for yet: a query issues the
// reads of the documents it will need before it waits for any.
type docRead struct {
	t      *tx
	id     any
	prefix []byte
	r      kv.RangeResult
}

// startDoc issues the read of a whole document: one range read of its keys, whose first batch
// (4 KB) holds most documents.
func (t *tx) startDoc(id any) docRead {
	prefix := t.st.docPrefix(id)
	return docRead{t: t, id: id, prefix: prefix, r: t.rtr.GetRange(docRange(prefix), kv.RangeOptions{})}
}

// raw waits for the document, expired or not (nil when there is none).
func (d docRead) raw() (map[string]any, error) {
	rows, err := d.r.GetSlice()
	if err != nil {
		return nil, err
	}
	return assembleDoc(d.prefix, d.id, rows)
}

// live waits for the document: nil when there is none or it has expired.
func (d docRead) live() (map[string]any, error) {
	doc, err := d.raw()
	if err != nil || doc == nil || !d.t.st.expired(doc, d.t.now) {
		return doc, err
	}
	return nil, nil
}

// assembleDoc rebuilds a document from its rows (nil when there are none).
func assembleDoc(prefix []byte, id any, rows []kv.KeyValue) (map[string]any, error) {
	doc, err := assemble(prefix, rows)
	if err != nil {
		return nil, fmt.Errorf("docstore: document %s: %w", formatID(id), err)
	}
	if doc != nil {
		doc["_id"] = id
	}
	return doc, nil
}

// loadView reads the parts of a document that paths name: a partial document holding, for each
// path, its whole subtree and the containers above it (an array on the way is read whole).
// Reads conflict only on those keys, so transactions that change other fields of the document
// do not conflict with this one. exists is false when the document is absent.
//
// Every key on the paths is read with a point read first, all issued before any is waited for;
// a subtree is read as a range only where the point read found a container (or a split value).
// A scalar, a packed array or a missing key has no keys below it, so the point read covers it
// exactly: a concurrent write that gave it children would have to write the key itself.
//
// The root is read only when none of those keys exists. A key on a path exists only under the
// root, and whatever removes the document clears every key of it, the ones read here included:
// a concurrent delete conflicts with this read all the same.
func (t *tx) loadView(id any, paths []fieldPath) (view map[string]any, exists bool, err error) {
	prefix := t.st.docPrefix(id)
	type pending struct {
		key  []byte
		f    kv.Future[[]byte]
		leaf bool // the end of a path, rather than a container above one
	}
	var points []pending
	for _, p := range minimalPaths(paths) {
		var key []byte = clip(prefix)
		for i, c := range p {
			key = appendPathString(clip(key), c)
			leaf := i == len(p)-1
			if j := slices.IndexFunc(points, func(q pending) bool { return bytes.Equal(q.key, key) }); j >= 0 {
				points[j].leaf = points[j].leaf || leaf
				continue
			}
			points = append(points, pending{key: key, f: t.rtr.Get(key), leaf: leaf})
		}
	}
	rows := make([]kv.KeyValue, 1, len(points)+1)
	rows[0] = kv.KeyValue{Key: prefix, Value: []byte{valObject}}
	var subtrees []kv.RangeResult // containers at the end of a path, arrays and split values on it
	for _, p := range points {
		v, err := p.f.Get()
		if err != nil {
			return nil, false, err
		}
		if v == nil {
			continue
		}
		rows = append(rows, kv.KeyValue{Key: p.key, Value: v}) // an empty value: the assembler reports it
		if len(v) > 0 && (v[0] == valArray || v[0] == valSplit || p.leaf && v[0] == valObject) {
			subtrees = append(subtrees, t.rtr.GetRange(docRange(p.key), kv.RangeOptions{}))
		}
	}
	if len(rows) == 1 {
		root, err := t.rtr.Get(prefix).Get()
		if err != nil || root == nil {
			return nil, false, err
		}
		rows[0].Value = root
	}
	for _, r := range subtrees {
		more, err := r.GetSlice()
		if err != nil {
			return nil, false, err
		}
		rows = append(rows, more...)
	}
	slices.SortFunc(rows, func(a, b kv.KeyValue) int { return bytes.Compare(a.Key, b.Key) })
	rows = slices.CompactFunc(rows, func(a, b kv.KeyValue) bool { return bytes.Equal(a.Key, b.Key) })
	doc, err := assembleDoc(prefix, id, rows)
	if err != nil {
		return nil, false, err
	}
	return doc, true, nil
}

// minimalPaths returns the paths to read for a set of paths: each cut at its first numeric
// component below the top level (an array element is read with its whole array), without those
// another path already covers.
func minimalPaths(paths []fieldPath) []fieldPath {
	var cut []fieldPath
	for _, p := range paths {
		q := p
		for i := 1; i < len(p); i++ {
			if _, ok := arrayIndex(p[i]); ok {
				q = p[:i]
				break
			}
		}
		cut = append(cut, q)
	}
	var out []fieldPath
	for i, p := range cut {
		covered := false
		for j, q := range cut {
			if j != i && isPrefix(q, p) && (len(q) < len(p) || j < i) {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, p)
		}
	}
	return out
}

// writeDoc stores a new document (no keys of it may exist).
func (t *tx) writeDoc(id any, doc map[string]any) error {
	prefix := t.st.docPrefix(id)
	f := newFlattener(true)
	defer f.release()
	f.value(prefix, doc)
	if f.size > MaxDocumentSize {
		return fmt.Errorf("docstore: document %s is %d bytes encoded; at most %d: %w", formatID(id), f.size, MaxDocumentSize, ErrDocumentTooLarge)
	}
	for _, kvp := range f.out {
		if len(kvp.key) > kv.MaxKeySize {
			return fmt.Errorf("docstore: document %s: a field path makes a key of %d bytes; at most %d: %w", formatID(id), len(kvp.key), kv.MaxKeySize, ErrInvalidDocument)
		}
	}
	for _, kvp := range f.out {
		t.tr.Set(kvp.key, kvp.value)
	}
	t.bumpRevision(id)
	return nil
}

// withoutID returns doc without its _id field (which the keys hold), sharing the rest.
func withoutID(doc map[string]any) map[string]any {
	if _, ok := doc["_id"]; !ok {
		return doc
	}
	out := make(map[string]any, len(doc)-1)
	for k, v := range doc {
		if k != "_id" {
			out[k] = v
		}
	}
	return out
}

// bumpRevision sets the document's revision to this transaction's versionstamp, without reading
// it: concurrent writers of different fields stay conflict-free, and the later commit's stamp
// (the larger) is the one that remains.
func (t *tx) bumpRevision(id any) {
	param := make([]byte, 14) // 10 bytes for the stamp, then the 4-byte little-endian offset 0
	t.tr.Atomic(kv.SetVersionstampedValue, t.st.revKey(id), param)
}

// deleteDoc removes a document (read whole as doc) with its revision and index entries.
func (t *tx) deleteDoc(id any, doc map[string]any) error {
	prefix := t.st.docPrefix(id)
	for _, ix := range t.st.indexes {
		es, _, err := ix.entries(doc, id)
		if err != nil {
			// A document stored before a definition it breaks cannot exist: entries were
			// computed when it was written. Clearing what it would have is still right.
			continue
		}
		for _, e := range es {
			t.tr.Clear(e.key)
		}
	}
	t.tr.ClearRange(docRange(prefix))
	t.tr.Clear(t.st.revKey(id))
	return nil
}

// diffWriter writes the keys that change between two versions of parts of a document.
type diffWriter struct {
	t       *tx
	prefix  []byte
	changed bool
	size    int
}

// Ways a value is kept at its key (see encoding.go): storedObject and storedArray have keys
// below the value's own, storedSplit chunks below it; storedWhole is all in the one key.
const (
	storedWhole = iota
	storedObject
	storedArray
	storedSplit
)

func storedAs(v any) int {
	switch x := v.(type) {
	case map[string]any:
		return storedObject
	case []any:
		if packs(x) {
			return storedWhole
		}
		return storedArray
	case string:
		if len(x)+1 > chunkSize {
			return storedSplit
		}
	case []byte:
		if len(x)+2 > chunkSize {
			return storedSplit
		}
	}
	return storedWhole
}

// at writes the difference between old and new at the key key (a path inside the document).
func (d *diffWriter) at(key []byte, old any, oldOK bool, new any, newOK bool) {
	switch {
	case !oldOK && !newOK:
		return
	case oldOK && !newOK:
		d.remove(key, storedAs(old))
		return
	case !oldOK && newOK:
		d.write(key, new)
		return
	}
	ko, kn := storedAs(old), storedAs(new)
	switch {
	case ko == storedObject && kn == storedObject:
		o, n := old.(map[string]any), new.(map[string]any)
		for k, ov := range o {
			nv, nok := n[k]
			d.at(appendPathString(clip(key), k), ov, true, nv, nok)
		}
		for k, nv := range n {
			if _, ok := o[k]; !ok {
				d.at(appendPathString(clip(key), k), nil, false, nv, true)
			}
		}
		return
	case ko == storedArray && kn == storedArray:
		o, n := old.([]any), new.([]any)
		if len(o) != len(n) {
			d.t.tr.Set(key, appendArrayMarker(len(n)))
			d.changed = true
		}
		for i := 0; i < len(o) && i < len(n); i++ {
			d.at(appendPathIndex(clip(key), i), o[i], true, n[i], true)
		}
		if len(o) > len(n) {
			d.t.tr.ClearRange(kv.Range{Begin: appendPathIndex(clip(key), len(n)), End: append(clip(key), 0xff)})
		}
		for i := len(o); i < len(n); i++ {
			d.write(appendPathIndex(clip(key), i), n[i])
		}
		return
	}
	if sameValue(old, new) {
		return
	}
	if ko != storedWhole {
		d.t.tr.ClearRange(docRange(key)) // the keys below go; the new value's are written next
	}
	d.write(key, new)
}

// remove clears the value at key, kept as kind says.
func (d *diffWriter) remove(key []byte, kind int) {
	if kind == storedWhole {
		d.t.tr.Clear(key)
	} else {
		d.t.tr.ClearRange(docRange(key))
	}
	d.changed = true
}

func appendArrayMarker(n int) []byte {
	return binary.AppendUvarint([]byte{valArray}, uint64(n))
}

// write stores v at key (nothing was there, or a value without keys below it).
func (d *diffWriter) write(key []byte, v any) {
	f := newFlattener(false)
	defer f.release()
	f.value(key, v)
	for _, kvp := range f.out {
		d.t.tr.Set(kvp.key, kvp.value)
	}
	d.size += f.size
	d.changed = true
}

// writeTargets writes the changes between old and new (two versions of one document, whole or
// partial views) along the given paths, and returns the paths that changed.
func (d *diffWriter) writeTargets(old, new map[string]any, targets []fieldPath) []string {
	var changed []string
	for _, p := range targets {
		before := d.changed
		d.changed = false
		d.walk(d.prefix, old, true, new, true, p)
		if d.changed {
			changed = append(changed, p.String())
		}
		d.changed = d.changed || before
	}
	return changed
}

// walk descends along p while old and new hold containers of the same kind, then writes the
// difference at the first level where they differ or at the end of the path.
func (d *diffWriter) walk(key []byte, old any, oldOK bool, new any, newOK bool, p fieldPath) {
	if len(p) == 0 {
		d.at(key, old, oldOK, new, newOK)
		return
	}
	c := p[0]
	switch o := old.(type) {
	case map[string]any:
		if n, ok := new.(map[string]any); ok && oldOK && newOK {
			ov, ook := o[c]
			nv, nok := n[c]
			d.walk(appendPathString(clip(key), c), ov, ook, nv, nok, p[1:])
			return
		}
	case []any:
		if n, ok := new.([]any); ok && oldOK && newOK {
			d.at(key, o, true, n, true) // arrays are read whole: diff them whole
			return
		}
	}
	if !oldOK && !newOK {
		return
	}
	d.at(key, old, oldOK, new, newOK)
}

// maintainIndexes updates the entries of the indexes whose paths the change touches (all when
// targets is nil), checking unique indexes.
func (t *tx) maintainIndexes(id any, old, new map[string]any, targets []fieldPath) error {
	for _, ix := range t.st.indexes {
		if targets != nil && !touches(ix, targets) {
			continue
		}
		var oldE, newE []entry
		var err error
		if old != nil {
			if oldE, _, err = ix.entries(old, id); err != nil {
				oldE = nil // see deleteDoc
			}
		}
		multi := false
		if new != nil {
			if newE, multi, err = ix.entries(new, id); err != nil {
				return err
			}
		}
		for _, e := range oldE {
			if !slices.ContainsFunc(newE, func(x entry) bool { return bytes.Equal(x.key, e.key) }) {
				t.tr.Clear(e.key)
			}
		}
		for _, e := range newE {
			if slices.ContainsFunc(oldE, func(x entry) bool { return bytes.Equal(x.key, e.key) }) {
				continue
			}
			if ix.meta.Unique {
				if err := t.checkUnique(ix, e, id); err != nil {
					return err
				}
			}
			t.tr.Set(e.key, nil)
		}
		if multi {
			if err := t.setMultikey(ix); err != nil {
				return err
			}
		}
	}
	return nil
}

// touches reports whether a change of targets may change ix's entries.
func touches(ix *indexState, targets []fieldPath) bool {
	for _, p := range ix.allPaths() {
		for _, q := range targets {
			if overlaps(p, q) {
				return true
			}
		}
	}
	return false
}

// checkUnique fails when another live document has e's values in ix. An expired document
// holding them is removed first.
func (t *tx) checkUnique(ix *indexState, e entry, id any) error {
	vals := e.key[:e.valEnd]
	rows, err := t.rtr.GetRange(kv.Range{Begin: vals, End: append(clip(vals), 0xff)}, kv.RangeOptions{Limit: 2}).GetSlice()
	if err != nil {
		return err
	}
	for _, r := range rows {
		other, err := entryID(ix, r.Key)
		if err != nil {
			return err
		}
		if equalValues(other, id) {
			continue
		}
		if len(t.st.ttl) > 0 {
			doc, err := t.readDocRaw(other)
			if err != nil {
				return err
			}
			if doc != nil && t.st.expired(doc, t.now) {
				if err := t.purge(other, doc); err != nil {
					return err
				}
				continue
			}
		}
		return fmt.Errorf("docstore: collection %q index %q: document %s has the same key as document %s: %w", t.st.meta.Name, ix.meta.Name, formatID(id), formatID(other), ErrDuplicateKey)
	}
	return nil
}

// setMultikey records (once) that ix has met an array.
func (t *tx) setMultikey(ix *indexState) error {
	if t.multikey == nil {
		t.multikey = map[int64]bool{}
	}
	if t.multikey[ix.meta.ID] {
		return nil
	}
	v, err := t.rtr.Get(ix.multikeyKey).Get()
	if err != nil {
		return err
	}
	if v == nil {
		t.tr.Set(ix.multikeyKey, []byte{1})
	}
	t.multikey[ix.meta.ID] = true
	return nil
}

// isMultikey reports whether ix has met an array (a read of its flag).
func (t *tx) isMultikey(ix *indexState) (bool, error) {
	if t.multikey != nil && t.multikey[ix.meta.ID] {
		return true, nil
	}
	v, err := t.rtr.Get(ix.multikeyKey).Get()
	if err != nil {
		return false, err
	}
	if v != nil {
		if t.multikey == nil {
			t.multikey = map[int64]bool{}
		}
		t.multikey[ix.meta.ID] = true
	}
	return v != nil, nil
}

// purge removes an expired document, as the sweeper would.
func (t *tx) purge(id any, doc map[string]any) error {
	if err := t.deleteDoc(id, doc); err != nil {
		return err
	}
	t.event(changeEvent{Op: OpDelete, ID: id, Expired: true})
	return nil
}
