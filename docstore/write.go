package docstore

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/layerkit/layerkit/kv"
)

// UpdateResult reports what an update did.
type UpdateResult struct {
	// Matched is how many documents matched the filter.
	Matched int
	// Modified is how many documents changed (an update that sets the values a document already
	// holds matches it without modifying it).
	Modified int
	// UpsertedID is the _id of the document an upsert inserted, or nil.
	UpsertedID any
}

// ledgerEntry is what a non-idempotent write leaves under P+(7, token) so that its retry after
// an unknown commit result returns the first attempt's result instead of applying it again.
type ledgerEntry struct {
	Matched  int             `json:"m"`
	Modified int             `json:"n"`
	Upserted json.RawMessage `json:"u,omitempty"`
	Doc      json.RawMessage `json:"d,omitempty"`
	Found    bool            `json:"f,omitempty"`
}

// ledgerTTL is how long ledger entries are kept; older ones are cleared by later writes.
const ledgerTTL = 10 * time.Minute

func newToken(now time.Time) []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, uint64(now.UnixNano()))
	if _, err := rand.Read(b[8:]); err != nil {
		panic(err)
	}
	return b
}

// write runs fn in a write transaction of t on the collection (created when absent).
//
// When retrySafe is false (the write is not idempotent) and t is a database, so that this call
// owns the retry loop, the result is recorded in a ledger entry in the same transaction; a retry
// (after commit_unknown_result) that finds the entry returns the recorded result instead of
// applying the write again. Given a transaction, the write runs once and the caller's loop owns
// that decision.
func (c *Collection) write(ctx context.Context, t kv.Transactor, retrySafe bool, fn func(w *tx) (*ledgerEntry, error)) (*ledgerEntry, error) {
	_, inTx := t.(kv.Transaction)
	useLedger := !retrySafe && !inTx
	var token []byte
	if useLedger {
		token = newToken(c.now())
	}
	attempt := 0
	res, err := kv.Transact(ctx, t, func(tr kv.Transaction) (*ledgerEntry, error) {
		attempt++
		st, err := c.forWrite(ctx, tr)
		if err != nil {
			return nil, err
		}
		w := &tx{ctx: ctx, c: c, rtr: tr, tr: tr, st: st, now: c.now()}
		var ledgerKey []byte
		if useLedger {
			ledgerKey = packed(st.prefix, keyLedger, token)
			if attempt > 1 {
				raw, err := tr.Get(ledgerKey).Get()
				if err != nil {
					return nil, err
				}
				if raw != nil {
					var e ledgerEntry
					if err := json.Unmarshal(raw, &e); err != nil {
						return nil, fmt.Errorf("docstore: ledger entry: %v: %w", err, ErrCorrupt)
					}
					return &e, nil
				}
			}
		}
		res, err := fn(w)
		if err != nil {
			return nil, err
		}
		if err := w.flushEvents(); err != nil {
			return nil, err
		}
		if useLedger {
			if res == nil {
				res = &ledgerEntry{}
			}
			raw, err := json.Marshal(res)
			if err != nil {
				return nil, err
			}
			if len(raw) > kv.MaxValueSize {
				raw, _ = json.Marshal(ledgerEntry{Matched: res.Matched, Modified: res.Modified, Upserted: res.Upserted, Found: res.Found})
			}
			tr.Set(ledgerKey, raw)
			if token[15]&63 == 0 { // now and then, clear entries past their time
				old := make([]byte, 8)
				binary.BigEndian.PutUint64(old, uint64(w.now.Add(-ledgerTTL).UnixNano()))
				tr.ClearRange(kv.Range{Begin: packed(st.prefix, keyLedger), End: packed(st.prefix, keyLedger, old)})
			}
		}
		return res, nil
	})
	if errors.Is(err, kv.ErrTransactionTooLarge) {
		return nil, fmt.Errorf("docstore: collection %q: the write is larger than the 10,000,000 bytes one transaction may write (a document near or above 10 MB, or too many documents at once): %w", c.name, err)
	}
	return res, err
}

