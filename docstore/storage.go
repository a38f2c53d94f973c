package docstore

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"sync"

	"github.com/layerkit/layerkit/kv"
)

// fieldKV is one key of a stored document and its value.
type fieldKV struct {
	key   []byte
	value []byte
}

// flattener turns a value into the keys that store it (see encoding.go for the values). Keys
// and values are cut from shared buffers, which a pool keeps from one document to the next: a
// transaction's writes may reuse what they were given (the engine copies it), so writing a
// document allocates nothing here once the pool is warm.
type flattener struct {
	out    []fieldKV
	size   int // bytes of the keys below the starting path, and of the values
	keys   []byte
	values []byte
	base   int  // length of the starting path
	doc    bool // the value is a whole document, whose _id is in the key rather than a field
}

var flatteners = sync.Pool{New: func() any { return new(flattener) }}

// newFlattener takes a flattener from the pool; doc says it flattens whole documents.
func newFlattener(doc bool) *flattener {
	f := flatteners.Get().(*flattener)
	f.doc = doc
	return f
}

// release returns f to the pool once its keys and values are written or no longer needed.
func (f *flattener) release() {
	if cap(f.values) > 1<<20 || cap(f.out) > 1<<14 {
		return // a large document's buffers are not kept
	}
	clear(f.out)
	f.out, f.keys, f.values, f.size, f.base = f.out[:0], f.keys[:0], f.values[:0], 0, 0
	flatteners.Put(f)
}

// value appends the keys of v stored at path (the full key of where v goes); size counts the
// bytes below path.
func (f *flattener) value(path []byte, v any) {
	f.base = len(path)
	f.walk(path, v)
}

func (f *flattener) walk(path []byte, v any) {
	switch x := v.(type) {
	case map[string]any:
		f.add(path, f.scalarBuf(valObject))
		for k, e := range x {
			if f.doc && len(path) == f.base && k == "_id" {
				continue // the _id is in the key
			}
			f.walk(f.nameKey(path, k), e)
		}
	case []any:
		start := len(f.values)
		b, ok := appendPackedArray(f.values, x)
		if ok {
			f.values = b
			f.add(path, b[start:len(b):len(b)])
			return
		}
		f.values = binary.AppendUvarint(append(b[:start], valArray), uint64(len(x)))
		f.add(path, f.values[start:len(f.values):len(f.values)])
		for i, e := range x {
			f.walk(f.indexKey(path, false, i), e)
		}
	default:
		start := len(f.values)
		f.values = appendScalar(f.values, x)
		enc := f.values[start:len(f.values):len(f.values)]
		if len(enc) <= chunkSize {
			f.add(path, enc)
			return
		}
		n := (len(enc) + chunkSize - 1) / chunkSize
		hdr := binary.AppendUvarint([]byte{valSplit}, uint64(n))
		f.add(path, binary.AppendUvarint(hdr, uint64(len(enc))))
		for i := 0; i < n; i++ {
			f.add(f.indexKey(path, true, i), enc[i*chunkSize:min(len(enc), (i+1)*chunkSize)])
		}
	}
}

// room makes space for a key of n bytes in the shared key buffer.
func (f *flattener) room(n int) {
	if cap(f.keys)-len(f.keys) < n {
		f.keys = make([]byte, 0, max(1024, 4*n))
	}
}

// nameKey returns path extended by a field name, cut from the shared key buffer.
func (f *flattener) nameKey(path []byte, name string) []byte {
	f.room(len(path) + len(name) + 8)
	start := len(f.keys)
	f.keys = appendKeyString(append(f.keys, path...), name)
	return f.keys[start:len(f.keys):len(f.keys)]
}

// indexKey returns path extended by an array index, or by a chunk marker (nil) and a chunk
// number, cut from the shared key buffer.
func (f *flattener) indexKey(path []byte, chunk bool, i int) []byte {
	f.room(len(path) + 16)
	start := len(f.keys)
	f.keys = append(f.keys, path...)
	if chunk {
		f.keys = append(f.keys, 0x00)
	}
	f.keys = appendKeyIndex(f.keys, i)
	return f.keys[start:len(f.keys):len(f.keys)]
}

func (f *flattener) scalarBuf(b byte) []byte {
	f.values = append(f.values, b)
	return f.values[len(f.values)-1 : len(f.values) : len(f.values)]
}

