package main

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/directory"
	"github.com/layerkit/layerkit/examples/catalogue/catalogpb"
	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/record"
)

// The demo runs end to end on a small catalogue in memory, explains each step, and shows the
// progress of the long ones.
func TestRun(t *testing.T) {
	var out, bars bytes.Buffer
	cfg := defaultConfig()
	cfg.books = 3000
	cfg.progress = &bars
	require.NoError(t, run(context.Background(), &out, cfg))
	s := out.String()
	require.Regexp(t, `1\. Opened the embedded engine in memory; the store lives in directory \(library, catalogue\) at prefix `, s)
	require.Regexp(t, `2\. Loaded 3000 books across 700 branches in transactions of 500, 4 at a time \(\d+ books/s; `, s)
	require.Regexp(t, `plan: Scan\(records eq=\("BR-\d{3}", "\d{3}"\)\)`, s)
	require.Regexp(t, `plan: IndexScan\(book_by_id eq=\("B\d{7}"\)\) \| Fetch`, s)
	require.Regexp(t, `\d+ books in \d+ pages`, s)
	require.Regexp(t, `6\. Moved book B0002000 from shelf \d{3} to shelf MOVED-1 `, s)
	require.Regexp(t, `7\. Race: two moves of book B0001500, from shelf \d{3} of branch BR-\d{3} to shelves RACE-A and RACE-B`, s)
	require.Regexp(t, `won: +the move to shelf RACE-[AB] committed first\.`, s)
	require.Regexp(t, `refused: the move to shelf RACE-[AB] conflicted with it at commit \(1020, not_committed\), was run again by kv\.Transact, and this time found the book gone from shelf \d{3}: "move book B0001500 from branch BR-\d{3} shelf \d{3}: book not found at source"\.`, s)
	require.Contains(t, s, "As expected: the book is on one shelf, so exactly one move can take it from there.")
	require.Regexp(t, `8\. Audit, reading only: book B0001500 is on shelf RACE-[AB] of branch BR-\d{3}, exactly once; all 3000 books are present`, s)
	require.NotContains(t, s, "stays in", "an in-memory catalogue does not outlive the run")
	require.Contains(t, bars.String(), "loading books")
	require.Contains(t, bars.String(), "audit: counting books")
}

// A catalogue on disk outlives the run: the next run on the same -dir says what it found and
// uses it as it is (moved books included), a run that asks for another catalogue is refused
// with a message naming the flag, and -reset starts over.
func TestDirKeepsCatalogue(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := defaultConfig()
	cfg.books, cfg.dir = 1200, dir
	cfg.set = map[string]bool{"books": true}

	var first bytes.Buffer
	require.NoError(t, run(ctx, &first, cfg))
	require.Regexp(t, `1\. Opened the embedded engine on disk in .* \(every commit synced\); the store lives in directory`, first.String())
	require.Contains(t, first.String(), "2. Loaded 1200 books")
	require.Contains(t, first.String(), "The catalogue stays in "+dir+": run again with the same -dir to use it as it is now, or add -reset to start over.")
	firstRaceWinner := regexp.MustCompile(`won: +the move to shelf (RACE-[AB])`).FindStringSubmatch(first.String())
	require.NotNil(t, firstRaceWinner)

	var second bytes.Buffer
	cfg.set = nil // no -books: the stored catalogue is used whatever its size
	cfg.books = defaultConfig().books
	require.NoError(t, run(ctx, &second, cfg))
	s := second.String()
	require.Regexp(t, `holds the catalogue of an earlier run, 1200 books \(700 branches, seed 1\), as the earlier runs left it\. Using it; -reset starts over\.`, s)
	require.Contains(t, s, "2. Nothing to load: the store holds the 1200 books")
	require.Regexp(t, `6\. Moved book B0000800 from shelf MOVED-1 to shelf \d{3} of branch BR-\d{3} in one transaction, back where the catalogue first had it\.`, s)
	require.Regexp(t, `7\. Race: two moves of book B0000600, from shelf `+firstRaceWinner[1]+` of branch`, s)
	require.Contains(t, s, "all 1200 books are present")

	cfg.books, cfg.set = 500, map[string]bool{"books": true}
	err := run(ctx, &bytes.Buffer{}, cfg)
	require.EqualError(t, err, dir+" already holds a catalogue of 1200 books (700 branches, seed 1); -books 500 asks for another: run without it to use the stored one, or add -reset to replace it")

	var reset bytes.Buffer
	cfg.reset = true
	require.NoError(t, run(ctx, &reset, cfg))
	require.Contains(t, reset.String(), "-reset removed directory (library, catalogue) with the 1200 books of an earlier run; the store lives in directory")
	require.Contains(t, reset.String(), "2. Loaded 500 books")
	require.Contains(t, reset.String(), "all 500 books are present")
}

