package record

import (
	"fmt"
	"strings"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/tuple"
)

// scanNode reads one range of the record extent (ix nil) or of an index: the keys that start
// with an equality prefix, narrowed by at most one range or prefix comparison on the next
// column (the Java Record Layer's RecordQueryScanPlan and RecordQueryIndexPlan). A record scan
// yields records; an index scan yields index entries for a Fetch or a Covering node.
//
// In an IN join the prefix holds a parameter, which each join step fills with a value.
type scanNode struct {
	ix        *Index
	eq        tuple.Tuple
	param     *inParam // the IN parameter in eq, or nil
	low, high *bound
	prefix    any // startsWith comparand
	reverse   bool
	// typeFilter is set when the scan may yield records of types the query does not ask for.
	typeFilter bool
	// exact is set when every item the scan yields is returned (no filter after it), so a page
	// reads no more entries than it may still return.
	exact bool
}

type bound struct {
	value     any
	inclusive bool
}

// inParam is the place in an equality prefix that an IN join fills with each value.
type inParam struct {
	at   int    // position in the prefix
	name string // the compared field, for Explain
}

func (n *scanNode) scans(dst []*scanNode) []*scanNode { return append(dst, n) }

func (n *scanNode) fetched() bool { return n.ix == nil }

func (n *scanNode) describe(b *strings.Builder) {
	if n.ix == nil {
		b.WriteString("Scan(records")
	} else {
		b.WriteString("IndexScan(" + n.ix.Name)
	}
	if len(n.eq) > 0 {
		b.WriteString(" eq=" + formatEq(n.eq, n.param))
	}
	if n.low != nil || n.high != nil {
		b.WriteString(" range=")
		switch {
		case n.low == nil:
			b.WriteString("(-inf")
		case n.low.inclusive:
			b.WriteString("[" + formatValue(n.low.value))
		default:
			b.WriteString("(" + formatValue(n.low.value))
		}
		b.WriteString(", ")
		switch {
		case n.high == nil:
			b.WriteString("+inf)")
		case n.high.inclusive:
			b.WriteString(formatValue(n.high.value) + "]")
		default:
			b.WriteString(formatValue(n.high.value) + ")")
		}
	}
	if n.prefix != nil {
		b.WriteString(" prefix=" + formatValue(n.prefix))
	}
	if n.reverse {
		b.WriteString(" reverse")
	}
	b.WriteString(")")
}

func (n *scanNode) open(c *Cursor, state any) (source, error) { return n.openParam(c, state, nil) }

// openParam opens the scan with value in place of the IN parameter (if any), resuming after
// state: the position of the last item read, relative to the scan's base.
func (n *scanNode) openParam(c *Cursor, state any, value any) (source, error) {
	var pos []byte
	switch v := state.(type) {
	case nil:
	case []byte:
		if len(v) > kv.MaxKeySize {
			return nil, badState("a scan", state)
		}
		pos = v
	default:
		return nil, badState("a scan", state)
	}
	eq := n.eq
	if n.param != nil {
		eq = append(tuple.Tuple(nil), n.eq...)
		eq[n.param.at] = value
	}
	base, r, err := n.scanRange(c.s, eq)
	if err != nil {
		return nil, err
	}
	if pos != nil {
		abs := append(append([]byte(nil), base...), pos...)
		if !n.reverse {
			if n.ix != nil {
				abs = append(abs, 0x00) // the next index key
			} else {
				abs = append(abs, 0xff) // past every chunk of the record
			}
			if string(abs) > string(r.Begin) {
				r.Begin = abs
			}
		} else if string(abs) < string(r.End) {
			r.End = abs
		}
	}
	if n.ix == nil {
		return &recordScanSource{it: c.s.tr.GetRange(r, kv.RangeOptions{Reverse: n.reverse}).Iterator(), g: c.s.newGrouper(n.reverse), base: base}, nil
	}
	return &indexScanSource{ix: n.ix, r: r, base: base, reverse: n.reverse, exact: n.exact}, nil
}

