package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/layerkit/layerkit/cmd/layerkit/internal/cli"
	"github.com/layerkit/layerkit/cmd/layerkit/internal/cli/internal/testpb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/queue"
	"github.com/layerkit/layerkit/record"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// itemVersions declares the inventory store's one index that its .proto does not.
const itemVersions = "--index=item_versions=Item:$version:version"

// TestMain runs the tests, or, with LAYERKIT_CLI_HOLD set, is the second process of
// TestDatabaseInUse: it holds that database open until its standard input closes.
func TestMain(m *testing.M) {
	if dir := os.Getenv("LAYERKIT_CLI_HOLD"); dir != "" {
		db, err := embedded.Open(dir, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("holding")
		_, _ = io.Copy(io.Discard, os.Stdin)
		db.Close()
		os.Exit(0)
	}
	// The commands read their default database from $LAYERKIT_DB; the tests name theirs.
	os.Unsetenv("LAYERKIT_DB")
	os.Exit(m.Run())
}

// result is what one run of the command printed and returned.
type result struct {
	stdout, stderr string
	code           int
}

func run(t testing.TB, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Run(context.Background(), args, &out, &errOut)
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

// transcript is how a run reads in a golden file: the command line, its output, its messages and
// its exit code.
func (r result) transcript(args []string) string {
	var b strings.Builder
	b.WriteString("$ layerkit " + strings.Join(args, " ") + "\n")
	b.WriteString(r.stdout)
	if r.stderr != "" {
		b.WriteString("--- stderr\n" + r.stderr)
	}
	b.WriteString("--- exit " + string(rune('0'+r.code)) + "\n")
	return b.String()
}

// checkGolden compares got with testdata/<name>.golden, or rewrites the file with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "no golden file: run go test ./cmd/layerkit/... -update")
	require.Equal(t, string(want), got, "output differs from %s (rewrite it with -update if the change is meant)", path)
}

// goldenCase is one command line whose transcript is kept in a golden file.
type goldenCase struct {
	name string
	args []string
	code int
}

func runGolden(t *testing.T, f *fixture, cases []goldenCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := make([]string, len(c.args))
			for i, a := range c.args {
				a = strings.ReplaceAll(a, "$DB", f.dir)
				a = strings.ReplaceAll(a, "$INVENTORY_PB", f.inventory)
				args[i] = strings.ReplaceAll(a, "$CATALOGUE_PB", f.catalogue)
			}
			r := run(t, args...)
			require.Equal(t, c.code, r.code, "exit code of %v; stderr: %s", c.args, r.stderr)
			require.NotContains(t, r.stderr, "internal error")
			checkGolden(t, c.name, f.normalize(r.transcript(c.args)))
		})
	}
}

