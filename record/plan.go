package record

import (
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/tuple"
)

// Plan is how a query runs: one scan (of the record extent or of an index) with an equality
// prefix and at most one range, then a type check, a residual filter and perhaps an in-memory
// sort. Plans are made by Store.Plan, are immutable, and may be reused in later transactions of
// stores with the same metadata (a continuation is only valid with the plan that made it).
type Plan struct {
	types      []*RecordType // nil: every type
	typeFilter bool
	ix         *Index // nil: record scan
	eq         tuple.Tuple
	low, high  *bound
	prefix     any // startsWith comparand
	reverse    bool
	residual   Filter
	sort       KeyExpression
	sortDesc   bool
	sortLimit  int // > 0: in-memory sort with this bound
	explain    string
	hash       uint64
}

type bound struct {
	value     any
	inclusive bool
}

// Explain describes the plan in one line, for example
// `IndexScan(by_author eq=("Tolkien")) | Fetch | Filter(year > 1950)`.
func (p *Plan) Explain() string { return p.explain }

// String is Explain.
func (p *Plan) String() string { return p.explain }

// conjunct is one part of a top-level AND that a scan might match: a comparison, perhaps inside
// nested message fields (path lists the parents).
type conjunct struct {
	filter Filter
	path   []string
	cmp    *compareFilter // nil: not matchable
}

func (c conjunct) key() string {
	if c.cmp == nil {
		return ""
	}
	return strings.Join(append(append([]string(nil), c.path...), c.cmp.key()), ".")
}

func flattenAnd(f Filter, path []string, wrap func(Filter) Filter, out []conjunct) []conjunct {
	switch x := f.(type) {
	case *andFilter:
		for _, c := range x.children {
			out = flattenAnd(c, path, wrap, out)
		}
		return out
	case *nestedFilter:
		inner := wrap
		p := x.parent
		return flattenAnd(x.child, append(append([]string(nil), path...), x.parent), func(g Filter) Filter { return inner(Nested(p, g)) }, out)
	case *compareFilter:
		return append(out, conjunct{filter: wrap(x), path: path, cmp: x})
	}
	return append(out, conjunct{filter: wrap(f), path: path})
}

