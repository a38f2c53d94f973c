package record

import (
	"bytes"
	"fmt"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/tuple"
)

// Aggregate indexes, maintained with atomic mutations and so without reads or conflicts, as the
// Java Record Layer's AtomicMutationIndexMaintainer maintains them. The expression is a GroupBy:
// its group columns name the aggregate's key, S+(2, name)+group (S+(2, name) itself when there
// are no groups), and its grouped columns the value aggregated there:
//
//	COUNT, COUNT_UPDATES, COUNT_NOT_NULL, SUM   8-byte little-endian integer, atomic ADD
//	MIN_EVER_LONG, MAX_EVER_LONG                8-byte little-endian integer, atomic MIN / MAX
//	MIN_EVER_TUPLE, MAX_EVER_TUPLE              packed tuple, BYTE_MIN / BYTE_MAX
//	MAX_EVER_VERSION                            packed tuple with the version, versionstamped value
//
// (AtomicMutation.Standard: the mutation and parameter of each.) One file holds them all because
// they are one maintainer in Java too: they differ only in the mutation each applies.

// Aggregate index types, named as in the Java Record Layer (IndexTypes).
const (
	// CountIndex counts the records of each group (GroupBy(Empty(), groups…)).
	CountIndex IndexType = "count"
	// CountUpdatesIndex counts the saves of each group, inserts and updates alike; deletes do not
	// lower it.
	CountUpdatesIndex IndexType = "count_updates"
	// CountNotNullIndex counts the records of each group whose grouped columns are all non-null.
	CountNotNullIndex IndexType = "count_not_null"
	// SumIndex sums an integer field over each group.
	SumIndex IndexType = "sum"
	// MinEverLongIndex keeps the smallest value an integer field ever had in each group (deletes
	// and updates do not raise it); values must not be negative.
	MinEverLongIndex IndexType = "min_ever_long"
	// MaxEverLongIndex keeps the largest value an integer field ever had in each group; values
	// must not be negative.
	MaxEverLongIndex IndexType = "max_ever_long"
	// MinEverTupleIndex keeps the smallest grouped value ever seen in each group, compared as
	// packed tuples.
	MinEverTupleIndex IndexType = "min_ever_tuple"
	// MaxEverTupleIndex keeps the largest grouped value ever seen in each group, compared as
	// packed tuples.
	MaxEverTupleIndex IndexType = "max_ever_tuple"
	// MaxEverVersionIndex keeps the newest record version ever saved in each group: its grouped
	// columns hold VersionKey.
	MaxEverVersionIndex IndexType = "max_ever_version"
)

// aggregate describes one aggregate index type.
type aggregate struct {
	op kv.MutationType
	// values: how many grouped columns the type takes: 0 exactly, 1 exactly, or -1 for one or more.
	values int
	// long: the one grouped column is an integer field.
	long bool
	// undoes: deleting a record reverses its contribution (counts and sums); the _EVER types
	// keep what they saw.
	undoes bool
	// everySave: every save counts, changed or not (COUNT_UPDATES).
	everySave bool
	// clearsWhenZero: the ClearWhenZero option applies.
	clearsWhenZero bool
}

var aggregates = map[IndexType]aggregate{
	CountIndex:          {op: kv.Add, values: 0, undoes: true, clearsWhenZero: true},
	CountUpdatesIndex:   {op: kv.Add, values: 0, everySave: true},
	CountNotNullIndex:   {op: kv.Add, values: -1, undoes: true, clearsWhenZero: true},
	SumIndex:            {op: kv.Add, values: 1, long: true, undoes: true, clearsWhenZero: true},
	MinEverLongIndex:    {op: kv.Min, values: 1, long: true},
	MaxEverLongIndex:    {op: kv.Max, values: 1, long: true},
	MinEverTupleIndex:   {op: kv.ByteMin, values: -1},
	MaxEverTupleIndex:   {op: kv.ByteMax, values: -1},
	MaxEverVersionIndex: {op: kv.ByteMax, values: -1},
}

func init() {
	for t := range aggregates {
		t := t
		registerIndexType(t, &indexType{
			maintainer: atomicMaintainer{t: t, agg: aggregates[t]},
			validate:   func(md *MetaData, ix *Index) error { return validateAggregate(md, ix, t) },
		})
	}
}

