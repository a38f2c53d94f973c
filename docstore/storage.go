package docstore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/layerkit/layerkit/kv"
)

// Field values. Each object and array of a document has a marker key, and each scalar a key of
// its own; the first byte of a value says which:
//
//	'o'                          object (the document root is one)
//	'a' uvarint(length)          array
//	'n' 't' 'f'                  null, true, false
//	'i' varint                   int64 (zig-zag)
//	'd' 8 bytes                  float64 bits, big-endian
//	's' bytes                    string, UTF-8
//	'b' subtype bytes            binary (subtype 0, or 4 for a UUID)
//	'D' varint                   date, milliseconds since 1970 (zig-zag)
//	'x' uvarint(n) uvarint(size) a scalar too large for one value: its encoding (one of the
//	                             above, size bytes) is in n chunks at the key + (nil, i)
const (
	valObject = 'o'
	valArray  = 'a'
	valNull   = 'n'
	valTrue   = 't'
	valFalse  = 'f'
	valInt    = 'i'
	valFloat  = 'd'
	valString = 's'
	valBinary = 'b'
	valDate   = 'D'
	valSplit  = 'x'
)

// chunkSize is the most bytes of one value; larger scalars are split into chunks of this size.
const chunkSize = kv.MaxValueSize

// appendScalar appends the encoding of a normalised scalar.
func appendScalar(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, valNull)
	case bool:
		if x {
			return append(b, valTrue)
		}
		return append(b, valFalse)
	case int64:
		return binary.AppendVarint(append(b, valInt), x)
	case float64:
		return binary.BigEndian.AppendUint64(append(b, valFloat), math.Float64bits(x))
	case string:
		return append(append(b, valString), x...)
	case []byte:
		return append(append(b, valBinary, 0), x...)
	case uuid.UUID:
		return append(append(b, valBinary, binarySubtypeUUID), x[:]...)
	case time.Time:
		return binary.AppendVarint(append(b, valDate), x.UnixMilli())
	}
	panic(fmt.Sprintf("docstore: appendScalar of %T", v)) // normalised values only
}

// decodeScalar reads a value written by appendScalar.
func decodeScalar(b []byte) (any, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("docstore: empty field value: %w", ErrCorrupt)
	}
	rest := b[1:]
	switch b[0] {
	case valNull:
		if len(rest) == 0 {
			return nil, nil
		}
	case valTrue, valFalse:
		if len(rest) == 0 {
			return b[0] == valTrue, nil
		}
	case valInt:
		i, n := binary.Varint(rest)
		if n > 0 && n == len(rest) {
			return i, nil
		}
	case valFloat:
		if len(rest) == 8 {
			f := math.Float64frombits(binary.BigEndian.Uint64(rest))
			if !math.IsNaN(f) && !math.IsInf(f, 0) {
				return f, nil
			}
		}
	case valString:
		if utf8.Valid(rest) {
			return string(rest), nil
		}
	case valBinary:
		if len(rest) >= 1 {
			switch {
			case rest[0] == 0:
				return append([]byte{}, rest[1:]...), nil
			case rest[0] == binarySubtypeUUID && len(rest) == 17:
				return uuid.UUID(rest[1:]), nil
			}
		}
	case valDate:
		ms, n := binary.Varint(rest)
		if n > 0 && n == len(rest) {
			return time.UnixMilli(ms).UTC(), nil
		}
	}
	return nil, fmt.Errorf("docstore: field value %s does not decode: %w", kv.Printable(truncateBytes(b, 40)), ErrCorrupt)
}

func truncateBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// fieldKV is one key of a stored document and its value.
type fieldKV struct {
	key   []byte
	value []byte
}

// flattener turns a value into the keys that store it. Keys and values are cut from shared
// buffers, so a document costs a few allocations, not two per field.
type flattener struct {
	out    []fieldKV
	size   int // bytes of the keys below the starting path, and of the values
	keys   []byte
	values []byte
	base   int  // length of the starting path
	doc    bool // the value is a whole document, whose _id is in the key rather than a field
}

// value appends the keys of v stored at path (the full key of where v goes).
func (f *flattener) value(path []byte, v any) {
	if f.out == nil {
		f.base = len(path)
	}
	switch x := v.(type) {
	case map[string]any:
		f.add(path, f.scalarBuf(valObject))
		for k, e := range x {
			if f.doc && len(path) == f.base && k == "_id" {
				continue // the _id is in the key
			}
			f.value(f.key(path, func(b []byte) []byte { return appendKeyString(b, k) }), e)
		}
	case []any:
		start := len(f.values)
		f.values = binary.AppendUvarint(append(f.values, valArray), uint64(len(x)))
		f.add(path, f.values[start:len(f.values):len(f.values)])
		for i, e := range x {
			f.value(f.key(path, func(b []byte) []byte { return appendKeyIndex(b, i) }), e)
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
			k := f.key(path, func(b []byte) []byte { return appendKeyIndex(append(b, 0x00), i) })
			f.add(k, enc[i*chunkSize:min(len(enc), (i+1)*chunkSize)])
		}
	}
}