// Plan chooses how to run q: the index (or the primary key) whose columns match the longest
// prefix of equality comparisons, then one range comparison, then the sort; without any match, a
// scan of the record extent with the filter applied to each record. Only READABLE indexes that
// cover every queried type are considered. A sort that no scan provides is refused with
// ErrSortNotSupported unless q.InMemorySortLimit allows an in-memory sort.
func (s *Store) Plan(q Query) (*Plan, error) {
	p := &Plan{}
	for _, name := range q.RecordTypes {
		rt := s.md.byName[name]
		if rt == nil {
			return nil, fmt.Errorf("record: query names unknown record type %q: %w", name, ErrInvalidQuery)
		}
		p.types = append(p.types, rt)
	}
	checkTypes := p.types
	if checkTypes == nil {
		checkTypes = s.md.types
	}
	for _, rt := range checkTypes {
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
	}
	var conj []conjunct
	if q.Filter != nil {
		conj = flattenAnd(q.Filter, nil, func(f Filter) Filter { return f }, nil)
	}

	type candidate struct {
		ix               *Index
		cols             []KeyExpression
		eq               tuple.Tuple
		used             map[int]bool
		low, high        *bound
		prefix           any
		sortOK           bool
		score            int
		coversOtherTypes bool
	}
	first := checkTypes[0]
	var cands []*candidate
	pkCols := first.pkColumns
	samePK := true
	for _, rt := range checkTypes[1:] {
		samePK = samePK && sameColumns(pkCols, rt.pkColumns)
	}
	if !samePK {
		pkCols = nil // types with different primary keys: only a full record scan
	}
	cands = append(cands, &candidate{cols: pkCols})
	for _, ix := range s.md.indexes {
		if !s.states[ix.Name].Scannable() || !ix.kind.scannable || !coversAll(ix, checkTypes) {
			continue
		}
		cands = append(cands, &candidate{ix: ix, cols: ix.columns, coversOtherTypes: len(ix.types) > len(checkTypes)})
	}
	var sortCols []KeyExpression
	if q.Sort != nil {
		sortCols = q.Sort.flatten(nil)
	}
	for _, c := range cands {
		c.used = map[int]bool{}
		matched := 0
		for _, col := range c.cols {
			if _, ok := col.(recordTypeExpr); ok && len(checkTypes) == 1 {
				c.eq = append(c.eq, first.typeKey)
				continue
			}
			j := findConjunct(conj, col.String(), c.used, opEq)
			if j < 0 {
				break
			}
			v, err := conjunctValue(first, conj[j])
			if err != nil {
				return nil, err
			}
			c.eq = append(c.eq, v)
			c.used[j] = true
			matched++
		}
		if n := len(c.eq); n < len(c.cols) && !c.cols[n].fansOut() {
			key := c.cols[n].String()
			for j, cj := range conj {
				if cj.cmp == nil || cj.key() != key || c.used[j] {
					continue
				}
				v := any(nil)
				if len(cj.cmp.values) == 1 {
					var err error
					if v, err = conjunctValue(first, cj); err != nil {
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
		// The sort is provided when its columns follow the equality prefix (columns fixed by an
		// equality may be skipped at its start).
		sc := sortCols
		for len(sc) > 0 && eqFixed(c.cols[:len(c.eq)], sc[0]) {
			sc = sc[1:]
		}
		c.sortOK = len(sc) == 0 || (len(c.cols) >= len(c.eq)+len(sc) && sameColumns(c.cols[len(c.eq):len(c.eq)+len(sc)], sc) && !anyFansOut(sc))
		c.score = matched * 4 // an equality on the record type alone does not narrow an index
		if c.low != nil || c.high != nil || c.prefix != nil {
			c.score += 2
		}
	}
	var best *candidate
	for _, c := range cands {
		if q.Sort != nil && !c.sortOK {
			continue
		}
		if best == nil || c.score > best.score {
			best = c
		}
	}
	if best == nil {
		if q.InMemorySortLimit <= 0 {
			return nil, fmt.Errorf("record: no index of %s provides sort %s; allow an in-memory sort with InMemorySortLimit: %w", typeNames(checkTypes), q.Sort, ErrSortNotSupported)
		}
		for _, c := range cands {
			if best == nil || c.score > best.score {
				best = c
			}
		}
		p.sort, p.sortDesc, p.sortLimit = q.Sort, q.Reverse, q.InMemorySortLimit
	} else {
		p.reverse = q.Reverse // without a sort: the chosen scan's order, backwards
	}
	p.ix, p.eq, p.low, p.high, p.prefix = best.ix, best.eq, best.low, best.high, best.prefix
	p.typeFilter = len(p.types) > 0 && (best.ix == nil && len(p.types) < len(s.md.types) && !eqFixesType(best.cols, best.eq) || best.coversOtherTypes)
	var rest []Filter
	for j, cj := range conj {
		if !best.used[j] {
			rest = append(rest, cj.filter)
		}
	}
	switch len(rest) {
	case 0:
	case 1:
		p.residual = rest[0]
	default:
		p.residual = And(rest...)
	}
	p.explain = p.describe()
	h := fnv.New64a()
	h.Write([]byte(p.explain))
	p.hash = h.Sum64()
	return p, nil
}

func eqFixed(eqCols []KeyExpression, col KeyExpression) bool {
	for _, c := range eqCols {
		if c.String() == col.String() {
			return true
		}
	}
	return false
}

func eqFixesType(cols []KeyExpression, eq tuple.Tuple) bool {
	return len(cols) > 0 && len(eq) > 0 && cols[0].String() == (recordTypeExpr{}).String()
}

func anyFansOut(cols []KeyExpression) bool {
	for _, c := range cols {
		if c.fansOut() {
			return true
		}
	}
	return false
}

func coversAll(ix *Index, types []*RecordType) bool {
	for _, rt := range types {
		if !covers(ix, rt) {
			return false
		}
	}
	return true
}

func typeNames(types []*RecordType) string {
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = t.name
	}
	return strings.Join(names, ", ")
}

func findConjunct(conj []conjunct, key string, used map[int]bool, op compOp) int {
	for j, c := range conj {
		if c.cmp != nil && !used[j] && c.cmp.op == op && c.key() == key {
			return j
		}
	}
	return -1
}

// conjunctValue converts the comparison's value to the element the field stores.
func conjunctValue(rt *RecordType, c conjunct) (any, error) {
	md := rt.desc
	for _, p := range c.path {
		fd, err := lookupField(md, p)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidQuery, err)
		}
		md = fd.Message()
	}
	fd, err := lookupField(md, c.cmp.field)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidQuery, err)
	}
	return comparand(fd, c.cmp.values[0])
}

