package docstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/layerkit/layerkit/kv"
)

// Index describes a secondary index of a collection.
type Index struct {
	// Name names the index within its collection.
	Name string
	// Fields are the dotted paths indexed, in order (a compound index when more than one).
	// Entries order ascending by MongoDB's type order; a scan backwards serves descending sorts.
	Fields []string
	// Unique refuses a write that would give two documents the same key. Documents without the
	// field count as null (unless Sparse), as in MongoDB.
	Unique bool
	// Sparse leaves out documents that have none of the fields.
	Sparse bool
	// Partial is a filter (an M or JSON text); only documents matching it are indexed, and the
	// planner uses the index only for queries that imply it.
	Partial any
	// TTL makes this a time-to-live index on one date field: a document expires ExpireAfter
	// after the earliest date in the field. Expired documents are invisible at once and removed
	// by Sweep.
	TTL bool
	// ExpireAfter is the lifetime a TTL index gives documents past their date.
	ExpireAfter time.Duration
}

// MaxIndexEntriesPerDocument bounds the entries one document may have in one index (a multikey
// index has one entry per distinct array element).
const MaxIndexEntriesPerDocument = 1000

// Index states.
const (
	stateBuilding = "building" // maintained by every write, not yet used by queries
	stateReadable = "readable"
)

// indexMeta is an index definition as stored in the collection header.
type indexMeta struct {
	Name          string          `json:"name"`
	ID            int64           `json:"id"`
	Fields        []string        `json:"fields"`
	Unique        bool            `json:"unique,omitempty"`
	Sparse        bool            `json:"sparse,omitempty"`
	Partial       json.RawMessage `json:"partial,omitempty"`
	TTL           bool            `json:"ttl,omitempty"`
	ExpireAfterMS int64           `json:"expireAfterMs,omitempty"`
	State         string          `json:"state"`
}

// indexState is a compiled index definition.
type indexState struct {
	meta        *indexMeta
	paths       []fieldPath
	partial     *Filter
	prefix      []byte // P+(3, id)
	multikeyKey []byte // P+(4, id)
	buildKey    []byte // P+(5, id)
	expireAfter time.Duration
}

func (ix *indexState) readable() bool { return ix.meta.State == stateReadable }

func compileIndex(st *collState, m *indexMeta) (*indexState, error) {
	ix := &indexState{
		meta:        m,
		prefix:      packed(st.prefix, keyIndex, m.ID),
		multikeyKey: packed(st.prefix, keyMultikey, m.ID),
		buildKey:    packed(st.prefix, keyBuild, m.ID),
		expireAfter: time.Duration(m.ExpireAfterMS) * time.Millisecond,
	}
	for _, f := range m.Fields {
		p, err := parsePath(f)
		if err != nil {
			return nil, err
		}
		ix.paths = append(ix.paths, p)
	}
	if len(m.Partial) > 0 {
		f, err := ParseFilter(json.RawMessage(m.Partial))
		if err != nil {
			return nil, err
		}
		ix.partial = f
	}
	return ix, nil
}

