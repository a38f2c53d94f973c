package docstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/layerkit/layerkit/directory"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/tuple"
)

// Key spaces inside a collection's directory prefix P (see the package documentation).
const (
	keyHeader   = 0 // P+(0): the collection header, JSON
	keyDocs     = 1 // P+(1, _id…, path…): document fields
	keyRevs     = 2 // P+(2, _id…): document revisions
	keyIndex    = 3 // P+(3, index id, values…, _id…): index entries
	keyMultikey = 4 // P+(4, index id): the index has met an array
	keyBuild    = 5 // P+(5, index id): how far an online build has come
	keyFeed     = 6 // P+(6, …): the change feed stream
	keyLedger   = 7 // P+(7, token): results of non-idempotent writes, for retries
)

// formatVersion is the version of the key layout; a header with another one is refused.
// Version 1 stored every array element in a key of its own; version 2 packs small arrays into
// one value (see encoding.go), and its writes assume that every small array is packed.
const formatVersion = 2

// collMeta is the collection header.
type collMeta struct {
	Format     int          `json:"format"`
	UID        string       `json:"uid"`
	Name       string       `json:"name"`
	NextIndex  int64        `json:"nextIndex"`
	Indexes    []*indexMeta `json:"indexes,omitempty"`
	Schema     []byte       `json:"schema,omitempty"`
	ChangeFeed bool         `json:"changeFeed,omitempty"`
}

// Collection is a handle on a collection of JSON documents. It holds no transaction and is safe
// for concurrent use; every operation takes the kv.Transactor (or kv.ReadTransactor) to run in:
// a database (the operation then runs in its own retry loop) or a transaction (it composes with
// the caller's other work and commits with it).
type Collection struct {
	db   *DB
	name string

	mu    sync.Mutex
	cache *collState // the state last read; checked against the header in every transaction
}

// Name returns the collection's name.
func (c *Collection) Name() string { return c.name }

// collState is the collection as one transaction sees it: its prefix and its parsed header.
type collState struct {
	prefix  []byte
	header  []byte // key
	raw     []byte // header value
	meta    *collMeta
	docs    []byte // P+(1)
	revs    []byte // P+(2)
	indexes []*indexState
	byName  map[string]*indexState
	ttl     []*indexState
	schema  *jsonschema.Schema
}

func newUID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b[:])
}

func packed(prefix []byte, elems ...any) []byte {
	out, err := tuple.Tuple(elems).AppendPack(append(make([]byte, 0, len(prefix)+16), prefix...))
	if err != nil {
		panic(err) // only called with small integers and strings
	}
	return out
}

// newState parses a header read at prefix.
func newState(prefix, raw []byte) (*collState, error) {
	var m collMeta
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("docstore: collection header at %s does not decode: %v: %w", kv.Printable(prefix), err, ErrCorrupt)
	}
	if m.Format != formatVersion {
		return nil, fmt.Errorf("docstore: collection %q is stored in format %d; this version reads format %d only: %w", m.Name, m.Format, formatVersion, ErrUnsupportedFormat)
	}
	st := &collState{
		prefix: prefix, header: packed(prefix, keyHeader), raw: raw, meta: &m,
		docs: packed(prefix, keyDocs), revs: packed(prefix, keyRevs), byName: map[string]*indexState{},
	}
	for _, im := range m.Indexes {
		ix, err := compileIndex(st, im)
		if err != nil {
			return nil, fmt.Errorf("docstore: collection %q index %q: %v: %w", m.Name, im.Name, err, ErrCorrupt)
		}
		st.indexes = append(st.indexes, ix)
		st.byName[im.Name] = ix
		if im.TTL {
			st.ttl = append(st.ttl, ix)
		}
	}
	if len(m.Schema) > 0 {
		s, err := compileSchema(m.Schema)
		if err != nil {
			return nil, fmt.Errorf("docstore: collection %q schema: %v: %w", m.Name, err, ErrCorrupt)
		}
		st.schema = s
	}
	return st, nil
}

