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
	"github.com/layerkit/layerkit/record"
)

// The demo runs end to end on a small catalogue and reports what it should.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	cfg := defaultConfig()
	cfg.books = 3000
	require.NoError(t, run(context.Background(), &out, cfg))
	s := out.String()
	require.Contains(t, s, "Loaded 3000 books across 700 branches")
	require.Regexp(t, regexp.MustCompile(`plan: Scan\(records eq=\("BR-\d{3}", "\d{3}"\)\)`), s)
	require.Regexp(t, regexp.MustCompile(`plan: IndexScan\(book_by_id eq=\("B\d{7}"\)\) \| Fetch`), s)
	require.Regexp(t, regexp.MustCompile(`\d+ books in \d+ pages`), s)
	require.Regexp(t, regexp.MustCompile(`to shelf RACE-[AB]: succeeded`), s)
	require.Regexp(t, regexp.MustCompile(`to shelf RACE-[AB]: failed: move book B\d{7} from branch BR-\d{3} shelf \d{3}: book not found at source`), s)
	require.Contains(t, s, "all 3000 books are present")
}

// A move is atomic and refuses a book that is not at its source.
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
	for _, err := range results {
		if err == nil {
			wins++
		} else {
			require.ErrorIs(t, err, ErrNotAtSource)
		}
	}
	require.Equal(t, 1, wins)
	copies, books, _, err := c.audit(ctx, "B1")
	require.NoError(t, err)
	require.Equal(t, 1, copies)
	require.Equal(t, 1, books)
}

func newTestCatalogue(t *testing.T) *catalogue {
	t.Helper()
	db := testdb.Open(t)
	md, err := metaData()
	require.NoError(t, err)
	dir, err := directory.CreateOrOpen(context.Background(), db, []string{"library", "catalogue"}, nil)
	require.NoError(t, err)
	c := &catalogue{db: db, md: md, prefix: dir}
	testdb.Check(t, db, "record", record.Check(md, dir))
	return c
}
