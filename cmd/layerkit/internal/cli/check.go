package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/layerkit/layerkit/directory"
	"github.com/layerkit/layerkit/docstore"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/queue"
	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/tuple"
)

// checkStatus is the verdict on one part of the database.
type checkStatus string

const (
	checkOK   checkStatus = "ok"
	checkFail checkStatus = "FAIL"
)

// checkReport prints one line per part checked and counts the failures.
type checkReport struct {
	a      *app
	ok     int
	failed int
}

func (r *checkReport) add(status checkStatus, subject, detail string) {
	if status == checkFail {
		r.failed++
	} else {
		r.ok++
	}
	fmt.Fprintf(r.a.stdout, "%-4s  %s: %s\n", status, subject, detail)
}

func (r *checkReport) fail(subject string, err error) { r.add(checkFail, subject, oneLine(err)) }

func (a *app) checkCommand() *cobra.Command {
	var mf metaFlags
	var stores, queues, streams []string
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Run every consistency checker over the whole database",
		Long: `check runs every consistency checker over the whole database and prints one line per
part: the directory layer (directory.Check: unique, non-overlapping prefixes, no
orphan nodes, the allocator's state, partitions included), every collection of every
docstore database (a directory with the layer "docstore": Collection.Check), the
queues and streams named by --queue and --stream (nothing in the database marks a
prefix as one: Queue.Check, Stream.Check), then every record store
found in a directory (a key (0) at the directory's prefix that decodes as a
store header), or named by --store.

For each record store it checks that the header decodes, that every record's chunks
are complete and that index states decode. With --descriptor it also decodes every
record as the union message; when the metadata is complete (a primary key for every
record type) it opens the store and runs record.CheckConsistency: every record is
stored under the primary key it computes, and every index that is not DISABLED holds
exactly the entries its records call for. check never writes.

With --store, the descriptor applies to the stores named; other stores found get the
checks that need no descriptor. The exit code is 1 when any part failed.

` + keyExprHelp,
		Example: `  # the directory layer, docstore collections, the layout of every record store
  layerkit --db ./data check

  # and a queue and a stream
  layerkit --db ./data check --queue /jobs --stream /chat/messages

  # also records against their indexes, metadata from the .proto's options
  layerkit --db ./data check --descriptor catalogue.pb

  # metadata given on the command line, for one store
  layerkit --db ./data check --store /library/catalogue --descriptor catalogue.pb \
      --primary-key Book=branch,shelf,book_id --index book_by_author=Book:author`,
		Args: exactArgs(0),
		RunE: a.run(func(ctx context.Context, _ []string) error {
			var spec *metaSpec
			if mf.descriptor != "" {
				sch, err := mf.load()
				if err != nil {
					return err
				}
				if spec, err = mf.parse(sch); err != nil {
					return err
				}
			} else if len(mf.primaryKeys)+len(mf.indexes) > 0 || mf.union != "" {
				return errors.New("--primary-key, --index and --union describe the records of --descriptor, which is missing")
			}
			db, err := a.database(ctx)
			if err != nil {
				return err
			}
			rep := &checkReport{a: a}
			found := a.checkDirectories(ctx, db, rep)
			for _, path := range found.docstores {
				a.checkDocstore(ctx, db, rep, path)
			}
			for _, q := range queues {
				a.checkQueue(ctx, db, rep, q, false)
			}
			for _, s := range streams {
				a.checkQueue(ctx, db, rep, s, true)
			}
			named := map[string]bool{}
			var targets []location
			for _, s := range stores {
				loc, err := locate(ctx, db, s)
				if err != nil {
					return err
				}
				named[string(loc.prefix)] = true
				targets = append(targets, loc)
			}
			for _, loc := range found.stores {
				if !named[string(loc.prefix)] {
					targets = append(targets, loc)
				}
			}
			for _, loc := range targets {
				var use *metaSpec
				if len(stores) == 0 || named[string(loc.prefix)] {
					use = spec
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				a.checkRecordStore(ctx, db, rep, loc, use)
			}
			fmt.Fprintf(a.stdout, "%d ok, %d failed\n", rep.ok, rep.failed)
			if rep.failed > 0 {
				return fmt.Errorf("check found problems in %d of %d parts", rep.failed, rep.ok+rep.failed)
			}
			return nil
		}),
	}
	mf.register(cmd)
	cmd.Flags().StringArrayVar(&stores, "store", nil, "a record store to check with the descriptor (a path or raw prefix; repeatable)")
	cmd.Flags().StringArrayVar(&queues, "queue", nil, "a work queue to check (a path or raw prefix; repeatable)")
	cmd.Flags().StringArrayVar(&streams, "stream", nil, "an append-only stream to check (a path or raw prefix; repeatable)")
	return cmd
}