// validateAggregate applies the rules of AtomicMutationIndexMaintainerFactory's validator.
func validateAggregate(md *MetaData, ix *Index, t IndexType) error {
	a := aggregates[t]
	g, ok := ix.Expression.(groupingExpr)
	if !ok {
		return fmt.Errorf("record: %s index %q needs a GroupBy expression", t, ix.Name)
	}
	switch {
	case a.values == 0 && g.grouped != 0:
		return fmt.Errorf("record: %s index %q takes no grouped value (GroupBy(Empty(), …)); use %s to count non-null values", t, ix.Name, CountNotNullIndex)
	case a.values == 1 && g.grouped != 1:
		return fmt.Errorf("record: %s index %q takes exactly one grouped value, not %d", t, ix.Name, g.grouped)
	case a.values < 0 && g.grouped < 1:
		return fmt.Errorf("record: %s index %q needs a grouped value", t, ix.Name)
	}
	versions := countVersions(ix.Expression)
	if t == MaxEverVersionIndex {
		grouped := g.whole.flatten(nil)[g.GroupingCount():]
		if countVersions(Concat(grouped...)) != 1 || versions != 1 {
			return fmt.Errorf("record: %s index %q needs the version once among its grouped columns", t, ix.Name)
		}
		if !md.storeRecordVersions {
			return fmt.Errorf("record: %s index %q needs SetStoreRecordVersions(true)", t, ix.Name)
		}
	} else if versions > 0 {
		return fmt.Errorf("record: %s index %q names the version, which only VERSION and %s indexes take", t, ix.Name, MaxEverVersionIndex)
	}
	if ix.Unique {
		return fmt.Errorf("record: %s index %q cannot be unique", t, ix.Name)
	}
	if ix.ClearWhenZero && !a.clearsWhenZero {
		return fmt.Errorf("record: %s index %q does not support ClearWhenZero", t, ix.Name)
	}
	if a.long {
		col := g.whole.flatten(nil)[g.ColumnCount()-1]
		for _, rt := range ix.types {
			fd := columnField(rt.desc, col)
			if fd == nil || !integerKind(fd.Kind()) {
				return fmt.Errorf("record: %s index %q aggregates %s, which is not an integer field of %s", t, ix.Name, col, rt.name)
			}
		}
	}
	return nil
}

// columnField returns the field a single column reads, or nil when it reads none.
func columnField(md protoreflect.MessageDescriptor, col KeyExpression) protoreflect.FieldDescriptor {
	switch c := col.(type) {
	case fieldExpr:
		return md.Fields().ByName(protoreflect.Name(c.name))
	case nestExpr:
		parent := md.Fields().ByName(protoreflect.Name(c.parent))
		if parent == nil || parent.Message() == nil {
			return nil
		}
		return columnField(parent.Message(), c.child)
	}
	return nil
}

func integerKind(k protoreflect.Kind) bool {
	switch k {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return true
	}
	return false
}

type atomicMaintainer struct {
	t   IndexType
	agg aggregate
}

func (m atomicMaintainer) skipsUnchanged() bool { return !m.agg.everySave }

// idempotent: MIN/MAX of a value already applied changes nothing; an ADD counts twice
// (AtomicMutation.Standard.isIdempotent). Online builds read counts and sums with range
// conflicts, and saves update them only in built ranges.
func (m atomicMaintainer) idempotent() bool { return m.agg.op != kv.Add }

// entries are the index keys of rec, one per evaluated key, duplicates kept: a repeated field
// listing a value twice contributes twice, as in Java.
func (m atomicMaintainer) entries(dst []indexEntry, s *Store, ix *Index, rec *Record) ([]indexEntry, error) {
	keys, err := evaluateRecord(ix.Expression, rec)
	if err != nil {
		return nil, fmt.Errorf("record: index %q of %s %v: %w", ix.Name, rec.Type.name, rec.PrimaryKey, err)
	}
	for _, values := range keys {
		var id []byte
		if incomplete(values) {
			id, err = values.PackWithVersionstamp(nil)
		} else {
			id, err = values.AppendPack(nil)
		}
		if err != nil {
			return nil, fmt.Errorf("record: index %q of %s %v: values %v: %v: %w", ix.Name, rec.Type.name, rec.PrimaryKey, values, err, ErrInvalidKey)
		}
		dst = append(dst, indexEntry{Index: ix, Values: values, PrimaryKey: rec.PrimaryKey, Key: id})
	}
	return dst, nil
}

// indexOp is one atomic mutation an aggregate index applies.
type indexOp struct {
	op         kv.MutationType
	key, param []byte
}

