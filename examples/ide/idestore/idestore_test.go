package idestore_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/docstore"
	"github.com/layerkit/layerkit/examples/ide/idepb"
	"github.com/layerkit/layerkit/examples/ide/idestore"
	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/queue"
)

// newStore opens the IDE's store on a test database (faults injected) and checks all of it when
// the test ends.
func newStore(t *testing.T, db kv.Database, opts *idestore.Options) *idestore.Store {
	t.Helper()
	ide, err := idestore.Open(context.Background(), db, opts)
	require.NoError(t, err)
	testdb.Check(t, db, "ide", func(ctx context.Context, _ kv.Database) error { return ide.Check(ctx) })
	return ide
}

// tick is a clock that moves one millisecond a call, so times are distinct and ordered.
func tick() func() time.Time {
	t := time.UnixMilli(1_700_000_000_000)
	return func() time.Time { t = t.Add(time.Millisecond); return t }
}

func TestSessionsListNewestFirstWithCounts(t *testing.T) {
	ctx := context.Background()
	db := testdb.Open(t)
	ide := newStore(t, db, &idestore.Options{Clock: tick()})
	var ids []string
	for i := range 5 {
		s, err := ide.CreateSession(ctx, db, idestore.NewSession{Workspace: "/w", Title: fmt.Sprint("s", i)})
		require.NoError(t, err)
		ids = append(ids, s.Id)
	}
	_, err := ide.CreateSession(ctx, db, idestore.NewSession{Workspace: "/other"})
	require.NoError(t, err)
	_, err = ide.SwitchTo(ctx, db, ids[1]) // s1 becomes the most recent
	require.NoError(t, err)

	page, err := ide.ListSessions(ctx, db, "/w", 3, nil)
	require.NoError(t, err)
	require.Equal(t, int64(5), page.Total)
	require.Equal(t, "IndexScan(sessions_by_activity eq=(\"/w\") reverse) | Fetch", page.Plan)
	var titles []string
	for _, s := range page.Sessions {
		titles = append(titles, s.Title)
	}
	require.Equal(t, []string{"s1", "s4", "s3"}, titles)
	require.NotNil(t, page.Continuation)
	page, err = ide.ListSessions(ctx, db, "/w", 3, page.Continuation)
	require.NoError(t, err)
	titles = titles[:0]
	for _, s := range page.Sessions {
		titles = append(titles, s.Title)
	}
	require.Equal(t, []string{"s2", "s0"}, titles)
	require.Nil(t, page.Continuation)

	_, err = ide.Session(ctx, db, "no-such-session")
	require.ErrorIs(t, err, idestore.ErrNotFound)
	_, err = ide.CreateSession(ctx, db, idestore.NewSession{})
	require.ErrorIs(t, err, idestore.ErrInvalid)
}