func TestCommands(t *testing.T) {
	f := newFixture(t)
	runGolden(t, f, []goldenCase{
		// dirs: the tree with prefixes and layers, a partition and its contents included.
		{"dirs", []string{"--db", "$DB", "dirs"}, 0},
		{"dirs_subtree", []string{"--db", "$DB", "dirs", "/library"}, 0},
		{"dirs_missing", []string{"--db", "$DB", "dirs", "/nowhere"}, 1},
		{"dirs_leaf", []string{"--db", "$DB", "dirs", "/misc"}, 0},

		// keys: tuples where keys and values are tuples, bytes otherwise; counters are not
		// mistaken for tuples of nulls.
		{"keys_misc", []string{"--db", "$DB", "keys", "/misc"}, 0},
		{"keys_reverse_limit", []string{"--db", "$DB", "keys", "/misc", "--reverse", "--limit", "2"}, 0},
		{"keys_raw", []string{"--db", "$DB", "keys", "raw:app/"}, 0},
		{"keys_hex", []string{"--db", "$DB", "keys", "hex:6170702f", "--limit", "1"}, 0},
		{"keys_partition_member", []string{"--db", "$DB", "keys", "/tenants/acme"}, 0},
		// (The store header, key (0), holds the time of the last update: left out by the limit.)
		{"keys_store", []string{"--db", "$DB", "keys", "/library/catalogue", "--reverse", "--limit", "6"}, 0},
		{"keys_empty", []string{"--db", "$DB", "keys", "raw:nothing-here"}, 0},

		// records: JSON through protojson, chunks of a split record joined, filters.
		{"records_items", []string{"--db", "$DB", "records", "/inventory", "Item", "--descriptor", "$INVENTORY_PB", "--limit", "3"}, 0},
		{"records_where", []string{"--db", "$DB", "records", "/inventory", "Item", "--descriptor", "$INVENTORY_PB", "--where", "category=tools", "--where", "status=ACTIVE"}, 0},
		{"records_where_repeated_nested", []string{"--db", "$DB", "records", "/inventory", "Item", "--descriptor", "$INVENTORY_PB", "--where", "tags=iron", "--where", "size.width=40"}, 0},
		{"records_where_bytes", []string{"--db", "$DB", "records", "/inventory", "Item", "--descriptor", "$INVENTORY_PB", "--where", `note=out of stock\x00`}, 0},
		{"records_limit", []string{"--db", "$DB", "records", "/inventory", "Supplier", "--descriptor", "$INVENTORY_PB", "--limit", "1"}, 0},
		{"records_catalogue", []string{"--db", "$DB", "records", "/library/catalogue", "Book", "--descriptor", "$CATALOGUE_PB", "--where", "author=Tolkien"}, 0},
		{"records_none_match", []string{"--db", "$DB", "records", "/library/catalogue", "Book", "--descriptor", "$CATALOGUE_PB", "--where", "year=1"}, 0},

		// check: every checker, with metadata from the .proto's options or from flags.
		{"check_layout_only", []string{"--db", "$DB", "check"}, 0},
		{"check_options", []string{"--db", "$DB", "check", "--store", "/inventory", "--descriptor", "$INVENTORY_PB", "--index", "item_versions=Item:$version:version"}, 0},
		{"check_options_missing_index", []string{"--db", "$DB", "check", "--store", "/inventory", "--descriptor", "$INVENTORY_PB"}, 1},
		{"check_flags", []string{"--db", "$DB", "check", "--store", "/library/catalogue", "--descriptor", "$CATALOGUE_PB", "--primary-key", "Book=branch,shelf,book_id", "--index", "book_by_author=Book:author", "--index", "books_per_branch=Book:branch>:count"}, 0},
		{"check_missing_aggregate", []string{"--db", "$DB", "check", "--store", "/library/catalogue", "--descriptor", "$CATALOGUE_PB", "--primary-key", "Book=branch,shelf,book_id", "--index", "book_by_author=Book:author", "--index", "books_per_branch=Book:branch>:count", "--index", "titles=Book:>$empty:count"}, 1},
		{"check_no_primary_key", []string{"--db", "$DB", "check", "--store", "/library/catalogue", "--descriptor", "$CATALOGUE_PB"}, 0},
		{"check_wrong_metadata", []string{"--db", "$DB", "check", "--store", "/library/catalogue", "--descriptor", "$CATALOGUE_PB", "--primary-key", "Book=book_id", "--index", "books_per_branch=Book:branch>:count"}, 1},
		// index state: metadata from the .proto's options, or flags.
		{"index_state", []string{"--db", "$DB", "index", "state", "/inventory", "--descriptor", "$INVENTORY_PB"}, 0},
		{"index_state_one", []string{"--db", "$DB", "index", "state", "/library/catalogue", "book_by_author", "--descriptor", "$CATALOGUE_PB", "--primary-key", "Book=branch,shelf,book_id", "--index", "book_by_author=Book:author", "--index", "books_per_branch=Book:branch>:count"}, 0},
		{"index_state_unknown", []string{"--db", "$DB", "index", "state", "/inventory", "by_colour", "--descriptor", "$INVENTORY_PB"}, 1},
		{"index_state_no_primary_key", []string{"--db", "$DB", "index", "state", "/library/catalogue", "--descriptor", "$CATALOGUE_PB"}, 1},
		{"index_unknown_subcommand", []string{"--db", "$DB", "index", "frobnicate"}, 2},

		// queue, stream and docs.
		{"queue_peek_all", []string{"--db", "$DB", "queue", "peek", "/jobs", "--all"}, 0},
		{"queue_peek", []string{"--db", "$DB", "queue", "peek", "/jobs"}, 0},
		{"queue_peek_dead", []string{"--db", "$DB", "queue", "peek", "/jobs", "--dead"}, 0},
		{"queue_peek_empty", []string{"--db", "$DB", "queue", "peek", "/misc"}, 0},
		{"stream_tail", []string{"--db", "$DB", "stream", "tail", "/chat"}, 0},
		{"stream_tail_limit", []string{"--db", "$DB", "stream", "tail", "/chat", "--limit", "1"}, 0},
		{"stream_tail_empty", []string{"--db", "$DB", "stream", "tail", "/misc"}, 0},
		{"docs_find", []string{"--db", "$DB", "docs", "find", "/app/users", `{"age": {"$gte": 30}}`}, 0},
		{"docs_find_sort_limit", []string{"--db", "$DB", "docs", "find", "/app/users", "{}", "--sort", "-age", "--limit", "2", "--projection", `{"name": 1}`}, 0},
		{"docs_find_nested", []string{"--db", "$DB", "docs", "find", "/app/users", `{"address.city": "Lyon"}`}, 0},
		{"docs_find_none", []string{"--db", "$DB", "docs", "find", "/app/users", `{"tags": "nobody"}`}, 0},
		{"check_all_layers", []string{"--db", "$DB", "check", "--queue", "/jobs", "--stream", "/chat", "--descriptor", "$INVENTORY_PB", "--store", "/inventory", itemVersions}, 0},

		{"check_wrong_descriptor", []string{"--db", "$DB", "check", "--descriptor", "$CATALOGUE_PB"}, 1},
	})
}

