package readme_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/directory"
	"github.com/layerkit/layerkit/docstore"
	"github.com/layerkit/layerkit/examples/readme"
	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/queue"
	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/subspace"
)

// The snippets that take a database run one after the other on one database with commit
// faults injected (so each is safe to retry), print what their Examples print, and leave every
// layer's data consistent.
func TestTourOnOneDatabase(t *testing.T) {
	db := testdb.Open(t)
	md, err := readme.LibraryMetaData()
	require.NoError(t, err)
	testdb.Check(t, db, "directory", func(ctx context.Context, db kv.Database) error { return directory.Check(ctx, db) })
	testdb.Check(t, db, "record", func(ctx context.Context, db kv.Database) error {
		library, err := directory.Open(ctx, db, []string{"library"}, nil)
		if err != nil {
			return err
		}
		return record.Check(md, library)(ctx, db)
	})
	testdb.Check(t, db, "queue", queue.Check(subspace.Sub("app", "jobs")))
	testdb.Check(t, db, "stream", queue.CheckStream(subspace.Sub("chats", "c-42")))
	testdb.Check(t, db, "docstore", docstore.Check([]string{"app", "docs"}, nil))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // ReceiveWait blocks
	defer cancel()
	tour := []struct {
		name    string
		snippet func(context.Context, kv.Database) error
	}{
		{"Directories", readme.Directories},
		{"Records", readme.Records},
		{"Queues", readme.Queues},
		{"Streams", readme.Streams},
		{"Documents", readme.Documents},
	}
	outputs := exampleOutputs(t)
	for _, s := range tour {
		got := captureStdout(t, func() error { return s.snippet(ctx, db) })
		require.Equal(t, strings.TrimSpace(outputs[s.name]), strings.TrimSpace(got), "%s on the shared database", s.name)
	}
}

// captureStdout runs fn with os.Stdout sent to a file and returns what it printed.
func captureStdout(t *testing.T, fn func() error) string {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "stdout"))
	require.NoError(t, err)
	defer f.Close()
	saved := os.Stdout
	os.Stdout = f
	err = fn()
	os.Stdout = saved
	require.NoError(t, err)
	out, err := os.ReadFile(f.Name())
	require.NoError(t, err)
	return string(out)
}