func TestConversationPagesAndResumes(t *testing.T) {
	ctx := context.Background()
	db := testdb.Open(t)
	ide := newStore(t, db, nil)
	s, err := ide.CreateSession(ctx, db, idestore.NewSession{Workspace: "/w"})
	require.NoError(t, err)
	var entries []queue.EntryID
	for i := range 120 {
		a, err := ide.AppendMessage(ctx, db, s.Id, idestore.Message{Role: "user", Text: fmt.Sprint("message ", i), Tokens: 2})
		require.NoError(t, err)
		id, err := a.Entry.Get()
		require.NoError(t, err)
		entries = append(entries, id)
	}
	// The newest 50, newest first, then the 50 before them, then the rest.
	page, err := ide.Messages(ctx, db, s.Id, queue.StreamEnd, queue.ReadOptions{Reverse: true})
	require.NoError(t, err)
	require.Len(t, page.Messages, 50)
	require.Equal(t, "message 119", page.Messages[0].Text)
	require.Equal(t, "message 70", page.Messages[49].Text)
	require.True(t, page.More)
	page, err = ide.Messages(ctx, db, s.Id, page.Cursor, queue.ReadOptions{Reverse: true})
	require.NoError(t, err)
	require.Equal(t, "message 69", page.Messages[0].Text)
	page, err = ide.Messages(ctx, db, s.Id, page.Cursor, queue.ReadOptions{Reverse: true})
	require.NoError(t, err)
	require.Len(t, page.Messages, 20)
	require.False(t, page.More)

	// A window that last showed message 99 catches up from its entry.
	page, err = ide.Messages(ctx, db, s.Id, entries[99], queue.ReadOptions{})
	require.NoError(t, err)
	require.Len(t, page.Messages, 20)
	require.Equal(t, "message 100", page.Messages[0].Text)
	require.Equal(t, entries[100], page.Messages[0].Entry)

	st, err := ide.Stats(ctx, db, s.Id)
	require.NoError(t, err)
	require.Equal(t, int64(120), st.Messages)
	require.Equal(t, int64(240), st.Tokens)
	require.NotZero(t, st.LastMessageMS)

	// A message larger than a stream value is kept whole.
	big := strings.Repeat("log line\n", 30_000)
	_, err = ide.AppendMessage(ctx, db, s.Id, idestore.Message{Role: "tool", Text: big})
	require.NoError(t, err)
	page, err = ide.Messages(ctx, db, s.Id, queue.StreamEnd, queue.ReadOptions{Reverse: true, Limit: 1})
	require.NoError(t, err)
	require.Equal(t, big, page.Messages[0].Text)

	_, err = ide.AppendMessage(ctx, db, "no-such-session", idestore.Message{Text: "x"})
	require.ErrorIs(t, err, idestore.ErrNotFound)
}

// An append retried in the caller's transaction with the same id appends once.
func TestAppendIsIdempotent(t *testing.T) {
	ctx := context.Background()
	db := testdb.OpenEmbedded(t, nil)
	ide := newStore(t, db, nil)
	s, err := ide.CreateSession(ctx, db, idestore.NewSession{Workspace: "/w"})
	require.NoError(t, err)
	m := idestore.Message{ID: idestore.NewID(), Role: "user", Text: "hello"}
	first, err := ide.AppendMessage(ctx, db, s.Id, m)
	require.NoError(t, err)
	require.False(t, first.Duplicate)
	again, err := ide.AppendMessage(ctx, db, s.Id, m)
	require.NoError(t, err)
	require.True(t, again.Duplicate)
	a, err := first.Entry.Get()
	require.NoError(t, err)
	b, err := again.Entry.Get()
	require.NoError(t, err)
	require.Equal(t, a, b)
	st, err := ide.Stats(ctx, db, s.Id)
	require.NoError(t, err)
	require.Equal(t, int64(1), st.Messages)
}

