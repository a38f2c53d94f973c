package docstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/layerkit/layerkit/kv"
)

// inlineBuildLimit is how many documents CreateIndex indexes inside a caller's transaction; a
// larger collection leaves the index building until BuildIndex runs.
const inlineBuildLimit = 200

// BuildOptions bound an online index build.
type BuildOptions struct {
	// BatchDocs is the most documents indexed per transaction (0: 200). Each batch also stops
	// after 1 MB of documents read or one second, well inside FoundationDB's 5-second and
	// 10 MB transaction limits.
	BatchDocs int
	// MaxBatches stops the build after this many batches (0: run to the end). The build
	// resumes where it stopped on the next call.
	MaxBatches int
}

const (
	buildBatchBytes = 1 << 20
	buildBatchTime  = time.Second
)

// CreateIndex defines an index on the collection (created when absent) and builds it over the
// existing documents, online: from the moment it is defined every write maintains it, and the
// documents already there are indexed in batches, each its own transaction, recording its
// progress so that a build stopped by a crash resumes where it was. Queries use the index once
// it is built. Defining an index that exists with the same definition is not an error (a
// building one is built on); with another definition it is ErrIndexExists.
//
// Given a transaction, CreateIndex defines the index in it and builds it there too if the
// collection holds at most 200 documents; a larger collection is left building: run BuildIndex
// with the database after the transaction commits.
func (c *Collection) CreateIndex(ctx context.Context, t kv.Transactor, spec Index) error {
	m, err := indexMetaOf(spec)
	if err != nil {
		return err
	}
	tr, inTx := t.(kv.Transaction)
	if inTx {
		st, err := c.defineIndex(ctx, tr, m)
		if err != nil {
			return err
		}
		ix := st.byName[m.Name]
		if ix.readable() {
			return nil
		}
		_, err = c.buildBatch(ctx, tr, ix.meta.Name, inlineBuildLimit, true)
		return err
	}
	db, ok := t.(kv.Database)
	if !ok {
		return fmt.Errorf("docstore: CreateIndex needs a kv.Database or kv.Transaction, got %T: %w", t, ErrInvalidIndex)
	}
	err = db.Transact(ctx, func(tr kv.Transaction) error {
		_, err := c.defineIndex(ctx, tr, m)
		return err
	})
	if err != nil {
		return err
	}
	return c.BuildIndex(ctx, db, m.Name, BuildOptions{})
}

// defineIndex adds the index definition (building) to the header, or finds the same one there.
func (c *Collection) defineIndex(ctx context.Context, tr kv.Transaction, m *indexMeta) (*collState, error) {
	st, err := c.forWrite(ctx, tr)
	if err != nil {
		return nil, err
	}
	if ix := st.byName[m.Name]; ix != nil {
		if !sameDefinition(ix.meta, m) {
			return nil, fmt.Errorf("docstore: collection %q index %q: %w", c.name, m.Name, ErrIndexExists)
		}
		return st, nil
	}
	meta := *st.meta
	nm := *m
	nm.ID = meta.NextIndex
	meta.NextIndex++
	meta.Indexes = append(slices.Clone(meta.Indexes), &nm)
	return c.writeMeta(tr, st.prefix, &meta)
}

// BuildIndex builds (or finishes building) an index defined by CreateIndex, in batches, each
// its own transaction of db, and makes it readable at the end. It is safe to run after a crash
// or a cancelled build: it resumes after the last batch committed. A unique index that meets
// two documents with one key is dropped, and the error names them.
func (c *Collection) BuildIndex(ctx context.Context, db kv.Database, name string, opts BuildOptions) error {
	batch := opts.BatchDocs
	if batch <= 0 {
		batch = 200
	}
	for n := 0; opts.MaxBatches == 0 || n < opts.MaxBatches; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		done, err := kv.Transact(ctx, db, func(tr kv.Transaction) (bool, error) {
			return c.buildBatch(ctx, tr, name, batch, false)
		})
		if errors.Is(err, ErrDuplicateKey) {
			if _, derr := c.DropIndex(ctx, db, name); derr != nil {
				return errors.Join(err, derr)
			}
			return fmt.Errorf("docstore: index %q dropped: %w", name, err)
		}
		if err != nil || done {
			return err
		}
	}
	return nil
}

