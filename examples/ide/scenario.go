package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/layerkit/layerkit/directory"
	"github.com/layerkit/layerkit/examples/ide/idepb"
	"github.com/layerkit/layerkit/examples/ide/idestore"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
)

type config struct {
	dir   string
	reset bool
	// crashAcks is how many operations the crash step's child acknowledges before it is killed.
	crashAcks int
}

func defaultConfig() config { return config{crashAcks: 40} }

// workspace is the project the story works on.
const workspace = "/home/ada/shop"

// teller prints the story: numbered steps, each saying what it shows.
type teller struct {
	w    io.Writer
	n    int
	from time.Time
}

func (t *teller) step(title string) {
	t.end()
	t.n++
	t.from = time.Now()
	fmt.Fprintf(t.w, "%d. %s\n", t.n, title)
}

func (t *teller) end() {
	if t.n > 0 {
		fmt.Fprintf(t.w, "   [%v]\n\n", time.Since(t.from).Round(time.Microsecond))
	}
}

func (t *teller) say(format string, args ...any) {
	fmt.Fprintf(t.w, "   "+format+"\n", args...)
}

// openDB opens the durable embedded engine in dir.
func openDB(dir string) (*embedded.DB, error) { return embedded.Open(dir, nil) }

func run(ctx context.Context, w io.Writer, cfg config) error {
	start := time.Now()
	t := &teller{w: w}
	dir, cleanup, err := databaseDir(cfg.dir, "ide-")
	if err != nil {
		return err
	}
	defer cleanup()

	t.step("Open the IDE's database: the durable embedded engine (Pebble, each commit synced to disk).")
	db, err := openDB(dir)
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			db.Close()
		}
	}()
	if cfg.reset {
		removed, err := directory.Root().RemoveIfExists(ctx, db, idestore.Root)
		if err != nil {
			return err
		}
		if removed {
			t.say("-reset: removed the IDE's data (directory %v) from %s.", idestore.Root, dir)
		}
	}
	ide, err := idestore.Open(ctx, db, nil)
	if err != nil {
		return err
	}
	if cfg.dir == "" {
		t.say("Database in %s (a new temporary directory, removed at the end; -dir keeps one).", dir)
	} else {
		t.say("Database in %s (kept after the run; -reset starts over).", dir)
	}
	earlier, err := ide.ListSessions(ctx, db, workspace, 3, nil)
	if err != nil {
		return err
	}
	if earlier.Total > 0 {
		t.say("Found %s of workspace %s from earlier runs, kept as they were; the newest:", plural(earlier.Total, "session"), workspace)
		for _, s := range earlier.Sessions {
			t.say("  %-26q last opened %s", s.Title, time.UnixMilli(s.ActiveMs).Format(time.DateTime))
		}
	}
	t.say("Directories: ide/sessions, ide/files, ide/messages, ide/models (record stores and streams), ide/settings (documents).")

	t.step("Configure the models the assistant can use (records in ide/models).")
	for _, m := range []*idepb.ModelConfig{
		{Id: "fast", Provider: "acme", Model: "acme-mini", Temperature: 0.2, MaxOutputTokens: 4096, ContextWindow: 128_000},
		{Id: "deep", Provider: "acme", Model: "acme-large", Temperature: 0.7, MaxOutputTokens: 32_000, ContextWindow: 1_000_000},
		{Id: "local", Provider: "ollama", Model: "qwen-coder", Endpoint: "http://localhost:11434", MaxOutputTokens: 8192, ContextWindow: 32_000},
	} {
		if err := ide.SaveModel(ctx, db, m); err != nil {
			return err
		}
	}
	acme, err := ide.Models(ctx, db, "acme")
	if err != nil {
		return err
	}
	t.say("3 model configurations saved; the index by provider finds %d from acme: %s, %s.", len(acme), acme[0].Model, acme[1].Model)

	t.step("Open workspace " + workspace + ": settings are documents, global ones overridden per workspace, field by field.")
	for _, s := range []struct {
		ws, key string
		v       any
	}{{"", "editor.fontSize", 13}, {"", "editor.tabSize", 4}, {"", "theme", "light"}, {workspace, "editor.fontSize", 15}, {workspace, "ai.model", "deep"}} {
		if err := ide.SetSetting(ctx, db, s.ws, s.key, s.v); err != nil {
			return err
		}
	}
	eff, err := ide.Settings(ctx, db, workspace)
	if err != nil {
		return err
	}
	t.say("In effect here: %s (fontSize 15 from the workspace, tabSize and theme from the global settings).", compact(eff))

	t.step("Start a session and chat: each message is appended to the session's stream, and counted by indexes.")
	sess, err := ide.CreateSession(ctx, db, idestore.NewSession{Workspace: workspace, Title: "Fix the checkout total", ModelID: "deep"})
	if err != nil {
		return err
	}
	t.say("Session %s %q, talking to model %q.", sess.Id, sess.Title, sess.ModelId)
	if err := ide.OpenTab(ctx, db, sess.Id, "w1", "cart.go"); err != nil {
		return err
	}
	chat := []idestore.Message{
		{Role: "user", Text: "The checkout total is off by one cent for some carts. Why?", Tokens: 18, Window: "w1"},
		{Role: "assistant", Text: "cart.go sums float64 prices; 0.1+0.2 is not 0.3 in binary. Keep cents as int64.", ModelID: "deep", Tokens: 31},
		{Role: "user", Text: "Please change it.", Tokens: 5, Window: "w1"},
		{Role: "assistant", Text: "Done: Item.Price is now PriceCents int64, and Total sums integers.", ModelID: "deep", Tokens: 22},
	}
	for _, m := range chat {
		if _, err := ide.AppendMessage(ctx, db, sess.Id, m); err != nil {
			return err
		}
	}
	stats, err := ide.Stats(ctx, db, sess.Id)
	if err != nil {
		return err
	}
	t.say("4 messages appended; the COUNT index says %d, the SUM index %d tokens (one read each, no scan).", stats.Messages, stats.Tokens)

	t.step("Edit and save files: every save is a new version; large contents are split by the record store.")
	v1 := []byte("package shop\n\ntype Item struct{ Price float64 }\n")
	v2 := []byte("package shop\n\ntype Item struct{ PriceCents int64 }\n\nfunc Total(items []Item) (c int64) {\n\tfor _, it := range items {\n\t\tc += it.PriceCents\n\t}\n\treturn c\n}\n")
	if _, err := ide.SaveFile(ctx, db, sess.Id, "cart.go", v1, idestore.SaveOptions{Window: "w1", Language: "go"}); err != nil {
		return err
	}
	synced, err := ide.FilesChangedSince(ctx, db, sess.Id, nil, 0)
	if err != nil {
		return err
	}
	head, err := ide.SaveFile(ctx, db, sess.Id, "cart.go", v2, idestore.SaveOptions{Window: "w1"})
	if err != nil {
		return err
	}
	t.say("cart.go saved twice: now at version %d, %d bytes.", head.Version, head.Size)
	again, err := ide.SaveFile(ctx, db, sess.Id, "cart.go", v2, idestore.SaveOptions{Window: "w1"})
	if err != nil {
		return err
	}
	t.say("Saved again unchanged: still version %d (same SHA-256, nothing written).", again.Version)
	fixtures := bytes.Repeat([]byte(`{"sku":"A-1001","price_cents":1999,"qty":3},`+"\n"), 6000) // about 270 KB
	if _, err := ide.SaveFile(ctx, db, sess.Id, "testdata/carts.json", fixtures, idestore.SaveOptions{Window: "w1"}); err != nil {
		return err
	}
	t.say("testdata/carts.json saved: %d KB, above the 100,000-byte value limit, so its version record is split into %d chunks.", len(fixtures)/1000, (len(fixtures)+99_999)/100_000)
	versions, err := ide.FileVersions(ctx, db, sess.Id, "cart.go")
	if err != nil {
		return err
	}
	t.say("History of cart.go, listed from index entries without reading any content:")
	for _, v := range versions {
		t.say("  version %d  %4d bytes  saved %s by %s", v.Number, v.Size, time.UnixMilli(v.SavedMS).Format(time.TimeOnly), v.SavedBy)
	}
	_, err = ide.SaveFile(ctx, db, sess.Id, "cart.go", []byte("stale edit"), idestore.SaveOptions{Window: "w1", IfVersion: 1})
	if !errors.Is(err, idestore.ErrVersionChanged) {
		return fmt.Errorf("a save against version 1 of cart.go: got %v, want ErrVersionChanged", err)
	}
	t.say("A save from an editor still holding version 1 is refused, as expected: %v", err)
	since := synced[len(synced)-1].Version
	changed, err := ide.FilesChangedSince(ctx, db, sess.Id, &since, 0)
	if err != nil {
		return err
	}
	t.say("What changed since a sync after the first save (VERSION index): %s.", changedPaths(changed))

	t.step("A second window opens the same session; both windows work at once.")
	if err := ide.OpenTab(ctx, db, sess.Id, "w2", "README.md"); err != nil {
		return err
	}
	res, err := idestore.Overlap(ctx, db,
		func(tr kv.Transaction) error {
			_, err := ide.SaveFile(ctx, tr, sess.Id, "cart.go", append(bytes.Clone(v2), "// w1: rounding note\n"...), idestore.SaveOptions{Window: "w1"})
			return err
		},
		func(tr kv.Transaction) error {
			if _, err := ide.SaveFile(ctx, tr, sess.Id, "README.md", []byte("# shop\n\nPrices are in cents.\n"), idestore.SaveOptions{Window: "w2", Language: "markdown"}); err != nil {
				return err
			}
			_, err := ide.AppendMessage(ctx, tr, sess.Id, idestore.Message{ID: idestore.NewID(), Role: "user", Text: "Update the README too.", Tokens: 6, Window: "w2"})
			return err
		})
	if err != nil {
		return err
	}
	t.say("Different files (w1 saves cart.go; w2 saves README.md and sends a message), both transactions")
	t.say("overlapping: committed after %s and %s — disjoint edits do not conflict.", plural(int64(res[0]), "attempt"), plural(int64(res[1]), "attempt"))
	res, err = idestore.Overlap(ctx, db,
		func(tr kv.Transaction) error {
			_, err := ide.SaveFile(ctx, tr, sess.Id, "cart.go", []byte("package shop // w1's take\n"), idestore.SaveOptions{Window: "w1"})
			return err
		},
		func(tr kv.Transaction) error {
			_, err := ide.SaveFile(ctx, tr, sess.Id, "cart.go", []byte("package shop // w2's take\n"), idestore.SaveOptions{Window: "w2"})
			return err
		})
	if err != nil {
		return err
	}
	loser := "w1"
	if res[1] > res[0] {
		loser = "w2"
	}
	versions, err = ide.FileVersions(ctx, db, sess.Id, "cart.go")
	if err != nil {
		return err
	}
	last := versions[len(versions)-2:]
	t.say("The same file at once: %s's commit conflicted as expected (1020 not_committed) and was retried,", loser)
	t.say("landing on top: versions %d (by %s) and %d (by %s) are both in the history — nothing lost.", last[0].Number, last[0].SavedBy, last[1].Number, last[1].SavedBy)

	t.step("Switch to another session, then back: the listing is newest first, through an index.")
	notes, err := ide.CreateSession(ctx, db, idestore.NewSession{Workspace: workspace, Title: "Write the release notes", ModelID: "fast"})
	if err != nil {
		return err
	}
	if _, err := ide.AppendMessage(ctx, db, notes.Id, idestore.Message{Role: "user", Text: "Draft release notes for 1.4.", Tokens: 8, Window: "w1"}); err != nil {
		return err
	}
	if _, err := ide.SaveFile(ctx, db, notes.Id, "CHANGELOG.md", []byte("## 1.4\n- Prices are exact (cents).\n"), idestore.SaveOptions{Window: "w1"}); err != nil {
		return err
	}
	time.Sleep(2 * time.Millisecond) // distinct activity times, to the millisecond
	if _, err := ide.SwitchTo(ctx, db, sess.Id); err != nil {
		return err
	}
	list, err := ide.ListSessions(ctx, db, workspace, 3, nil)
	if err != nil {
		return err
	}
	t.say("Sessions of %s, most recently opened first (%d in all, counted by a COUNT index; plan %s):", workspace, list.Total, list.Plan)
	for _, s := range list.Sessions {
		t.say("  %-26q opened %s", s.Title, time.UnixMilli(s.ActiveMs).Format("15:04:05.000"))
	}
	loadStart := time.Now()
	view, err := ide.LoadSession(ctx, db, sess.Id, idestore.LoadOptions{})
	if err != nil {
		return err
	}
	t.say("Back in %q, loaded in one read transaction in %v: %s, %s (%d bytes), %s and tabs %s.",
		view.Session.Title, time.Since(loadStart).Round(time.Microsecond), plural(view.Stats.Messages, "message"),
		plural(view.Stats.Files, "file"), view.Stats.Bytes, plural(int64(len(view.Messages)), "recent message"), tabsLine(view.Tabs))
	t.say("Newest message: %s: %q", view.Messages[0].Role, view.Messages[0].Text)

	t.step("Crash and reopen: a child process works on the database and is killed with SIGKILL mid-work.")
	before, err := ide.Stats(ctx, db, sess.Id)
	if err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	closed = true
	report, err := crashAndReopen(ctx, dir, sess.Id, before.Messages, cfg.crashAcks, t)
	if err != nil {
		return err
	}
	db, ide = report.db, report.ide
	closed = false

	t.step("Check everything: directories, record stores against their indexes, streams against message records, documents.")
	if err := ide.Check(ctx); err != nil {
		return err
	}
	final, err := ide.Stats(ctx, db, sess.Id)
	if err != nil {
		return err
	}
	t.say("All consistent. Session %q now holds %s and %s.", sess.Title, plural(final.Messages, "message"), plural(final.Files, "file"))
	t.end()
	if cfg.dir != "" {
		fmt.Fprintf(w, "The database stays in %s: run again with -dir %s to find these sessions (-reset to start over).\n", dir, cfg.dir)
	}
	fmt.Fprintf(w, "Done in %v.\n", time.Since(start).Round(time.Millisecond))
	return nil
}

