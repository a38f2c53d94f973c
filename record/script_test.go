package record_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/record/internal/testpb"
	"github.com/layerkit/layerkit/tuple"
)

// TestScripts runs the data-driven scripts in testdata/*.script. Each case is a command, a line
// "----" and the expected output: the writes the command issued, in order, with keys as tuples
// relative to the store's prefix (the header aside), or its error. Commands:
//
//	save <Book as protojson>     save a book (upsert)
//	insert <Book as protojson>   save with InsertOnly
//	delete <branch> <shelf> <id> delete a book
//	state <index> <state>        set an index state (write_only, disabled)
//	rebuild <index>              rebuild an index
//
// Run with -update to rewrite the expected output after checking the differences.
func TestScripts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.script"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			e := newEnv(t)
			// Exact output needs every commit to be the first attempt's: no injected faults.
			e.db.(kv.FaultInjector).InjectFaults(kv.Faults{})
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			var out strings.Builder
			for _, block := range strings.Split(strings.TrimSpace(string(data)), "\n\n") {
				lines := strings.Split(block, "\n")
				var cmd string
				for _, l := range lines {
					if strings.HasPrefix(l, "#") {
						out.WriteString(l + "\n")
						continue
					}
					if cmd == "" {
						cmd = l
					}
				}
				require.NotEmpty(t, cmd, "block without a command in %s:\n%s", file, block)
				out.WriteString(cmd + "\n----\n")
				out.WriteString(e.runScriptCommand(t, cmd))
				out.WriteString("\n")
			}
			got := strings.TrimSpace(out.String()) + "\n"
			if *update {
				require.NoError(t, os.WriteFile(file, []byte(got), 0o644))
				return
			}
			require.Equal(t, string(data), got)
		})
	}
}

func (e *env) runScriptCommand(t *testing.T, cmd string) string {
	verb, arg, _ := strings.Cut(cmd, " ")
	var rec *recorder
	var opErr error
	run := func(fn func(st *record.Store) error) {
		rec, opErr = e.recordErr(fn)
	}
	switch verb {
	case "save", "insert":
		b := &testpb.Book{}
		require.NoError(t, protojson.Unmarshal([]byte(arg), b), "command %q", cmd)
		mode := record.Upsert
		if verb == "insert" {
			mode = record.InsertOnly
		}
		run(func(st *record.Store) error { _, err := st.Save(b, mode); return err })
	case "delete":
		var branch string
		var shelf, id int64
		_, err := fmt.Sscan(arg, &branch, &shelf, &id)
		require.NoError(t, err, "command %q", cmd)
		run(func(st *record.Store) error { _, err := st.Delete(bookPK(branch, shelf, id)); return err })
	case "state":
		name, state, _ := strings.Cut(arg, " ")
		s := map[string]record.IndexState{"readable": record.Readable, "write_only": record.WriteOnly, "disabled": record.Disabled}[state]
		run(func(st *record.Store) error { return st.SetIndexState(name, s) })
	case "rebuild":
		run(func(st *record.Store) error { return st.RebuildIndex(arg) })
	default:
		t.Fatalf("unknown command %q", cmd)
	}
	if opErr != nil {
		return "error: " + opErr.Error() + "\n"
	}
	var b strings.Builder
	header := string(e.prefix.Pack(tuple.Tuple{int64(0)}))
	rel := func(k []byte) string {
		tt, err := e.prefix.Unpack(k)
		if err != nil {
			return fmt.Sprintf("%x", k)
		}
		return tt.String()
	}
	for _, o := range rec.ops {
		switch {
		case o.op == "set" && string(o.key) == header:
		case o.op == "set" || o.op == "clear":
			b.WriteString(o.op + " " + rel(o.key) + "\n")
		case o.op == "clear range":
			b.WriteString("clear range " + rangeString(e, o.key, o.end) + "\n")
		default:
			b.WriteString(o.op + " " + rel(o.key) + " " + fmt.Sprintf("%x", o.value) + "\n")
		}
	}
	if b.Len() == 0 {
		return "(no writes)\n"
	}
	return b.String()
}

// rangeString prints a cleared range as the tuple prefix it covers when it is one: "+…" for the
// keys that extend the prefix, "*" for the prefix itself and every key that extends it.
func rangeString(e *env, begin, end []byte) string {
	if len(begin) > 0 && len(end) == len(begin) && bytes.Equal(begin[:len(begin)-1], end[:len(end)-1]) && begin[len(begin)-1] == 0 && end[len(end)-1] == 0xff {
		if tt, err := e.prefix.Unpack(begin[:len(begin)-1]); err == nil {
			return tt.String() + "+…"
		}
	}
	if inc, err := kv.Strinc(begin); err == nil && bytes.Equal(inc, end) {
		if tt, err := e.prefix.Unpack(begin); err == nil {
			return tt.String() + "*"
		}
	}
	return fmt.Sprintf("%x..%x", begin, end)
}
