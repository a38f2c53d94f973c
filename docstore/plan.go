package docstore

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/layerkit/layerkit/kv"
)

// Plan is how a query runs, as chosen by the planner: a lookup of _ids, a scan of the
// collection in _id order, or a scan of one index (an equality prefix, then at most one range,
// perhaps backwards), then the filter on each document fetched, then an in-memory sort when the
// scan does not give the requested order. Explain shows it.
type Plan struct {
	kind     planKind
	ids      []any // planIDs, in _id order
	ix       *indexState
	eq       []any // values of the index's first fields (or of _id)
	low      *bound
	high     *bound
	multikey bool // the index has met arrays: a document may have several entries in range
	reverse  bool
	filter   *Filter
	sort     []sortField
	inMemory bool // the sort is done in memory
	explain  string
	hash     uint64
}

type planKind int

const (
	planIDs planKind = iota
	planCollScan
	planIndexScan
)

// bound is one end of a range on a field: a value and whether it is included.
type bound struct {
	value     any
	inclusive bool
}

// Explain describes the plan in one line, for example
// `IndexScan(by_city: city = "Paris", age > 30) | Fetch | Filter({...}) | Sort(-age)`.
func (p *Plan) Explain() string { return p.explain }

// String is Explain.
func (p *Plan) String() string { return p.explain }

// IndexName returns the name of the index the plan scans, or "" when it scans no index.
func (p *Plan) IndexName() string {
	if p.ix == nil {
		return ""
	}
	return p.ix.meta.Name
}

// conjunct is one condition of a top-level AND that a scan may serve.
type conjunct struct {
	n *fieldNode
}

// conjuncts flattens the top-level AND of a filter into its field conditions.
func conjuncts(n node, out []conjunct) []conjunct {
	switch x := n.(type) {
	case andNode:
		for _, c := range x {
			out = conjuncts(c, out)
		}
	case *fieldNode:
		out = append(out, conjunct{n: x})
	}
	return out
}

// indexable reports whether a value can bound an index scan: scalars and objects (an array
// value is matched element by element, which entries do not mirror).
func indexable(v any) bool {
	switch v.(type) {
	case []any, undefined:
		return false
	}
	return true
}

// idEquality returns the _id a filter pins with an equality, if it does.
func (f *Filter) idEquality() (any, bool) {
	for _, c := range conjuncts(f.root, nil) {
		if c.n.op == "$eq" && c.n.re == nil && c.n.ps == "_id" {
			id, err := normalizeID(c.n.value)
			if err == nil {
				return id, true
			}
		}
	}
	return nil, false
}

// idOnly returns the _id of a filter that is exactly an equality on _id.
func (f *Filter) idOnly() (any, bool) {
	n, ok := f.root.(*fieldNode)
	if !ok || n.op != "$eq" || n.re != nil || n.ps != "_id" {
		return nil, false
	}
	id, err := normalizeID(n.value)
	return id, err == nil
}