// indexMetaOf checks a user's definition and turns it into the stored form.
func indexMetaOf(spec Index) (*indexMeta, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("docstore: index %q: %s: %w", spec.Name, fmt.Sprintf(format, args...), ErrInvalidIndex)
	}
	if spec.Name == "" {
		return nil, bad("an index needs a name")
	}
	if len(spec.Fields) == 0 {
		return nil, bad("an index needs at least one field")
	}
	if len(spec.Fields) > 32 {
		return nil, bad("at most 32 fields")
	}
	m := &indexMeta{Name: spec.Name, Fields: slices.Clone(spec.Fields), Unique: spec.Unique, Sparse: spec.Sparse, TTL: spec.TTL, State: stateBuilding}
	for i, f := range spec.Fields {
		p, err := parsePath(f)
		if err != nil {
			return nil, bad("field %q: %v", f, err)
		}
		for _, g := range spec.Fields[:i] {
			if g == f {
				return nil, bad("field %q twice", f)
			}
		}
		_ = p
	}
	if spec.TTL {
		if len(spec.Fields) != 1 {
			return nil, bad("a TTL index has exactly one field")
		}
		if spec.ExpireAfter < 0 {
			return nil, bad("ExpireAfter %v is negative", spec.ExpireAfter)
		}
		m.ExpireAfterMS = spec.ExpireAfter.Milliseconds()
	} else if spec.ExpireAfter != 0 {
		return nil, bad("ExpireAfter needs TTL")
	}
	if spec.Partial != nil {
		f, err := ParseFilter(spec.Partial)
		if err != nil {
			return nil, bad("partial filter: %v", err)
		}
		src, err := sourceObject(spec.Partial, "partial filter", ErrInvalidIndex)
		if err != nil {
			return nil, err
		}
		n, err := normalizer{}.value(src, "", 0)
		if err != nil {
			return nil, bad("partial filter: %v", err)
		}
		raw, err := marshalExtended(n)
		if err != nil {
			return nil, bad("partial filter: %v", err)
		}
		if f.matchAll() {
			return nil, bad("the partial filter is empty")
		}
		m.Partial = raw
	}
	return m, nil
}

// sameDefinition reports whether two definitions describe the same index (ignoring id and state).
func sameDefinition(a, b *indexMeta) bool {
	return a.Name == b.Name && slices.Equal(a.Fields, b.Fields) && a.Unique == b.Unique && a.Sparse == b.Sparse &&
		bytes.Equal(a.Partial, b.Partial) && a.TTL == b.TTL && a.ExpireAfterMS == b.ExpireAfterMS
}

// IndexInfo describes an index of a collection as stored.
type IndexInfo struct {
	Index
	// Readable is true once the index is built and queries may use it.
	Readable bool
	// Multikey is true once a document had an array on one of the index's paths.
	Multikey bool
}

// entry is one index key of a document.
type entry struct {
	key    []byte
	valEnd int // key[:valEnd] is the index prefix and values, without the _id
}

// allPaths are the paths whose values decide the index's entries.
func (ix *indexState) allPaths() []fieldPath {
	out := slices.Clone(ix.paths)
	if ix.partial != nil {
		out = append(out, ix.partial.paths...)
	}
	return out
}

// entries computes the index entries of doc (which holds _id). multi reports that an array was
// met on an indexed path.
func (ix *indexState) entries(doc map[string]any, id any) (out []entry, multi bool, err error) {
	if ix.partial != nil && !ix.partial.root.match(doc) {
		return nil, false, nil
	}
	perField := make([][]any, len(ix.paths))
	arrays := 0
	present := false
	for i, p := range ix.paths {
		vals, m := keyValues(doc, p, nil)
		if m {
			arrays++
			multi = true
		}
		for _, cd := range collect(doc, p) {
			if !cd.missing {
				present = true
				break
			}
		}
		perField[i] = dedupeValues(vals)
	}
	if ix.meta.Sparse && !present {
		return nil, multi, nil
	}
	if arrays > 1 {
		return nil, multi, fmt.Errorf("docstore: index %q: document %s has arrays in more than one indexed field (parallel arrays): %w", ix.meta.Name, formatID(id), ErrTooManyIndexEntries)
	}
	total := 1
	for _, vs := range perField {
		total *= len(vs)
	}
	if total > MaxIndexEntriesPerDocument {
		return nil, multi, fmt.Errorf("docstore: index %q: document %s would have %d entries; at most %d: %w", ix.meta.Name, formatID(id), total, MaxIndexEntriesPerDocument, ErrTooManyIndexEntries)
	}
	idKey := appendKey(nil, id)
	buf := append(make([]byte, 0, 128), ix.prefix...)
	var rec func(i int)
	rec = func(i int) {
		if i == len(perField) {
			k := make([]byte, len(buf)+len(idKey))
			copy(k[copy(k, buf):], idKey)
			out = append(out, entry{key: k, valEnd: len(buf)})
			return
		}
		n := len(buf)
		for _, v := range perField[i] {
			buf = appendKey(buf[:n], v)
			rec(i + 1)
		}
		buf = buf[:n]
	}
	rec(0)
	for _, e := range out {
		if len(e.key) > kv.MaxKeySize {
			return nil, multi, fmt.Errorf("docstore: index %q: the key of document %s is %d bytes; keys hold at most %d: %w", ix.meta.Name, formatID(id), len(e.key), kv.MaxKeySize, ErrInvalidDocument)
		}
	}
	return out, multi, nil
}