// A load that stopped part way (the process was interrupted) is finished by the next run, which
// says so; saving the books already there again writes nothing.
func TestFinishesStoppedLoad(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := defaultConfig()
	cfg.books, cfg.dir = 1200, dir
	db, err := embedded.Open(dir, nil)
	require.NoError(t, err)
	c, found, err := openCatalogue(ctx, &bytes.Buffer{}, db, cfg)
	require.NoError(t, err)
	require.NoError(t, c.store(ctx, found.gen)) // what run writes before loading
	_, err = c.load(ctx, newGenerator(found.gen).books()[:700], nil)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	var out bytes.Buffer
	require.NoError(t, run(ctx, &out, cfg))
	require.Contains(t, out.String(), "holds 700 of the 1200 books (700 branches, seed 1) of an earlier run that stopped while loading; this run finishes the load.")
	require.Contains(t, out.String(), "2. Finished the load: all 1200 books saved in transactions of 500, 4 at a time")
	require.Contains(t, out.String(), "the 700 the earlier run stored were saved again unchanged, which writes nothing.")
	require.Contains(t, out.String(), "all 1200 books are present")
}

// Books in the catalogue's directory that no run of the demo recorded loading are not taken
// for a catalogue, nor removed without -reset.
func TestRefusesUnknownRecords(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := embedded.Open(dir, nil)
	require.NoError(t, err)
	md, err := metaData()
	require.NoError(t, err)
	d, err := directory.CreateOrOpen(ctx, db, cataloguePath, nil)
	require.NoError(t, err)
	c := &catalogue{db: db, md: md, prefix: d}
	require.NoError(t, c.do(ctx, func(st *record.Store) error {
		_, err := st.SaveRecord(&catalogpb.Book{Branch: "BR-001", Shelf: "100", BookId: "X1"})
		return err
	}))
	require.NoError(t, db.Close())

	cfg := defaultConfig()
	cfg.books, cfg.dir = 100, dir
	err = run(ctx, &bytes.Buffer{}, cfg)
	require.ErrorContains(t, err, "holds 1 record that this demo has no record of loading; run with -reset to replace them")
	cfg.reset = true
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out, cfg))
	require.Contains(t, out.String(), "-reset removed directory (library, catalogue) with the 1 book of an earlier run;")
}

// A move is atomic and refuses a book that is not at its source; a race has exactly one winner.
func TestMoveBook(t *testing.T) {
	ctx := context.Background()
	c := newTestCatalogue(t)
	b := &catalogpb.Book{Branch: "BR-001", Shelf: "100", BookId: "B1", Title: "T", Author: "A"}
	require.NoError(t, c.do(ctx, func(st *record.Store) error { _, err := st.SaveRecord(b); return err }))
	require.NoError(t, c.moveBook(ctx, "B1", "BR-001", "100", "BR-002", "200"))
	got, _, err := c.findByID(ctx, "B1")
	require.NoError(t, err)
	require.Equal(t, "BR-002", got.Branch)
	require.Equal(t, "200", got.Shelf)
	err = c.moveBook(ctx, "B1", "BR-001", "100", "BR-003", "300")
	require.True(t, errors.Is(err, ErrNotAtSource), "got %v", err)
	results := c.race(ctx, got, []string{"X", "Y"})
	wins := 0
	for _, r := range results {
		if r.err == nil {
			wins++
		} else {
			require.ErrorIs(t, r.err, ErrNotAtSource)
		}
	}
	require.Equal(t, 1, wins)
	res, err := c.audit(ctx, "B1", nil)
	require.NoError(t, err)
	require.Len(t, res.copies, 1)
	require.Equal(t, 1, res.books)
}

// The race's destinations are two shelves the book is not on.
func TestRaceShelves(t *testing.T) {
	require.Equal(t, []string{"RACE-A", "RACE-B"}, raceShelves("300", "300"))
	require.Equal(t, []string{"300", "RACE-B"}, raceShelves("300", "RACE-A"))
	require.Equal(t, []string{"300", "RACE-A"}, raceShelves("300", "RACE-B"))
	require.Equal(t, []string{"300", "RACE-A"}, raceShelves("300", "MOVED-1"))
}

func newTestCatalogue(t *testing.T) *catalogue {
	t.Helper()
	db := testdb.Open(t)
	md, err := metaData()
	require.NoError(t, err)
	dir, err := directory.CreateOrOpen(context.Background(), db, cataloguePath, nil)
	require.NoError(t, err)
	c := &catalogue{db: db, md: md, prefix: dir}
	testdb.Check(t, db, "record", record.Check(md, dir))
	return c
}
