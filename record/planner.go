package record

import (
	"fmt"
	"slices"

	"github.com/layerkit/layerkit/tuple"
)

// planner chooses the plan of one query.
type planner struct {
	s          *Store
	q          Query
	queryTypes []*RecordType   // the types the query names (nil: every type)
	types      []*RecordType   // the types it reads: queryTypes, or every type
	first      *RecordType     // converts comparison values to the stored kinds
	pkCols     []KeyExpression // the primary-key columns the types share (nil: they differ)
	indexes    []*Index        // scannable indexes that cover every type read
	sortCols   []KeyExpression // the query's sort, flattened
}

func (s *Store) newPlanner(q Query) (*planner, error) {
	pl := &planner{s: s, q: q}
	for _, name := range q.RecordTypes {
		rt := s.md.byName[name]
		if rt == nil {
			return nil, fmt.Errorf("record: query names unknown record type %q: %w", name, ErrInvalidQuery)
		}
		pl.queryTypes = append(pl.queryTypes, rt)
	}
	pl.types = pl.queryTypes
	if pl.types == nil {
		pl.types = s.md.types
	}
	for _, rt := range pl.types {
		if q.Filter != nil {
			if err := q.Filter.check(rt.desc); err != nil {
				return nil, err
			}
		}
		if q.Sort != nil {
			if err := q.Sort.check(rt.desc); err != nil {
				return nil, fmt.Errorf("record: query sort %s on %s: %v: %w", q.Sort, rt.name, err, ErrInvalidQuery)
			}
			if q.Sort.fansOut() {
				return nil, fmt.Errorf("record: query sort %s fans out: %w", q.Sort, ErrInvalidQuery)
			}
		}
		for _, f := range q.RequiredFields {
			if f == nil {
				return nil, fmt.Errorf("record: query requires a nil field on %s: %w", rt.name, ErrInvalidQuery)
			}
			if err := f.check(rt.desc); err != nil {
				return nil, fmt.Errorf("record: query requires %s on %s: %v: %w", f, rt.name, err, ErrInvalidQuery)
			}
		}
	}
	pl.first = pl.types[0]
	pl.pkCols = pl.first.pkColumns
	for _, rt := range pl.types[1:] {
		if !sameColumns(pl.pkCols, rt.pkColumns) {
			pl.pkCols = nil // types with different primary keys: only a full record scan
			break
		}
	}
	for _, ix := range s.md.indexes {
		if s.indexScannable(ix) && coversAll(ix, pl.types) {
			pl.indexes = append(pl.indexes, ix)
		}
	}
	if q.Sort != nil {
		pl.sortCols = q.Sort.flatten(nil)
	}
	return pl, nil
}

// order is the order a plan must yield its records in.
type order struct {
	sort    []KeyExpression // columns (nil: any order)
	reverse bool
	// key asks for the merge order: by sort, then by primary key, so that the plans a union or
	// an intersection merges meet each record at the same place.
	key bool
}

// choice is a plan for a filter: a node yielding records or index entries, and the conjuncts
// it leaves for a filter.
type choice struct {
	node     planNode
	residual []conjunct
	score    int
}

// candidate is one scan matched against the conjuncts of a filter.
type candidate struct {
	ix        *Index
	match     []KeyExpression // the columns compared with the filter: index columns or primary key
	keyCols   []KeyExpression // every column of the scanned keys, in key order
	eq        tuple.Tuple
	inAt      int // position in eq of an IN comparison's parameter, or -1
	inName    string
	inValues  []any
	used      []bool // conjuncts the scan satisfies
	low, high *bound
	prefix    any
	score     int
	// typeFilter is set when the scan may yield records of types the query does not ask for.
	typeFilter bool
}

// choose returns the best plan for conj that yields records in order o, or nil when none does.
// It scores every single scan; an intersection of scans that each match at least as many
// equalities as the best one replaces it when it leaves fewer conjuncts to filter (a scan
// that matches more equalities is taken to be more selective than the intersection), and a
// union of the branches of an OR replaces a plan that narrows nothing.
func (pl *planner) choose(conj []conjunct, o order) (*choice, error) {
	cands, err := pl.candidates(conj)
	if err != nil {
		return nil, err
	}
	var best *choice
	for _, c := range cands {
		if ch := pl.fromCandidate(c, conj, o); ch != nil && (best == nil || ch.score > best.score || pl.coversTie(ch, best)) {
			best = ch
		}
	}
	minScore := 4
	if best != nil {
		minScore = max(minScore, best.score)
	}
	if in := pl.intersection(cands, conj, o, minScore); in != nil && (best == nil || len(in.residual) < len(best.residual)) {
		best = in
	}
	if best == nil || best.score == 0 {
		u, err := pl.union(conj, o)
		if err != nil {
			return nil, err
		}
		if u != nil {
			best = u
		}
	}
	return best, nil
}