func (f *flattener) add(key, value []byte) {
	f.out = append(f.out, fieldKV{key: key, value: value})
	f.size += len(key) - f.base + len(value)
}

// clip returns b with no spare capacity, so appends to it never share memory.
func clip(b []byte) []byte { return b[:len(b):len(b)] }

func appendPathString(b []byte, s string) []byte { return appendKeyString(b, s) }

func appendPathIndex(b []byte, i int) []byte { return appendKeyIndex(b, i) }

// appendKeyString appends s as a tuple string element (code 0x02, zero bytes escaped as 00 ff,
// a 00 terminator): the bytes tuple.Tuple{s}.Pack() gives. s is valid UTF-8 (field names are
// checked when documents are normalised).
func appendKeyString(b []byte, s string) []byte {
	b = append(b, 0x02)
	for {
		i := strings.IndexByte(s, 0)
		if i < 0 {
			break
		}
		b = append(b, s[:i+1]...)
		b = append(b, 0xff)
		s = s[i+1:]
	}
	b = append(b, s...)
	return append(b, 0x00)
}

// appendKeyIndex appends a non-negative integer as a tuple integer element: the bytes
// tuple.Tuple{int64(i)}.Pack() gives.
func appendKeyIndex(b []byte, i int) []byte {
	if i == 0 {
		return append(b, 0x14)
	}
	n := (bits.Len64(uint64(i)) + 7) / 8
	b = append(b, byte(0x14+n))
	for j := n - 1; j >= 0; j-- {
		b = append(b, byte(i>>(8*j)))
	}
	return b
}

// below reports whether key is prefix or a key below it: prefix followed by more tuple
// elements. A key that merely starts with prefix may be a sibling: a string element ends in a
// zero byte, and a string holding a zero byte goes on after it with the escape byte 0xff
// ("a" is 02 61 00, "a\x00b" is 02 61 00 ff 62 00), which no element starts with.
func below[T string | []byte](key, prefix T) bool {
	return len(key) >= len(prefix) && string(key[:len(prefix)]) == string(prefix) &&
		(len(key) == len(prefix) || key[len(prefix)] != 0xff)
}

// pathElem is one decoded component of a field key: a name, an index, or the chunk marker.
type pathElem struct {
	name  string
	index int
	kind  byte // 's' name, 'i' index, 'c' chunk marker
}

// readPathElem decodes the next element of a field key suffix: a tuple string, a small
// non-negative tuple integer, or nil (chunks). Names share the memory of b.
func readPathElem(b string) (pathElem, string, error) {
	if len(b) == 0 {
		return pathElem{}, "", fmt.Errorf("docstore: truncated field key: %w", ErrCorrupt)
	}
	switch c := b[0]; {
	case c == 0x00:
		return pathElem{kind: 'c'}, b[1:], nil
	case c == 0x02:
		if end := strings.IndexByte(b[1:], 0x00); end >= 0 && (end+2 >= len(b) || b[end+2] != 0xff) {
			return pathElem{name: b[1 : 1+end], kind: 's'}, b[end+2:], nil // no escaped zero
		}
		var s []byte
		i := 1
		for {
			if i >= len(b) {
				return pathElem{}, "", fmt.Errorf("docstore: unterminated field name in key: %w", ErrCorrupt)
			}
			if b[i] == 0x00 {
				if i+1 < len(b) && b[i+1] == 0xff {
					s = append(s, 0)
					i += 2
					continue
				}
				break
			}
			s = append(s, b[i])
			i++
		}
		return pathElem{name: string(s), kind: 's'}, b[i+1:], nil
	case c >= 0x14 && c <= 0x18:
		n := int(c - 0x14)
		if len(b) < 1+n {
			return pathElem{}, "", fmt.Errorf("docstore: truncated array index in key: %w", ErrCorrupt)
		}
		v := 0
		for i := 1; i <= n; i++ {
			v = v<<8 | int(b[i])
		}
		if v < 0 {
			break
		}
		return pathElem{index: v, kind: 'i'}, b[1+n:], nil
	}
	return pathElem{}, "", fmt.Errorf("docstore: field key element starts with %#x: %w", b[0], ErrCorrupt)
}

// topName returns the field name of a key suffix that is one plain tuple string (no escaped
// zero byte), the form of every top-level field key.
func topName(suffix string) (string, bool) {
	if len(suffix) < 2 || suffix[0] != 0x02 || suffix[len(suffix)-1] != 0x00 {
		return "", false
	}
	name := suffix[1 : len(suffix)-1]
	return name, strings.IndexByte(name, 0) < 0
}

