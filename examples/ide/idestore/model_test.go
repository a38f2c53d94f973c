package idestore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/examples/ide/idestore"
	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/queue"
)

// Windows work at once on two sessions, through a database that injects commit faults
// (not committed, and unknown results applied or not), with random appends, saves, tabs,
// settings and loads; an in-memory model records what each acknowledged operation did. In the
// end the store must hold exactly the model: every acknowledged message once, every saved
// content once in its file's history, each window's tabs and settings as it left them. Loads
// made along the way must see at least every append acknowledged before they started.
//
// LAYERKIT_IDE_SEED replays a seed; LAYERKIT_SOAK=1 runs longer.
func TestModelConcurrentWindows(t *testing.T) {
	seed := rand.Uint64()
	if s := os.Getenv("LAYERKIT_IDE_SEED"); s != "" {
		var err error
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err)
	}
	t.Logf("seed %d (replay with LAYERKIT_IDE_SEED=%d)", seed, seed)
	ops := 60
	if os.Getenv("LAYERKIT_SOAK") != "" {
		ops = 2000
	}

	ctx := context.Background()
	db := testdb.Open(t)
	ide := newStore(t, db, nil)
	var sessions []string
	for i := range 2 {
		s, err := ide.CreateSession(ctx, db, idestore.NewSession{Workspace: "/w", Title: fmt.Sprint("s", i)})
		require.NoError(t, err)
		sessions = append(sessions, s.Id)
	}
	paths := []string{"a.go", "b.go", "c.go"}

	type model struct {
		mu       sync.Mutex
		messages map[string]map[string]string // session → message id → text
		tokens   map[string]int64
		saves    map[string]map[string]bool // session/path → contents saved
		tabs     map[string]map[string]idestore.WindowTabs
		settings map[string]int64
	}
	m := &model{messages: map[string]map[string]string{}, tokens: map[string]int64{}, saves: map[string]map[string]bool{},
		tabs: map[string]map[string]idestore.WindowTabs{}, settings: map[string]int64{}}
	acked := map[string]*atomic.Int64{}
	for _, s := range sessions {
		m.messages[s] = map[string]string{}
		m.tabs[s] = map[string]idestore.WindowTabs{}
		acked[s] = &atomic.Int64{}
	}

	windows := []string{"w1", "w2", "w3"}
	errs := make([]error, len(windows))
	var wg sync.WaitGroup
	for wi, w := range windows {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(wi)))
			errs[wi] = func() error {
				for i := range ops {
					s := sessions[rng.IntN(len(sessions))]
					switch op := rng.IntN(10); {
					case op < 4:
						text := fmt.Sprintf("%s says %d", w, i)
						tokens := int64(rng.IntN(50))
						a, err := ide.AppendMessage(ctx, db, s, idestore.Message{Role: "user", Text: text, Tokens: tokens, Window: w})
						if err != nil {
							return fmt.Errorf("append: %w", err)
						}
						m.mu.Lock()
						m.messages[s][a.ID] = text
						m.tokens[s] += tokens
						m.mu.Unlock()
						acked[s].Add(1)
					case op < 7:
						p := paths[rng.IntN(len(paths))]
						content := fmt.Sprintf("%s's save %d of %s", w, i, p)
						if _, err := ide.SaveFile(ctx, db, s, p, []byte(content), idestore.SaveOptions{Window: w}); err != nil {
							return fmt.Errorf("save: %w", err)
						}
						m.mu.Lock()
						if m.saves[s+"/"+p] == nil {
							m.saves[s+"/"+p] = map[string]bool{}
						}
						m.saves[s+"/"+p][content] = true
						m.mu.Unlock()
					case op < 8:
						p := paths[rng.IntN(len(paths))]
						if err := ide.OpenTab(ctx, db, s, w, p); err != nil {
							return fmt.Errorf("open tab: %w", err)
						}
						m.mu.Lock()
						wt := m.tabs[s][w]
						if !contains(wt.Open, p) {
							wt.Open = append(wt.Open, p)
						}
						wt.Active = p
						m.tabs[s][w] = wt
						m.mu.Unlock()
					case op < 9:
						if err := ide.SetSetting(ctx, db, "/w", "windows."+w+".zoom", int64(i)); err != nil {
							return fmt.Errorf("setting: %w", err)
						}
						m.mu.Lock()
						m.settings[w] = int64(i)
						m.mu.Unlock()
					default:
						before := acked[s].Load()
						v, err := ide.LoadSession(ctx, db, s, idestore.LoadOptions{})
						if err != nil {
							return fmt.Errorf("load: %w", err)
						}
						if v.Stats.Messages < before {
							return fmt.Errorf("load of %s saw %d messages, but %d were acknowledged before it started", s, v.Stats.Messages, before)
						}
						if int64(len(v.Messages)) != min(v.Stats.Messages, idestore.DefaultMessagePage) {
							return fmt.Errorf("load of %s: %d messages in the page, count %d", s, len(v.Messages), v.Stats.Messages)
						}
					}
				}
				return nil
			}()
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}

	for _, s := range sessions {
		got := map[string]string{}
		cursor := queue.StreamStart
		for {
			page, err := ide.Messages(ctx, db, s, cursor, queue.ReadOptions{Limit: 100})
			require.NoError(t, err)
			for _, msg := range page.Messages {
				_, dup := got[msg.ID]
				require.False(t, dup, "message %s twice", msg.ID)
				got[msg.ID] = msg.Text
			}
			if !page.More {
				break
			}
			cursor = page.Cursor
		}
		require.Equal(t, m.messages[s], got, "conversation of %s", s)
		st, err := ide.Stats(ctx, db, s)
		require.NoError(t, err)
		require.Equal(t, int64(len(m.messages[s])), st.Messages)
		require.Equal(t, m.tokens[s], st.Tokens)

		files := 0
		for _, p := range paths {
			want := m.saves[s+"/"+p]
			if want == nil {
				continue
			}
			files++
			versions, err := ide.FileVersions(ctx, db, s, p)
			require.NoError(t, err)
			history := map[string]bool{}
			for i, v := range versions {
				require.Equal(t, int64(i+1), v.Number)
				fv, err := ide.ReadVersion(ctx, db, s, p, v.Number)
				require.NoError(t, err)
				require.False(t, history[string(fv.Content)], "%s of %s: %q saved twice", p, s, fv.Content)
				history[string(fv.Content)] = true
			}
			require.Equal(t, want, history, "history of %s in %s", p, s)
		}
		require.Equal(t, int64(files), st.Files)

		tabs, err := ide.SessionTabs(ctx, db, s)
		require.NoError(t, err)
		for w, wt := range m.tabs[s] {
			require.ElementsMatch(t, wt.Open, tabs.Windows[w].Open, "tabs of %s in %s", w, s)
			require.Equal(t, wt.Active, tabs.Windows[w].Active)
		}
	}
	set, err := ide.Settings(ctx, db, "/w")
	require.NoError(t, err)
	for w, want := range m.settings {
		require.Equal(t, want, set["windows"].(map[string]any)[w].(map[string]any)["zoom"], "zoom of %s", w)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