func TestFilesVersionsAndChanges(t *testing.T) {
	ctx := context.Background()
	db := testdb.Open(t)
	ide := newStore(t, db, &idestore.Options{Clock: tick()})
	s, err := ide.CreateSession(ctx, db, idestore.NewSession{Workspace: "/w"})
	require.NoError(t, err)

	small := []byte("package main\n")
	large := bytes.Repeat([]byte("0123456789abcdef"), 20_000) // 320 KB: split into chunks
	h, err := ide.SaveFile(ctx, db, s.Id, "main.go", small, idestore.SaveOptions{Window: "w1", Language: "go"})
	require.NoError(t, err)
	require.Equal(t, int64(1), h.Version)
	h, err = ide.SaveFile(ctx, db, s.Id, "main.go", large, idestore.SaveOptions{Window: "w2"})
	require.NoError(t, err)
	require.Equal(t, int64(2), h.Version)
	require.Equal(t, "go", h.Language)
	// Unchanged content writes nothing.
	h, err = ide.SaveFile(ctx, db, s.Id, "main.go", large, idestore.SaveOptions{Window: "w2"})
	require.NoError(t, err)
	require.Equal(t, int64(2), h.Version)
	// A save against a stale version is refused.
	_, err = ide.SaveFile(ctx, db, s.Id, "main.go", []byte("x"), idestore.SaveOptions{IfVersion: 1})
	require.ErrorIs(t, err, idestore.ErrVersionChanged)

	head, content, err := ide.ReadFile(ctx, db, s.Id, "main.go")
	require.NoError(t, err)
	require.Equal(t, large, content)
	require.Equal(t, int64(len(large)), head.Size)
	v1, err := ide.ReadVersion(ctx, db, s.Id, "main.go", 1)
	require.NoError(t, err)
	require.Equal(t, small, v1.Content)

	versions, err := ide.FileVersions(ctx, db, s.Id, "main.go")
	require.NoError(t, err)
	require.Len(t, versions, 2)
	require.Equal(t, idestore.VersionInfo{Number: 1, Size: int64(len(small)), SavedMS: versions[0].SavedMS, SavedBy: "w1"}, versions[0])
	require.Equal(t, idestore.VersionInfo{Number: 2, Size: int64(len(large)), SavedMS: versions[1].SavedMS, SavedBy: "w2"}, versions[1])
	require.Less(t, versions[0].SavedMS, versions[1].SavedMS)

	// What changed since a client synced: each file once, at its latest save.
	_, err = ide.SaveFile(ctx, db, s.Id, "README.md", []byte("# shop\n"), idestore.SaveOptions{})
	require.NoError(t, err)
	all, err := ide.FilesChangedSince(ctx, db, s.Id, nil, 0)
	require.NoError(t, err)
	require.Len(t, all, 2)
	require.Equal(t, "main.go", all[0].File.Path)
	require.Equal(t, "README.md", all[1].File.Path)
	since := all[0].Version
	_, err = ide.SaveFile(ctx, db, s.Id, "main.go", []byte("package main // v3\n"), idestore.SaveOptions{})
	require.NoError(t, err)
	changed, err := ide.FilesChangedSince(ctx, db, s.Id, &since, 0)
	require.NoError(t, err)
	require.Len(t, changed, 2)
	require.Equal(t, "README.md", changed[0].File.Path)
	require.Equal(t, "main.go", changed[1].File.Path)
	require.Equal(t, int64(3), changed[1].File.Version)

	files, err := ide.Files(ctx, db, s.Id)
	require.NoError(t, err)
	require.Len(t, files, 2)
	st, err := ide.Stats(ctx, db, s.Id)
	require.NoError(t, err)
	require.Equal(t, int64(2), st.Files)
	require.Equal(t, int64(len("# shop\n")+len("package main // v3\n")), st.Bytes)

	_, _, err = ide.ReadFile(ctx, db, s.Id, "nope.go")
	require.ErrorIs(t, err, idestore.ErrNotFound)
	_, err = ide.SaveFile(ctx, db, "no-such-session", "a.go", small, idestore.SaveOptions{})
	require.ErrorIs(t, err, idestore.ErrNotFound)
	_, err = ide.SaveFile(ctx, db, s.Id, "", small, idestore.SaveOptions{})
	require.ErrorIs(t, err, idestore.ErrInvalid)
	_, err = ide.SaveFile(ctx, db, s.Id, "huge.bin", make([]byte, idestore.MaxFileSize+1), idestore.SaveOptions{})
	require.ErrorIs(t, err, idestore.ErrInvalid)
}