// assembler rebuilds a document from its keys, read in key order. The names and strings of the
// document share the memory of one string that holds the bytes of all its rows.
type assembler struct {
	root map[string]any
	rows int // rows of the document: no exploded array can be longer
	// packed is the key suffix of the last packed array read: no key may follow below it.
	packed string
	// the split scalar being assembled
	split     []pathElem
	splitN    int
	splitSize int
	splitBuf  []byte
	elems     []pathElem
}

// add takes the next key (relative to the document prefix; the first key is the empty root
// suffix) and its value.
func (a *assembler) add(suffix, value string) error {
	if a.packed != "" && below(suffix, a.packed) {
		return fmt.Errorf("docstore: field key below a packed array: %w", ErrCorrupt)
	}
	if name, ok := topName(suffix); ok && a.root != nil && a.split == nil && value != "" && value[0] != valSplit {
		// A top-level field: the common case, without the general path walk.
		v, err := a.valueOf(suffix, value)
		if err != nil {
			return err
		}
		if _, dup := a.root[name]; dup {
			return fmt.Errorf("docstore: field %q stored twice: %w", name, ErrCorrupt)
		}
		a.root[name] = v
		return nil
	}
	a.elems = a.elems[:0]
	for rest := suffix; len(rest) > 0; {
		e, r, err := readPathElem(rest)
		if err != nil {
			return err
		}
		a.elems = append(a.elems, e)
		rest = r
	}
	elems := a.elems
	if len(elems) == 0 {
		if value != string(valObject) {
			return fmt.Errorf("docstore: document root marker is %s: %w", kv.Printable([]byte(value)), ErrCorrupt)
		}
		if a.root != nil {
			return fmt.Errorf("docstore: document has two roots: %w", ErrCorrupt)
		}
		a.root = make(map[string]any, min(a.rows, 32))
		return nil
	}
	if a.root == nil {
		return fmt.Errorf("docstore: field key before the document root: %w", ErrCorrupt)
	}
	if n := len(elems); n >= 2 && elems[n-2].kind == 'c' {
		return a.chunk(elems[:n-2], elems[n-1], value)
	}
	if err := a.finishSplit(); err != nil {
		return err
	}
	for _, e := range elems {
		if e.kind == 'c' {
			return fmt.Errorf("docstore: misplaced chunk marker in a field key: %w", ErrCorrupt)
		}
	}
	if len(value) > 0 && value[0] == valSplit {
		rest := value[1:]
		n, k := uvarint(rest)
		if k <= 0 {
			return fmt.Errorf("docstore: split value header does not decode: %w", ErrCorrupt)
		}
		size, k2 := uvarint(rest[k:])
		if k2 <= 0 || k+k2 != len(rest) || n == 0 || size > MaxDocumentSize || (size+chunkSize-1)/chunkSize != n {
			return fmt.Errorf("docstore: split value header does not decode: %w", ErrCorrupt)
		}
		a.split = append(a.split[:0], elems...)
		a.splitN, a.splitSize, a.splitBuf = int(n), int(size), make([]byte, 0, size)
		return nil // placed by finishSplit once its chunks are read
	}
	v, err := a.valueOf(suffix, value)
	if err != nil {
		return err
	}
	return a.place(elems, v)
}

// valueOf decodes the value of the key suffix (not a split value): an empty container for a
// marker, whose contents follow in later keys, or the whole value.
func (a *assembler) valueOf(suffix, value string) (any, error) {
	if len(value) == 0 {
		return nil, fmt.Errorf("docstore: empty field value: %w", ErrCorrupt)
	}
	switch value[0] {
	case valObject:
		if len(value) != 1 {
			return nil, fmt.Errorf("docstore: object marker with data: %w", ErrCorrupt)
		}
		return map[string]any{}, nil
	case valArray:
		n, k := uvarint(value[1:])
		if k <= 0 || k != len(value)-1 || n > uint64(a.rows) {
			return nil, fmt.Errorf("docstore: array marker %s does not decode: %w", kv.Printable([]byte(value)), ErrCorrupt)
		}
		return make([]any, n), nil
	case valPacked:
		a.packed = suffix
		return decodePackedArray(value)
	}
	return decodeScalar(value)
}

