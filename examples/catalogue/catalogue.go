package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/layerkit/layerkit/directory"
	"github.com/layerkit/layerkit/examples/catalogue/catalogpb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/record"
)

type config struct {
	books, branches int
	dir             string
	seed            int64
	pageSize        int
}

func defaultConfig() config {
	return config{books: 100_000, branches: 700, seed: 1, pageSize: 10}
}

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

func run(ctx context.Context, w io.Writer, cfg config) error {
	total := time.Now()
	step := func(name string, start time.Time) {
		fmt.Fprintf(w, "   [%s: %v]\n\n", name, time.Since(start).Round(time.Microsecond))
	}

	start := time.Now()
	db, err := embedded.Open(cfg.dir, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	where := "in memory"
	if cfg.dir != "" {
		where = "in " + cfg.dir
	}
	dir, err := directory.CreateOrOpen(ctx, db, []string{"library", "catalogue"}, nil)
	if err != nil {
		return err
	}
	md, err := metaData()
	if err != nil {
		return err
	}
	c := &catalogue{db: db, md: md, prefix: dir}
	fmt.Fprintf(w, "1. Opened the embedded engine %s; the store lives in directory (library, catalogue) at prefix %s.\n", where, kv.Printable(dir.Bytes()))
	if err := c.do(ctx, func(st *record.Store) error { return st.DeleteAllRecords() }); err != nil {
		return err
	}
	step("open", start)

	start = time.Now()
	gen := newGenerator(cfg)
	books := gen.books()
	const batch = 500
	for i := 0; i < len(books); i += batch {
		part := books[i:min(i+batch, len(books))]
		if err := c.do(ctx, func(st *record.Store) error {
			for _, b := range part {
				if _, err := st.SaveRecord(b); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return fmt.Errorf("load books %d..%d: %w", i, i+len(part), err)
		}
	}
	el := time.Since(start)
	fmt.Fprintf(w, "2. Loaded %d books across %d branches in transactions of %d (%.0f books/s).\n", len(books), cfg.branches, batch, float64(len(books))/el.Seconds())
	step("load", start)

	start = time.Now()
	sample := books[len(books)/3]
	shelfQuery := record.Query{RecordTypes: []string{"Book"}, Filter: record.And(record.Where("branch").Equals(sample.Branch), record.Where("shelf").Equals(sample.Shelf))}
	var shelf []*catalogpb.Book
	var plan string
	if err := c.do(ctx, func(st *record.Store) error {
		p, err := st.Plan(shelfQuery)
		if err != nil {
			return err
		}
		plan = p.Explain()
		recs, err := st.Execute(p, record.ExecuteOptions{}).All()
		shelf = shelf[:0]
		for _, r := range recs {
			shelf = append(shelf, r.Message.(*catalogpb.Book))
		}
		return err
	}); err != nil {
		return err
	}
	fmt.Fprintf(w, "3. Shelf %s of branch %s holds %s (plan: %s):\n", sample.Shelf, sample.Branch, plural(len(shelf), "book"), plan)
	for _, b := range shelf[:min(5, len(shelf))] {
		fmt.Fprintf(w, "     %s  %q by %s (%d)\n", b.BookId, b.Title, b.Author, b.Year)
	}
	if len(shelf) > 5 {
		fmt.Fprintf(w, "     … and %d more\n", len(shelf)-5)
	}
	step("list shelf", start)

	start = time.Now()
	wanted := books[len(books)*2/3]
	found, plan, err := c.findByID(ctx, wanted.BookId)
	if err != nil {
		return err
	}
	if found == nil {
		return fmt.Errorf("book %s not found through the index", wanted.BookId)
	}
	fmt.Fprintf(w, "4. Book %s is %q by %s, at branch %s, shelf %s (plan: %s).\n", found.BookId, found.Title, found.Author, found.Branch, found.Shelf, plan)
	step("find by id", start)

	start = time.Now()
	author := mostFrequentAuthor(books)
	authorQuery := record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("author").Equals(author)}
	var cont []byte
	pages, seen := 0, 0
	fmt.Fprintf(w, "5. Books by %s, %d per page, each page in its own transaction:\n", author, cfg.pageSize)
	for {
		var ids []string
		if err := c.do(ctx, func(st *record.Store) error {
			ids = ids[:0]
			cur, err := st.ExecuteQuery(authorQuery, record.ExecuteOptions{ReturnLimit: cfg.pageSize, Continuation: cont})
			if err != nil {
				return err
			}
			for cur.Next() {
				b := cur.Record().Message.(*catalogpb.Book)
				ids = append(ids, b.BookId+"@"+b.Branch)
			}
			cont = cur.Continuation()
			return cur.Err()
		}); err != nil {
			return err
		}
		pages++
		seen += len(ids)
		if pages <= 3 {
			fmt.Fprintf(w, "     page %d: %v\n", pages, ids)
		}
		if cont == nil {
			break
		}
	}
	fmt.Fprintf(w, "     %d books in %d pages.\n", seen, pages)
	step("author paging", start)

	start = time.Now()
	target := "MOVED-1"
	if err := c.moveBook(ctx, found.BookId, found.Branch, found.Shelf, found.Branch, target); err != nil {
		return err
	}
	moved, _, err := c.findByID(ctx, found.BookId)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "6. Moved book %s from shelf %s to shelf %s of branch %s in one transaction.\n", found.BookId, found.Shelf, moved.Shelf, moved.Branch)
	step("move", start)

	start = time.Now()
	racer := books[len(books)/2]
	dests := []string{"RACE-A", "RACE-B"}
	results := c.race(ctx, racer, dests)
	wins := 0
	for i, err := range results {
		switch {
		case err == nil:
			wins++
			fmt.Fprintf(w, "7. Move of %s to shelf %s: succeeded.\n", racer.BookId, dests[i])
		case errors.Is(err, ErrNotAtSource):
			fmt.Fprintf(w, "7. Move of %s to shelf %s: failed: %v\n", racer.BookId, dests[i], err)
		default:
			return err
		}
	}
	if wins != 1 {
		return fmt.Errorf("race: %d moves succeeded, want exactly 1", wins)
	}
	step("race", start)

	start = time.Now()
	copies, scanned, pagesRead, err := c.audit(ctx, racer.BookId)
	if err != nil {
		return err
	}
	if copies != 1 || scanned != len(books) {
		return fmt.Errorf("audit: book %s has %d copies and the catalogue %d books, want 1 and %d", racer.BookId, copies, scanned, len(books))
	}
	fmt.Fprintf(w, "8. Audit: book %s exists exactly once; all %d books are present (counted in %d pages of at most 25,000 records or 1s each, as the COUNT index says in one read); records and indexes agree.\n", racer.BookId, scanned, pagesRead)
	step("audit", start)
	fmt.Fprintf(w, "Done in %v.\n", time.Since(total).Round(time.Millisecond))
	return nil
}

// findByID looks a book up anywhere in the network through the unique index on book ids.
func (c *catalogue) findByID(ctx context.Context, id string) (*catalogpb.Book, string, error) {
	var out *catalogpb.Book
	var plan string
	err := c.do(ctx, func(st *record.Store) error {
		out = nil
		p, err := st.Plan(record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("book_id").Equals(id)})
		if err != nil {
			return err
		}
		plan = p.Explain()
		cur := st.Execute(p, record.ExecuteOptions{ReturnLimit: 1})
		if cur.Next() {
			out = cur.Record().Message.(*catalogpb.Book)
		}
		return cur.Err()
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

// race runs two moves of the same book at once. Both read the book before either writes, so
// their transactions overlap for real; the second to commit conflicts, is retried, and no longer
// finds the book where it started.
func (c *catalogue) race(ctx context.Context, b *catalogpb.Book, dests []string) []error {
	var wg sync.WaitGroup
	var ready sync.WaitGroup
	ready.Add(len(dests))
	results := make([]error, len(dests))
	for i, dest := range dests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var once sync.Once
			results[i] = c.moveBookHook(ctx, b.BookId, b.Branch, b.Shelf, b.Branch, dest, func() {
				// On the first attempt only, wait (briefly) until the other move has read too.
				once.Do(func() {
					ready.Done()
					done := make(chan struct{})
					go func() { ready.Wait(); close(done) }()
					select {
					case <-done:
					case <-time.After(2 * time.Second):
					}
				})
			})
		}()
	}
	wg.Wait()
	return results
}

// audit counts the copies of one book through its index, counts every book with a scan that
// spans transactions through continuations, checks that count against the COUNT index (one
// read), and runs the record store's consistency check. It only reads, so it opens the store
// read-only inside kv.ReadTransact.
func (c *catalogue) audit(ctx context.Context, id string) (copies, books, pages int, err error) {
	var counted int64
	_, err = kv.ReadTransact(ctx, c.db, func(tr kv.ReadTransaction) (any, error) {
		st, err := record.OpenReadOnly(ctx, tr, c.md, c.prefix)
		if err != nil {
			return nil, err
		}
		recs, err := st.ExecuteQuery(record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("book_id").Equals(id)}, record.ExecuteOptions{})
		if err != nil {
			return nil, err
		}
		all, err := recs.All()
		copies = len(all)
		if err != nil {
			return nil, err
		}
		counted, err = st.RecordCount()
		return nil, err
	})
	if err != nil {
		return 0, 0, 0, err
	}
	var cont []byte
	for {
		var n int
		err := c.do(ctx, func(st *record.Store) error {
			cur, err := st.ExecuteQuery(record.Query{}, record.ExecuteOptions{Continuation: cont, ScanLimit: auditPage, TimeLimit: time.Second})
			if err != nil {
				return err
			}
			n = 0
			for cur.Next() {
				n++
			}
			cont = cur.Continuation()
			return cur.Err()
		})
		if err != nil {
			return 0, 0, 0, err
		}
		books += n
		pages++
		if cont == nil {
			break
		}
	}
	if int64(books) != counted {
		return 0, 0, 0, fmt.Errorf("audit: the scan found %d books, the COUNT index %d", books, counted)
	}
	err = record.Check(c.md, c.prefix)(ctx, c.db)
	return copies, books, pages, err
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// auditPage is the most records the audit reads in one transaction.
const auditPage = 25_000

func mostFrequentAuthor(books []*catalogpb.Book) string {
	n := map[string]int{}
	best := ""
	for _, b := range books {
		n[b.Author]++
		if n[b.Author] > n[best] || (n[b.Author] == n[best] && b.Author < best) {
			best = b.Author
		}
	}
	return best
}

// generator makes a deterministic catalogue.
type generator struct {
	cfg config
	rng *rand.Rand
}

func newGenerator(cfg config) *generator {
	return &generator{cfg: cfg, rng: rand.New(rand.NewPCG(uint64(cfg.seed), 0x1ab))}
}

var (
	givenNames = []string{"Ada", "Miles", "Henry", "Ethel", "Patrick", "Judith", "Les", "Christina", "Tim", "Kate", "David", "Helen", "Peter", "Ruth", "Thomas", "Alexis"}
	surnames   = []string{"Franklin", "Lawson", "Richardson", "Turner", "White", "Wright", "Murray", "Stead", "Winton", "Grenville", "Malouf", "Garner", "Carey", "Park", "Keneally", "Wright"}
	words      = []string{"River", "Harvest", "Shadow", "Island", "Season", "Country", "Secret", "Light", "Voyage", "Garden", "Storm", "Letters", "Silence", "Road", "Fire", "Tide"}
)

func (g *generator) books() []*catalogpb.Book {
	out := make([]*catalogpb.Book, g.cfg.books)
	for i := range out {
		author := fmt.Sprintf("%s %s", givenNames[g.rng.IntN(len(givenNames))], surnames[g.rng.IntN(len(surnames))])
		if g.rng.IntN(4) == 0 { // a long tail of less common authors
			author = fmt.Sprintf("%s %c. %s", givenNames[g.rng.IntN(len(givenNames))], 'A'+rune(g.rng.IntN(26)), surnames[g.rng.IntN(len(surnames))])
		}
		out[i] = &catalogpb.Book{
			Branch: fmt.Sprintf("BR-%03d", g.rng.IntN(g.cfg.branches)),
			Shelf:  fmt.Sprintf("%03d", 50*g.rng.IntN(20)), // 20 shelves (Dewey classes) a branch
			BookId: fmt.Sprintf("B%07d", i),
			Title:  fmt.Sprintf("The %s of the %s", words[g.rng.IntN(len(words))], words[g.rng.IntN(len(words))]),
			Author: author,
			Year:   int32(1850 + g.rng.IntN(175)),
			Isbn:   fmt.Sprintf("978-0-%05d-%03d-%d", g.rng.IntN(100000), g.rng.IntN(1000), g.rng.IntN(10)),
		}
	}
	return out
}