func TestErrors(t *testing.T) {
	f := newFixture(t)
	notDB := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(notDB, "file.txt"), []byte("hello"), 0o644))
	runGolden(t, f, []goldenCase{
		// The command line is wrong: exit code 2.
		{"usage_unknown_command", []string{"frobnicate"}, 2},
		{"usage_unknown_flag", []string{"--db", "$DB", "keys", "/misc", "--bogus"}, 2},
		{"usage_bad_flag_value", []string{"--db", "$DB", "keys", "/misc", "--limit", "many"}, 2},
		{"usage_missing_arg", []string{"--db", "$DB", "records", "/inventory"}, 2},
		{"usage_extra_arg", []string{"--db", "$DB", "dirs", "/a", "/b"}, 2},

		// The database cannot be opened: exit code 1, one line, nothing created.
		{"no_database_flag", []string{"dirs"}, 1},
		{"database_missing", []string{"--db", "$DB/nowhere", "dirs"}, 1},
		{"database_is_file", []string{"--db", "$INVENTORY_PB", "dirs"}, 1},
		{"database_both", []string{"--db", "$DB", "--cluster-file", "/etc/fdb.cluster", "dirs"}, 1},

		// Bad paths and arguments.
		{"bad_raw_escape", []string{"--db", "$DB", "keys", `raw:\q`}, 1},
		{"bad_hex", []string{"--db", "$DB", "keys", "hex:zz"}, 1},
		{"bad_path", []string{"--db", "$DB", "keys", "/a//b"}, 1},
		{"negative_limit", []string{"--db", "$DB", "keys", "/misc", "--limit", "-1"}, 1},
		{"records_not_a_store", []string{"--db", "$DB", "records", "/misc", "Item", "--descriptor", "$INVENTORY_PB"}, 1},
		{"records_no_descriptor", []string{"--db", "$DB", "records", "/inventory", "Item"}, 1},
		{"records_bad_descriptor", []string{"--db", "$DB", "records", "/inventory", "Item", "--descriptor", "$DB/LOCK"}, 1},
		{"records_unknown_type", []string{"--db", "$DB", "records", "/inventory", "Widget", "--descriptor", "$INVENTORY_PB"}, 1},
		{"records_bad_where_field", []string{"--db", "$DB", "records", "/inventory", "Item", "--descriptor", "$INVENTORY_PB", "--where", "colour=red"}, 1},
		{"records_bad_where_value", []string{"--db", "$DB", "records", "/inventory", "Item", "--descriptor", "$INVENTORY_PB", "--where", "stock=lots"}, 1},
		{"records_where_message", []string{"--db", "$DB", "records", "/inventory", "Item", "--descriptor", "$INVENTORY_PB", "--where", "size=1"}, 1},
		{"records_wrong_descriptor", []string{"--db", "$DB", "records", "/inventory", "Book", "--descriptor", "$CATALOGUE_PB"}, 1},
		{"check_bad_index_flag", []string{"--db", "$DB", "check", "--descriptor", "$CATALOGUE_PB", "--index", "nope"}, 1},
		{"check_bad_index_option", []string{"--db", "$DB", "check", "--descriptor", "$CATALOGUE_PB", "--index", "x=Book:author:Unique!"}, 1},
		{"check_bad_column", []string{"--db", "$DB", "check", "--descriptor", "$CATALOGUE_PB", "--primary-key", "Book=a[b]"}, 1},
		{"docs_bad_filter", []string{"--db", "$DB", "docs", "find", "/app/users", `{"age": `}, 1},
		{"docs_bad_operator", []string{"--db", "$DB", "docs", "find", "/app/users", `{"age": {"$near": 3}}`}, 1},
		{"docs_no_collection", []string{"--db", "$DB", "docs", "find", "/app/robots", "{}"}, 1},
		{"docs_not_a_docstore", []string{"--db", "$DB", "docs", "find", "/misc/users", "{}"}, 1},
		{"docs_no_database", []string{"--db", "$DB", "docs", "find", "/nowhere/users", "{}"}, 1},
		{"docs_too_short", []string{"--db", "$DB", "docs", "find", "/app", "{}"}, 1},
		{"queue_bad_id", []string{"--db", "$DB", "queue", "redrive", "/jobs", "--id", "xyz"}, 1},
		{"queue_peek_both", []string{"--db", "$DB", "queue", "peek", "/jobs", "--all", "--dead"}, 1},
		{"stream_bad_limit", []string{"--db", "$DB", "stream", "tail", "/chat", "--limit", "0"}, 1},
		{"check_flags_without_descriptor", []string{"--db", "$DB", "check", "--primary-key", "Book=id"}, 1},
	})
	// Nothing was created where no database was.
	_, err := os.Stat(filepath.Join(f.dir, "nowhere"))
	require.True(t, os.IsNotExist(err), "a database was created at a missing path")
	r := run(t, "--db", notDB, "dirs")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "is not a layerkit database")
	entries, err := os.ReadDir(notDB)
	require.NoError(t, err)
	require.Len(t, entries, 1, "files were written into a directory that is not a database")
}