func (p *Plan) describe() string {
	var b strings.Builder
	if p.ix == nil {
		b.WriteString("Scan(records")
	} else {
		b.WriteString("IndexScan(" + p.ix.Name)
	}
	if len(p.eq) > 0 {
		b.WriteString(" eq=" + p.eq.String())
	}
	if p.low != nil || p.high != nil {
		b.WriteString(" range=")
		if p.low == nil {
			b.WriteString("(-inf")
		} else if p.low.inclusive {
			b.WriteString("[" + formatValue(p.low.value))
		} else {
			b.WriteString("(" + formatValue(p.low.value))
		}
		b.WriteString(", ")
		if p.high == nil {
			b.WriteString("+inf)")
		} else if p.high.inclusive {
			b.WriteString(formatValue(p.high.value) + "]")
		} else {
			b.WriteString(formatValue(p.high.value) + ")")
		}
	}
	if p.prefix != nil {
		b.WriteString(" prefix=" + formatValue(p.prefix))
	}
	if p.reverse {
		b.WriteString(" reverse")
	}
	b.WriteString(")")
	if p.ix != nil {
		b.WriteString(" | Fetch")
	}
	if p.typeFilter {
		b.WriteString(" | TypeFilter(" + typeNames(p.types) + ")")
	}
	if p.residual != nil {
		b.WriteString(" | Filter(" + p.residual.String() + ")")
	}
	if p.sortLimit > 0 {
		dir := ""
		if p.sortDesc {
			dir = " desc"
		}
		fmt.Fprintf(&b, " | Sort(%s%s, limit=%d)", p.sort, dir, p.sortLimit)
	}
	return b.String()
}

// scanRange returns the key range the plan's scan reads, and the prefix positions are relative to.
func (p *Plan) scanRange(s *Store) (base []byte, r kv.Range, err error) {
	if p.ix == nil {
		base = s.records
	} else {
		base = s.ixKeys[p.ix.Name]
		if base == nil {
			return nil, kv.Range{}, fmt.Errorf("record: plan uses index %q, which this store's metadata lacks: %w", p.ix.Name, ErrInvalidQuery)
		}
	}
	eqKey, err := p.eq.AppendPack(append([]byte(nil), base...))
	if err != nil {
		return nil, kv.Range{}, fmt.Errorf("record: query values %v: %v: %w", p.eq, err, ErrInvalidQuery)
	}
	pack := func(v any, after bool) ([]byte, error) {
		k, err := tuple.Tuple{v}.AppendPack(append([]byte(nil), eqKey...))
		if err != nil {
			return nil, fmt.Errorf("record: query value %v: %v: %w", v, err, ErrInvalidQuery)
		}
		if after {
			k = append(k, 0xff)
		}
		return k, nil
	}
	r = kv.Range{Begin: eqKey, End: append(append([]byte(nil), eqKey...), 0xff)}
	if p.high != nil && p.low == nil {
		// A comparison is false for a null column, and null (0x00) sorts first: start after it.
		r.Begin = append(append([]byte(nil), eqKey...), 0x01)
	}
	if p.low != nil {
		if r.Begin, err = pack(p.low.value, !p.low.inclusive); err != nil {
			return nil, kv.Range{}, err
		}
	}
	if p.high != nil {
		if r.End, err = pack(p.high.value, p.high.inclusive); err != nil {
			return nil, kv.Range{}, err
		}
	}
	if p.prefix != nil {
		k, err := pack(p.prefix, false)
		if err != nil {
			return nil, kv.Range{}, err
		}
		k = k[:len(k)-1] // drop the string terminator: every longer string follows
		r.Begin = k
		if r.End, err = kv.Strinc(k); err != nil {
			return nil, kv.Range{}, err
		}
	}
	return base, r, nil
}