// prepareDoc normalises a document for storage; id is its _id (given, or a new UUIDv7).
func prepareDoc(doc any) (map[string]any, any, error) {
	n, err := normalize(doc, "")
	if err != nil {
		return nil, nil, err
	}
	m, ok := n.(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("docstore: a document is a JSON object, not %s: %w", describe(n), ErrInvalidDocument)
	}
	raw, has := m["_id"]
	if !has {
		u, err := uuid.NewV7()
		if err != nil {
			return nil, nil, fmt.Errorf("docstore: generate an _id: %w", err)
		}
		m["_id"] = u
		return m, u, nil
	}
	id, err := normalizeID(raw)
	if err != nil {
		return nil, nil, err
	}
	m["_id"] = id
	return m, id, nil
}

// Insert stores a new document and returns its _id. doc is an M or map[string]any, a struct
// (through encoding/json, so json tags apply), or JSON text (json.RawMessage, or []byte or
// string holding an object). A document without an _id gets a new UUIDv7. An _id that exists
// fails with ErrDuplicateID, unless the stored document is identical (a retry of this insert).
func (c *Collection) Insert(ctx context.Context, t kv.Transactor, doc any) (any, error) {
	d, id, err := prepareInsert(doc)
	if err != nil {
		return nil, err
	}
	_, err = c.write(ctx, t, true, func(w *tx) (*ledgerEntry, error) { return nil, w.insert(id, d) })
	if err != nil {
		return nil, err
	}
	return id, nil
}

// prepareInsert accepts JSON text as well as Go values.
func prepareInsert(doc any) (map[string]any, any, error) {
	switch x := doc.(type) {
	case string:
		doc = json.RawMessage(x)
	case []byte:
		doc = json.RawMessage(x)
	}
	return prepareDoc(doc)
}