// plan chooses how to run a query: by _id when the filter pins _ids, else the readable index
// whose fields match the longest prefix of equalities, then a range, then the sort (an index
// that provides the sort wins a tie), else a collection scan. force names the index a
// continuation was made with ("" for none).
func (t *tx) plan(f *Filter, sort []sortField, force *string) (*Plan, error) {
	p := &Plan{filter: f, sort: sort}
	conj := conjuncts(f.root, nil)
	if force == nil || *force == "#ids" {
		if ids := idsOf(conj); ids != nil {
			p.kind, p.ids = planIDs, ids
			p.inMemory = len(sort) > 0
			return p.finish(), nil
		}
	}
	if force != nil && *force == "#ids" {
		return nil, fmt.Errorf("docstore: continuation was made by an _id lookup, which this query does not allow: %w", ErrInvalidContinuation)
	}
	type cand struct {
		ix        *indexState
		eq        []any
		used      []int
		low, high *bound
		sortOK    bool
		reverse   bool
		multikey  bool
		score     int
	}
	var cands []*cand
	// The collection itself is an index on _id.
	coll := &cand{}
	for _, c := range conj {
		if c.n.ps == "_id" {
			applyRange(&coll.low, &coll.high, c.n)
		}
	}
	if coll.low != nil || coll.high != nil {
		coll.score = 2
	}
	switch {
	case len(sort) == 0:
		coll.sortOK = true
	case len(sort) == 1 && sort[0].ps == "_id":
		coll.sortOK, coll.reverse = true, sort[0].desc
	}
	if force == nil || *force == "" {
		cands = append(cands, coll)
	}
	for _, ix := range t.st.indexes {
		if !ix.readable() || (force != nil && *force != ix.meta.Name) {
			continue
		}
		c := &cand{ix: ix}
		requiresPresence := false
		for _, path := range ix.paths {
			j := slices.IndexFunc(conj, func(c conjunct) bool {
				return c.n.op == "$eq" && c.n.re == nil && c.n.path.String() == path.String() && indexable(c.n.value)
			})
			if j < 0 {
				break
			}
			if conj[j].n.value != nil {
				requiresPresence = true
			}
			c.eq = append(c.eq, conj[j].n.value)
			c.used = append(c.used, j)
		}
		if len(c.eq) < len(ix.paths) {
			next := ix.paths[len(c.eq)].String()
			for _, cj := range conj {
				if cj.n.path.String() == next {
					if applyRange(&c.low, &c.high, cj.n) {
						requiresPresence = true
					}
				}
			}
		}
		if ix.meta.Sparse && !requiresPresence {
			continue // documents without the fields would be missed
		}
		if ix.partial != nil && !implies(conj, ix.partial) {
			continue
		}
		c.sortOK, _ = indexSort(ix, c.eq, sort, false)
		narrows := len(c.eq) > 0 || c.low != nil || c.high != nil
		if !narrows && force == nil && !(c.sortOK && len(sort) > 0) {
			continue // of no use even if it has never met an array
		}
		// Only now, for an index that may serve, read whether it has met an array.
		multikey, err := t.isMultikey(ix)
		if err != nil {
			return nil, err
		}
		c.multikey = multikey
		if multikey && c.low != nil && c.high != nil {
			// An array can meet each bound with a different element: one bound only.
			c.high = nil
		}
		c.sortOK, c.reverse = indexSort(ix, c.eq, sort, multikey)
		if !narrows && force == nil && !(c.sortOK && len(sort) > 0) {
			continue
		}
		c.score = 4 * len(c.eq)
		if c.low != nil || c.high != nil {
			c.score += 2
		}
		cands = append(cands, c)
	}
	var best *cand
	for _, c := range cands {
		s := c.score
		if c.sortOK {
			s++
		}
		if best == nil || s > best.score+boolInt(best.sortOK) {
			best = c
		}
	}
	if best == nil {
		return nil, fmt.Errorf("docstore: the index a continuation was made with is gone or not usable: %w", ErrInvalidContinuation)
	}
	if best.ix == nil {
		p.kind = planCollScan
	} else {
		p.kind, p.ix, p.eq, p.multikey = planIndexScan, best.ix, best.eq, best.multikey
	}
	p.low, p.high, p.reverse = best.low, best.high, best.reverse
	p.inMemory = !best.sortOK
	if p.inMemory {
		p.reverse = false
	}
	return p.finish(), nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// idsOf returns the _ids an equality or $in on _id pins, sorted; nil when there is none.
func idsOf(conj []conjunct) []any {
	for _, c := range conj {
		if c.n.ps != "_id" || c.n.re != nil || len(c.n.res) > 0 {
			continue
		}
		var vals []any
		switch c.n.op {
		case "$eq":
			vals = []any{c.n.value}
		case "$in":
			vals = c.n.values
		default:
			continue
		}
		var ids []any
		for _, v := range vals {
			if id, err := normalizeID(v); err == nil {
				ids = append(ids, id)
			}
		}
		slices.SortFunc(ids, compareValues)
		ids = slices.CompactFunc(ids, equalValues)
		if ids == nil {
			ids = []any{}
		}
		return ids
	}
	return nil
}

// applyRange narrows low/high with a range operator; it reports whether the operator was one.
func applyRange(low, high **bound, n *fieldNode) bool {
	if n.re != nil || n.value == nil || !indexable(n.value) {
		return false
	}
	b := &bound{value: n.value, inclusive: n.op == "$gte" || n.op == "$lte"}
	switch n.op {
	case "$gt", "$gte":
		if *low == nil || tighterLow(b, *low) {
			*low = b
		}
	case "$lt", "$lte":
		if *high == nil || tighterHigh(b, *high) {
			*high = b
		}
	default:
		return false
	}
	return true
}

func tighterLow(a, b *bound) bool {
	if typeTag(a.value) != typeTag(b.value) {
		return false // type brackets differ: the filter keeps both; the scan uses the first
	}
	c := compareValues(a.value, b.value)
	return c > 0 || c == 0 && !a.inclusive
}

func tighterHigh(a, b *bound) bool {
	if typeTag(a.value) != typeTag(b.value) {
		return false
	}
	c := compareValues(a.value, b.value)
	return c < 0 || c == 0 && !a.inclusive
}

// indexSort reports whether scanning ix (with eq fixing its first fields) returns documents in
// the sort order, and whether backwards.
func indexSort(ix *indexState, eq []any, sort []sortField, multikey bool) (ok, reverse bool) {
	if len(sort) == 0 {
		return true, false
	}
	if multikey {
		return false, false
	}
	rest := sort
	for len(rest) > 0 && slices.ContainsFunc(ix.paths[:len(eq)], func(p fieldPath) bool { return p.String() == rest[0].ps }) {
		rest = rest[1:]
	}
	if len(rest) == 0 {
		return true, false
	}
	desc := rest[0].desc
	i := len(eq)
	for _, f := range rest {
		if f.desc != desc {
			return false, false
		}
		if i < len(ix.paths) {
			if ix.paths[i].String() != f.ps {
				return false, false
			}
			i++
			continue
		}
		if f.ps != "_id" || i != len(ix.paths) {
			return false, false
		}
		i++
	}
	return true, desc
}

// implies reports whether the query's conditions guarantee the partial filter, judged by each
// condition of the partial filter: the query has the same condition, or an equality whose value
// satisfies it, or a range within it.
func implies(conj []conjunct, partial *Filter) bool {
	for _, pc := range conjuncts(partial.root, nil) {
		ok := false
		for _, qc := range conj {
			if qc.n.ps != pc.n.ps {
				continue
			}
			if string(qc.n.appendString(nil)) == string(pc.n.appendString(nil)) {
				ok = true
				break
			}
			switch qc.n.op {
			case "$eq":
				if qc.n.re == nil && pc.n.matchCandidates(valueCandidates(qc.n.value)) && !isArray(qc.n.value) {
					ok = true
				}
			case "$gt", "$gte", "$lt", "$lte":
				ok = rangeImplies(qc.n, pc.n)
			}
			if ok {
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func isArray(v any) bool { _, ok := v.([]any); return ok }

// rangeImplies: a query range q within the partial filter's range p (same type).
func rangeImplies(q, p *fieldNode) bool {
	if q.value == nil || p.value == nil || typeTag(q.value) != typeTag(p.value) {
		return false
	}
	c := compareValues(q.value, p.value)
	switch p.op {
	case "$gt", "$gte":
		if q.op != "$gt" && q.op != "$gte" {
			return false
		}
		return c > 0 || c == 0 && (p.op == "$gte" || q.op == "$gt")
	case "$lt", "$lte":
		if q.op != "$lt" && q.op != "$lte" {
			return false
		}
		return c < 0 || c == 0 && (p.op == "$lte" || q.op == "$lt")
	case "$exists":
		return p.exists
	}
	return false
}

// finish writes the plan's description and hash.
func (p *Plan) finish() *Plan {
	var b strings.Builder
	switch p.kind {
	case planIDs:
		b.WriteString("IDs(")
		for i, id := range p.ids {
			if i > 0 {
				b.WriteString(", ")
			}
			b.Write(appendJSONValue(nil, id))
		}
		b.WriteString(")")
	case planCollScan:
		b.WriteString("CollScan(")
		b.WriteString(describeRange("_id", p.low, p.high))
		if p.reverse {
			b.WriteString(" reverse")
		}
		b.WriteString(")")
	case planIndexScan:
		b.WriteString("IndexScan(" + p.ix.meta.Name)
		var parts []string
		for i, v := range p.eq {
			parts = append(parts, p.ix.meta.Fields[i]+" = "+string(appendJSONValue(nil, v)))
		}
		if p.low != nil || p.high != nil {
			parts = append(parts, describeRange(p.ix.meta.Fields[len(p.eq)], p.low, p.high))
		}
		if len(parts) > 0 {
			b.WriteString(": " + strings.Join(parts, ", "))
		}
		if p.reverse {
			b.WriteString(" reverse")
		}
		if p.multikey {
			b.WriteString(" multikey")
		}
		b.WriteString(") | Fetch")
	}
	if !p.filter.matchAll() {
		b.WriteString(" | Filter(" + p.filter.String() + ")")
	}
	if p.inMemory {
		b.WriteString(" | Sort(" + sortString(p.sort) + ")")
	}
	p.explain = b.String()
	h := fnv.New64a()
	h.Write([]byte(p.explain))
	p.hash = h.Sum64()
	return p
}

func describeRange(field string, low, high *bound) string {
	var parts []string
	if low != nil {
		op := " > "
		if low.inclusive {
			op = " >= "
		}
		parts = append(parts, field+op+string(appendJSONValue(nil, low.value)))
	}
	if high != nil {
		op := " < "
		if high.inclusive {
			op = " <= "
		}
		parts = append(parts, field+op+string(appendJSONValue(nil, high.value)))
	}
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, ", ")
}

// scanRange returns the keys the plan's scan reads: the whole collection (P+(1)) or index
// (P+(3, id)), narrowed by the equality prefix and the range. A range keeps to the type of its
// value, as MongoDB's comparisons do.
func (p *Plan) scanRange(st *collState) (kv.Range, error) {
	base := st.docs
	if p.kind == planIndexScan {
		base = p.ix.prefix
	}
	eqKey := clip(base)
	for _, v := range p.eq {
		eqKey = appendKey(eqKey, v)
	}
	r := kv.Range{Begin: clip(eqKey), End: append(clip(eqKey), 0xff)}
	typeStart := func(v any) []byte { return appendTupleInt(clip(eqKey), int64(typeTag(v))) }
	if p.low != nil {
		k := appendKey(clip(eqKey), p.low.value)
		if !p.low.inclusive {
			k = append(k, 0xff)
		}
		r.Begin = k
		if p.high == nil {
			r.End = append(typeStart(p.low.value), 0xff)
		}
	}
	if p.high != nil {
		k := appendKey(clip(eqKey), p.high.value)
		if p.high.inclusive {
			k = append(k, 0xff)
		}
		r.End = k
		if p.low == nil {
			r.Begin = typeStart(p.high.value)
		}
	}
	if string(r.Begin) > string(r.End) {
		r.End = r.Begin
	}
	return r, nil
}
