package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/layerkit/layerkit/directory"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/record"
)

// A catalogue on disk outlives the run that loaded it. The store header keeps how it was
// generated (the Java Record Layer's header user fields), so a later run on the same -dir finds
// it, says so and uses it as the earlier runs left it; finishes a load that a stopped run left
// half done; refuses, naming the difference, when the command line asks for another catalogue;
// and starts over only when asked to (-reset). Nothing is wiped silently.

// headerField is the store header's user field holding the catalogue's generation as JSON.
const headerField = "layerkit.examples.catalogue"

// cataloguePath is the directory of the store.
var cataloguePath = []string{"library", "catalogue"}

// opened is what step 1 found: the catalogue to load or loaded, and the books already there.
type opened struct {
	gen     generation
	present int64
}

// openCatalogue opens (or creates) the store's directory in db, after removing an old one when
// cfg.reset asks for it, and reports on w what it found.
func openCatalogue(ctx context.Context, w io.Writer, db kv.Database, cfg config) (*catalogue, opened, error) {
	md, err := metaData()
	if err != nil {
		return nil, opened{}, err
	}
	engine := "the embedded engine in memory"
	if cfg.dir != "" {
		engine = fmt.Sprintf("the embedded engine on disk in %s (every commit synced)", cfg.dir)
	}
	removed := ""
	if cfg.reset && cfg.dir != "" {
		if removed, err = removeCatalogue(ctx, db, md); err != nil {
			return nil, opened{}, err
		}
	}
	dir, err := directory.CreateOrOpen(ctx, db, cataloguePath, nil)
	if err != nil {
		return nil, opened{}, err
	}
	c := &catalogue{db: db, md: md, prefix: dir}
	stored, present, err := c.stored(ctx)
	if err != nil {
		return nil, opened{}, err
	}
	at := fmt.Sprintf("directory (library, catalogue) at prefix %s", kv.Printable(dir.Bytes()))
	asked := generation{Books: cfg.books, Branches: cfg.branches, Seed: cfg.seed}
	switch {
	case stored == nil && present == 0:
		fmt.Fprintf(w, "1. Opened %s;%s the store lives in %s.\n", engine, removed, at)
		return c, opened{gen: asked}, nil
	case stored == nil:
		return nil, opened{}, fmt.Errorf("%s in %s holds %s that this demo has no record of loading; run with -reset to replace them", at, cfg.dir, plural(int(present), "record"))
	}
	if flags := differing(*stored, asked, cfg.set); flags != "" {
		return nil, opened{}, fmt.Errorf("%s already holds a catalogue of %s; %s asks for another: run without it to use the stored one, or add -reset to replace it", cfg.dir, stored, flags)
	}
	if !stored.Loaded {
		fmt.Fprintf(w, "1. Opened %s: %s holds %d of the %s of an earlier run that stopped while loading; this run finishes the load.\n", engine, at, present, stored)
	} else {
		fmt.Fprintf(w, "1. Opened %s: %s holds the catalogue of an earlier run, %s, as the earlier runs left it. Using it; -reset starts over.\n", engine, at, stored)
	}
	return c, opened{gen: *stored, present: present}, nil
}

// String describes a generation: 100000 books (700 branches, seed 1).
func (g generation) String() string {
	return fmt.Sprintf("%s (%d branches, seed %d)", plural(g.Books, "book"), g.Branches, g.Seed)
}

// differing names the flags given on the command line (set) whose values differ from the
// stored catalogue's, as "-books 2000", or returns "".
func differing(stored, asked generation, set map[string]bool) string {
	var out []string
	if set["books"] && stored.Books != asked.Books {
		out = append(out, fmt.Sprintf("-books %d", asked.Books))
	}
	if set["branches"] && stored.Branches != asked.Branches {
		out = append(out, fmt.Sprintf("-branches %d", asked.Branches))
	}
	if set["seed"] && stored.Seed != asked.Seed {
		out = append(out, fmt.Sprintf("-seed %d", asked.Seed))
	}
	return strings.Join(out, " ")
}

// removeCatalogue removes the store's directory with everything in it, for -reset, and says
// what it removed (" -reset removed …;"), or "" when there was nothing.
func removeCatalogue(ctx context.Context, db kv.Database, md *record.MetaData) (string, error) {
	dir, err := directory.Open(ctx, db, cataloguePath, nil)
	if err != nil {
		if errors.Is(err, directory.ErrDirNotExists) {
			return "", nil
		}
		return "", err
	}
	what := "the catalogue of an earlier run"
	// The count is for the message only: a store that cannot be read is removed all the same.
	if _, n, err := (&catalogue{db: db, md: md, prefix: dir}).stored(ctx); err == nil {
		what = fmt.Sprintf("the %s of an earlier run", plural(int(n), "book"))
	}
	if _, err := directory.Root().RemoveIfExists(ctx, db, cataloguePath); err != nil {
		return "", err
	}
	return fmt.Sprintf(" -reset removed directory (library, catalogue) with %s;", what), nil
}

// stored reads the generation kept in the store header (nil when there is none) and the number
// of books in the store (its COUNT index, one read).
func (c *catalogue) stored(ctx context.Context) (*generation, int64, error) {
	var gen *generation
	var n int64
	err := c.do(ctx, func(st *record.Store) error {
		gen = nil
		if raw := st.HeaderUserField(headerField); raw != nil {
			var g generation
			if err := json.Unmarshal(raw, &g); err != nil {
				return fmt.Errorf("store header field %s: %w", headerField, err)
			}
			gen = &g
		}
		var err error
		n, err = st.RecordCount()
		return err
	})
	return gen, n, err
}

// store writes g into the store header.
func (c *catalogue) store(ctx context.Context, g generation) error {
	raw, err := json.Marshal(g)
	if err != nil {
		return err
	}
	return c.do(ctx, func(st *record.Store) error { return st.SetHeaderUserField(headerField, raw) })
}