// TestSplitRecord reads back the record stored in three chunks.
func TestSplitRecord(t *testing.T) {
	f := newFixture(t)
	r := run(t, "--db", f.dir, "records", "/inventory", "Item", "--descriptor", f.inventory, "--where", "sku=D-400")
	require.Equal(t, 0, r.code, r.stderr)
	var got struct {
		Sku  string `json:"sku"`
		Note []byte `json:"note"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
	require.Equal(t, "D-400", got.Sku)
	require.Equal(t, bigNote, got.Note)

	// Its keys: suffixes 1, 2 and 3, the chunks of at most 100,000 bytes.
	r = run(t, "--db", f.dir, "keys", "/inventory", "--limit", "0")
	require.Equal(t, 0, r.code, r.stderr)
	for _, chunk := range []string{`(1, "D-400", 1) = `, `(1, "D-400", 2) = `, `(1, "D-400", 3) = `} {
		require.Contains(t, r.stdout, chunk)
	}
	require.NotContains(t, r.stdout, `(1, "D-400", 0) = `)
}

// TestCheckFindsMissingIndexEntries declares an index the store never had: every record lacks
// its entry. (Compared line by line: the record package reports missing entries in map order.)
func TestCheckFindsMissingIndexEntries(t *testing.T) {
	f := newFixture(t)
	r := run(t, "--db", f.dir, "check", "--store", "/library/catalogue", "--descriptor", f.catalogue,
		"--primary-key", "Book=branch,shelf,book_id", "--index", "by_title=Book:title",
		"--index", "book_by_author=Book:author", "--index", "books_per_branch=Book:branch>:count")
	require.Equal(t, 1, r.code, r.stderr)
	for _, title := range []string{"The Hobbit", "Dune", "The Silmarillion"} {
		require.Contains(t, r.stdout, `index "by_title" lacks entry ("`+title+`")`)
	}
	require.Contains(t, r.stdout, "FAIL  record store /library/catalogue: ")
	require.Equal(t, "layerkit: check found problems in 1 of 4 parts\n", r.stderr)
}

// TestHelp: every command has examples, and --help prints them.
func TestHelp(t *testing.T) {
	r := run(t, "--help")
	require.Equal(t, 0, r.code)
	require.Contains(t, r.stdout, "Examples:")
	commands := []string{}
	for _, line := range strings.Split(r.stdout[strings.Index(r.stdout, "Available Commands:"):], "\n")[1:] {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			break
		}
		if fields[0] != "help" {
			commands = append(commands, fields[0])
		}
	}
	require.Subset(t, commands, []string{"dirs", "keys", "records", "check", "bench"})
	for _, c := range commands {
		r := run(t, c, "--help")
		require.Equal(t, 0, r.code, c)
		require.Contains(t, r.stdout, "Examples:\n  ", "%s --help has no examples", c)
		require.Contains(t, r.stdout, "layerkit ", c)
		require.Empty(t, r.stderr, c)
	}
	// With no command, the help is shown.
	r = run(t)
	require.Equal(t, 0, r.code)
	require.Contains(t, r.stdout, "Available Commands:")
}

// TestBench runs the quick throughput check briefly in memory and reads its table.
func TestBench(t *testing.T) {
	r := run(t, "bench", "--memory", "--duration", "150ms", "--concurrency", "4")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 5, r.stdout)
	require.Contains(t, lines[0], "embedded engine in memory, 4 workers")
	require.Equal(t, []string{"workload", "transactions", "tx/s", "keys/s", "p50", "p99", "max"}, strings.Fields(lines[1]))
	for i, name := range []string{"write", "read", "range"} {
		fields := strings.Fields(lines[2+i])
		require.Equal(t, name, fields[0])
		require.NotEqual(t, "0", fields[1], "%s ran no transaction", name)
	}
	// The database given is left as it was: the bench works in a directory it removes. (The
	// directory allocator's own counters move on, as after any create and remove.)
	f := newFixture(t)
	snapshot := func() string {
		out := run(t, "--db", f.dir, "dirs").stdout
		for _, path := range slices.Sorted(maps.Keys(f.prefixes)) {
			out += run(t, "--db", f.dir, "keys", path, "--limit", "0").stdout
		}
		return out
	}
	before := snapshot()
	r = run(t, "--db", f.dir, "bench", "--duration", "100ms", "--concurrency", "2")
	require.Equal(t, 0, r.code, r.stderr)
	require.True(t, before == snapshot(), "the bench changed the database it was given")

	r = run(t, "bench", "--duration", "0s")
	requireOneLineFailure(t, r, "--duration 0s: want more than 0")
}

// TestProgress: with --progress always, the bench draws its bars on stderr.
func TestProgress(t *testing.T) {
	r := run(t, "--progress", "always", "bench", "--memory", "--duration", "300ms", "--concurrency", "2")
	require.Equal(t, 0, r.code, r.stderr)
	for _, name := range []string{"write", "read", "range"} {
		require.Contains(t, r.stderr, name)
	}
	require.Contains(t, r.stderr, "100%")
	r = run(t, "--progress", "sometimes", "bench", "--memory")
	requireOneLineFailure(t, r, `--progress "sometimes": want auto, always or never`)
}

// TestIndexStates: states written by the record package read back by name.
func TestIndexStates(t *testing.T) {
	f := newFixture(t)
	f.damage(t, func(tr kv.Transaction) {
		st, err := record.Open(context.Background(), tr, inventoryMetaData(t), rawPrefix(f.prefixes["/inventory"]))
		require.NoError(t, err)
		require.NoError(t, st.SetIndexState("Item$tags", record.WriteOnly))
		require.NoError(t, st.SetIndexState("Supplier$name", record.Disabled))
	})
	r := run(t, "--db", f.dir, "index", "state", "/inventory", "--descriptor", f.inventory)
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 4)
	for i, want := range []string{"Item$category READABLE", "Item$tags WRITE_ONLY", "Supplier$name DISABLED"} {
		fields := strings.Fields(lines[1+i])
		require.Equal(t, want, fields[0]+" "+fields[len(fields)-1])
	}
	// A disabled index holds no entries and is not compared with the records.
	r = run(t, "--db", f.dir, "check", "--descriptor", f.inventory, "--store", "/inventory", itemVersions)
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
}

// TestQueueStatsAndRedrive: the counts, then the dead letter sent back.
func TestQueueStatsAndRedrive(t *testing.T) {
	f := newFixture(t)
	stats := func() map[string]string {
		r := run(t, "--db", f.dir, "queue", "stats", "/jobs")
		require.Equal(t, 0, r.code, r.stderr)
		out := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			i := strings.LastIndex(line, " ")
			out[strings.TrimSpace(line[:i])] = line[i+1:]
		}
		return out
	}
	st := stats()
	require.Equal(t, "2", st["visible"])
	require.Equal(t, "1", st["delayed"])
	require.Equal(t, "0", st["in flight"])
	require.Equal(t, "1", st["dead"])
	require.NotEqual(t, "0s", st["oldest visible"])

	dead := run(t, "--db", f.dir, "queue", "peek", "/jobs", "--dead")
	id := strings.Fields(dead.stdout)[0]
	r := run(t, "--db", f.dir, "queue", "redrive", "/jobs", "--id", strings.Repeat("0", 24))
	require.Equal(t, "redrove 0 messages\n", r.stdout, r.stderr)
	r = run(t, "--db", f.dir, "queue", "redrive", "/jobs", "--id", id)
	require.Equal(t, "redrove 1 message\n", r.stdout, r.stderr)
	st = stats()
	require.Equal(t, "3", st["visible"])
	require.Equal(t, "0", st["dead"])
	r = run(t, "--db", f.dir, "queue", "redrive", "/jobs")
	require.Equal(t, "redrove 0 messages\n", r.stdout, r.stderr)
	r = run(t, "--db", f.dir, "queue", "peek", "/jobs")
	require.Contains(t, r.stdout, id+" ready priority=0 attempts=0 ")
	require.Contains(t, r.stdout, `error="image too large" "resize img-7"`)
}

// TestStreamFollow: --follow prints what is appended after it started, until interrupted. The
// command runs on the test's own handle (RunOn), since an embedded database admits one opener.
func TestStreamFollow(t *testing.T) {
	f := newFixture(t)
	db, err := embedded.Open(f.dir, nil)
	require.NoError(t, err)
	defer db.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int)
	go func() {
		done <- cli.RunOn(ctx, db, []string{"stream", "tail", "/chat", "--limit", "1", "--follow"}, &out, &errOut)
	}()
	require.Eventually(t, func() bool { return strings.Contains(out.String(), `"user: bye"`) }, 10*time.Second, 5*time.Millisecond)
	s, err := queue.NewStream(rawPrefix(f.prefixes["/chat"]), nil)
	require.NoError(t, err)
	for _, v := range []string{"user: are you there?", "assistant: yes"} {
		_, err := s.Append(context.Background(), db, []byte(v), nil)
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return strings.Contains(out.String(), `"assistant: yes"`) }, 10*time.Second, 5*time.Millisecond)
	cancel()
	require.Equal(t, 0, <-done, errOut.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 3, out.String())
	require.True(t, strings.HasSuffix(lines[1], ` "user: are you there?"`), lines[1])

	// RunOn refuses a second database.
	var o, e bytes.Buffer
	require.Equal(t, 1, cli.RunOn(context.Background(), db, []string{"--db", f.dir, "dirs"}, &o, &e))
	require.Contains(t, e.String(), "leave out --db and --cluster-file")
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader in different goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestIndexBuild disables an index of a store of a few thousand records, builds it again with the
// online indexer from the command line, and checks the store.
func TestIndexBuild(t *testing.T) {
	f := newFixture(t)
	f.damage(t, func(tr kv.Transaction) {
		st, err := record.Open(context.Background(), tr, inventoryMetaData(t), rawPrefix(f.prefixes["/inventory"]))
		require.NoError(t, err)
		require.NoError(t, st.SetIndexState("Item$category", record.Disabled))
	})
	db, err := embedded.Open(f.dir, nil)
	require.NoError(t, err)
	for batch := range 6 {
		var items []proto.Message
		for i := range 500 {
			n := batch*500 + i
			items = append(items, &testpb.Item{Sku: fmt.Sprintf("Z-%05d", n), Category: []string{"tools", "garden", "paper"}[n%3]})
		}
		save(t, db, inventoryMetaData(t), f.prefixes["/inventory"], items)
	}
	require.NoError(t, db.Close())

	r := run(t, "--progress", "always", "--db", f.dir, "index", "build", "/inventory", "Item$category", "--descriptor", f.inventory, itemVersions)
	require.Equal(t, 0, r.code, r.stderr)
	require.Regexp(t, `^built index Item\$category of /inventory: 3006 records in [0-9.]+m?s; DISABLED, now READABLE\n$`, r.stdout)
	require.Contains(t, r.stderr, "build Item$category")
	require.Contains(t, r.stderr, "100%")

	r = run(t, "--db", f.dir, "check", "--descriptor", f.inventory, "--store", "/inventory", itemVersions)
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	require.Contains(t, r.stdout, "3006 records decode and agree with 4 indexes")

	r = run(t, "--db", f.dir, "index", "build", "/inventory", "Item$category", "--descriptor", f.inventory, itemVersions)
	require.Equal(t, "index Item$category of /inventory is READABLE: nothing to build\n", r.stdout, r.stderr)
	r = run(t, "--db", f.dir, "index", "build", "/inventory", "nope", "--descriptor", f.inventory, itemVersions)
	requireOneLineFailure(t, r, `has no index "nope"`)
}
