package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/layerkit/layerkit/directory"
	"github.com/layerkit/layerkit/examples/catalogue/catalogpb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/record"
)

// ErrNotAtSource is returned by moveBook when the book is not on the shelf it is moved from:
// someone else moved or removed it first.
var ErrNotAtSource = errors.New("book not found at source")

// catalogue is the record store of the network, in the directory ("library", "catalogue"): the
// directory is the store's prefix as it is.
type catalogue struct {
	db     kv.Database
	md     *record.MetaData
	prefix directory.DirectorySubspace
}

// metaData declares the books. Book is the only record type, so its primary key needs no
// RecordTypeKey(); with several types, start every primary key with it, or the types share one
// key space. The key's fields are proto3 strings: an empty one would be stored as null (as the
// Java Record Layer stores a proto3 default), which the generator never produces.
func metaData() (*record.MetaData, error) {
	return record.NewMetaDataBuilder(catalogpb.File_catalogue_proto).
		SetPrimaryKey("Book", record.Concat(record.Field("branch"), record.Field("shelf"), record.Field("book_id"))).
		AddIndex(record.Index{Name: "book_by_id", RecordTypes: []string{"Book"}, Expression: record.Field("book_id"), Unique: true}).
		AddIndex(record.Index{Name: "book_by_author", RecordTypes: []string{"Book"}, Expression: record.Field("author")}).
		AddIndex(record.Index{Name: "book_count", RecordTypes: []string{"Book"}, Type: record.CountIndex, Expression: record.Ungrouped(record.Empty())}).
		Build()
}

// do runs fn with the store opened in a transaction of its own, retried on conflicts.
func (c *catalogue) do(ctx context.Context, fn func(st *record.Store) error) error {
	return c.db.Transact(ctx, func(tr kv.Transaction) error {
		st, err := record.Open(ctx, tr, c.md, c.prefix)
		if err != nil {
			return err
		}
		return fn(st)
	})
}

// findByID looks a book up anywhere in the network through the unique index on book ids.
func (c *catalogue) findByID(ctx context.Context, id string) (*catalogpb.Book, string, error) {
	var plan string
	out, err := read(ctx, c, func(st *record.Store) (*catalogpb.Book, error) {
		p, err := st.Plan(record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("book_id").Equals(id)})
		if err != nil {
			return nil, err
		}
		plan = p.Explain()
		cur := st.Execute(p, record.ExecuteOptions{ReturnLimit: 1})
		var b *catalogpb.Book
		if cur.Next() {
			b = cur.Record().Message.(*catalogpb.Book)
		}
		return b, cur.Err()
	})
	return out, plan, err
}

// moveBook moves a book from one shelf to another in one transaction: the record is deleted at
// its old primary key and inserted at the new one, and the indexes follow. It fails with
// ErrNotAtSource when the book is not on the source shelf. It is safe to retry: when a commit
// that reported commit_unknown_result did go through, the retry finds the book already at the
// destination and succeeds.
func (c *catalogue) moveBook(ctx context.Context, id, fromBranch, fromShelf, toBranch, toShelf string) error {
	return c.moveBookHook(ctx, id, fromBranch, fromShelf, toBranch, toShelf, nil)
}

func (c *catalogue) moveBookHook(ctx context.Context, id, fromBranch, fromShelf, toBranch, toShelf string, afterRead func()) error {
	books := c.md.RecordType("Book")
	srcKey, err := books.PrimaryKeyOf(fromBranch, fromShelf, id)
	if err != nil {
		return err
	}
	dstKey, err := books.PrimaryKeyOf(toBranch, toShelf, id)
	if err != nil {
		return err
	}
	return c.do(ctx, func(st *record.Store) error {
		srcF, err := st.LoadFuture(srcKey)
		if err != nil {
			return err
		}
		dstF, err := st.LoadFuture(dstKey)
		if err != nil {
			return err
		}
		src, err := srcF.Get()
		if err != nil {
			return err
		}
		dst, err := dstF.Get()
		if err != nil {
			return err
		}
		if afterRead != nil {
			afterRead()
		}
		if src == nil {
			if dst != nil {
				return nil // this move already happened (a retried commit)
			}
			return fmt.Errorf("move book %s from branch %s shelf %s: %w", id, fromBranch, fromShelf, ErrNotAtSource)
		}
		b := src.Message.(*catalogpb.Book)
		if _, err := st.Delete(src.PrimaryKey); err != nil {
			return err
		}
		b.Branch, b.Shelf = toBranch, toShelf
		_, err = st.Save(b, record.InsertOnly)
		return err
	})
}