func TestSettingsAndTabs(t *testing.T) {
	ctx := context.Background()
	db := testdb.Open(t)
	ide := newStore(t, db, nil)
	require.NoError(t, ide.SetSetting(ctx, db, "", "editor.fontSize", 13))
	require.NoError(t, ide.SetSetting(ctx, db, "", "editor.tabSize", 4))
	require.NoError(t, ide.SetSetting(ctx, db, "", "theme", "light"))
	require.NoError(t, ide.SetSetting(ctx, db, "/w", "editor.fontSize", 15))
	require.NoError(t, ide.SetSetting(ctx, db, "/w", "ai.model", "m-large"))
	eff, err := ide.Settings(ctx, db, "/w")
	require.NoError(t, err)
	require.Equal(t, docstore.M{"editor": docstore.M{"fontSize": int64(15), "tabSize": int64(4)}, "theme": "light", "ai": docstore.M{"model": "m-large"}}, eff)
	glob, err := ide.Settings(ctx, db, "")
	require.NoError(t, err)
	require.Equal(t, docstore.M{"editor": docstore.M{"fontSize": int64(13), "tabSize": int64(4)}, "theme": "light"}, glob)
	require.NoError(t, ide.UnsetSetting(ctx, db, "/w", "editor.fontSize"))
	eff, err = ide.Settings(ctx, db, "/w")
	require.NoError(t, err)
	require.Equal(t, int64(13), eff["editor"].(docstore.M)["fontSize"])
	require.ErrorIs(t, ide.SetSetting(ctx, db, "", "$bad", 1), idestore.ErrInvalid)

	s, err := ide.CreateSession(ctx, db, idestore.NewSession{Workspace: "/w"})
	require.NoError(t, err)
	require.NoError(t, ide.OpenTab(ctx, db, s.Id, "w1", "a.go"))
	require.NoError(t, ide.OpenTab(ctx, db, s.Id, "w1", "b.go"))
	require.NoError(t, ide.OpenTab(ctx, db, s.Id, "w2", "a.go"))
	require.NoError(t, ide.PinTab(ctx, db, s.Id, "a.go"))
	require.NoError(t, ide.CloseTab(ctx, db, s.Id, "w1", "b.go"))
	tabs, err := ide.SessionTabs(ctx, db, s.Id)
	require.NoError(t, err)
	require.Equal(t, idestore.Tabs{Windows: map[string]idestore.WindowTabs{
		"w1": {Open: []string{"a.go"}},
		"w2": {Open: []string{"a.go"}, Active: "a.go"},
	}, Pinned: []string{"a.go"}}, tabs)
	require.ErrorIs(t, ide.OpenTab(ctx, db, s.Id, "w.1", "a.go"), idestore.ErrInvalid)
	require.ErrorIs(t, ide.OpenTab(ctx, db, "no-such-session", "w1", "a.go"), idestore.ErrNotFound)
}

func TestModels(t *testing.T) {
	ctx := context.Background()
	db := testdb.Open(t)
	ide := newStore(t, db, nil)
	require.NoError(t, ide.SaveModel(ctx, db, &idepb.ModelConfig{Id: "fast", Provider: "acme", Model: "acme-mini", Temperature: 0.2, ContextWindow: 128_000}))
	require.NoError(t, ide.SaveModel(ctx, db, &idepb.ModelConfig{Id: "deep", Provider: "acme", Model: "acme-large", ContextWindow: 1_000_000}))
	require.NoError(t, ide.SaveModel(ctx, db, &idepb.ModelConfig{Id: "local", Provider: "ollama", Model: "qwen"}))
	m, err := ide.Model(ctx, db, "fast")
	require.NoError(t, err)
	require.Equal(t, "acme-mini", m.Model)
	acme, err := ide.Models(ctx, db, "acme")
	require.NoError(t, err)
	require.Len(t, acme, 2)
	_, err = ide.Model(ctx, db, "none")
	require.ErrorIs(t, err, idestore.ErrNotFound)
	require.ErrorIs(t, ide.SaveModel(ctx, db, &idepb.ModelConfig{}), idestore.ErrInvalid)
}