// databaseDir returns dir, or a new temporary directory and a cleanup that removes it.
func databaseDir(dir, pattern string) (string, func(), error) {
	if dir != "" {
		return dir, func() {}, nil
	}
	tmp, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", nil, err
	}
	return tmp, func() { os.RemoveAll(tmp) }, nil
}

func plural(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func changedPaths(cs []idestore.ChangedFile) string {
	var out []string
	for _, c := range cs {
		out = append(out, fmt.Sprintf("%s (version %d)", c.File.Path, c.File.Version))
	}
	return strings.Join(out, ", ")
}

func tabsLine(tabs idestore.Tabs) string {
	var out []string
	for _, w := range []string{"w1", "w2"} {
		if wt, ok := tabs.Windows[w]; ok {
			out = append(out, fmt.Sprintf("%s: %v (active %s)", w, wt.Open, wt.Active))
		}
	}
	return strings.Join(out, ", ")
}

// compact prints a settings document in key order, on one line.
func compact(m map[string]any) string {
	var b strings.Builder
	writeValue(&b, m)
	return b.String()
}

func writeValue(b *strings.Builder, v any) {
	m, ok := v.(map[string]any)
	if !ok {
		fmt.Fprintf(b, "%v", v)
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b.WriteString("{")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k + ": ")
		writeValue(b, m[k])
	}
	b.WriteString("}")
}