// buildBatch indexes the next documents after the build's progress key and reports whether the
// build is finished (the index then readable). inline makes it all or nothing: the batch must
// reach the end or it writes nothing but the definition.
func (c *Collection) buildBatch(ctx context.Context, tr kv.Transaction, name string, batch int, inline bool) (bool, error) {
	st, err := c.resolve(ctx, tr, false)
	if err != nil {
		return false, err
	}
	if st == nil || st.byName[name] == nil {
		return false, fmt.Errorf("docstore: collection %q index %q: %w", c.name, name, ErrIndexNotFound)
	}
	ix := st.byName[name]
	if ix.readable() {
		return true, nil
	}
	w := &tx{ctx: ctx, c: c, rtr: tr, tr: tr, st: st, now: c.now()}
	progress, err := tr.Get(ix.buildKey).Get()
	if err != nil {
		return false, err
	}
	r := kv.Range{Begin: st.docs, End: append(clip(st.docs), 0xff)}
	if progress != nil {
		r.Begin = append(append(clip(st.docs), progress...), 0xff)
	}
	start := time.Now()
	var last []byte
	docs, bytesRead := 0, 0
	finished := true
	type pending struct {
		id  any
		doc map[string]any
	}
	var todo []pending
	it := tr.GetRange(r, kv.RangeOptions{}).Iterator()
	err = eachDoc(st, it, false, func(prefix []byte, id any, rows []kv.KeyValue) (bool, error) {
		if docs >= batch || bytesRead >= buildBatchBytes || time.Since(start) >= buildBatchTime {
			finished = false
			return false, nil
		}
		doc, err := assembleDoc(prefix, id, rows)
		if err != nil {
			return false, err
		}
		todo = append(todo, pending{id, doc})
		last = prefix[len(st.docs):]
		docs++
		for _, row := range rows {
			bytesRead += len(row.Key) + len(row.Value)
		}
		return true, nil
	})
	if err != nil {
		return false, err
	}
	if inline && !finished {
		return false, nil // too many documents for one transaction: BuildIndex finishes it
	}
	for _, p := range todo {
		es, multi, err := ix.entries(p.doc, p.id)
		if err != nil {
			return false, err
		}
		for _, e := range es {
			if ix.meta.Unique {
				if err := w.checkUnique(ix, e, p.id); err != nil {
					return false, err
				}
			}
			tr.Set(e.key, nil)
		}
		if multi {
			if err := w.setMultikey(ix); err != nil {
				return false, err
			}
		}
	}
	if !finished {
		tr.Set(ix.buildKey, last)
		return false, nil
	}
	tr.Clear(ix.buildKey)
	meta := *st.meta
	meta.Indexes = slices.Clone(meta.Indexes)
	for i, im := range meta.Indexes {
		if im.Name == name {
			nm := *im
			nm.State = stateReadable
			meta.Indexes[i] = &nm
		}
	}
	if _, err := c.writeMeta(tr, st.prefix, &meta); err != nil {
		return false, err
	}
	return true, w.flushEvents()
}

// DropIndex removes an index and its entries; it reports false when there was none.
//
// Given a database, a retry after an unknown commit result that finds the index gone reports
// true when an earlier attempt of this call removed it.
func (c *Collection) DropIndex(ctx context.Context, t kv.Transactor, name string) (bool, error) {
	dropped := false // an earlier attempt of this call dropped the index
	return kv.Transact(ctx, t, func(tr kv.Transaction) (bool, error) {
		st, err := c.resolve(ctx, tr, false)
		if err != nil || st == nil {
			return dropped, err
		}
		ix := st.byName[name]
		if ix == nil {
			return dropped, nil
		}
		dropped = true
		meta := *st.meta
		meta.Indexes = slices.DeleteFunc(slices.Clone(meta.Indexes), func(m *indexMeta) bool { return m.Name == name })
		tr.ClearRange(docRange(ix.prefix))
		tr.Clear(ix.multikeyKey)
		tr.Clear(ix.buildKey)
		_, err = c.writeMeta(tr, st.prefix, &meta)
		return err == nil, err
	})
}

// Indexes describes the collection's indexes.
func (c *Collection) Indexes(ctx context.Context, t kv.ReadTransactor) ([]IndexInfo, error) {
	return kv.ReadTransact(ctx, t, func(rtr kv.ReadTransaction) ([]IndexInfo, error) {
		st, err := c.resolve(ctx, rtr, false)
		if err != nil || st == nil {
			return nil, err
		}
		var out []IndexInfo
		for _, ix := range st.indexes {
			info := ix.info()
			v, err := rtr.Get(ix.multikeyKey).Get()
			if err != nil {
				return nil, err
			}
			info.Multikey = v != nil
			out = append(out, info)
		}
		return out, nil
	})
}