// found is what checkDirectories finds in the directory tree.
type found struct {
	stores    []location // record stores
	docstores [][]string // docstore databases
}

// checkDirectories runs directory.Check and returns the record stores and docstore databases
// found in the tree.
func (a *app) checkDirectories(ctx context.Context, db kv.Database, rep *checkReport) found {
	var f found
	if err := directory.Check(ctx, db); err != nil {
		rep.fail("directory layer", err)
		return f
	}
	n := 0
	err := walkDirs(ctx, db, nil, func(d dirEntry) error {
		n++
		switch string(d.layer) {
		case docstoreLayer:
			f.docstores = append(f.docstores, d.path)
			return nil
		case collectionLayer:
			return nil
		}
		if d.partition {
			return nil
		}
		// A record store is found by its header at S+(0). Other layers may keep something of
		// their own there (a docstore collection keeps a JSON header), so a directory counts as
		// a store only when that key decodes as a store header; --store names a store whose
		// header is damaged.
		_, ok, err := readStoreHeader(ctx, db, d.prefix)
		if err != nil && !ok {
			return err
		}
		if ok && err == nil {
			f.stores = append(f.stores, location{arg: d.display(), path: d.path, prefix: d.prefix})
		}
		return nil
	})
	if err != nil {
		rep.fail("directory layer", err)
		return f
	}
	rep.add(checkOK, "directory layer", plural(n, "directory", "directories"))
	return f
}

// checkDocstore runs the checker of every collection of the docstore database at path.
func (a *app) checkDocstore(ctx context.Context, db kv.Database, rep *checkReport, path []string) {
	display := "/" + strings.Join(path, "/")
	var ds *docstore.DB
	err := kv.RunTransact(ctx, db, true, func(tr kv.Transaction) error {
		var err error
		ds, err = docstore.Open(ctx, tr, path, nil)
		return err
	})
	if err != nil {
		rep.fail("docstore "+display, err)
		return
	}
	names, err := ds.ListCollections(ctx, db)
	if err != nil {
		rep.fail("docstore "+display, err)
		return
	}
	if len(names) == 0 {
		rep.add(checkOK, "docstore "+display, "no collections")
	}
	for _, name := range names {
		subject := "docstore collection " + display + "/" + name
		if err := ds.Collection(name).Check(ctx, db); err != nil {
			rep.fail(subject, err)
			continue
		}
		rep.add(checkOK, subject, "documents, revisions, indexes and change feed agree")
	}
}

// checkQueue runs the queue's or the stream's checker at arg.
func (a *app) checkQueue(ctx context.Context, db kv.Database, rep *checkReport, arg string, isStream bool) {
	kind := "queue"
	if isStream {
		kind = "stream"
	}
	loc, err := locate(ctx, db, arg)
	if err != nil {
		rep.fail(kind+" "+arg, err)
		return
	}
	subject := kind + " " + loc.display()
	if isStream {
		var s *queue.Stream
		if s, err = queue.NewStream(kvPrefix(loc.prefix), nil); err == nil {
			err = s.Check(ctx, db)
		}
	} else {
		var q *queue.Queue
		if q, err = queue.NewQueue(kvPrefix(loc.prefix), nil); err == nil {
			err = q.Check(ctx, db)
		}
	}
	if err != nil {
		rep.fail(subject, err)
		return
	}
	rep.add(checkOK, subject, "layout and counters agree")
}