// raced is how one move of a race ended: its error (nil for the winner) and how many times
// kv.Transact ran it (2 for a loser that conflicted with the winner and was retried).
type raced struct {
	dest     string
	err      error
	attempts int
}

// race runs two moves of the same book at once. Both read the book before either writes, so
// their transactions overlap for real; the second to commit conflicts, is retried, and no longer
// finds the book where it started.
func (c *catalogue) race(ctx context.Context, b *catalogpb.Book, dests []string) []raced {
	var wg sync.WaitGroup
	var ready sync.WaitGroup
	ready.Add(len(dests))
	results := make([]raced, len(dests))
	for i, dest := range dests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			attempts := 0
			err := c.moveBookHook(ctx, b.BookId, b.Branch, b.Shelf, b.Branch, dest, func() {
				// On the first attempt only, wait (briefly) until the other move has read too.
				if attempts++; attempts > 1 {
					return
				}
				ready.Done()
				done := make(chan struct{})
				go func() { ready.Wait(); close(done) }()
				select {
				case <-done:
				case <-time.After(2 * time.Second):
				}
			})
			results[i] = raced{dest: dest, err: err, attempts: attempts}
		}()
	}
	wg.Wait()
	return results
}

// audited is what the audit found.
type audited struct {
	copies []*catalogpb.Book // the records of the audited book id
	books  int               // the books counted by the scan
	pages  int               // the transactions the scan took
}

// audit finds the copies of one book through its index, counts every book with a scan that
// spans transactions through continuations (showing its progress on bar), checks that count
// against the COUNT index (one read), and runs the record store's consistency check. It only
// reads: the store is opened read-only inside kv.ReadTransact.
func (c *catalogue) audit(ctx context.Context, id string, bar *progress) (audited, error) {
	var out audited
	counted, err := read(ctx, c, func(st *record.Store) (int64, error) {
		recs, err := st.ExecuteQuery(record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("book_id").Equals(id)}, record.ExecuteOptions{})
		if err != nil {
			return 0, err
		}
		all, err := recs.All()
		out.copies = out.copies[:0]
		for _, r := range all {
			out.copies = append(out.copies, r.Message.(*catalogpb.Book))
		}
		if err != nil {
			return 0, err
		}
		return st.RecordCount()
	})
	if err != nil {
		return out, err
	}
	bar.start(counted, "audit: counting books")
	var cont []byte
	for {
		n, err := read(ctx, c, func(st *record.Store) (int, error) {
			cur, err := st.ExecuteQuery(record.Query{}, record.ExecuteOptions{Continuation: cont, ScanLimit: auditPage, TimeLimit: time.Second})
			if err != nil {
				return 0, err
			}
			n := 0
			for cur.Next() {
				n++
			}
			cont = cur.Continuation()
			return n, cur.Err()
		})
		if err != nil {
			return out, err
		}
		out.books += n
		out.pages++
		bar.add(n)
		if cont == nil {
			break
		}
	}
	bar.finish()
	if int64(out.books) != counted {
		return out, fmt.Errorf("audit: the scan found %d books, the COUNT index %d", out.books, counted)
	}
	return out, record.Check(c.md, c.prefix)(ctx, c.db)
}

// read runs fn with the store opened read-only in a read transaction of its own.
func read[T any](ctx context.Context, c *catalogue, fn func(st *record.Store) (T, error)) (T, error) {
	return kv.ReadTransact(ctx, c.db, func(tr kv.ReadTransaction) (T, error) {
		st, err := record.OpenReadOnly(ctx, tr, c.md, c.prefix)
		if err != nil {
			var zero T
			return zero, err
		}
		return fn(st)
	})
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// auditPage is the most records the audit reads in one transaction.
const auditPage = 25_000
