package docstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/tuple"
)

// FindOptions shape a query. The zero value returns every matching document in the order of
// the plan (by _id for a collection scan, by the index for an index scan).
type FindOptions struct {
	// Sort orders the results by dotted paths, each prefixed with '-' for descending:
	// []string{"age", "-name"}. Ties are broken by _id (descending when every field is).
	Sort []string
	// Projection keeps or drops fields of the returned documents: an M (or JSON text) of paths
	// to 1 (keep) or 0 (drop).
	Projection any
	// Skip passes over this many matching documents first (only on the first page: a
	// continuation resumes after the last document returned).
	Skip int
	// Limit is the most documents to return in this page; 0 means no limit. A page that stops
	// at the limit comes with a continuation when more may follow.
	Limit int
	// Continuation resumes the query after the last document of an earlier page (from
	// Page.Continuation), in this or a later transaction. It is valid only for the same filter
	// and sort on the same collection.
	Continuation []byte
	// ScanLimit stops the page once this many documents or index entries were read, matching
	// or not (0: no limit), with a continuation: long scans then run as several transactions.
	// It does not apply to a sort done in memory, which reads every match.
	ScanLimit int
	// MaxInMemorySort is the most documents a sort that no index provides may hold
	// (0: DefaultMaxInMemorySort).
	MaxInMemorySort int
}

// DefaultMaxInMemorySort bounds a sort done in memory unless FindOptions says otherwise.
const DefaultMaxInMemorySort = 100_000

// Page is one page of query results.
type Page struct {
	// Docs are the documents of the page, in order.
	Docs []*Document
	// Continuation resumes the query after the last document of this page; nil when the query
	// has no more results.
	Continuation []byte
	// Plan is the plan the query ran.
	Plan *Plan
}

// readTx starts a read of the collection; st is nil when the collection does not exist.
func (c *Collection) readTx(ctx context.Context, rtr kv.ReadTransaction) (*tx, error) {
	st, err := c.resolve(ctx, rtr, false)
	if err != nil {
		return nil, err
	}
	t := &tx{ctx: ctx, c: c, rtr: rtr, st: st, now: c.now()}
	if tr, ok := rtr.(kv.Transaction); ok {
		t.tr = tr
	}
	return t, nil
}

// Get returns the document with the given _id, or ErrNotFound. Expired documents are not
// returned. The read covers the whole document: a transaction that reads it and then commits
// conflicts with any concurrent change of it.
func (c *Collection) Get(ctx context.Context, t kv.ReadTransactor, id any) (*Document, error) {
	nid, err := normalizeID(id)
	if err != nil {
		return nil, err
	}
	return kv.ReadTransact(ctx, t, func(rtr kv.ReadTransaction) (*Document, error) {
		tx, err := c.readTx(ctx, rtr)
		if err != nil {
			return nil, err
		}
		if tx.st == nil {
			return nil, fmt.Errorf("docstore: collection %q: _id %s: %w", c.name, formatID(nid), ErrNotFound)
		}
		revF := rtr.Get(tx.st.revKey(nid))
		doc, err := tx.readDoc(nid)
		if err != nil {
			return nil, err
		}
		if doc == nil {
			return nil, fmt.Errorf("docstore: collection %q: _id %s: %w", c.name, formatID(nid), ErrNotFound)
		}
		d := &Document{fields: doc}
		if err := readRevision(revF, &d.rev); err != nil {
			return nil, err
		}
		return d, nil
	})
}

// readRevision reads a revision; one written by this transaction is not readable yet and
// stays zero.
func readRevision(f kv.Future[[]byte], rev *Revision) error {
	v, err := f.Get()
	if errors.Is(err, kv.ErrAccessedUnreadable) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(v) == len(rev) {
		copy(rev[:], v)
	}
	return nil
}

// query is a parsed query.
type query struct {
	filter *Filter
	sort   []sortField
	proj   *projection
	opts   FindOptions
}

func parseQuery(filter any, opts FindOptions) (*query, error) {
	f, err := ParseFilter(filter)
	if err != nil {
		return nil, err
	}
	s, err := parseSort(opts.Sort)
	if err != nil {
		return nil, err
	}
	p, err := parseProjection(opts.Projection)
	if err != nil {
		return nil, err
	}
	if opts.Skip < 0 || opts.Limit < 0 || opts.ScanLimit < 0 || opts.MaxInMemorySort < 0 {
		return nil, fmt.Errorf("docstore: negative skip, limit or scan limit: %w", ErrInvalidFilter)
	}
	return &query{filter: f, sort: s, proj: p, opts: opts}, nil
}

