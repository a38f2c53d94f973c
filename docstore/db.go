package docstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/layerkit/layerkit/directory"
	"github.com/layerkit/layerkit/kv"
)

// Directory layer names recorded on the directories docstore creates, and checked on open.
var (
	dbLayer         = []byte("docstore")
	collectionLayer = []byte("docstore.collection")
)

// Options configure a DB. The zero value (or nil) uses the default directory layer and the
// system clock.
type Options struct {
	// Directory is the directory layer the database lives in; nil means directory.Root().
	Directory *directory.Layer
	// Clock returns the current time, for TTL expiry and $currentDate; nil means time.Now.
	Clock func() time.Time
}

// DB is a document database: a directory whose subdirectories are collections. It holds no
// transaction and is safe for concurrent use; every operation takes the kv.Transactor (or
// kv.ReadTransactor) to run in.
type DB struct {
	dir   directory.DirectorySubspace
	clock func() time.Time

	mu    sync.Mutex
	colls map[string]*Collection
}

// Open opens the database at path in the directory layer, creating the directory (with the
// layer name "docstore") when it does not exist.
func Open(ctx context.Context, t kv.Transactor, path []string, opts *Options) (*DB, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Directory == nil {
		o.Directory = directory.Root()
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	dir, err := o.Directory.CreateOrOpen(ctx, t, path, dbLayer)
	if err != nil {
		return nil, fmt.Errorf("docstore: open database at %v: %w", path, err)
	}
	return &DB{dir: dir, clock: o.Clock, colls: map[string]*Collection{}}, nil
}

// Collection returns the handle of the named collection. It does no I/O: the collection is
// created by the first write, or explicitly by CreateCollection. Handles are cached, so every
// call with one name returns the same *Collection.
func (db *DB) Collection(name string) *Collection {
	db.mu.Lock()
	defer db.mu.Unlock()
	c := db.colls[name]
	if c == nil {
		c = &Collection{db: db, name: name}
		db.colls[name] = c
	}
	return c
}

// CollectionOptions configure a collection when CreateCollection creates it.
type CollectionOptions struct {
	// Schema is a JSON Schema (draft 2020-12 by default; $schema selects another draft) that
	// every document must satisfy, as JSON text or a Go value; nil means no validation.
	Schema any
	// ChangeFeed appends every insert, update and delete to the collection's change feed.
	ChangeFeed bool
}

// CreateCollection creates the named collection with opts; ErrCollectionExists when it exists.
func (db *DB) CreateCollection(ctx context.Context, t kv.Transactor, name string, opts CollectionOptions) (*Collection, error) {
	c := db.Collection(name)
	var schema []byte
	if opts.Schema != nil {
		raw, err := schemaJSON(opts.Schema)
		if err != nil {
			return nil, err
		}
		if _, err := compileSchema(raw); err != nil {
			return nil, err
		}
		schema = raw
	}
	uid := newUID()
	err := t.Transact(ctx, func(tr kv.Transaction) error {
		st, err := c.resolve(ctx, tr, false)
		if err != nil {
			return err
		}
		if st != nil {
			if st.meta.UID == uid {
				return nil // a retry after an unknown commit result that was applied
			}
			return fmt.Errorf("docstore: collection %q: %w", name, ErrCollectionExists)
		}
		_, err = c.create(ctx, tr, uid, schema, opts.ChangeFeed)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ListCollections returns the names of the collections, in key order.
func (db *DB) ListCollections(ctx context.Context, t kv.ReadTransactor) ([]string, error) {
	names, err := db.dir.List(ctx, t, nil)
	if err != nil {
		return nil, fmt.Errorf("docstore: list collections: %w", err)
	}
	return names, nil
}

// DropCollection removes the named collection with its documents, indexes and change feed.
// It reports false when there was none.
func (db *DB) DropCollection(ctx context.Context, t kv.Transactor, name string) (bool, error) {
	ok, err := db.dir.RemoveIfExists(ctx, t, []string{name})
	if err != nil {
		return false, fmt.Errorf("docstore: drop collection %q: %w", name, err)
	}
	c := db.Collection(name)
	c.mu.Lock()
	c.cache = nil
	c.mu.Unlock()
	return ok, nil
}

func (db *DB) now() time.Time { return db.clock() }