// scanRange returns the key range the scan reads with equality prefix eq, and the base its
// positions are relative to.
func (n *scanNode) scanRange(s *Store, eq tuple.Tuple) (base []byte, r kv.Range, err error) {
	if n.ix == nil {
		base = s.records
	} else {
		base = s.ixKeys[n.ix.Name]
		if base == nil {
			return nil, kv.Range{}, fmt.Errorf("record: plan uses index %q, which this store's metadata lacks: %w", n.ix.Name, ErrInvalidQuery)
		}
	}
	eqKey, err := eq.AppendPack(append([]byte(nil), base...))
	if err != nil {
		return nil, kv.Range{}, fmt.Errorf("record: query values %v: %v: %w", eq, err, ErrInvalidQuery)
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
	if n.high != nil && n.low == nil {
		// A comparison is false for a null column, and null (0x00) sorts first: start after it.
		r.Begin = append(append([]byte(nil), eqKey...), 0x01)
	}
	if n.low != nil {
		if r.Begin, err = pack(n.low.value, !n.low.inclusive); err != nil {
			return nil, kv.Range{}, err
		}
	}
	if n.high != nil {
		if r.End, err = pack(n.high.value, n.high.inclusive); err != nil {
			return nil, kv.Range{}, err
		}
	}
	if n.prefix != nil {
		k, err := pack(n.prefix, false)
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

// recordScanSource reads the record extent, assembling split records.
type recordScanSource struct {
	it   kv.RangeIterator
	g    grouper
	base []byte
	end  bool
}

func (r *recordScanSource) next(c *Cursor) (item, bool, error) {
	for !r.end {
		var raw *rawRecord
		var err error
		if r.it.Next() {
			raw, err = r.g.add(r.it.KeyValue())
		} else {
			if err := r.it.Err(); err != nil {
				return item{}, false, err
			}
			r.end = true
			raw, err = r.g.flush()
		}
		if err != nil {
			return item{}, false, err
		}
		if raw != nil {
			rec, err := c.s.decode(raw)
			if err != nil {
				return item{}, false, err
			}
			return item{rec: rec, pk: rec.PrimaryKey, pkKey: canonicalPK(raw.prefix[len(r.base):], nil, rec.PrimaryKey), pos: raw.prefix[len(r.base):], bytes: raw.bytes, scanned: 1}, true, nil
		}
	}
	return item{}, false, nil
}

// indexScanSource reads index entries in batches.
type indexScanSource struct {
	ix      *Index
	r       kv.Range
	base    []byte
	reverse bool
	exact   bool
	rows    []kv.KeyValue
	i       int
	end     bool
}

const maxIndexBatch = 100

// batchSize is how many entries (or loads) to read at once: up to 100, but no more than the
// page's scan limit allows, nor (when every entry is returned) its return limit.
func (c *Cursor) batchSize(exact bool) int {
	n := maxIndexBatch
	if o := c.opts; o.ScanLimit > 0 {
		n = min(n, o.ScanLimit-c.scanned)
	}
	if o := c.opts; o.ReturnLimit > 0 && exact {
		n = min(n, o.ReturnLimit-c.returned)
	}
	return max(n, 1)
}

func (x *indexScanSource) next(c *Cursor) (item, bool, error) {
	if x.i >= len(x.rows) {
		if x.end {
			return item{}, false, nil
		}
		if err := x.fill(c); err != nil {
			return item{}, false, err
		}
		if len(x.rows) == 0 {
			return item{}, false, nil
		}
	}
	row := x.rows[x.i]
	x.i++
	e, err := c.s.decodeEntry(x.ix, row.Key)
	if err != nil {
		return item{}, false, err
	}
	var pkKey []byte
	if x.ix.pkTail {
		pkKey = canonicalPK(row.Key[len(x.base):], e.Values, e.PrimaryKey)
	}
	return item{entry: e, pk: e.PrimaryKey, pkKey: pkKey, pos: row.Key[len(x.base):], bytes: len(row.Key) + len(row.Value), scanned: 1}, true, nil
}

// canonicalPK returns the packed primary key pk at the end of packed, a key's tuple part that
// decodes to values then pk, or nil when an element there is not in its canonical (shortest)
// form, so that its bytes would not be the bytes pk packs to.
func canonicalPK(packed []byte, values, pk tuple.Tuple) []byte {
	n := pk.PackedSize()
	if values.PackedSize()+n != len(packed) {
		return nil
	}
	return packed[len(packed)-n : len(packed) : len(packed)]
}

func (x *indexScanSource) fill(c *Cursor) error {
	n := c.batchSize(x.exact)
	if n == maxIndexBatch {
		// No limit cuts this batch: one row more tells whether the scan ends here, saving a
		// read that would find nothing.
		n++
	}
	rows, err := c.s.tr.GetRange(x.r, kv.RangeOptions{Limit: n, Reverse: x.reverse}).GetSlice()
	if err != nil {
		return err
	}
	x.rows, x.i = rows, 0
	if len(rows) < n {
		x.end = true
	}
	if len(rows) > 0 {
		last := rows[len(rows)-1].Key
		if x.reverse {
			x.r.End = last
		} else {
			x.r.Begin = kv.KeyAfter(last)
		}
	}
	return nil
}