// InsertMany stores documents in one transaction and returns their _ids; any failure stores
// none of them.
func (c *Collection) InsertMany(ctx context.Context, t kv.Transactor, docs []any) ([]any, error) {
	prepared := make([]map[string]any, len(docs))
	ids := make([]any, len(docs))
	for i, d := range docs {
		var err error
		if prepared[i], ids[i], err = prepareInsert(d); err != nil {
			return nil, fmt.Errorf("docstore: document %d: %w", i, err)
		}
		for j := 0; j < i; j++ {
			if equalValues(ids[j], ids[i]) {
				return nil, fmt.Errorf("docstore: documents %d and %d have _id %s: %w", j, i, formatID(ids[i]), ErrDuplicateID)
			}
		}
	}
	_, err := c.write(ctx, t, true, func(w *tx) (*ledgerEntry, error) {
		for i, d := range prepared {
			if err := w.insert(ids[i], d); err != nil {
				return nil, err
			}
		}
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// insert writes a new document.
func (t *tx) insert(id any, doc map[string]any) error {
	prefix := t.st.docPrefix(id)
	root, err := t.rtr.Get(prefix).Get()
	if err != nil {
		return err
	}
	if root != nil {
		old, err := t.readDocRaw(id)
		if err != nil {
			return err
		}
		if old != nil && t.st.expired(old, t.now) {
			if err := t.purge(id, old); err != nil {
				return err
			}
		} else if old != nil && sameValue(old, doc) {
			return nil // this very document: a retry of an insert whose commit went through
		} else {
			return fmt.Errorf("docstore: collection %q: _id %s: %w", t.st.meta.Name, formatID(id), ErrDuplicateID)
		}
	}
	if err := t.st.validate(doc); err != nil {
		return err
	}
	if err := t.writeDoc(id, doc); err != nil {
		return err
	}
	if err := t.maintainIndexes(id, nil, doc, nil); err != nil {
		return err
	}
	t.event(changeEvent{Op: OpInsert, ID: id})
	return nil
}

// Replace replaces the whole document with the given _id (ErrNotFound when there is none).
// doc's _id, if it has one, must be the same. Only the fields that differ are written.
func (c *Collection) Replace(ctx context.Context, t kv.Transactor, id any, doc any) error {
	return c.replace(ctx, t, id, doc, nil)
}

// ReplaceIf replaces the document only if its revision is still rev (from Document.Revision);
// otherwise it fails with ErrRevisionMismatch. It is the optimistic way to write back a
// document read earlier, perhaps in another transaction.
func (c *Collection) ReplaceIf(ctx context.Context, t kv.Transactor, id any, doc any, rev Revision) error {
	return c.replace(ctx, t, id, doc, &rev)
}

func (c *Collection) replace(ctx context.Context, t kv.Transactor, id any, doc any, rev *Revision) error {
	nid, err := normalizeID(id)
	if err != nil {
		return err
	}
	d, err := normalize(doc, "")
	if err != nil {
		return err
	}
	m, ok := d.(map[string]any)
	if !ok {
		return fmt.Errorf("docstore: a document is a JSON object, not %s: %w", describe(d), ErrInvalidDocument)
	}
	if given, has := m["_id"]; has {
		gid, err := normalizeID(given)
		if err != nil {
			return err
		}
		if !equalValues(gid, nid) {
			return fmt.Errorf("docstore: replacement of %s has _id %s: %w", formatID(nid), formatID(gid), ErrInvalidDocument)
		}
	}
	m["_id"] = nid
	_, err = c.write(ctx, t, true, func(w *tx) (*ledgerEntry, error) {
		if rev != nil {
			var cur Revision
			v, err := w.tr.Get(w.st.revKey(nid)).Get()
			if errors.Is(err, kv.ErrAccessedUnreadable) {
				return nil, fmt.Errorf("docstore: document %s was changed earlier in this transaction: %w", formatID(nid), ErrRevisionMismatch)
			}
			if err != nil {
				return nil, err
			}
			copy(cur[:], v)
			if v == nil || cur != *rev {
				if v == nil {
					return nil, fmt.Errorf("docstore: collection %q: _id %s: %w", c.name, formatID(nid), ErrNotFound)
				}
				return nil, fmt.Errorf("docstore: document %s has revision %s, not %s: %w", formatID(nid), cur, *rev, ErrRevisionMismatch)
			}
		}
		return nil, w.replace(nid, cloneValue(m).(map[string]any))
	})
	return err
}

func (t *tx) replace(id any, doc map[string]any) error {
	old, err := t.readDoc(id)
	if err != nil {
		return err
	}
	if old == nil {
		return fmt.Errorf("docstore: collection %q: _id %s: %w", t.st.meta.Name, formatID(id), ErrNotFound)
	}
	if err := t.st.validate(doc); err != nil {
		return err
	}
	if err := checkSize(id, doc); err != nil {
		return err
	}
	d := &diffWriter{t: t, prefix: t.st.docPrefix(id)}
	d.at(d.prefix, withoutID(old), true, withoutID(doc), true)
	if !d.changed {
		return nil
	}
	if err := t.maintainIndexes(id, old, doc, nil); err != nil {
		return err
	}
	t.bumpRevision(id)
	t.event(changeEvent{Op: OpReplace, ID: id})
	return nil
}

func checkSize(id any, doc map[string]any) error {
	f := newFlattener(true)
	defer f.release()
	f.value(nil, doc)
	if f.size > MaxDocumentSize {
		return fmt.Errorf("docstore: document %s is %d bytes encoded; at most %d: %w", formatID(id), f.size, MaxDocumentSize, ErrDocumentTooLarge)
	}
	return nil
}

// Delete removes the first document matching filter and reports whether there was one.
func (c *Collection) Delete(ctx context.Context, t kv.Transactor, filter any) (bool, error) {
	n, err := c.deleteMatching(ctx, t, filter, 1)
	return n > 0, err
}

// DeleteMany removes every document matching filter and returns how many there were.
func (c *Collection) DeleteMany(ctx context.Context, t kv.Transactor, filter any) (int, error) {
	return c.deleteMatching(ctx, t, filter, 0)
}

func (c *Collection) deleteMatching(ctx context.Context, t kv.Transactor, filter any, limit int) (int, error) {
	f, err := ParseFilter(filter)
	if err != nil {
		return 0, err
	}
	res, err := c.write(ctx, t, false, func(w *tx) (*ledgerEntry, error) {
		type victim struct {
			id  any
			doc map[string]any
		}
		var victims []victim
		err := w.matches(f, nil, limit, func(id any, doc map[string]any) {
			victims = append(victims, victim{id, doc})
		})
		if err != nil {
			return nil, err
		}
		for _, v := range victims {
			if err := w.deleteDoc(v.id, v.doc); err != nil {
				return nil, err
			}
			w.event(changeEvent{Op: OpDelete, ID: v.id})
		}
		return &ledgerEntry{Matched: len(victims)}, nil
	})
	if err != nil {
		return 0, err
	}
	return res.Matched, nil
}

// matches calls fn with up to limit (0: all) live documents matching f, whole, in the order of
// sort, reading serializably.
func (t *tx) matches(f *Filter, sort []sortField, limit int, fn func(id any, doc map[string]any)) error {
	p, err := t.plan(f, sort, nil)
	if err != nil {
		return err
	}
	if p.inMemory {
		page, err := t.find(&query{filter: f, sort: sort, opts: FindOptions{Limit: limit}})
		if err != nil {
			return err
		}
		for _, d := range page.Docs {
			fn(d.ID(), d.fields)
		}
		return nil
	}
	n := 0
	_, err = t.scan(p, scanOptions{want: limit}, func(id any, doc map[string]any, _ []byte) bool {
		fn(id, doc)
		n++
		return limit == 0 || n < limit
	})
	return err
}

// updateSpec is one call of an update.
type updateSpec struct {
	filter    *Filter
	update    *Update
	multi     bool
	upsert    bool
	upsertID  any // generated before the retry loop, so retries insert the same document
	sort      []sortField
	returnDoc int // 0 none, 1 the document before, 2 after
	proj      *projection
}

// UpdateOne applies update (an M or JSON text of operators) to the first document matching
// filter. A filter that pins the _id reads only the fields the update, the filter and the
// affected indexes name, so updates of different fields of one document do not conflict.
func (c *Collection) UpdateOne(ctx context.Context, t kv.Transactor, filter, update any) (UpdateResult, error) {
	return c.runUpdate(ctx, t, filter, update, false, false)
}

// UpdateByID is UpdateOne with the filter {"_id": id}.
func (c *Collection) UpdateByID(ctx context.Context, t kv.Transactor, id, update any) (UpdateResult, error) {
	return c.runUpdate(ctx, t, M{"_id": id}, update, false, false)
}

// UpdateMany applies update to every document matching filter.
func (c *Collection) UpdateMany(ctx context.Context, t kv.Transactor, filter, update any) (UpdateResult, error) {
	return c.runUpdate(ctx, t, filter, update, true, false)
}

// Upsert applies update to the first document matching filter or, when none does, inserts a
// document made of the filter's equality conditions with the update applied ($setOnInsert
// included). The new document's _id is the filter's, or a new UUIDv7.
func (c *Collection) Upsert(ctx context.Context, t kv.Transactor, filter, update any) (UpdateResult, error) {
	return c.runUpdate(ctx, t, filter, update, false, true)
}

func (c *Collection) runUpdate(ctx context.Context, t kv.Transactor, filter, update any, multi, upsert bool) (UpdateResult, error) {
	s, err := newUpdateSpec(filter, update, nil, upsert)
	if err != nil {
		return UpdateResult{}, err
	}
	s.multi = multi
	// A retry of an update by _id that only sets values finds the document again and writes
	// nothing new; anything else (a filter that the update may stop matching, operators that
	// are not idempotent, an upsert) records its result for retries.
	_, byID := s.filter.idOnly()
	retrySafe := s.update.retrySafe && !upsert && !multi && byID
	res, err := c.write(ctx, t, retrySafe, func(w *tx) (*ledgerEntry, error) {
		r, _, err := w.update(s)
		if err != nil {
			return nil, err
		}
		e := &ledgerEntry{Matched: r.Matched, Modified: r.Modified}
		if r.UpsertedID != nil {
			e.Upserted, _ = marshalExtended(r.UpsertedID)
		}
		return e, nil
	})
	if err != nil {
		return UpdateResult{}, err
	}
	out := UpdateResult{Matched: res.Matched, Modified: res.Modified}
	if len(res.Upserted) > 0 {
		out.UpsertedID = s.upsertID
	}
	return out, nil
}

func newUpdateSpec(filter, update any, sort []string, upsert bool) (*updateSpec, error) {
	f, err := ParseFilter(filter)
	if err != nil {
		return nil, err
	}
	u, err := ParseUpdate(update)
	if err != nil {
		return nil, err
	}
	so, err := parseSort(sort)
	if err != nil {
		return nil, err
	}
	s := &updateSpec{filter: f, update: u, upsert: upsert, sort: so}
	if upsert {
		if id, ok := f.idEquality(); ok {
			s.upsertID = id
		} else {
			u, err := uuid.NewV7()
			if err != nil {
				return nil, err
			}
			s.upsertID = u
		}
	}
	return s, nil
}

// FindOneAndUpdateOptions shape FindOneAndUpdate.
type FindOneAndUpdateOptions struct {
	// Sort picks which matching document is updated: the first in this order.
	Sort []string
	// Projection shapes the returned document.
	Projection any
	// ReturnAfter returns the document as the update left it; by default, as it was before.
	ReturnAfter bool
	// Upsert inserts a document when none matches (see Upsert).
	Upsert bool
}

// FindOneAndUpdate updates the first document matching filter (in opts.Sort order) and returns
// it as it was before the update, or after with ReturnAfter. With nothing to update it returns
// ErrNotFound; an upsert that inserted returns nil before, the new document after.
func (c *Collection) FindOneAndUpdate(ctx context.Context, t kv.Transactor, filter, update any, opts FindOneAndUpdateOptions) (*Document, error) {
	s, err := newUpdateSpec(filter, update, opts.Sort, opts.Upsert)
	if err != nil {
		return nil, err
	}
	if s.proj, err = parseProjection(opts.Projection); err != nil {
		return nil, err
	}
	s.returnDoc = 1
	if opts.ReturnAfter {
		s.returnDoc = 2
	}
	res, err := c.write(ctx, t, false, func(w *tx) (*ledgerEntry, error) {
		r, doc, err := w.update(s)
		if err != nil {
			return nil, err
		}
		e := &ledgerEntry{Matched: r.Matched, Modified: r.Modified, Found: doc != nil}
		if doc != nil {
			e.Doc, err = marshalExtended(doc)
			if err != nil {
				return nil, err
			}
		}
		return e, nil
	})
	if err != nil {
		return nil, err
	}
	if !res.Found {
		if res.Matched == 0 && !opts.Upsert {
			return nil, fmt.Errorf("docstore: collection %q: no document matches %v: %w", c.name, filter, ErrNotFound)
		}
		return nil, nil
	}
	if len(res.Doc) == 0 {
		return nil, fmt.Errorf("docstore: the document returned by a write that was retried was too large to record: %w", ErrNotFound)
	}
	v, err := decodeJSON(res.Doc, "")
	if err != nil {
		return nil, err
	}
	n, err := normalizer{}.value(v, "", 0)
	if err != nil {
		return nil, err
	}
	return &Document{fields: n.(map[string]any)}, nil
}

// update runs an update spec in the transaction; doc is the document to return, if asked for.
func (t *tx) update(s *updateSpec) (UpdateResult, map[string]any, error) {
	var res UpdateResult
	var ret map[string]any
	apply := func(id any, old map[string]any, targets []fieldPath) error {
		res.Matched++
		doc := cloneValue(old).(map[string]any)
		if err := s.update.apply(doc, false, t.now); err != nil {
			return fmt.Errorf("docstore: document %s: %w", formatID(id), err)
		}
		if s.returnDoc == 1 {
			ret = s.proj.apply(old)
		} else if s.returnDoc == 2 {
			ret = s.proj.apply(doc)
		}
		changed, err := t.writeUpdate(id, old, doc, targets, s.update.targets)
		if err != nil {
			return err
		}
		if changed {
			res.Modified++
		}
		return nil
	}
	if id, ok := s.filter.idEquality(); ok && len(s.sort) == 0 {
		view, exists, err := t.loadForUpdate(id, s)
		if err != nil {
			return res, nil, err
		}
		if exists && t.st.expired(view, t.now) {
			full, err := t.readDocRaw(id)
			if err != nil {
				return res, nil, err
			}
			if err := t.purge(id, full); err != nil {
				return res, nil, err
			}
			exists = false
		}
		if exists && s.filter.root.match(view) {
			targets := s.update.targets
			if t.st.schema != nil || s.returnDoc != 0 {
				targets = nil // the view is the whole document
			}
			return res, ret, apply(id, view, targets)
		}
	} else {
		type match struct {
			id  any
			doc map[string]any
		}
		var found []match
		limit := 1
		if s.multi {
			limit = 0
		}
		if err := t.matches(s.filter, s.sort, limit, func(id any, doc map[string]any) { found = append(found, match{id, doc}) }); err != nil {
			return res, nil, err
		}
		for _, m := range found {
			if err := apply(m.id, m.doc, nil); err != nil {
				return res, nil, err
			}
		}
		if len(found) > 0 {
			return res, ret, nil
		}
	}
	if !s.upsert {
		return res, nil, nil
	}
	doc := map[string]any{}
	if err := seedFromFilter(doc, s.filter.root); err != nil {
		return res, nil, err
	}
	doc["_id"] = s.upsertID
	if err := s.update.apply(doc, true, t.now); err != nil {
		return res, nil, fmt.Errorf("docstore: upsert: %w", err)
	}
	if err := checkSize(s.upsertID, doc); err != nil {
		return res, nil, err
	}
	if err := t.insert(s.upsertID, doc); err != nil {
		return res, nil, err
	}
	res.UpsertedID = s.upsertID
	if s.returnDoc == 2 {
		ret = s.proj.apply(doc)
	}
	return res, ret, nil
}

// loadForUpdate reads what an update of the document id needs: the paths of the update, the
// filter and the indexes the update touches (and TTL fields) — or the whole document when the
// collection validates documents or the caller wants the document back.
func (t *tx) loadForUpdate(id any, s *updateSpec) (map[string]any, bool, error) {
	if t.st.schema != nil || s.returnDoc != 0 {
		doc, err := t.readDocRaw(id)
		return doc, doc != nil, err
	}
	paths := append([]fieldPath(nil), s.update.targets...)
	for _, p := range s.filter.paths {
		if p.String() != "_id" {
			paths = append(paths, p)
		}
	}
	for _, ix := range t.st.indexes {
		if touches(ix, s.update.targets) || ix.meta.TTL {
			paths = append(paths, ix.allPaths()...)
		}
	}
	return t.loadView(id, paths)
}

// writeUpdate writes the change from old to new of one document: along targets when old is a
// partial view, or wholly (targets nil). It reports whether anything changed.
func (t *tx) writeUpdate(id any, old, new map[string]any, viewTargets, updateTargets []fieldPath) (bool, error) {
	d := &diffWriter{t: t, prefix: t.st.docPrefix(id)}
	var paths []string
	if viewTargets == nil {
		if err := t.st.validate(new); err != nil {
			return false, err
		}
		if err := checkSize(id, new); err != nil {
			return false, err
		}
		paths = d.writeTargets(withoutID(old), withoutID(new), updateTargets)
	} else {
		paths = d.writeTargets(old, new, viewTargets)
	}
	if !d.changed {
		return false, nil
	}
	if d.size > MaxDocumentSize {
		return false, fmt.Errorf("docstore: update of %s writes %d bytes; a document holds at most %d: %w", formatID(id), d.size, MaxDocumentSize, ErrDocumentTooLarge)
	}
	if err := t.maintainIndexes(id, old, new, updateTargets); err != nil {
		return false, err
	}
	t.bumpRevision(id)
	slices.Sort(paths)
	t.event(changeEvent{Op: OpUpdate, ID: id, Paths: paths})
	return true, nil
}

// seedFromFilter starts an upserted document with the filter's equality conditions.
func seedFromFilter(doc map[string]any, n node) error {
	switch x := n.(type) {
	case andNode:
		for _, c := range x {
			if err := seedFromFilter(doc, c); err != nil {
				return err
			}
		}
	case *fieldNode:
		if x.op == "$eq" && x.re == nil && x.ps != "_id" {
			if err := setPath(doc, x.path, cloneValue(x.value), "$eq"); err != nil {
				return err
			}
		}
	}
	return nil
}