// coversTie reports whether ch, scoring as best and leaving as many conjuncts to filter, answers
// the query from index entries alone where best cannot: between otherwise equal scans the Java
// Record Layer's planner prefers the one that needs no fetch (RecordQueryPlanner.isBetterThanOther
// and compareIndexes), so an index holding every required field beats the primary-key scan.
func (pl *planner) coversTie(ch, best *choice) bool {
	if len(pl.q.RequiredFields) == 0 || ch.score != best.score || len(ch.residual) != len(best.residual) {
		return false
	}
	return pl.covers(ch) && !pl.covers(best)
}

// covers reports whether Plan would turn ch into a covering plan.
func (pl *planner) covers(ch *choice) bool {
	f := recordFilter{types: pl.queryTypes, residual: andOf(ch.residual)}
	for _, sc := range ch.node.scans(nil) {
		f.typeFilter = f.typeFilter || sc.typeFilter
	}
	return pl.cover(ch.node, &f, nil) != nil
}

// candidates matches every scan against conj: the primary key and each scannable index.
func (pl *planner) candidates(conj []conjunct) ([]*candidate, error) {
	var out []*candidate
	c, err := pl.match(nil, pl.pkCols, pl.pkCols, conj)
	if err != nil {
		return nil, err
	}
	out = append(out, c)
	for _, ix := range pl.indexes {
		keyCols := append([]KeyExpression(nil), ix.columns...)
		for i, col := range ix.types[0].pkColumns {
			// An index on several types keeps the whole primary key (nil positions).
			if ix.pkPositions == nil || ix.pkPositions[i] < 0 {
				keyCols = append(keyCols, col)
			}
		}
		c, err := pl.match(ix, ix.columns, keyCols, conj)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// match finds the longest prefix of match columns that equality (or one IN) comparisons fix,
// then a range or prefix comparison on the next column.
func (pl *planner) match(ix *Index, match, keyCols []KeyExpression, conj []conjunct) (*candidate, error) {
	c := &candidate{ix: ix, match: match, keyCols: keyCols, inAt: -1, used: make([]bool, len(conj))}
	matched := 0
	for _, col := range match {
		if _, ok := col.(recordTypeExpr); ok && len(pl.types) == 1 {
			c.eq = append(c.eq, pl.first.typeKey)
			continue
		}
		if j := findConjunct(conj, col.String(), c.used, opEq); j >= 0 {
			v, err := conjunctValue(pl.first, conj[j])
			if err != nil {
				return nil, err
			}
			c.eq = append(c.eq, v)
			c.used[j] = true
			matched++
			continue
		}
		if c.inAt < 0 && !col.fansOut() {
			if j := findConjunct(conj, col.String(), c.used, opIn); j >= 0 && !conj[j].cmp.any && len(conj[j].cmp.values) > 0 {
				vals, err := pl.inValues(conj[j])
				if err != nil {
					return nil, err
				}
				c.inAt, c.inName, c.inValues = len(c.eq), conj[j].key(), vals
				c.eq = append(c.eq, nil)
				c.used[j] = true
				matched++
				continue
			}
		}
		break
	}
	if n := len(c.eq); n < len(match) && !match[n].fansOut() {
		key := match[n].String()
		for j, cj := range conj {
			if cj.cmp == nil || cj.key() != key || c.used[j] {
				continue
			}
			v := any(nil)
			if len(cj.cmp.values) == 1 {
				var err error
				if v, err = conjunctValue(pl.first, cj); err != nil {
					return nil, err
				}
			}
			switch cj.cmp.op {
			case opGt, opGe:
				if c.low == nil && c.prefix == nil {
					c.low = &bound{v, cj.cmp.op == opGe}
				}
			case opLt, opLe:
				if c.high == nil && c.prefix == nil {
					c.high = &bound{v, cj.cmp.op == opLe}
				}
			case opStartsWith:
				if c.low == nil && c.high == nil && c.prefix == nil {
					c.prefix = v
				}
			}
		}
	}
	c.score = matched * 4 // an equality on the record type alone does not narrow an index
	if c.low != nil || c.high != nil || c.prefix != nil {
		c.score += 2
	}
	nq := len(pl.queryTypes)
	c.typeFilter = nq > 0 && ((ix == nil && nq < len(pl.s.md.types) && !eqFixesType(match, c.eq)) || (ix != nil && len(ix.types) > len(pl.types)))
	return c, nil
}

func eqFixesType(cols []KeyExpression, eq tuple.Tuple) bool {
	return len(cols) > 0 && len(eq) > 0 && cols[0].String() == (recordTypeExpr{}).String()
}

// inValues converts an IN comparison's values to the stored kind, sorted and without
// duplicates.
func (pl *planner) inValues(cj conjunct) ([]any, error) {
	fd, err := fieldOf(pl.first, cj)
	if err != nil {
		return nil, err
	}
	vals := make([]any, 0, len(cj.cmp.values))
	for _, v := range cj.cmp.values {
		w, err := comparand(fd, v)
		if err != nil {
			return nil, err
		}
		vals = append(vals, w)
	}
	slices.SortFunc(vals, compareValues)
	return slices.CompactFunc(vals, func(a, b any) bool { return compareValues(a, b) == 0 }), nil
}

// orderCols returns the columns a candidate's scan is ordered by: its key columns after the
// equality prefix, without those the prefix (or a single queried type) fixes, and the fixed
// columns. With inFixed false the IN column leads instead, as in an in-join, which takes its
// values in order.
func (pl *planner) orderCols(c *candidate, inFixed bool) (rest, fixed []KeyExpression) {
	for i := range c.eq {
		if i != c.inAt || inFixed {
			fixed = append(fixed, c.keyCols[i])
		}
	}
	if len(pl.types) == 1 {
		fixed = append(fixed, recordTypeExpr{})
	}
	if c.inAt >= 0 && !inFixed {
		rest = append(rest, c.keyCols[c.inAt])
	}
	for _, col := range c.keyCols[len(c.eq):] {
		if !eqFixed(fixed, col) && !eqFixed(rest, col) {
			rest = append(rest, col)
		}
	}
	return rest, fixed
}

// satisfies reports whether a scan ordered by rest (once fixed is fixed) yields order o.
func (pl *planner) satisfies(rest, fixed []KeyExpression, o order) bool {
	if o.key {
		if pl.pkCols == nil {
			return false
		}
		// Exactly the sort then the primary key: any other column in between would break the
		// merge order.
		var want []KeyExpression
		for _, col := range append(append([]KeyExpression(nil), o.sort...), pl.pkCols...) {
			if !eqFixed(fixed, col) && !eqFixed(want, col) {
				want = append(want, col)
			}
		}
		return sameColumns(rest, want)
	}
	// The sort is provided when its columns follow the equality prefix (columns fixed by an
	// equality may be skipped at its start).
	sc := o.sort
	for len(sc) > 0 && eqFixed(fixed, sc[0]) {
		sc = sc[1:]
	}
	return len(sc) == 0 || (len(rest) >= len(sc) && sameColumns(rest[:len(sc)], sc) && !anyFansOut(sc))
}

// fromCandidate returns the plan of a candidate scan that yields order o, or nil. A candidate
// with an IN becomes an in-join when its value order gives o, else an in-union merged in the
// order of o when every run gives it.
func (pl *planner) fromCandidate(c *candidate, conj []conjunct, o order) *choice {
	var residual []conjunct
	for j, cj := range conj {
		if !c.used[j] {
			residual = append(residual, cj)
		}
	}
	scan := pl.scanOf(c, o.reverse)
	mk := func(n planNode) *choice { return &choice{node: n, residual: residual, score: c.score} }
	if c.inAt < 0 {
		if rest, fixed := pl.orderCols(c, true); pl.satisfies(rest, fixed, o) {
			return mk(scan)
		}
		return nil
	}
	if rest, fixed := pl.orderCols(c, false); pl.satisfies(rest, fixed, o) {
		vals := slices.Clone(c.inValues)
		if o.reverse {
			slices.Reverse(vals)
		}
		return mk(&inJoinNode{inner: scan, field: c.inName, values: vals})
	}
	if rest, fixed := pl.orderCols(c, true); (len(o.sort) > 0 || o.key) && pl.satisfies(rest, fixed, order{sort: o.sort, reverse: o.reverse, key: true}) {
		return mk(&inUnionNode{inner: scan, field: c.inName, values: c.inValues, key: mergeKey{sort: o.sort, reverse: o.reverse}})
	}
	return nil
}

func (pl *planner) scanOf(c *candidate, reverse bool) *scanNode {
	n := &scanNode{ix: c.ix, eq: c.eq, low: c.low, high: c.high, prefix: c.prefix, reverse: reverse, typeFilter: c.typeFilter}
	if c.inAt >= 0 {
		n.param = &inParam{at: c.inAt, name: c.inName}
	}
	return n
}

// intersection returns the intersection of equality scans (each of at least minScore) that,
// together, leave fewer conjuncts to filter than the first of them alone, as the Java Record
// Layer's planner builds it (RecordQueryPlanner.planIntersection): scans ordered by the merge
// key, the one that leaves the fewest conjuncts first, then each that removes another. Nil
// when fewer than two help.
func (pl *planner) intersection(cands []*candidate, conj []conjunct, o order, minScore int) *choice {
	var kids []*candidate
	for _, c := range cands {
		if c.inAt >= 0 || c.score < minScore {
			continue
		}
		if rest, fixed := pl.orderCols(c, true); pl.satisfies(rest, fixed, order{sort: o.sort, reverse: o.reverse, key: true}) {
			kids = append(kids, c)
		}
	}
	if len(kids) < 2 {
		return nil
	}
	count := func(used []bool) int {
		n := 0
		for _, u := range used {
			if !u {
				n++
			}
		}
		return n
	}
	slices.SortStableFunc(kids, func(a, b *candidate) int { return count(a.used) - count(b.used) })
	left := slices.Clone(kids[0].used)
	included := []*candidate{kids[0]}
	for _, k := range kids[1:] {
		merged := slices.Clone(left)
		for j, u := range k.used {
			merged[j] = merged[j] || u
		}
		if count(merged) < count(left) {
			included = append(included, k)
			left = merged
		}
	}
	if len(included) < 2 {
		return nil
	}
	n := &intersectionNode{mergeNode{key: mergeKey{sort: o.sort, reverse: o.reverse}}}
	for _, k := range included {
		n.kids = append(n.kids, pl.scanOf(k, o.reverse))
	}
	var residual []conjunct
	for j, cj := range conj {
		if !left[j] {
			residual = append(residual, cj)
		}
	}
	return &choice{node: n, residual: residual, score: included[0].score}
}

// union returns the union of plans for the branches of the first OR among conj, each narrowed
// by an index or the primary key and in merge-key order, or nil.
func (pl *planner) union(conj []conjunct, o order) (*choice, error) {
	at := -1
	for j, cj := range conj {
		if _, ok := cj.filter.(*orFilter); ok && cj.cmp == nil && len(cj.path) == 0 {
			at = j
			break
		}
	}
	if at < 0 || pl.pkCols == nil {
		return nil, nil
	}
	n := &unionNode{mergeNode{key: mergeKey{sort: o.sort, reverse: o.reverse}}}
	for _, branch := range flattenOr(conj[at].filter, nil) {
		bc := flattenAnd(branch, nil, func(f Filter) Filter { return f }, nil)
		ch, err := pl.choose(bc, order{sort: o.sort, reverse: o.reverse, key: true})
		if err != nil {
			return nil, err
		}
		if ch == nil || ch.score == 0 {
			return nil, nil
		}
		kid := ch.node
		if len(ch.residual) > 0 {
			if !kid.fetched() {
				kid = &fetchNode{child: kid}
			}
			f := recordFilter{types: pl.queryTypes, residual: andOf(ch.residual)}
			for _, sc := range kid.scans(nil) {
				f.typeFilter = f.typeFilter || sc.typeFilter
			}
			kid = &filterNode{child: kid, filter: f}
		}
		n.kids = append(n.kids, kid)
	}
	residual := append(append([]conjunct(nil), conj[:at]...), conj[at+1:]...)
	return &choice{node: n, residual: residual, score: 1}, nil
}