// check works out every mutation of the change, so that a bad value (a negative number for a
// _EVER_LONG index, a value that is not an integer) fails the save before anything is written.
func (m atomicMaintainer) check(s *Store, ix *Index, ch *indexChange) (func() error, error) {
	groups := ix.Expression.(groupingExpr).GroupingCount()
	for _, list := range []struct {
		es     []indexEntry
		remove bool
	}{{ch.removed, true}, {ch.added, false}} {
		for _, e := range list.es {
			op, param, err := m.mutation(e.Values[groups:], list.remove)
			if err != nil {
				return nil, fmt.Errorf("record: index %q of %v: %w", ix.Name, e.PrimaryKey, err)
			}
			if param == nil {
				continue
			}
			key, err := e.Values[:groups].AppendPack(append([]byte(nil), s.ixKeys[ix.Name]...))
			if err != nil {
				return nil, fmt.Errorf("record: index %q group %v: %v: %w", ix.Name, e.Values[:groups], err, ErrInvalidKey)
			}
			ch.ops = append(ch.ops, indexOp{op: op, key: key, param: param})
		}
	}
	return nil, nil
}

// mutation returns the mutation and parameter one entry applies (AtomicMutation.Standard
// .getMutationParam); a nil parameter applies nothing.
func (m atomicMaintainer) mutation(grouped tuple.Tuple, remove bool) (kv.MutationType, []byte, error) {
	if remove && !m.agg.undoes {
		return 0, nil, nil
	}
	delta := int64(1)
	if remove {
		delta = -1
	}
	switch m.t {
	case CountIndex:
		return kv.Add, encodeInt64(delta), nil
	case CountUpdatesIndex:
		return kv.Add, encodeInt64(1), nil
	case CountNotNullIndex:
		if hasNull(grouped) {
			return 0, nil, nil
		}
		return kv.Add, encodeInt64(delta), nil
	case SumIndex, MinEverLongIndex, MaxEverLongIndex:
		if grouped[0] == nil {
			return 0, nil, nil
		}
		v, ok := grouped[0].(int64)
		if !ok {
			return 0, nil, fmt.Errorf("%s of %v (%T): want a 64-bit integer", m.t, grouped[0], grouped[0])
		}
		if m.t == SumIndex {
			return kv.Add, encodeInt64(delta * v), nil
		}
		if v < 0 {
			return 0, nil, fmt.Errorf("%s of negative value %d, which little-endian unsigned MIN and MAX cannot order", m.t, v)
		}
		return m.agg.op, encodeInt64(v), nil
	case MaxEverVersionIndex:
		if incomplete(grouped) {
			p, err := grouped.PackWithVersionstamp(nil)
			return kv.SetVersionstampedValue, p, err
		}
	}
	p, err := grouped.AppendPack(nil)
	if err != nil {
		return 0, nil, fmt.Errorf("%s of %v: %v: %w", m.t, grouped, err, ErrInvalidKey)
	}
	return m.agg.op, p, nil
}

// zero is the value a count or sum is cleared at, with ClearWhenZero (FDBRecordStore.INT64_ZERO).
var zero = make([]byte, 8)

func (m atomicMaintainer) write(s *Store, ix *Index, ch *indexChange) error {
	for _, o := range ch.ops {
		if o.op == kv.SetVersionstampedValue && !s.newestVersionParam(o.key, o.param) {
			// A record saved earlier in this transaction holds a larger version for this
			// group: keep its write (Java keeps the largest parameter, updateVersionMutation).
			continue
		}
		s.tr.Atomic(o.op, o.key, o.param)
		if ix.ClearWhenZero && o.op == kv.Add {
			s.tr.Atomic(kv.CompareAndClear, o.key, zero)
		}
	}
	return nil
}

// newestVersionParam remembers the largest versionstamped parameter written to key in this
// transaction and reports whether param is it.
func (s *Store) newestVersionParam(key, param []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.maxVersionParams[string(key)]; ok && bytes.Compare(old, param) >= 0 {
		return false
	}
	if s.maxVersionParams == nil {
		s.maxVersionParams = map[string][]byte{}
	}
	s.maxVersionParams[string(key)] = param
	return true
}

func (atomicMaintainer) clear(s *Store, ix *Index) { s.tr.ClearRange(s.indexRange(ix)) }

func (atomicMaintainer) deleteWhere(s *Store, ix *Index, prefix tuple.Tuple) error {
	return s.clearIndexPrefix(ix, prefix)
}

func (m atomicMaintainer) checker(s *Store, ix *Index) indexChecker {
	return &aggregateChecker{m: m, s: s, ix: ix, want: map[string]*aggregateValue{}}
}