// dedupeValues drops values equal to an earlier one (1 and 1.0 give one entry).
func dedupeValues(vs []any) []any {
	out := vs[:0]
	for _, v := range vs {
		if !slices.ContainsFunc(out, func(x any) bool { return compareValues(x, v) == 0 && typeTag(x) == typeTag(v) }) {
			out = append(out, v)
		}
	}
	return out
}

// expiresAt returns when a TTL index makes doc expire: its earliest date plus ExpireAfter. ok
// is false when the field holds no date.
func (ix *indexState) expiresAt(doc map[string]any) (time.Time, bool) {
	vals, _ := keyValues(doc, ix.paths[0], nil)
	var best time.Time
	found := false
	for _, v := range vals {
		if t, ok := v.(time.Time); ok && (!found || t.Before(best)) {
			best, found = t, true
		}
	}
	return best.Add(ix.expireAfter), found
}

// expired reports whether a TTL index of the collection has expired doc at now.
func (st *collState) expired(doc map[string]any, now time.Time) bool {
	for _, ix := range st.ttl {
		if at, ok := ix.expiresAt(doc); ok && !at.After(now) {
			return true
		}
	}
	return false
}

// info returns the public description of an index.
func (ix *indexState) info() IndexInfo {
	m := ix.meta
	spec := Index{Name: m.Name, Fields: slices.Clone(m.Fields), Unique: m.Unique, Sparse: m.Sparse, TTL: m.TTL, ExpireAfter: time.Duration(m.ExpireAfterMS) * time.Millisecond}
	if len(m.Partial) > 0 {
		spec.Partial = json.RawMessage(m.Partial)
	}
	return IndexInfo{Index: spec, Readable: ix.readable()}
}

func (ix *indexState) String() string {
	var b strings.Builder
	b.WriteString(ix.meta.Name + "(" + strings.Join(ix.meta.Fields, ", ") + ")")
	return b.String()
}

// splitEntry reads an index entry key: where its values end (the key before is the index
// prefix and the values), and the _id after them.
func splitEntry(ix *indexState, key []byte) (int, any, error) {
	if !bytes.HasPrefix(key, ix.prefix) {
		return 0, nil, fmt.Errorf("docstore: key %s is not in index %q: %w", kv.Printable(key), ix.meta.Name, ErrCorrupt)
	}
	pos := len(ix.prefix)
	for range ix.paths {
		n, err := skipKeyValue(key[pos:])
		if err != nil {
			return 0, nil, fmt.Errorf("docstore: index %q entry %s: %w", ix.meta.Name, kv.Printable(key), err)
		}
		pos += n
	}
	id, n, err := readIDKey(key[pos:])
	if err != nil {
		return 0, nil, fmt.Errorf("docstore: index %q entry %s: %w", ix.meta.Name, kv.Printable(key), err)
	}
	if pos+n != len(key) {
		return 0, nil, fmt.Errorf("docstore: index %q entry %s has elements after the _id: %w", ix.meta.Name, kv.Printable(key), ErrCorrupt)
	}
	return pos, id, nil
}

// entryID reads the _id at the end of an index entry key.
func entryID(ix *indexState, key []byte) (any, error) {
	_, id, err := splitEntry(ix, key)
	return id, err
}
