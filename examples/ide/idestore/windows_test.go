package idestore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/examples/ide/idepb"
	"github.com/layerkit/layerkit/examples/ide/idestore"
	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/queue"
)

// race runs two windows' edits so that they overlap (idestore.Overlap) and returns the attempts
// each needed.
func race(t *testing.T, db kv.Database, a, b func(tr kv.Transaction) error) (int, int) {
	t.Helper()
	attempts, err := idestore.Overlap(context.Background(), db, a, b)
	require.NoError(t, err)
	return attempts[0], attempts[1]
}

// Two windows on one session: edits of different things both commit at their first attempt;
// edits of the same thing conflict, and the retried one lands on top of the other, so nothing
// either window did is lost.
func TestTwoWindowsOnOneSession(t *testing.T) {
	ctx := context.Background()
	db := testdb.OpenEmbedded(t, nil) // no injected faults: every retry below is a real conflict
	ide := newStore(t, db, nil)
	s, err := ide.CreateSession(ctx, db, idestore.NewSession{Workspace: "/w", Title: "shared"})
	require.NoError(t, err)
	for _, p := range []string{"a.go", "b.go"} {
		_, err := ide.SaveFile(ctx, db, s.Id, p, []byte("v1 of "+p), idestore.SaveOptions{Window: "w1"})
		require.NoError(t, err)
	}

	// The workspace has editor settings already: two windows adding the first fields of a new
	// object would both create the object, and conflict.
	require.NoError(t, ide.SetSetting(ctx, db, "/w", "editor.fontSize", 13))

	t.Run("disjoint edits both commit", func(t *testing.T) {
		m1, m2 := idestore.NewID(), idestore.NewID()
		n1, n2 := race(t, db,
			func(tr kv.Transaction) error {
				if _, err := ide.SaveFile(ctx, tr, s.Id, "a.go", []byte("w1 edits a"), idestore.SaveOptions{Window: "w1"}); err != nil {
					return err
				}
				if _, err := ide.AppendMessage(ctx, tr, s.Id, idestore.Message{ID: m1, Role: "user", Text: "from w1", Window: "w1"}); err != nil {
					return err
				}
				if err := ide.OpenTab(ctx, tr, s.Id, "w1", "a.go"); err != nil {
					return err
				}
				return ide.SetSetting(ctx, tr, "/w", "editor.fontSize", 15)
			},
			func(tr kv.Transaction) error {
				if _, err := ide.SaveFile(ctx, tr, s.Id, "b.go", []byte("w2 edits b"), idestore.SaveOptions{Window: "w2"}); err != nil {
					return err
				}
				if _, err := ide.AppendMessage(ctx, tr, s.Id, idestore.Message{ID: m2, Role: "user", Text: "from w2", Window: "w2"}); err != nil {
					return err
				}
				if err := ide.OpenTab(ctx, tr, s.Id, "w2", "b.go"); err != nil {
					return err
				}
				return ide.SetSetting(ctx, tr, "/w", "editor.wordWrap", true)
			})
		require.Equal(t, 1, n1, "window 1 was retried")
		require.Equal(t, 1, n2, "window 2 was retried")

		_, a, err := ide.ReadFile(ctx, db, s.Id, "a.go")
		require.NoError(t, err)
		require.Equal(t, "w1 edits a", string(a))
		_, b, err := ide.ReadFile(ctx, db, s.Id, "b.go")
		require.NoError(t, err)
		require.Equal(t, "w2 edits b", string(b))
		page, err := ide.Messages(ctx, db, s.Id, queue.StreamStart, queue.ReadOptions{})
		require.NoError(t, err)
		require.ElementsMatch(t, []string{m1, m2}, []string{page.Messages[0].ID, page.Messages[1].ID})
		tabs, err := ide.SessionTabs(ctx, db, s.Id)
		require.NoError(t, err)
		require.Equal(t, "a.go", tabs.Windows["w1"].Active)
		require.Equal(t, "b.go", tabs.Windows["w2"].Active)
		set, err := ide.Settings(ctx, db, "/w")
		require.NoError(t, err)
		require.Equal(t, map[string]any{"fontSize": int64(15), "wordWrap": true}, map[string]any(set["editor"].(map[string]any)))
	})

	t.Run("saves of one file: one retries, both versions kept", func(t *testing.T) {
		before, err := ide.FileVersions(ctx, db, s.Id, "a.go")
		require.NoError(t, err)
		n1, n2 := race(t, db,
			func(tr kv.Transaction) error {
				_, err := ide.SaveFile(ctx, tr, s.Id, "a.go", []byte("w1's version"), idestore.SaveOptions{Window: "w1"})
				return err
			},
			func(tr kv.Transaction) error {
				_, err := ide.SaveFile(ctx, tr, s.Id, "a.go", []byte("w2's version"), idestore.SaveOptions{Window: "w2"})
				return err
			})
		require.Equal(t, 3, n1+n2, "exactly one window retried (attempts %d and %d)", n1, n2)
		after, err := ide.FileVersions(ctx, db, s.Id, "a.go")
		require.NoError(t, err)
		require.Len(t, after, len(before)+2)
		contents := map[string]string{}
		for _, v := range after[len(before):] {
			fv, err := ide.ReadVersion(ctx, db, s.Id, "a.go", v.Number)
			require.NoError(t, err)
			contents[v.SavedBy] = string(fv.Content)
		}
		require.Equal(t, map[string]string{"w1": "w1's version", "w2": "w2's version"}, contents)
		// The head is the retried window's save, made on top of the other.
		head, content, err := ide.ReadFile(ctx, db, s.Id, "a.go")
		require.NoError(t, err)
		require.Equal(t, after[len(after)-1].Number, head.Version)
		retried := "w1"
		if n2 == 2 {
			retried = "w2"
		}
		require.Equal(t, retried+"'s version", string(content))
	})

	t.Run("pins of the shared tab list: one retries, both pins kept", func(t *testing.T) {
		n1, n2 := race(t, db,
			func(tr kv.Transaction) error { return ide.PinTab(ctx, tr, s.Id, "a.go") },
			func(tr kv.Transaction) error { return ide.PinTab(ctx, tr, s.Id, "b.go") })
		require.Equal(t, 3, n1+n2, "exactly one window retried (attempts %d and %d)", n1, n2)
		tabs, err := ide.SessionTabs(ctx, db, s.Id)
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"a.go", "b.go"}, tabs.Pinned)
	})

	t.Run("rename and switch of one session: one retries, both kept", func(t *testing.T) {
		var switched *idepb.Session
		n1, n2 := race(t, db,
			func(tr kv.Transaction) error { return ide.Rename(ctx, tr, s.Id, "renamed by w1") },
			func(tr kv.Transaction) (err error) { switched, err = ide.SwitchTo(ctx, tr, s.Id); return err })
		require.Equal(t, 3, n1+n2, "exactly one window retried (attempts %d and %d)", n1, n2)
		got, err := ide.Session(ctx, db, s.Id)
		require.NoError(t, err)
		require.Equal(t, "renamed by w1", got.Title)
		require.Equal(t, switched.ActiveMs, got.ActiveMs)
	})

	t.Run("appends never conflict, even with a switch or a save", func(t *testing.T) {
		n1, n2 := race(t, db,
			func(tr kv.Transaction) error {
				_, err := ide.AppendMessage(ctx, tr, s.Id, idestore.Message{ID: idestore.NewID(), Role: "assistant", Text: "done"})
				return err
			},
			func(tr kv.Transaction) error {
				if _, err := ide.SwitchTo(ctx, tr, s.Id); err != nil {
					return err
				}
				_, err := ide.SaveFile(ctx, tr, s.Id, "a.go", []byte("w2 again"), idestore.SaveOptions{Window: "w2"})
				return err
			})
		require.Equal(t, 1, n1)
		require.Equal(t, 1, n2)
	})

	t.Run("an append racing the session's deletion fails cleanly", func(t *testing.T) {
		doomed, err := ide.CreateSession(ctx, db, idestore.NewSession{Workspace: "/w"})
		require.NoError(t, err)
		var appendErr error
		ctx := context.Background()
		var ready sync.WaitGroup
		ready.Add(1)
		done := make(chan struct{})
		go func() {
			defer close(done)
			attempt := 0
			appendErr = db.Transact(ctx, func(tr kv.Transaction) error {
				attempt++
				_, err := ide.AppendMessage(ctx, tr, doomed.Id, idestore.Message{ID: "m-late", Text: "late"})
				if err != nil {
					return err
				}
				if attempt == 1 {
					ready.Done()
					time.Sleep(50 * time.Millisecond) // the deletion commits meanwhile
				}
				return nil
			})
		}()
		ready.Wait()
		ok, err := ide.DeleteSession(ctx, db, doomed.Id)
		require.NoError(t, err)
		require.True(t, ok)
		<-done
		require.ErrorIs(t, appendErr, idestore.ErrNotFound)
	})
}