// aggregateValue is what a recount of the records gives for one group.
type aggregateValue struct {
	n            int64  // count or sum
	lowN, highN  int64  // smallest and largest integer value
	lowB, highB  []byte // smallest and largest packed grouped value
	seenN, seenB bool
}

// aggregateChecker recounts an aggregate index from the records. Counts and sums must equal the
// recount. An _EVER index remembers values of records since changed or deleted, so it is only
// checked to hold at least (MAX) or at most (MIN) what the live records hold, and COUNT_UPDATES
// at least the number of records.
type aggregateChecker struct {
	m    atomicMaintainer
	s    *Store
	ix   *Index
	want map[string]*aggregateValue
}

func (c *aggregateChecker) add(rec *Record) error {
	es, err := c.m.entries(nil, c.s, c.ix, rec)
	if err != nil {
		return err
	}
	groups := c.ix.Expression.(groupingExpr).GroupingCount()
	for _, e := range es {
		k := string(e.Values[:groups].Pack())
		v := c.want[k]
		if v == nil {
			v = &aggregateValue{}
			c.want[k] = v
		}
		grouped := e.Values[groups:]
		switch c.m.t {
		case CountIndex, CountUpdatesIndex:
			v.n++
		case CountNotNullIndex:
			if !hasNull(grouped) {
				v.n++
			}
		case SumIndex, MinEverLongIndex, MaxEverLongIndex:
			x, ok := grouped[0].(int64)
			if !ok {
				continue
			}
			v.n += x
			if !v.seenN || x < v.lowN {
				v.lowN = x
			}
			if !v.seenN || x > v.highN {
				v.highN = x
			}
			v.seenN = true
		default:
			p := grouped.Pack()
			if !v.seenB || bytes.Compare(p, v.lowB) < 0 {
				v.lowB = p
			}
			if !v.seenB || bytes.Compare(p, v.highB) > 0 {
				v.highB = p
			}
			v.seenB = true
		}
	}
	return nil
}

func (c *aggregateChecker) finish(max int) ([]error, error) {
	var problems []error
	base := c.s.ixKeys[c.ix.Name]
	rows, err := c.s.tr.GetRange(c.s.indexRange(c.ix), kv.RangeOptions{Mode: kv.StreamingWantAll}).GetSlice()
	if err != nil {
		return nil, err
	}
	report := func(group []byte, format string, args ...any) {
		if len(problems) < max {
			g, _ := tuple.Unpack(group)
			problems = append(problems, fmt.Errorf("%s index %q group %v: "+format, append([]any{c.m.t, c.ix.Name, g}, args...)...))
		}
	}
	for _, r := range rows {
		group := r.Key[len(base):]
		if _, err := tuple.Unpack(group); err != nil {
			report(group, "key %s is not a packed group: %v", kv.Printable(r.Key), err)
			continue
		}
		want := c.want[string(group)]
		delete(c.want, string(group))
		if want == nil {
			want = &aggregateValue{}
		}
		switch c.m.t {
		case CountIndex, CountNotNullIndex, SumIndex, CountUpdatesIndex:
			n, err := decodeInt64(r.Value)
			if err != nil {
				report(group, "%v", err)
			} else if n != want.n && (c.m.t != CountUpdatesIndex || n < want.n) {
				report(group, "holds %d, the records give %d", n, want.n)
			}
		case MinEverLongIndex, MaxEverLongIndex:
			n, err := decodeInt64(r.Value)
			switch {
			case err != nil:
				report(group, "%v", err)
			case want.seenN && c.m.t == MinEverLongIndex && n > want.lowN:
				report(group, "holds %d, above the live minimum %d", n, want.lowN)
			case want.seenN && c.m.t == MaxEverLongIndex && n < want.highN:
				report(group, "holds %d, below the live maximum %d", n, want.highN)
			}
		default:
			switch {
			case want.seenB && c.m.t == MinEverTupleIndex && bytes.Compare(r.Value, want.lowB) > 0:
				report(group, "holds %x, above the live minimum %x", r.Value, want.lowB)
			case want.seenB && c.m.t != MinEverTupleIndex && bytes.Compare(r.Value, want.highB) < 0:
				report(group, "holds %x, below the live maximum %x", r.Value, want.highB)
			}
		}
	}
	for group, want := range c.want {
		if want.n != 0 || want.seenN || want.seenB {
			report([]byte(group), "is missing")
		}
	}
	return problems, nil
}
