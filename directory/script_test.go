package directory_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/layerkit/layerkit/directory"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/subspace"
	"github.com/stretchr/testify/require"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of testdata scripts")

// TestScripts runs the scripts in testdata/*.txt. A script is a list of cases:
//
//	# what the case guards
//	command args
//	----
//	expected output
//
// separated by blank lines. Commands:
//
//	reset                          a new empty database (no injected faults) and the default layer
//	layer node=HEX content=HEX [manual]   use this layer for the commands that follow
//	candidates N...                the allocator draws these offsets in its window next
//	create_or_open PATH [layer=S]  and open, create: on the current layer
//	create_prefix PATH prefix=HEX [layer=S]
//	move OLD NEW, remove PATH, remove_if_exists PATH, exists PATH, list PATH
//	at PATH OP ARGS...             open PATH (any layer) and run OP on the DirectorySubspace;
//	                               OP may also be move_to NEW, subspace, path, layer
//	tree                           every directory under the current layer's root, with prefix and layer
//	dump                           every key and value in the database, in hex
//	set KEYHEX VALUEHEX            a raw write
//	check                          directory.Check on the default and the current layer
//
// PATH is names separated by '/', and '.' is the empty path. Errors print as the names of the
// sentinels they wrap. Run with -rewrite to regenerate expected output (then review the diff).
func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) { runScript(t, file) })
	}
}

type scriptCase struct {
	comment  []string
	cmd      string
	expected string
	line     int
}

func parseScript(t *testing.T, file string) []scriptCase {
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	var cases []scriptCase
	var cur *scriptCase
	inOutput := false
	var out []string
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		switch {
		case inOutput && text == "":
			cur.expected = strings.Join(out, "\n")
			cases = append(cases, *cur)
			cur, inOutput, out = nil, false, nil
		case inOutput:
			out = append(out, text)
		case text == "----":
			require.NotNil(t, cur, "%s:%d: ---- without a command", file, line)
			inOutput = true
		case strings.HasPrefix(text, "#") || (text == "" && cur == nil):
			if cur == nil {
				cur = &scriptCase{}
			}
			cur.comment = append(cur.comment, text)
		case text == "":
		default:
			if cur == nil {
				cur = &scriptCase{}
			}
			require.Empty(t, cur.cmd, "%s:%d: two commands in one case", file, line)
			cur.cmd, cur.line = text, line
		}
	}
	require.NoError(t, sc.Err())
	if inOutput {
		cur.expected = strings.Join(out, "\n")
		cases = append(cases, *cur)
	}
	return cases
}

func runScript(t *testing.T, file string) {
	cases := parseScript(t, file)
	s := &scriptState{t: t}
	s.reset()
	var rewritten strings.Builder
	for _, c := range cases {
		got := strings.TrimRight(s.run(c.cmd), "\n")
		if *rewrite {
			for _, l := range c.comment {
				if l != "" {
					rewritten.WriteString(l + "\n")
				}
			}
			fmt.Fprintf(&rewritten, "%s\n----\n%s\n\n", c.cmd, got)
			continue
		}
		if got != c.expected {
			t.Errorf("%s:%d: %s\n%s\ngot:\n%s\nwant:\n%s", file, c.line, c.cmd, strings.Join(c.comment, "\n"), got, c.expected)
		}
	}
	if *rewrite {
		require.NoError(t, os.WriteFile(file, []byte(rewritten.String()), 0o644))
	}
}

type scriptState struct {
	t     *testing.T
	db    kv.Database
	layer *directory.Layer
}

// reset starts a new database and makes the allocator's draws deterministic, so scripts can
// print prefixes; "candidates" overrides the next draws.
func (s *scriptState) reset() {
	s.db = openExactDB(s.t)
	s.layer = directory.Root()
	rng := rand.New(rand.NewPCG(1, 2))
	s.t.Cleanup(directory.SetCandidateFunc(func(n int64) int64 { return rng.Int64N(n) }))
}

func parsePath(p string) []string {
	if p == "." {
		return []string{}
	}
	return strings.Split(p, "/")
}

