package docstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/layerkit/layerkit/directory"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/queue"
)

// maxCheckProblems bounds how many problems a check reports.
const maxCheckProblems = 20

// Check verifies the collection in one read transaction of t: the header and index definitions
// decode (in this version's format); every document decodes (fields under their containers,
// arrays complete, split values whole), its keys and values are exactly those its value is
// written as, and it has a revision, and no revision lacks its document; every readable index
// holds exactly the entries its documents call for, a building index no entry without a document
// and every entry of the documents it has passed; unique indexes hold no duplicate; the
// multikey flag is set where a document has an array on an indexed path; ledger entries decode.
// It reads the whole collection, so it is meant for tests and repair tools. The error lists up
// to 20 problems.
func (c *Collection) Check(ctx context.Context, t kv.ReadTransactor) error {
	return t.ReadTransact(ctx, func(rtr kv.ReadTransaction) error {
		st, err := c.resolve(ctx, rtr, false)
		if err != nil || st == nil {
			return err
		}
		return checkCollection(rtr, st)
	})
}

// Check returns a function that checks every collection of the database at path (see
// Collection.Check). Its signature fits testdb.Check:
//
//	testdb.Check(t, db, "docstore", docstore.Check([]string{"app"}, nil))
//
// A database that does not exist passes.
func Check(path []string, opts *Options) func(ctx context.Context, db kv.Database) error {
	return func(ctx context.Context, db kv.Database) error {
		var o Options
		if opts != nil {
			o = *opts
		}
		if o.Directory == nil {
			o.Directory = directory.Root()
		}
		dir, err := o.Directory.Open(ctx, db, path, dbLayer)
		if errors.Is(err, directory.ErrDirNotExists) {
			return nil
		}
		if err != nil {
			return err
		}
		d := &DB{dir: dir, clock: o.Clock, colls: map[string]*Collection{}}
		names, err := d.ListCollections(ctx, db)
		if err != nil {
			return err
		}
		var errs []error
		for _, name := range names {
			if err := d.Collection(name).Check(ctx, db); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
}

type checker struct {
	problems []error
}

func (c *checker) add(format string, args ...any) bool {
	if len(c.problems) < maxCheckProblems {
		c.problems = append(c.problems, fmt.Errorf(format, args...))
	}
	return len(c.problems) < maxCheckProblems
}

func (c *checker) full() bool { return len(c.problems) >= maxCheckProblems }

func checkCollection(rtr kv.ReadTransaction, st *collState) error {
	ck := &checker{}
	want := make([]map[string]bool, len(st.indexes))
	multi := make([]bool, len(st.indexes))
	unique := make([]map[string]any, len(st.indexes))
	for i := range want {
		want[i] = map[string]bool{}
		unique[i] = map[string]any{}
	}
	progress := make([][]byte, len(st.indexes))
	for i, ix := range st.indexes {
		if !ix.readable() {
			v, err := rtr.Get(ix.buildKey).Get()
			if err != nil {
				return err
			}
			progress[i] = v
		}
	}
	var ids [][]byte // packed _ids of the documents, in order
	err := iterateDocs(rtr, st, func(id any, prefix []byte, rows []kv.KeyValue, doc map[string]any, derr error) error {
		if derr != nil {
			ck.add("%v", derr)
			return nil
		}
		ids = append(ids, bytes.Clone(prefix[len(st.docs):]))
		if err := canonical(prefix, doc, rows); err != nil {
			ck.add("document %s: %v", formatID(id), err)
		}
		for i, ix := range st.indexes {
			es, m, err := ix.entries(doc, id)
			if err != nil {
				ck.add("index %q: document %s: %v", ix.meta.Name, formatID(id), err)
				continue
			}
			// A building index is multikey once its build has passed a document with arrays.
			passed := ix.readable() || (progress[i] != nil && bytes.Compare(prefix[len(st.docs):], progress[i]) <= 0)
			multi[i] = multi[i] || (m && passed)
			for _, e := range es {
				want[i][string(e.key)] = true
				if ix.meta.Unique {
					vals := string(e.key[:e.valEnd])
					if other, dup := unique[i][vals]; dup && !equalValues(other, id) {
						ck.add("unique index %q: documents %s and %s share a key", ix.meta.Name, formatID(other), formatID(id))
					}
					unique[i][vals] = id
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Revisions: one per document, none without one.
	revs, err := rtr.GetRange(docRange(st.revs), kv.RangeOptions{Mode: kv.StreamingWantAll}).GetSlice()
	if err != nil {
		return err
	}
	var revIDs [][]byte
	for _, r := range revs {
		if len(r.Value) != 10 {
			ck.add("revision %s has %d bytes, want 10", kv.Printable(r.Key), len(r.Value))
		}
		revIDs = append(revIDs, bytes.Clone(r.Key[len(st.revs):]))
	}
	for _, id := range ids {
		if _, ok := slices.BinarySearchFunc(revIDs, id, bytes.Compare); !ok && !ck.add("document %s has no revision", kv.Printable(id)) {
			break
		}
	}
	for _, id := range revIDs {
		if _, ok := slices.BinarySearchFunc(ids, id, bytes.Compare); !ok && !ck.add("revision %s has no document", kv.Printable(id)) {
			break
		}
	}
	// Index entries.
	for i, ix := range st.indexes {
		if ck.full() {
			break
		}
		rows, err := rtr.GetRange(docRange(ix.prefix), kv.RangeOptions{Mode: kv.StreamingWantAll}).GetSlice()
		if err != nil {
			return err
		}
		for _, r := range rows {
			if !want[i][string(r.Key)] {
				_, id, derr := splitEntry(ix, r.Key)
				if derr != nil {
					ck.add("index %q: %v", ix.meta.Name, derr)
				} else {
					ck.add("index %q: entry %s points to document %s, which does not call for it", ix.meta.Name, kv.Printable(r.Key[len(ix.prefix):]), formatID(id))
				}
				continue
			}
			delete(want[i], string(r.Key))
		}
		for k := range want[i] {
			if !ix.readable() {
				_, id, _ := splitEntry(ix, []byte(k))
				pos := st.docPrefix(id)[len(st.docs):]
				if progress[i] == nil || bytes.Compare(pos, progress[i]) > 0 {
					continue // the build has not passed this document yet
				}
			}
			_, id, _ := splitEntry(ix, []byte(k))
			if !ck.add("index %q lacks entry %s of document %s", ix.meta.Name, kv.Printable([]byte(k)[len(ix.prefix):]), formatID(id)) {
				break
			}
		}
		if multi[i] {
			v, err := rtr.Get(ix.multikeyKey).Get()
			if err != nil {
				return err
			}
			if v == nil {
				ck.add("index %q has documents with arrays but no multikey flag", ix.meta.Name)
			}
		}
	}
	// Ledger entries.
	ledger, err := rtr.GetRange(docRange(packed(st.prefix, keyLedger)), kv.RangeOptions{Mode: kv.StreamingWantAll}).GetSlice()
	if err != nil {
		return err
	}
	for _, r := range ledger {
		var e ledgerEntry
		if err := json.Unmarshal(r.Value, &e); err != nil {
			ck.add("ledger entry %s: %v", kv.Printable(r.Key), err)
		}
	}
	// The change feed is a queue stream; its own checker verifies it.
	if rows, err := rtr.GetRange(docRange(packed(st.prefix, keyFeed)), kv.RangeOptions{Limit: 1}).GetSlice(); err != nil {
		return err
	} else if len(rows) > 0 {
		s, err := queue.NewStream(queue.PrefixBytes(packed(st.prefix, keyFeed)), nil)
		if err != nil {
			return err
		}
		if err := s.Check(context.Background(), rtr); err != nil {
			ck.add("change feed: %v", err)
		}
	}
	if len(ck.problems) > 0 {
		return fmt.Errorf("docstore: collection %q is inconsistent: %w", st.meta.Name, errors.Join(ck.problems...))
	}
	return nil
}

// iterateDocs calls fn with each document of the collection (expired or not) in _id order and
// its rows, or with the error that decoding it met.
func iterateDocs(rtr kv.ReadTransaction, st *collState, fn func(id any, prefix []byte, rows []kv.KeyValue, doc map[string]any, err error) error) error {
	it := rtr.GetRange(kv.Range{Begin: st.docs, End: append(clip(st.docs), 0xff)}, kv.RangeOptions{Mode: kv.StreamingWantAll}).Iterator()
	return eachDoc(st, it, false, func(prefix []byte, id any, rows []kv.KeyValue) (bool, error) {
		doc, err := assembleDoc(prefix, id, rows)
		return true, fn(id, prefix, rows, doc, err)
	})
}

// canonical reports where a document's rows differ from the keys its value is written as: a
// key that decodes but is not how this version writes the value (an array kept element by
// element that fits one packed value, or the reverse) would mislead later partial updates.
func canonical(prefix []byte, doc map[string]any, rows []kv.KeyValue) error {
	f := &flattener{doc: true}
	f.value(prefix, doc)
	want := f.out
	slices.SortFunc(want, func(a, b fieldKV) int { return bytes.Compare(a.key, b.key) })
	for i := 0; i < len(want) || i < len(rows); i++ {
		switch {
		case i >= len(rows):
			return fmt.Errorf("lacks key %s", kv.Printable(want[i].key[len(prefix):]))
		case i >= len(want) || bytes.Compare(rows[i].Key, want[i].key) < 0:
			return fmt.Errorf("has key %s, which its value does not call for", kv.Printable(rows[i].Key[len(prefix):]))
		case bytes.Compare(rows[i].Key, want[i].key) > 0:
			return fmt.Errorf("lacks key %s", kv.Printable(want[i].key[len(prefix):]))
		case !bytes.Equal(rows[i].Value, want[i].value):
			return fmt.Errorf("key %s holds %s, not the encoding of its value %s", kv.Printable(rows[i].Key[len(prefix):]), kv.Printable(truncateBytes(rows[i].Value, 40)), kv.Printable(truncateBytes(want[i].value, 40)))
		}
	}
	return nil
}
