package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/layerkit/layerkit/examples/catalogue/catalogpb"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/record"
)

type config struct {
	books, branches int
	dir             string
	seed            int64
	pageSize        int
	// reset removes a catalogue found in dir, so the run starts over.
	reset bool
	// set names the generation flags given on the command line ("books", "branches", "seed"): a
	// stored catalogue generated otherwise is refused rather than used in their place.
	set map[string]bool
	// progress receives the bars of the long steps; nil shows none.
	progress io.Writer
}

func defaultConfig() config {
	return config{books: 100_000, branches: 700, seed: 1, pageSize: 10}
}

const (
	// loadBatch is the number of books saved in one transaction.
	loadBatch = 500
	// loaders is how many load transactions run at once. They save disjoint books, so they do
	// not conflict, and the engine commits them in groups.
	loaders = 4
)

func run(ctx context.Context, w io.Writer, cfg config) error {
	if cfg.books < 1 || cfg.branches < 1 {
		return fmt.Errorf("-books and -branches must be at least 1, not %d and %d", cfg.books, cfg.branches)
	}
	total := time.Now()
	step := func(name string, start time.Time) {
		fmt.Fprintf(w, "   [%s: %v]\n\n", name, time.Since(start).Round(time.Microsecond))
	}
	bar := &progress{w: cfg.progress}

	start := time.Now()
	db, err := embedded.Open(cfg.dir, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	c, found, err := openCatalogue(ctx, w, db, cfg)
	if err != nil {
		return err
	}
	step("open", start)

	start = time.Now()
	gen := found.gen
	books := newGenerator(gen).books()
	if gen.Loaded {
		fmt.Fprintf(w, "2. Nothing to load: the store holds the %s (its COUNT index says so in one read).\n", plural(int(found.present), "book"))
	} else {
		if err := c.store(ctx, gen); err != nil { // Loaded false until every book is in
			return err
		}
		bar.start(int64(len(books)), "loading books")
		retried, err := c.load(ctx, books, bar)
		bar.finish()
		if err != nil && ctx.Err() != nil && cfg.dir != "" {
			return fmt.Errorf("interrupted while loading; run again with -dir %s to finish the load", cfg.dir)
		}
		if err != nil {
			return err
		}
		gen.Loaded = true
		if err := c.store(ctx, gen); err != nil {
			return err
		}
		el := time.Since(start)
		how := fmt.Sprintf("in transactions of %d, %d at a time (%.0f books/s; %s)", loadBatch, loaders, float64(len(books))/el.Seconds(), retriedText(retried))
		if found.present == 0 {
			fmt.Fprintf(w, "2. Loaded %s across %d branches %s.\n", plural(len(books), "book"), gen.Branches, how)
		} else {
			fmt.Fprintf(w, "2. Finished the load: all %d books saved %s; the %d the earlier run stored were saved again unchanged, which writes nothing.\n", len(books), how, found.present)
		}
	}
	step("load", start)

	start = time.Now()
	sample, _, err := c.locate(ctx, books[len(books)/3])
	if err != nil {
		return err
	}
	shelfQuery := record.Query{RecordTypes: []string{"Book"}, Filter: record.And(record.Where("branch").Equals(sample.Branch), record.Where("shelf").Equals(sample.Shelf))}
	var plan string
	shelf, err := read(ctx, c, func(st *record.Store) ([]*catalogpb.Book, error) {
		p, err := st.Plan(shelfQuery)
		if err != nil {
			return nil, err
		}
		plan = p.Explain()
		recs, err := st.Execute(p, record.ExecuteOptions{}).All()
		var out []*catalogpb.Book
		for _, r := range recs {
			out = append(out, r.Message.(*catalogpb.Book))
		}
		return out, err
	})
	if err != nil {
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
	found4, plan, err := c.locate(ctx, wanted)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "4. Book %s is %q by %s, at branch %s, shelf %s (plan: %s).\n", found4.BookId, found4.Title, found4.Author, found4.Branch, found4.Shelf, plan)
	step("find by id", start)

	start = time.Now()
	if err := c.pageAuthor(ctx, w, mostFrequentAuthor(books), cfg.pageSize); err != nil {
		return err
	}
	step("author paging", start)

	start = time.Now()
	// The book goes to shelf MOVED-1, or, when an earlier run on this -dir moved it there, back
	// to the shelf the generator put it on.
	target, note := "MOVED-1", ""
	if found4.Shelf != wanted.Shelf {
		target, note = wanted.Shelf, ", back where the catalogue first had it"
	}
	if err := c.moveBook(ctx, found4.BookId, found4.Branch, found4.Shelf, found4.Branch, target); err != nil {
		return err
	}
	moved, _, err := c.locate(ctx, wanted)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "6. Moved book %s from shelf %s to shelf %s of branch %s in one transaction%s.\n", found4.BookId, found4.Shelf, moved.Shelf, moved.Branch, note)
	step("move", start)

	start = time.Now()
	racer, _, err := c.locate(ctx, books[len(books)/2])
	if err != nil {
		return err
	}
	if err := c.showRace(ctx, w, racer, raceShelves(books[len(books)/2].Shelf, racer.Shelf)); err != nil {
		return err
	}
	step("race", start)

	start = time.Now()
	res, err := c.audit(ctx, racer.BookId, bar)
	if err != nil {
		return err
	}
	if len(res.copies) != 1 || res.books != gen.Books {
		return fmt.Errorf("audit: book %s has %d copies and the catalogue %d books, want 1 and %d", racer.BookId, len(res.copies), res.books, gen.Books)
	}
	fmt.Fprintf(w, "8. Audit, reading only: book %s is on shelf %s of branch %s, exactly once; %s present (counted in %s of at most %d records or 1s each, as the COUNT index says in one read); records and indexes agree.\n",
		racer.BookId, res.copies[0].Shelf, res.copies[0].Branch, allPresent(res.books), plural(res.pages, "transaction"), auditPage)
	step("audit", start)
	fmt.Fprintf(w, "Done in %v.\n", time.Since(total).Round(time.Millisecond))
	if cfg.dir != "" {
		fmt.Fprintf(w, "The catalogue stays in %s: run again with the same -dir to use it as it is now, or add -reset to start over.\n", cfg.dir)
	}
	return nil
}