// args splits "key=value" options from positional arguments.
func splitArgs(fields []string) (pos []string, opts map[string]string) {
	opts = map[string]string{}
	for _, f := range fields {
		if k, v, ok := strings.Cut(f, "="); ok {
			opts[k] = v
		} else {
			pos = append(pos, f)
		}
	}
	return pos, opts
}

func (s *scriptState) hexArg(v string) []byte {
	if v == "''" {
		return []byte{}
	}
	b, err := hex.DecodeString(v)
	require.NoError(s.t, err)
	return b
}

func describe(d directory.DirectorySubspace) string {
	kind := ""
	if d.IsPartition() {
		kind = " partition"
	}
	return fmt.Sprintf("%s layer=%q%s", fmtPath(d.GetPath()), d.GetLayer(), kind)
}

func fmtPath(p []string) string {
	if len(p) == 0 {
		return "."
	}
	return strings.Join(p, "/")
}

// prefixString prints a directory's prefix; the root of a partition has no usable subspace, so
// its prefix is shown as String prints it.
func prefixString(d directory.DirectorySubspace) string {
	ss, err := d.Subspace()
	if err != nil {
		return d.String()
	}
	return "prefix=" + hex.EncodeToString(ss.Bytes())
}

func (s *scriptState) run(cmd string) string {
	ctx := context.Background()
	fields := strings.Fields(cmd)
	pos, opts := splitArgs(fields[1:])
	var layer []byte
	if l, ok := opts["layer"]; ok {
		layer = []byte(l)
	}
	result := func(d directory.DirectorySubspace, err error) string {
		if err != nil {
			return "error: " + errName(err)
		}
		return describe(d) + " " + prefixString(d)
	}
	switch fields[0] {
	case "reset":
		s.reset()
		return "ok"
	case "layer":
		if len(pos) == 1 && pos[0] == "default" {
			s.layer = directory.Root()
			return "ok"
		}
		_, manual := opts["manual"]
		if len(pos) == 1 && pos[0] == "manual" {
			manual = true
		}
		s.layer = directory.NewDirectoryLayer(subspace.FromBytes(s.hexArg(opts["node"])), subspace.FromBytes(s.hexArg(opts["content"])), manual)
		l := s.layer
		registerCheck(s.t, s.db, l)
		return "ok"
	case "candidates":
		var offs []int64
		for _, p := range pos {
			n, err := strconv.ParseInt(p, 10, 64)
			require.NoError(s.t, err)
			offs = append(offs, n)
		}
		s.t.Cleanup(directory.SetCandidates(offs...))
		return "ok"
	case "create_or_open":
		return result(s.layer.CreateOrOpen(ctx, s.db, parsePath(pos[0]), layer))
	case "open":
		return result(s.layer.Open(ctx, s.db, parsePath(pos[0]), layer))
	case "create":
		return result(s.layer.Create(ctx, s.db, parsePath(pos[0]), layer))
	case "create_prefix":
		var prefix []byte
		if p, ok := opts["prefix"]; ok {
			prefix = s.hexArg(p)
		}
		return result(s.layer.CreatePrefix(ctx, s.db, parsePath(pos[0]), layer, prefix))
	case "move":
		return result(s.layer.Move(ctx, s.db, parsePath(pos[0]), parsePath(pos[1])))
	case "remove":
		if err := s.layer.Remove(ctx, s.db, parsePath(pos[0])); err != nil {
			return "error: " + errName(err)
		}
		return "ok"
	case "remove_if_exists":
		ok, err := s.layer.RemoveIfExists(ctx, s.db, parsePath(pos[0]))
		if err != nil {
			return "error: " + errName(err)
		}
		return strconv.FormatBool(ok)
	case "exists":
		ok, err := s.layer.Exists(ctx, s.db, parsePath(pos[0]))
		if err != nil {
			return "error: " + errName(err)
		}
		return strconv.FormatBool(ok)
	case "list":
		names, err := s.layer.List(ctx, s.db, parsePath(pos[0]))
		if err != nil {
			return "error: " + errName(err)
		}
		return "[" + strings.Join(names, " ") + "]"
	case "at":
		d, err := s.layer.Open(ctx, s.db, parsePath(pos[0]), nil)
		if err != nil {
			return "error opening " + pos[0] + ": " + errName(err)
		}
		return s.runAt(d, fields[2], pos[2:], layer, opts)
	case "tree":
		var b strings.Builder
		s.tree(&b, s.layer, nil)
		return strings.TrimRight(b.String(), "\n")
	case "dump":
		return strings.Join(dump(s.t, s.db), "\n")
	case "set":
		_, err := kv.Transact(ctx, s.db, func(tr kv.Transaction) (struct{}, error) {
			tr.Set(s.hexArg(pos[0]), s.hexArg(pos[1]))
			return struct{}{}, nil
		})
		require.NoError(s.t, err)
		return "ok"
	case "clear":
		_, err := kv.Transact(ctx, s.db, func(tr kv.Transaction) (struct{}, error) {
			tr.Clear(s.hexArg(pos[0]))
			return struct{}{}, nil
		})
		require.NoError(s.t, err)
		return "ok"
	case "check":
		if err := directory.Check(ctx, s.db); err != nil {
			return "error: " + err.Error()
		}
		if err := s.layer.Check(ctx, s.db); err != nil {
			return "error: " + err.Error()
		}
		return "ok"
	}
	s.t.Fatalf("unknown command %q", cmd)
	return ""
}