// key returns path extended by one element, cut from the shared key buffer.
func (f *flattener) key(path []byte, elem func([]byte) []byte) []byte {
	if cap(f.keys)-len(f.keys) < len(path)+32 {
		f.keys = make([]byte, 0, max(1024, 4*(len(path)+32)))
	}
	start := len(f.keys)
	f.keys = elem(append(f.keys, path...))
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

// pathElem is one decoded component of a field key: a name, an index, or the chunk marker.
type pathElem struct {
	name  string
	index int
	kind  byte // 's' name, 'i' index, 'c' chunk marker
}

// readPathElem decodes the next element of a field key suffix: a tuple string, a small
// non-negative tuple integer, or nil (chunks).
func readPathElem(b []byte) (pathElem, []byte, error) {
	if len(b) == 0 {
		return pathElem{}, nil, fmt.Errorf("docstore: truncated field key: %w", ErrCorrupt)
	}
	switch c := b[0]; {
	case c == 0x00:
		return pathElem{kind: 'c'}, b[1:], nil
	case c == 0x02:
		if end := bytes.IndexByte(b[1:], 0x00); end >= 0 && (end+2 >= len(b) || b[end+2] != 0xff) {
			return pathElem{name: string(b[1 : 1+end]), kind: 's'}, b[end+2:], nil // no escaped zero
		}
		var s []byte
		i := 1
		for {
			if i >= len(b) {
				return pathElem{}, nil, fmt.Errorf("docstore: unterminated field name in key: %w", ErrCorrupt)
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
			return pathElem{}, nil, fmt.Errorf("docstore: truncated array index in key: %w", ErrCorrupt)
		}
		v := 0
		for _, d := range b[1 : 1+n] {
			v = v<<8 | int(d)
		}
		if v < 0 {
			break
		}
		return pathElem{index: v, kind: 'i'}, b[1+n:], nil
	}
	return pathElem{}, nil, fmt.Errorf("docstore: field key element starts with %#x: %w", b[0], ErrCorrupt)
}

// assembler rebuilds a document from its keys, read in key order.
type assembler struct {
	root map[string]any
	// the split scalar being assembled
	split     []pathElem
	splitN    int
	splitSize int
	splitBuf  []byte
	elems     []pathElem
}

func newAssembler() *assembler { return &assembler{} }

// add takes the next key (relative to the document prefix; the first key is the empty root
// suffix) and its value.
func (a *assembler) add(suffix, value []byte) error {
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
		if len(value) != 1 || value[0] != valObject {
			return fmt.Errorf("docstore: document root marker is %s: %w", kv.Printable(value), ErrCorrupt)
		}
		if a.root != nil {
			return fmt.Errorf("docstore: document has two roots: %w", ErrCorrupt)
		}
		a.root = map[string]any{}
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
	if len(value) == 0 {
		return fmt.Errorf("docstore: empty field value: %w", ErrCorrupt)
	}
	var v any
	switch value[0] {
	case valObject:
		if len(value) != 1 {
			return fmt.Errorf("docstore: object marker with data: %w", ErrCorrupt)
		}
		v = map[string]any{}
	case valArray:
		n, k := binary.Uvarint(value[1:])
		if k <= 0 || k != len(value)-1 || n > MaxDocumentSize {
			return fmt.Errorf("docstore: array marker %s does not decode: %w", kv.Printable(value), ErrCorrupt)
		}
		v = make([]any, n)
	case valSplit:
		rest := value[1:]
		n, k := binary.Uvarint(rest)
		if k <= 0 {
			return fmt.Errorf("docstore: split value header does not decode: %w", ErrCorrupt)
		}
		size, k2 := binary.Uvarint(rest[k:])
		if k2 <= 0 || k+k2 != len(rest) || n == 0 || size > MaxDocumentSize || (size+chunkSize-1)/chunkSize != n {
			return fmt.Errorf("docstore: split value header does not decode: %w", ErrCorrupt)
		}
		a.split = append(a.split[:0], elems...)
		a.splitN, a.splitSize, a.splitBuf = int(n), int(size), make([]byte, 0, size)
		return nil // placed by finishSplit once its chunks are read
	default:
		var err error
		if v, err = decodeScalar(value); err != nil {
			return err
		}
	}
	return a.place(elems, v)
}

func (a *assembler) chunk(at []pathElem, idx pathElem, value []byte) error {
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
	v, err := decodeScalar(a.splitBuf)
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

// done returns the document (nil when no root was read).
func (a *assembler) done() (map[string]any, error) {
	if err := a.finishSplit(); err != nil {
		return nil, err
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
		if cur == nil || !bytes.HasPrefix(row.Key, cur) {
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