// Find returns one page of the documents matching filter (an M, JSON text, a *Filter, or nil
// for all), shaped by opts. Continue with opts.Continuation = page.Continuation, in the same or
// a later transaction: the next page starts exactly after the last document returned.
func (c *Collection) Find(ctx context.Context, t kv.ReadTransactor, filter any, opts FindOptions) (*Page, error) {
	q, err := parseQuery(filter, opts)
	if err != nil {
		return nil, err
	}
	return kv.ReadTransact(ctx, t, func(rtr kv.ReadTransaction) (*Page, error) {
		tx, err := c.readTx(ctx, rtr)
		if err != nil {
			return nil, err
		}
		return tx.find(q)
	})
}

// FindOne returns the first document matching filter in the order of opts.Sort, or
// ErrNotFound.
func (c *Collection) FindOne(ctx context.Context, t kv.ReadTransactor, filter any, opts FindOptions) (*Document, error) {
	opts.Limit = 1
	page, err := c.Find(ctx, t, filter, opts)
	if err != nil {
		return nil, err
	}
	if len(page.Docs) == 0 {
		return nil, fmt.Errorf("docstore: collection %q: no document matches %v: %w", c.name, filter, ErrNotFound)
	}
	return page.Docs[0], nil
}

// Explain returns the plan the query would run, without running it.
func (c *Collection) Explain(ctx context.Context, t kv.ReadTransactor, filter any, opts FindOptions) (*Plan, error) {
	q, err := parseQuery(filter, opts)
	if err != nil {
		return nil, err
	}
	return kv.ReadTransact(ctx, t, func(rtr kv.ReadTransaction) (*Plan, error) {
		tx, err := c.readTx(ctx, rtr)
		if err != nil {
			return nil, err
		}
		if tx.st == nil {
			return (&Plan{kind: planCollScan, filter: q.filter, sort: q.sort, inMemory: len(q.sort) > 0}).finish(), nil
		}
		return tx.plan(q.filter, q.sort, nil)
	})
}

// Count returns how many documents match filter.
func (c *Collection) Count(ctx context.Context, t kv.ReadTransactor, filter any) (int64, error) {
	q, err := parseQuery(filter, FindOptions{})
	if err != nil {
		return 0, err
	}
	return kv.ReadTransact(ctx, t, func(rtr kv.ReadTransaction) (int64, error) {
		tx, err := c.readTx(ctx, rtr)
		if err != nil || tx.st == nil {
			return 0, err
		}
		p, err := tx.plan(q.filter, nil, nil)
		if err != nil {
			return 0, err
		}
		var n int64
		_, err = tx.scan(p, scanOptions{}, func(id any, doc map[string]any, pos []byte) bool { n++; return true })
		return n, err
	})
}

// Distinct returns the distinct values of a dotted path among the documents matching filter,
// in MongoDB's type order: each element of an array counts as a value, and documents without
// the path contribute nothing.
func (c *Collection) Distinct(ctx context.Context, t kv.ReadTransactor, path string, filter any) ([]any, error) {
	fp, err := parsePath(path)
	if err != nil {
		return nil, fmt.Errorf("docstore: distinct %q: %v: %w", path, err, ErrInvalidFilter)
	}
	q, err := parseQuery(filter, FindOptions{})
	if err != nil {
		return nil, err
	}
	return kv.ReadTransact(ctx, t, func(rtr kv.ReadTransaction) ([]any, error) {
		tx, err := c.readTx(ctx, rtr)
		if err != nil || tx.st == nil {
			return nil, err
		}
		p, err := tx.plan(q.filter, nil, nil)
		if err != nil {
			return nil, err
		}
		var out []any
		_, err = tx.scan(p, scanOptions{}, func(id any, doc map[string]any, pos []byte) bool {
			for _, cd := range collect(doc, fp) {
				if cd.missing {
					continue
				}
				if arr, ok := cd.v.([]any); ok && !cd.expanded {
					_ = arr
					continue
				}
				out = append(out, cd.v)
			}
			return true
		})
		slices.SortStableFunc(out, compareValues)
		return slices.CompactFunc(out, equalValues), err
	})
}