// locate finds where book b is now, through the unique index on book ids: an earlier run on the
// same -dir may have moved it.
func (c *catalogue) locate(ctx context.Context, b *catalogpb.Book) (*catalogpb.Book, string, error) {
	found, plan, err := c.findByID(ctx, b.BookId)
	if err == nil && found == nil {
		err = fmt.Errorf("book %s not found through the index", b.BookId)
	}
	return found, plan, err
}

// load saves books in transactions of loadBatch books, loaders transactions at a time, moving
// bar on as batches commit. It returns how many transactions kv.Transact ran again after a
// conflict or an unknown commit result. Saving a book that is already stored unchanged writes
// nothing, so a load that a stopped run left half done is finished by loading again.
func (c *catalogue) load(ctx context.Context, books []*catalogpb.Book, bar *progress) (retried int64, err error) {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next, retries atomic.Int64
	var once sync.Once
	var wg sync.WaitGroup
	for range loaders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lctx.Err() == nil {
				i := int(next.Add(1)-1) * loadBatch
				if i >= len(books) {
					return
				}
				part := books[i:min(i+loadBatch, len(books))]
				attempts := 0
				e := c.do(lctx, func(st *record.Store) error {
					if attempts++; attempts > 1 {
						retries.Add(1)
					}
					for _, b := range part {
						if _, err := st.SaveRecord(b); err != nil {
							return err
						}
					}
					return nil
				})
				if e != nil {
					once.Do(func() { err = fmt.Errorf("load books %d..%d: %w", i, i+len(part), e); cancel() })
					return
				}
				bar.add(len(part))
			}
		}()
	}
	wg.Wait()
	if err == nil {
		err = ctx.Err()
	}
	return retries.Load(), err
}

func retriedText(n int64) string {
	switch n {
	case 0:
		return "no transaction had to be retried"
	case 1:
		return "1 transaction retried"
	}
	return fmt.Sprintf("%d transactions retried", n)
}

// pageAuthor pages through the books of author, size per page, each page in its own
// transaction, resuming from the previous page's continuation.
func (c *catalogue) pageAuthor(ctx context.Context, w io.Writer, author string, size int) error {
	q := record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("author").Equals(author)}
	var cont []byte
	pages, seen := 0, 0
	fmt.Fprintf(w, "5. Books by %s, %d per page, each page in its own transaction:\n", author, size)
	for {
		ids, err := read(ctx, c, func(st *record.Store) ([]string, error) {
			cur, err := st.ExecuteQuery(q, record.ExecuteOptions{ReturnLimit: size, Continuation: cont})
			if err != nil {
				return nil, err
			}
			var ids []string
			for cur.Next() {
				b := cur.Record().Message.(*catalogpb.Book)
				ids = append(ids, b.BookId+"@"+b.Branch)
			}
			cont = cur.Continuation()
			return ids, cur.Err()
		})
		if err != nil {
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
	fmt.Fprintf(w, "     %s in %s.\n", plural(seen, "book"), plural(pages, "page"))
	return nil
}

// raceShelves picks the two destinations of the race: shelves RACE-A and RACE-B, or, for a book
// an earlier run left on one of them, its first shelf and the other one.
func raceShelves(first, now string) []string {
	var out []string
	for _, s := range []string{first, "RACE-A", "RACE-B"} {
		if s != now && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out[:2]
}

// showRace races two moves of book b and says which won and how the other was refused. Exactly
// one must win, and the other must fail with ErrNotAtSource; anything else is an error.
func (c *catalogue) showRace(ctx context.Context, w io.Writer, b *catalogpb.Book, dests []string) error {
	fmt.Fprintf(w, "7. Race: two moves of book %s, from shelf %s of branch %s to shelves %s and %s, start at once; each reads the book before either writes.\n",
		b.BookId, b.Shelf, b.Branch, dests[0], dests[1])
	results := c.race(ctx, b, dests)
	var won, lost []raced
	for _, r := range results {
		switch {
		case r.err == nil:
			won = append(won, r)
		case errors.Is(r.err, ErrNotAtSource):
			lost = append(lost, r)
		default:
			return fmt.Errorf("race: the move to shelf %s: %w", r.dest, r.err)
		}
	}
	if len(won) != 1 || len(lost) != 1 {
		return fmt.Errorf("race: %d moves succeeded and %d were refused, want exactly one of each", len(won), len(lost))
	}
	fmt.Fprintf(w, "     won:     the move to shelf %s committed first.\n", won[0].dest)
	how := "read the book only after that commit and found it gone"
	if lost[0].attempts > 1 {
		how = "conflicted with it at commit (1020, not_committed), was run again by kv.Transact, and this time found the book gone"
	}
	fmt.Fprintf(w, "     refused: the move to shelf %s %s from shelf %s: %q.\n", lost[0].dest, how, b.Shelf, lost[0].err.Error())
	fmt.Fprintf(w, "              As expected: the book is on one shelf, so exactly one move can take it from there.\n")
	return nil
}

// allPresent says that n books are all there: "all 3000 books are", or "the 1 book is".
func allPresent(n int) string {
	if n == 1 {
		return "the 1 book is"
	}
	return fmt.Sprintf("all %d books are", n)
}