// resolve returns the collection's state in this transaction, or nil when it does not exist.
// The header is read in every transaction (a read conflict on it), so a concurrent change of the
// collection's indexes or schema makes writers retry with the new definition.
func (c *Collection) resolve(ctx context.Context, rtr kv.ReadTransaction, _ bool) (*collState, error) {
	c.mu.Lock()
	cached := c.cache
	c.mu.Unlock()
	if cached != nil {
		raw, err := rtr.Get(cached.header).Get()
		if err != nil {
			return nil, err
		}
		if raw != nil {
			if bytes.Equal(raw, cached.raw) {
				return cached, nil
			}
			st, err := newState(cached.prefix, raw)
			if err != nil {
				return nil, err
			}
			if st.meta.UID == cached.meta.UID && st.meta.Name == c.name {
				c.setCache(st)
				return st, nil
			}
		}
	}
	dir, err := c.db.dir.Open(ctx, rtr, []string{c.name}, collectionLayer)
	if errors.Is(err, directory.ErrDirNotExists) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("docstore: open collection %q: %w", c.name, err)
	}
	ss, err := dir.Subspace()
	if err != nil {
		return nil, fmt.Errorf("docstore: collection %q: %w", c.name, err)
	}
	prefix := ss.Bytes()
	raw, err := rtr.Get(packed(prefix, keyHeader)).Get()
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, fmt.Errorf("docstore: collection %q has a directory but no header: %w", c.name, ErrCorrupt)
	}
	st, err := newState(prefix, raw)
	if err != nil {
		return nil, err
	}
	c.setCache(st)
	return st, nil
}

func (c *Collection) setCache(st *collState) {
	c.mu.Lock()
	c.cache = st
	c.mu.Unlock()
}

// create makes the collection's directory and header in tr.
func (c *Collection) create(ctx context.Context, tr kv.Transaction, uid string, schema []byte, feed bool) (*collState, error) {
	dir, err := c.db.dir.CreateOrOpen(ctx, tr, []string{c.name}, collectionLayer)
	if err != nil {
		return nil, fmt.Errorf("docstore: create collection %q: %w", c.name, err)
	}
	ss, err := dir.Subspace()
	if err != nil {
		return nil, fmt.Errorf("docstore: collection %q: %w", c.name, err)
	}
	m := &collMeta{Format: formatVersion, UID: uid, Name: c.name, NextIndex: 1, Schema: schema, ChangeFeed: feed}
	return c.writeMeta(tr, ss.Bytes(), m)
}

// writeMeta stores a new header and returns the state it gives.
func (c *Collection) writeMeta(tr kv.Transaction, prefix []byte, m *collMeta) (*collState, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("docstore: encode collection header: %w", err)
	}
	if len(raw) > kv.MaxValueSize {
		return nil, fmt.Errorf("docstore: collection %q header is %d bytes (schema and index definitions); at most %d fit: %w", c.name, len(raw), kv.MaxValueSize, ErrInvalidSchema)
	}
	st, err := newState(prefix, raw)
	if err != nil {
		return nil, err
	}
	tr.Set(st.header, raw)
	c.setCache(st)
	return st, nil
}

// forWrite returns the collection's state, creating the collection when it does not exist.
func (c *Collection) forWrite(ctx context.Context, tr kv.Transaction) (*collState, error) {
	st, err := c.resolve(ctx, tr, true)
	if err != nil || st != nil {
		return st, err
	}
	return c.create(ctx, tr, newUID(), nil, false)
}

// docPrefix returns P+(1)+_id: the key of the document's root, and the prefix of its fields.
func (st *collState) docPrefix(id any) []byte {
	return appendKey(append(make([]byte, 0, len(st.docs)+24), st.docs...), id)
}

// revKey returns P+(2)+_id.
func (st *collState) revKey(id any) []byte {
	return appendKey(append(make([]byte, 0, len(st.revs)+24), st.revs...), id)
}

// docRange is the range of a document's keys: its root and every field.
func docRange(prefix []byte) kv.Range {
	return kv.Range{Begin: prefix, End: append(clip(prefix), 0xff)}
}

// decodeDocKey reads the _id of a key in P+(1), and returns the rest of the key.
func (st *collState) decodeDocKey(key []byte) (any, []byte, error) {
	if !bytes.HasPrefix(key, st.docs) {
		return nil, nil, fmt.Errorf("docstore: key %s is not a document key: %w", kv.Printable(key), ErrCorrupt)
	}
	rest := key[len(st.docs):]
	id, n, err := readIDKey(rest)
	if err != nil {
		return nil, nil, fmt.Errorf("docstore: document key %s: %w", kv.Printable(key), err)
	}
	return id, rest[n:], nil
}

// now is the time operations of this handle use.
func (c *Collection) now() time.Time { return c.db.now() }