// Continuation tokens: (1, hash of the query, scan name, position…). The scan name is "#ids",
// "" (the collection) or an index name; it makes the planner choose the same scan again.
const tokenVersion = 1

func queryHash(q *query) int64 {
	h := fnv.New64a()
	h.Write([]byte(q.filter.String()))
	h.Write([]byte{0})
	h.Write([]byte(sortString(q.sort)))
	return int64(h.Sum64())
}

func scanName(p *Plan) string {
	switch p.kind {
	case planIDs:
		return "#ids"
	case planIndexScan:
		return p.ix.meta.Name
	}
	return ""
}

// find runs one page of a query.
func (t *tx) find(q *query) (*Page, error) {
	if t.st == nil {
		p := (&Plan{kind: planCollScan, filter: q.filter, sort: q.sort, inMemory: len(q.sort) > 0}).finish()
		return &Page{Plan: p}, nil
	}
	var force *string
	var pos tuple.Tuple
	if len(q.opts.Continuation) > 0 {
		tok, err := tuple.Unpack(q.opts.Continuation)
		if err != nil || len(tok) < 3 {
			return nil, fmt.Errorf("docstore: continuation does not decode: %w", ErrInvalidContinuation)
		}
		v, _ := tok[0].(int64)
		h, _ := tok[1].(int64)
		name, ok := tok[2].(string)
		if v != tokenVersion || !ok || h != queryHash(q) {
			return nil, fmt.Errorf("docstore: continuation belongs to another query: %w", ErrInvalidContinuation)
		}
		force, pos = &name, tok[3:]
	}
	p, err := t.plan(q.filter, q.sort, force)
	if err != nil {
		return nil, err
	}
	page := &Page{Plan: p}
	skip := 0
	if len(q.opts.Continuation) == 0 {
		skip = q.opts.Skip
	}
	limit := q.opts.Limit
	emit := func(id any, doc map[string]any) *Document {
		return &Document{fields: q.proj.apply(doc)}
	}
	token := func(position ...any) []byte {
		return append(tuple.Tuple{int64(tokenVersion), queryHash(q), scanName(p)}, position...).Pack()
	}
	if p.inMemory {
		return t.sortedPage(q, p, pos, skip, limit, page, emit, token)
	}
	var after []byte
	if len(pos) > 0 {
		b, ok := pos[0].([]byte)
		if !ok || len(pos) != 1 {
			return nil, fmt.Errorf("docstore: continuation position: %w", ErrInvalidContinuation)
		}
		after = b
	}
	var last []byte
	full := false
	want := 0
	if limit > 0 {
		want = skip + limit
	}
	scanned, err := t.scan(p, scanOptions{after: after, limit: q.opts.ScanLimit, want: want}, func(id any, doc map[string]any, at []byte) bool {
		last = at
		if skip > 0 {
			skip--
			return true
		}
		page.Docs = append(page.Docs, emit(id, doc))
		if limit > 0 && len(page.Docs) >= limit {
			full = true
			return false
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if full || (scanned.limited && scanned.last != nil) {
		at := last
		if scanned.limited && !full {
			at = scanned.last
		}
		page.Continuation = token(at)
	}
	return page, nil
}

// scanStats says how a scan ended.
type scanStats struct {
	limited bool   // the scan limit stopped it
	last    []byte // position of the last item read
}

// scanOptions shape a scan.
type scanOptions struct {
	after []byte // the position to start after (nil: the start)
	limit int    // stop once this many documents or index entries were read (0: no limit)
	want  int    // how many matches the caller stops at, if it knows (0: it does not)
}

// readAhead is the most document reads a scan issues before it waits for the first of them.
const readAhead = 32

// window returns how many document reads to issue at once when n items were read and m
// documents matched: no more than the caller wants if every one matched, or than the scan
// limit allows.
func (o scanOptions) window(n, m int) int {
	w := readAhead
	if o.want > 0 {
		w = min(w, max(o.want-m, 1))
	}
	if o.limit > 0 {
		w = min(w, o.limit-n)
	}
	return w
}

// scan runs the plan's scan from o.after, calling fn with each live document that matches the
// filter and its position, until fn returns false, the scan ends, or o.limit items were read.
// Document reads are issued a window at a time (see scanOptions.window), so that on an engine
// with network round trips they overlap; a window never reads a document the scan would not
// have read one at a time.
func (t *tx) scan(p *Plan, o scanOptions, fn func(id any, doc map[string]any, pos []byte) bool) (scanStats, error) {
	var stats scanStats
	switch p.kind {
	case planIDs:
		start := 0
		if o.after != nil {
			t2, err := tuple.Unpack(o.after)
			i, _ := safeIndex(t2)
			if err != nil || i < 0 || i >= len(p.ids) {
				return stats, fmt.Errorf("docstore: continuation position: %w", ErrInvalidContinuation)
			}
			start = i + 1
		}
		matched := 0
		for i := start; i < len(p.ids); {
			reads := make([]docRead, 0, min(o.window(i-start, matched), len(p.ids)-i))
			for j := i; j < len(p.ids) && len(reads) < cap(reads); j++ {
				reads = append(reads, t.startDoc(p.ids[j]))
			}
			for _, r := range reads {
				pos := tuple.Tuple{int64(i)}.Pack()
				stats.last = pos
				doc, err := r.live()
				if err != nil {
					return stats, err
				}
				if doc != nil && p.filter.root.match(doc) {
					matched++
					if !fn(p.ids[i], doc, pos) {
						return stats, nil
					}
				}
				i++
				if o.limit > 0 && i-start >= o.limit && i < len(p.ids) {
					stats.limited = true
					return stats, nil
				}
			}
		}
		return stats, nil
	case planCollScan:
		return t.scanCollection(p, o.after, o.limit, fn)
	}
	return t.scanIndex(p, o, fn)
}

func safeIndex(t tuple.Tuple) (int, bool) {
	if len(t) != 1 {
		return -1, false
	}
	i, ok := t[0].(int64)
	if !ok || i < 0 || i > 1<<31 {
		return -1, false
	}
	return int(i), true
}

// narrow moves a scan range past a continuation position (relative to base).
func narrow(r kv.Range, base, after []byte, reverse bool, afterSuffix byte) (kv.Range, error) {
	if after == nil {
		return r, nil
	}
	abs := append(clip(base), after...)
	if !reverse {
		abs = append(abs, afterSuffix)
		if bytes.Compare(abs, r.Begin) > 0 {
			r.Begin = abs
		}
	} else if bytes.Compare(abs, r.End) < 0 {
		r.End = abs
	}
	if bytes.Compare(r.Begin, r.End) > 0 {
		r.Begin = r.End
	}
	return r, nil
}

// scanCollection reads documents in _id order; the position is a document's packed _id.
func (t *tx) scanCollection(p *Plan, after []byte, scanLimit int, fn func(id any, doc map[string]any, pos []byte) bool) (scanStats, error) {
	var stats scanStats
	r, err := p.scanRange(t.st)
	if err != nil {
		return stats, err
	}
	if r, err = narrow(r, t.st.docs, after, p.reverse, 0xff); err != nil {
		return stats, err
	}
	it := t.rtr.GetRange(r, kv.RangeOptions{Reverse: p.reverse}).Iterator()
	n := 0
	err = eachDoc(t.st, it, p.reverse, func(prefix []byte, id any, rows []kv.KeyValue) (bool, error) {
		pos := prefix[len(t.st.docs):]
		stats.last = pos
		doc, err := assembleDoc(prefix, id, rows)
		if err != nil {
			return false, err
		}
		n++
		if doc != nil && !t.st.expired(doc, t.now) && p.filter.root.match(doc) && !fn(id, doc, pos) {
			return false, nil
		}
		if scanLimit > 0 && n >= scanLimit {
			stats.limited = true
			return false, nil
		}
		return true, nil
	})
	return stats, err
}

// scanIndex reads index entries in the plan's range, fetching each document; the position is
// an entry key relative to the index prefix.
func (t *tx) scanIndex(p *Plan, o scanOptions, fn func(id any, doc map[string]any, pos []byte) bool) (scanStats, error) {
	var stats scanStats
	r, err := p.scanRange(t.st)
	if err != nil {
		return stats, err
	}
	full := r
	if r, err = narrow(r, p.ix.prefix, o.after, p.reverse, 0x00); err != nil {
		return stats, err
	}
	it := t.rtr.GetRange(r, kv.RangeOptions{Reverse: p.reverse}).Iterator()
	type pending struct {
		key []byte
		doc docRead
	}
	var reads []pending
	n, matched := 0, 0
	for {
		reads = reads[:0]
		for w := o.window(n, matched); len(reads) < w && it.Next(); {
			key := it.KeyValue().Key
			id, err := entryID(p.ix, key)
			if err != nil {
				return stats, err
			}
			reads = append(reads, pending{key: key, doc: t.startDoc(id)})
		}
		if len(reads) == 0 {
			return stats, it.Err()
		}
		for _, e := range reads {
			n++
			pos := e.key[len(p.ix.prefix):]
			stats.last = pos
			doc, err := e.doc.live()
			if err != nil {
				return stats, err
			}
			if doc != nil && p.multikey {
				first, err := t.firstEntryInRange(p, doc, e.doc.id, full)
				if err != nil {
					return stats, err
				}
				if !bytes.Equal(first, e.key) {
					doc = nil // the document is returned at another of its entries
				}
			}
			if doc != nil && p.filter.root.match(doc) {
				matched++
				if !fn(e.doc.id, doc, pos) {
					return stats, nil
				}
			}
			if o.limit > 0 && n >= o.limit {
				stats.limited = true
				return stats, nil
			}
		}
	}
}

// firstEntryInRange returns the entry of doc, among those in r, that the scan meets first.
func (t *tx) firstEntryInRange(p *Plan, doc map[string]any, id any, r kv.Range) ([]byte, error) {
	es, _, err := p.ix.entries(doc, id)
	if err != nil {
		return nil, err
	}
	var best []byte
	for _, e := range es {
		if !r.Contains(e.key) {
			continue
		}
		if best == nil || (!p.reverse && bytes.Compare(e.key, best) < 0) || (p.reverse && bytes.Compare(e.key, best) > 0) {
			best = e.key
		}
	}
	return best, nil
}

// sortedPage runs a query whose sort is done in memory: every match is read, sorted, and the
// page taken after the continuation's position (the sort key and _id of the last document
// returned).
func (t *tx) sortedPage(q *query, p *Plan, pos tuple.Tuple, skip, limit int, page *Page, emit func(any, map[string]any) *Document, token func(...any) []byte) (*Page, error) {
	type item struct {
		id   any
		doc  map[string]any
		keys [][]byte
	}
	max := q.opts.MaxInMemorySort
	if max == 0 {
		max = DefaultMaxInMemorySort
	}
	keysOf := func(id any, doc map[string]any) [][]byte {
		out := make([][]byte, 0, len(p.sort)+1)
		for _, f := range p.sort {
			out = append(out, appendKey(nil, sortKey(doc, f)))
		}
		return append(out, appendKey(nil, id))
	}
	idDesc := allDescending(p.sort)
	cmp := func(a, b [][]byte) int {
		for i, f := range p.sort {
			c := bytes.Compare(a[i], b[i])
			if f.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		c := bytes.Compare(a[len(a)-1], b[len(b)-1])
		if idDesc {
			c = -c
		}
		return c
	}
	var afterKeys [][]byte
	if len(pos) > 0 {
		if len(pos) != len(p.sort)+1 {
			return nil, fmt.Errorf("docstore: continuation sort position: %w", ErrInvalidContinuation)
		}
		for _, e := range pos {
			b, ok := e.([]byte)
			if !ok {
				return nil, fmt.Errorf("docstore: continuation sort position: %w", ErrInvalidContinuation)
			}
			afterKeys = append(afterKeys, b)
		}
	}
	var items []item
	var tooMany bool
	_, err := t.scan(p, scanOptions{}, func(id any, doc map[string]any, _ []byte) bool {
		k := keysOf(id, doc)
		if afterKeys != nil && cmp(k, afterKeys) <= 0 {
			return true
		}
		items = append(items, item{id: id, doc: doc, keys: k})
		if len(items) > max {
			tooMany = true
			return false
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if tooMany {
		return nil, fmt.Errorf("docstore: sort %s of collection %q holds more than %d documents; add an index or raise MaxInMemorySort: %w", sortString(p.sort), t.st.meta.Name, max, ErrSortTooLarge)
	}
	slices.SortFunc(items, func(a, b item) int { return cmp(a.keys, b.keys) })
	if skip > len(items) {
		skip = len(items)
	}
	items = items[skip:]
	if limit > 0 && len(items) > limit {
		last := items[limit-1]
		position := make([]any, len(last.keys))
		for i, k := range last.keys {
			position[i] = k
		}
		page.Continuation = token(position...)
		items = items[:limit]
	}
	for _, it := range items {
		page.Docs = append(page.Docs, emit(it.id, it.doc))
	}
	return page, nil
}