func (s *scriptState) runAt(d directory.DirectorySubspace, op string, pos []string, layer []byte, opts map[string]string) string {
	ctx := context.Background()
	arg := func(i int) []string {
		if i < len(pos) {
			return parsePath(pos[i])
		}
		return nil
	}
	result := func(d directory.DirectorySubspace, err error) string {
		if err != nil {
			return "error: " + errName(err)
		}
		return describe(d) + " " + prefixString(d)
	}
	switch op {
	case "create_or_open":
		return result(d.CreateOrOpen(ctx, s.db, arg(0), layer))
	case "open":
		return result(d.Open(ctx, s.db, arg(0), layer))
	case "create":
		return result(d.Create(ctx, s.db, arg(0), layer))
	case "create_prefix":
		return result(d.CreatePrefix(ctx, s.db, arg(0), layer, s.hexArg(opts["prefix"])))
	case "move":
		return result(d.Move(ctx, s.db, arg(0), arg(1)))
	case "move_to":
		return result(d.MoveTo(ctx, s.db, arg(0)))
	case "remove":
		if err := d.Remove(ctx, s.db, arg(0)); err != nil {
			return "error: " + errName(err)
		}
		return "ok"
	case "remove_if_exists":
		ok, err := d.RemoveIfExists(ctx, s.db, arg(0))
		if err != nil {
			return "error: " + errName(err)
		}
		return strconv.FormatBool(ok)
	case "exists":
		ok, err := d.Exists(ctx, s.db, arg(0))
		if err != nil {
			return "error: " + errName(err)
		}
		return strconv.FormatBool(ok)
	case "list":
		names, err := d.List(ctx, s.db, arg(0))
		if err != nil {
			return "error: " + errName(err)
		}
		return "[" + strings.Join(names, " ") + "]"
	case "subspace":
		ss, err := d.Subspace()
		if err != nil {
			return "error: " + errName(err)
		}
		return hex.EncodeToString(ss.Bytes())
	case "string":
		return d.String()
	}
	s.t.Fatalf("unknown operation %q after at", op)
	return ""
}

// tree prints every directory below path of layer l, depth first in List order, descending
// into partitions through the same calls a user would make.
func (s *scriptState) tree(b *strings.Builder, l *directory.Layer, path []string) {
	ctx := context.Background()
	names, err := l.List(ctx, s.db, path)
	if err != nil {
		fmt.Fprintf(b, "error listing %s: %s\n", fmtPath(path), errName(err))
		return
	}
	for _, name := range names {
		p := append(append([]string{}, path...), name)
		d, err := l.Open(ctx, s.db, p, nil)
		if err != nil {
			fmt.Fprintf(b, "%s error: %s\n", fmtPath(p), errName(err))
			continue
		}
		fmt.Fprintf(b, "%s%s\n", strings.Repeat("  ", len(path)), describe(d)+" "+prefixString(d))
		s.tree(b, l, p)
	}
}