func (a *assembler) chunk(at []pathElem, idx pathElem, value string) error {
	if a.split == nil || !slices.Equal(a.split, at) || idx.kind != 'i' || idx.index*chunkSize != len(a.splitBuf) {
		return fmt.Errorf("docstore: chunk %d of a split value out of place: %w", idx.index, ErrCorrupt)
	}
	if len(a.splitBuf)+len(value) > a.splitSize || len(value) == 0 {
		return fmt.Errorf("docstore: split value chunk of the wrong size: %w", ErrCorrupt)
	}
	a.splitBuf = append(a.splitBuf, value...)
	return nil
}

func (a *assembler) finishSplit() error {
	if a.split == nil {
		return nil
	}
	if len(a.splitBuf) != a.splitSize {
		return fmt.Errorf("docstore: split value has %d of %d bytes: %w", len(a.splitBuf), a.splitSize, ErrCorrupt)
	}
	v, err := decodeScalar(string(a.splitBuf))
	if err != nil {
		return err
	}
	path := a.split
	a.split, a.splitBuf = nil, nil
	return a.place(path, v)
}

// place stores v at path in the tree; every container on the way must already be there.
func (a *assembler) place(path []pathElem, v any) error {
	var cur any = a.root
	for i, e := range path {
		last := i == len(path)-1
		switch x := cur.(type) {
		case map[string]any:
			if e.kind != 's' {
				return fmt.Errorf("docstore: index key below an object: %w", ErrCorrupt)
			}
			if last {
				if _, dup := x[e.name]; dup {
					return fmt.Errorf("docstore: field %q stored twice: %w", e.name, ErrCorrupt)
				}
				x[e.name] = v
				return nil
			}
			next, ok := x[e.name]
			if !ok {
				return fmt.Errorf("docstore: field key below missing container %q: %w", e.name, ErrCorrupt)
			}
			cur = next
		case []any:
			if e.kind != 'i' || e.index >= len(x) {
				return fmt.Errorf("docstore: array element key out of range: %w", ErrCorrupt)
			}
			if last {
				x[e.index] = v
				return nil
			}
			cur = x[e.index]
		default:
			return fmt.Errorf("docstore: field key below a scalar: %w", ErrCorrupt)
		}
	}
	return nil
}

// assemble rebuilds a document from its rows (keys under prefix, in key order); nil when there
// are none.
func assemble(prefix []byte, rows []kv.KeyValue) (map[string]any, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	n := 0
	for _, r := range rows {
		n += len(r.Key) - len(prefix) + len(r.Value)
	}
	var sb strings.Builder
	sb.Grow(n)
	for _, r := range rows {
		if !below(r.Key, prefix) {
			return nil, fmt.Errorf("docstore: key %s is not a key of the document: %w", kv.Printable(r.Key), ErrCorrupt)
		}
		sb.Write(r.Key[len(prefix):])
		sb.Write(r.Value)
	}
	all := sb.String()
	a := assembler{rows: len(rows)}
	for _, r := range rows {
		k := len(r.Key) - len(prefix)
		suffix, value := all[:k], all[k:k+len(r.Value)]
		all = all[k+len(r.Value):]
		if err := a.add(suffix, value); err != nil {
			return nil, err
		}
	}
	if err := a.finishSplit(); err != nil {
		return nil, err
	}
	if a.root == nil {
		return nil, fmt.Errorf("docstore: document has fields but no root: %w", ErrCorrupt)
	}
	return a.root, nil
}

// eachDoc reads the documents of a range of P+(1), in _id order (or reversed), calling fn with
// each document's key prefix, _id and rows (in key order) until fn returns false.
func eachDoc(st *collState, it kv.RangeIterator, reverse bool, fn func(prefix []byte, id any, rows []kv.KeyValue) (bool, error)) error {
	var rows []kv.KeyValue
	var cur []byte
	var curID any
	flush := func() (bool, error) {
		if cur == nil {
			return true, nil
		}
		if reverse {
			slices.Reverse(rows)
		}
		return fn(cur, curID, rows)
	}
	for it.Next() {
		row := it.KeyValue()
		if cur == nil || !below(row.Key, cur) {
			more, err := flush()
			if err != nil || !more {
				return err
			}
			id, _, err := st.decodeDocKey(row.Key)
			if err != nil {
				return err
			}
			cur, curID, rows = st.docPrefix(id), id, rows[:0]
		}
		rows = append(rows, row)
	}
	if err := it.Err(); err != nil {
		return err
	}
	_, err := flush()
	return err
}