func TestLoadAndDeleteSession(t *testing.T) {
	ctx := context.Background()
	db := testdb.Open(t)
	ide := newStore(t, db, nil)
	keep, err := ide.CreateSession(ctx, db, idestore.NewSession{Workspace: "/w", Title: "keep"})
	require.NoError(t, err)
	s, err := ide.CreateSession(ctx, db, idestore.NewSession{Workspace: "/w", Title: "doomed"})
	require.NoError(t, err)
	for _, id := range []string{keep.Id, s.Id} {
		for i := range 3 {
			_, err := ide.SaveFile(ctx, db, id, fmt.Sprintf("f%d.go", i), []byte(fmt.Sprint("v", i)), idestore.SaveOptions{})
			require.NoError(t, err)
		}
		for i := range 60 {
			_, err := ide.AppendMessage(ctx, db, id, idestore.Message{Role: "user", Text: fmt.Sprint("m", i), Tokens: 1})
			require.NoError(t, err)
		}
		require.NoError(t, ide.OpenTab(ctx, db, id, "w1", "f1.go"))
	}
	v, err := ide.LoadSession(ctx, db, s.Id, idestore.LoadOptions{})
	require.NoError(t, err)
	require.Equal(t, "doomed", v.Session.Title)
	require.Equal(t, idestore.SessionStats{Files: 3, Bytes: 6, Messages: 60, Tokens: 60, LastMessageMS: v.Stats.LastMessageMS}, v.Stats)
	require.Len(t, v.Files, 3)
	require.Len(t, v.Messages, 50)
	require.Equal(t, "m59", v.Messages[0].Text)
	require.True(t, v.MoreMessages)
	require.Equal(t, "f1.go", v.Tabs.Windows["w1"].Active)

	ok, err := ide.DeleteSession(ctx, db, s.Id)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = ide.DeleteSession(ctx, db, s.Id)
	require.NoError(t, err)
	require.False(t, ok)
	_, err = ide.LoadSession(ctx, db, s.Id, idestore.LoadOptions{})
	require.ErrorIs(t, err, idestore.ErrNotFound)
	st, err := ide.Stats(ctx, db, s.Id)
	require.NoError(t, err)
	require.Equal(t, idestore.SessionStats{}, st)
	page, err := ide.Messages(ctx, db, s.Id, queue.StreamEnd, queue.ReadOptions{Reverse: true})
	require.NoError(t, err)
	require.Empty(t, page.Messages)
	tabs, err := ide.SessionTabs(ctx, db, s.Id)
	require.NoError(t, err)
	require.Empty(t, tabs.Windows)

	// The other session is untouched.
	v, err = ide.LoadSession(ctx, db, keep.Id, idestore.LoadOptions{Messages: 5})
	require.NoError(t, err)
	require.Equal(t, int64(60), v.Stats.Messages)
	require.Len(t, v.Messages, 5)
	require.Len(t, v.Files, 3)
}

// The version list is a covering scan of the file_versions index: no content is read.
func TestVersionListIsCovering(t *testing.T) {
	ctx := context.Background()
	db := testdb.Open(t)
	ide := newStore(t, db, nil)
	plan, err := ide.VersionListPlan(ctx, db)
	require.NoError(t, err)
	require.Equal(t, `Covering(IndexScan(file_versions eq=("session", "path")) -> [number, size, saved_ms, saved_by])`, plan)
}

// A DeleteSession whose commit happened but was reported unknown, retried, reports the
// deletion as its own.
func TestDeleteSessionRetriedAfterUnknownResult(t *testing.T) {
	ctx := context.Background()
	db := testdb.NewUnknownOnce(testdb.OpenEmbedded(t, &embedded.Options{}))
	ide := newStore(t, db.DB, nil)
	s, err := ide.CreateSession(ctx, db.DB, idestore.NewSession{Workspace: "/w", Title: "doomed"})
	require.NoError(t, err)
	ok, err := ide.DeleteSession(ctx, db, s.Id)
	require.NoError(t, err)
	require.Greater(t, db.Commits.Load(), int32(1), "the deletion was retried")
	require.True(t, ok)
	ok, err = ide.DeleteSession(ctx, db.DB, s.Id)
	require.NoError(t, err)
	require.False(t, ok, "a later call finds nothing to delete")
}