// checkRecordStore checks one record store: its layout always, its records against the schema
// when one is given, and its indexes when the metadata is complete.
func (a *app) checkRecordStore(ctx context.Context, db kv.Database, rep *checkReport, loc location, spec *metaSpec) {
	subject := "record store " + loc.display()
	h, err := openStoreHeader(ctx, db, loc)
	if err != nil {
		rep.fail(subject, err)
		return
	}
	if err := checkIndexStates(ctx, db, loc); err != nil {
		rep.fail(subject, err)
		return
	}
	sc := &recordScanner{db: db, prefix: loc.prefix, display: loc.display(), header: h}
	n := 0
	err = sc.scan(ctx, func(rec rawRecord) error {
		n++
		if spec == nil {
			return nil
		}
		_, _, err := decodeRecord(spec.sch.union, rec)
		return err
	})
	if err != nil {
		rep.fail(subject, err)
		return
	}
	records := plural(n, "record", "records")
	if spec == nil {
		rep.add(checkOK, subject, records+" complete (not decoded: no --descriptor for this store)")
		return
	}
	md, err := spec.build(int(h.metaDataVersion))
	if err != nil {
		rep.add(checkOK, subject, records+" decode; indexes not checked: "+oneLine(err))
		return
	}
	undeclared := checkUndeclaredIndexes(ctx, db, loc, md)
	err = db.ReadTransact(ctx, func(tr kv.ReadTransaction) error {
		st, err := record.OpenReadOnly(ctx, tr, md, kvPrefix(loc.prefix))
		if err != nil {
			return err
		}
		return st.CheckConsistency()
	})
	if err := errors.Join(err, undeclared); err != nil {
		rep.fail(subject, err)
		return
	}
	rep.add(checkOK, subject, fmt.Sprintf("%s decode and agree with %s", records, plural(len(md.Indexes()), "index", "indexes")))
}

// checkUndeclaredIndexes fails when the store holds entries of an index the metadata does not
// declare: CheckConsistency compares only the declared indexes, so such a store cannot be
// vouched for with this metadata.
func checkUndeclaredIndexes(ctx context.Context, db kv.ReadTransactor, loc location, md *record.MetaData) error {
	base := storeKey(loc.prefix, indexKey)
	begin, end := append(append([]byte(nil), base...), 0x00), append(append([]byte(nil), base...), 0xff)
	var undeclared []string
	for {
		key, err := kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) ([]byte, error) {
			rows, err := tr.Snapshot().GetRange(kv.Range{Begin: begin, End: end}, kv.RangeOptions{Limit: 1}).GetSlice()
			if err != nil || len(rows) == 0 {
				return nil, err
			}
			return rows[0].Key, nil
		})
		if err != nil || key == nil {
			if len(undeclared) > 0 {
				return fmt.Errorf("the store has entries of indexes the metadata does not declare: %s (declare them with --index)", strings.Join(undeclared, ", "))
			}
			return err
		}
		// The index subspace key is the first element after S+(2): read it alone.
		name, next, err := firstElement(key[len(base):])
		if err != nil {
			return fmt.Errorf("index entry %s: %w", kv.Printable(key), err)
		}
		if s, ok := name.(string); !ok || md.Index(s) == nil {
			undeclared = append(undeclared, fmt.Sprint(name))
		}
		if begin, err = kv.Strinc(key[:len(base)+next]); err != nil {
			return err
		}
	}
}

// firstElement decodes the first tuple element of b, a packed tuple, and returns it with its
// encoded length.
func firstElement(b []byte) (any, int, error) {
	t, err := tuple.Unpack(b)
	if err != nil || len(t) == 0 {
		return nil, 0, fmt.Errorf("is not (index, …) packed as a tuple")
	}
	return t[0], len(tuple.Tuple{t[0]}.Pack()), nil
}

// checkIndexStates checks that every index state key S+(5, name) holds a packed state code the
// Java Record Layer defines (READABLE 0 … WRITE_ONLY_WITH_QUEUE 4).
func checkIndexStates(ctx context.Context, db kv.ReadTransactor, loc location) error {
	base := storeKey(loc.prefix, indexStateKey)
	r := kv.Range{Begin: append(append([]byte(nil), base...), 0x00), End: append(append([]byte(nil), base...), 0xff)}
	return scanRange(ctx, db, r, false, scanPageSize, func(row kv.KeyValue) error {
		kt, err := tuple.Unpack(row.Key[len(base):])
		if err != nil || len(kt) != 1 {
			return fmt.Errorf("index state key %s is not (index name)", kv.Printable(row.Key))
		}
		vt, err := tuple.Unpack(row.Value)
		if err != nil || len(vt) != 1 {
			return fmt.Errorf("index state of %v is %s, not a packed state code", kt[0], quoteBytes(row.Value))
		}
		if code, ok := vt[0].(int64); !ok || code < 0 || code > 4 {
			return fmt.Errorf("index state of %v is %v, not a state code (0 to 4)", kt[0], vt[0])
		}
		return nil
	})
}

// kvPrefix is a raw prefix as a record.Prefix.
type kvPrefix []byte

func (p kvPrefix) Bytes() []byte { return p }

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
