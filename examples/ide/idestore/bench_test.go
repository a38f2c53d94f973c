package idestore_test

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/layerkit/layerkit/examples/ide/idestore"
	"github.com/layerkit/layerkit/kv/embedded"
)

// benchSession opens a store (in memory, or on disk with every commit synced) holding one
// session with files and messages.
func benchSession(b *testing.B, store string, files, messages int) (*embedded.DB, *idestore.Store, string) {
	b.Helper()
	ctx := context.Background()
	path := ""
	if store == "disk" {
		path = b.TempDir()
	}
	db, err := embedded.Open(path, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	ide, err := idestore.Open(ctx, db, nil)
	if err != nil {
		b.Fatal(err)
	}
	s, err := ide.CreateSession(ctx, db, idestore.NewSession{Workspace: "/w"})
	if err != nil {
		b.Fatal(err)
	}
	for i := range files {
		if _, err := ide.SaveFile(ctx, db, s.Id, fmt.Sprintf("f%02d.go", i), bytes.Repeat([]byte("x"), 4000+i), idestore.SaveOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	for i := range messages {
		if _, err := ide.AppendMessage(ctx, db, s.Id, idestore.Message{Role: "user", Text: fmt.Sprintf("message %d %s", i, bytes.Repeat([]byte("y"), 500)), Tokens: 100}); err != nil {
			b.Fatal(err)
		}
	}
	return db, ide, s.Id
}

// BenchmarkLoadSession measures opening a session of 20 files and 200 messages: the session,
// its counts, file heads, tabs and the newest 50 messages, in one read transaction.
func BenchmarkLoadSession(b *testing.B) {
	for _, store := range []string{"memory", "disk"} {
		b.Run("store="+store, func(b *testing.B) {
			db, ide, id := benchSession(b, store, 20, 200)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := ide.LoadSession(ctx, db, id, idestore.LoadOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAppendMessage measures appending a 500-byte message, alone and from 64 goroutines
// (each on a session of its own) on disk.
func BenchmarkAppendMessage(b *testing.B) {
	for _, c := range []struct {
		store      string
		goroutines int
	}{{"memory", 1}, {"disk", 1}, {"disk", 64}} {
		b.Run(fmt.Sprintf("store=%s,goroutines=%d", c.store, c.goroutines), func(b *testing.B) {
			db, ide, _ := benchSession(b, c.store, 0, 0)
			ctx := context.Background()
			ids := make([]string, c.goroutines)
			for i := range ids {
				s, err := ide.CreateSession(ctx, db, idestore.NewSession{Workspace: "/w"})
				if err != nil {
					b.Fatal(err)
				}
				ids[i] = s.Id
			}
			text := string(bytes.Repeat([]byte("y"), 500))
			b.ReportAllocs()
			b.ResetTimer()
			runParallel(b, c.goroutines, func(g int) error {
				_, err := ide.AppendMessage(ctx, db, ids[g], idestore.Message{Role: "user", Text: text, Tokens: 100})
				return err
			})
		})
	}
}

// BenchmarkSaveFile measures saving a new version of a file of the given size.
func BenchmarkSaveFile(b *testing.B) {
	for _, c := range []struct {
		store string
		size  int
	}{{"memory", 4 << 10}, {"disk", 4 << 10}, {"disk", 100_000}, {"disk", 1_000_000}} {
		b.Run(fmt.Sprintf("store=%s,size=%d", c.store, c.size), func(b *testing.B) {
			db, ide, id := benchSession(b, c.store, 0, 0)
			ctx := context.Background()
			content := bytes.Repeat([]byte("z"), c.size)
			b.SetBytes(int64(c.size))
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				content[i%len(content)]++ // a new version each time
				if _, err := ide.SaveFile(ctx, db, id, "f.go", content, idestore.SaveOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// runParallel runs b.N calls of op spread over the given number of goroutines, each with its
// index.
func runParallel(b *testing.B, goroutines int, op func(g int) error) {
	var next atomic.Int64
	errs := make(chan error, goroutines)
	for g := range goroutines {
		go func() {
			for next.Add(1) <= int64(b.N) {
				if err := op(g); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range goroutines {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
}
