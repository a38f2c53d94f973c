package readme_test

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// root is the repository's root, seen from this package's directory (where go test runs).
const root = "../.."

// block is a fenced code block of the README.
type block struct {
	line   int    // the line of the opening fence, from 1
	lang   string // the fence's info string: go, sh, text, proto…
	kind   string // the marker on the line before the fence: func, decl, output, file, run, setup; "" without one
	arg    string // the marker's argument: a function, an example or a file
	text   string // the lines between the fences, each ending in "\n"
	source string // the Markdown file's name, for messages
}

func (b block) String() string { return fmt.Sprintf("%s:%d", b.source, b.line) }

var markerRE = regexp.MustCompile(`^<!-- readme: (func|decl|output|file|run|setup)(?: (\S+))? -->$`)

// readBlocks returns the fenced blocks of the Markdown file at path. A fence may be indented (in
// a list item); the block's lines lose that indentation, and its marker has the same.
func readBlocks(t *testing.T, path string) []block {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.SplitAfter(string(data), "\n")
	var out []block
	for i := 0; i < len(lines); i++ {
		line := strings.TrimRight(lines[i], "\n")
		fence := strings.TrimLeft(line, " ")
		if !strings.HasPrefix(fence, "```") {
			continue
		}
		indent := line[:len(line)-len(fence)]
		b := block{line: i + 1, lang: strings.TrimPrefix(fence, "```"), source: filepath.Base(path)}
		if i > 0 {
			if m := markerRE.FindStringSubmatch(strings.TrimPrefix(strings.TrimRight(lines[i-1], "\n"), indent)); m != nil {
				b.kind, b.arg = m[1], m[2]
			}
		}
		var text strings.Builder
		for i++; i < len(lines) && strings.TrimRight(lines[i], "\n") != indent+"```"; i++ {
			text.WriteString(strings.TrimPrefix(lines[i], indent))
		}
		require.Less(t, i, len(lines), "%s: the block is not closed", b)
		b.text = text.String()
		out = append(out, b)
	}
	return out
}

// snippets returns, for each function of this package's non-test files, its body less one tab
// of indentation ("func Name") and its whole declaration with its doc comment ("decl Name"),
// and the names of the exported ones.
func snippets(t *testing.T) (map[string]string, []string) {
	t.Helper()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	out := map[string]string{}
	var exported []string
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		require.NoError(t, err)
		f, err := parser.ParseFile(fset, name, src, parser.ParseComments)
		require.NoError(t, err)
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv != nil {
				continue
			}
			off := func(p token.Pos) int { return fset.Position(p).Offset }
			body := string(src[off(fn.Body.Lbrace)+1 : off(fn.Body.Rbrace)])
			body = strings.TrimPrefix(body, "\n")
			var dedented strings.Builder
			for _, l := range strings.SplitAfter(body, "\n") {
				dedented.WriteString(strings.TrimPrefix(l, "\t"))
			}
			out["func "+fn.Name.Name] = dedented.String()
			start := fn.Pos()
			if fn.Doc != nil {
				start = fn.Doc.Pos()
			}
			out["decl "+fn.Name.Name] = string(src[off(start):off(fn.Body.Rbrace)+1]) + "\n"
			if fn.Name.IsExported() {
				exported = append(exported, fn.Name.Name)
			}
		}
	}
	return out, exported
}

// exampleOutputs returns the // Output: of each Example of this package, by the name after
// "Example".
func exampleOutputs(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("*_test.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	var parsed []*ast.File
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		require.NoError(t, err)
		parsed = append(parsed, f)
	}
	out := map[string]string{}
	for _, ex := range doc.Examples(parsed...) {
		out[ex.Name] = ex.Output
	}
	return out
}

// TestREADME checks every marked block of the README against its source, and that no Go or
// protobuf block goes unchecked.
func TestREADME(t *testing.T) {
	blocks := readBlocks(t, filepath.Join(root, "README.md"))
	funcs, exported := snippets(t)
	outputs := exampleOutputs(t)
	shown := map[string]bool{}
	for _, b := range blocks {
		switch b.kind {
		case "func", "decl":
			want, ok := funcs[b.kind+" "+b.arg]
			if !ok {
				t.Errorf("%s: the marker names %s %s, which examples/readme does not have", b, b.kind, b.arg)
				continue
			}
			shown[b.arg] = true
			if b.lang != "go" {
				t.Errorf("%s: a %s marker on a ```%s block; it marks ```go blocks", b, b.kind, b.lang)
			}
			if b.text != want {
				t.Errorf("%s: the block differs from %s %s in examples/readme; the README must show:\n%s", b, b.kind, b.arg, want)
			}
		case "output":
			want, ok := outputs[b.arg]
			if !ok {
				t.Errorf("%s: the marker names the output of Example%s, which examples/readme does not have", b, b.arg)
				continue
			}
			if strings.TrimSpace(b.text) != strings.TrimSpace(want) {
				t.Errorf("%s: the block differs from the // Output: of Example%s, which is:\n%s", b, b.arg, want)
			}
		case "file":
			want, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(b.arg)))
			if err != nil {
				t.Errorf("%s: the marker names %s: %v", b, b.arg, err)
				continue
			}
			if b.text != string(want) {
				t.Errorf("%s: the block differs from %s, which is:\n%s", b, b.arg, want)
			}
		case "", "run", "setup":
			if b.kind == "" && (b.lang == "go" || b.lang == "proto") {
				t.Errorf("%s: a ```%s block without a marker: every Go snippet is a function of examples/readme "+
					"shown with <!-- readme: func Name --> (or decl), every file with <!-- readme: file path -->", b, b.lang)
			}
		}
	}
	for _, name := range exported {
		if !shown[name] {
			t.Errorf("examples/readme: %s is shown by no README block; show it or remove it", name)
		}
	}
}

// TestSetUp checks the set-up commands: the catalogue demo is a command, and ./scripts/test is
// the script that CI (.ci/run) calls.
func TestSetUp(t *testing.T) {
	var setup []block
	for _, b := range readBlocks(t, filepath.Join(root, "README.md")) {
		if b.kind == "setup" {
			setup = append(setup, b)
		}
	}
	require.Len(t, setup, 1, "the README has one set-up block")
	var cmds []string
	for _, l := range strings.Split(strings.TrimSpace(setup[0].text), "\n") {
		cmds = append(cmds, strings.TrimSpace(strings.SplitN(l, " #", 2)[0]))
	}
	require.Equal(t, []string{"go run ./examples/catalogue", "./scripts/test"}, cmds)

	src, err := os.ReadFile(filepath.Join(root, "examples", "catalogue", "main.go"))
	require.NoError(t, err)
	require.Regexp(t, `(?m)^package main$`, string(src))
	info, err := os.Stat(filepath.Join(root, "scripts", "test"))
	require.NoError(t, err)
	require.NotZero(t, info.Mode()&0o111, "scripts/test is executable")
	ci, err := os.ReadFile(filepath.Join(root, ".ci", "run"))
	require.NoError(t, err)
	require.Regexp(t, `(?m)^\./scripts/test$`, string(ci), ".ci/run calls ./scripts/test")
}

// TestREADMECommands runs the commands of every run block, each block in a new directory, with
// go run ./x replaced by a binary built from ./x; each command must succeed and print something.
func TestREADMECommands(t *testing.T) {
	var runs []block
	pkgs := map[string]bool{}
	for _, b := range readBlocks(t, filepath.Join(root, "README.md")) {
		if b.kind != "run" {
			continue
		}
		runs = append(runs, b)
		for _, c := range commands(t, b) {
			require.True(t, len(c) > 2 && c[0] == "go" && c[1] == "run" && strings.HasPrefix(c[2], "./"),
				"%s: %q: a run block holds go run ./package commands", b, c)
			pkgs[c[2]] = true
		}
	}
	require.NotEmpty(t, runs, "the README has run blocks")

	bin := t.TempDir()
	args := append([]string{"build", "-o", bin + string(filepath.Separator)}, slices.Sorted(maps.Keys(pkgs))...)
	build := exec.Command("go", args...)
	build.Dir = root
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go %s:\n%s", strings.Join(args, " "), out)

	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "LAYERKIT_DB=") })
	for _, b := range runs {
		t.Run(fmt.Sprintf("line=%d", b.line), func(t *testing.T) {
			dir := t.TempDir()
			for _, c := range commands(t, b) {
				cmd := exec.Command(filepath.Join(bin, filepath.Base(c[2])), c[3:]...)
				cmd.Dir, cmd.Env = dir, env
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				err := cmd.Run()
				require.NoError(t, err, "%s: %s\nstdout:\n%s\nstderr:\n%s", b, strings.Join(c, " "), stdout.String(), stderr.String())
				require.NotEmpty(t, stdout.String(), "%s: %s printed nothing", b, strings.Join(c, " "))
			}
		})
	}
}

// commands splits a run block into commands: one a line, words split at spaces outside single
// quotes, a word starting with # and what follows left out.
func commands(t *testing.T, b block) [][]string {
	t.Helper()
	var out [][]string
	for _, line := range strings.Split(b.text, "\n") {
		var words []string
		var word strings.Builder
		inWord, quoted := false, false
	scan:
		for _, r := range line {
			switch {
			case quoted && r == '\'':
				quoted = false
			case quoted:
				word.WriteRune(r)
			case r == '\'':
				quoted, inWord = true, true
			case r == ' ' || r == '\t':
				if inWord {
					words = append(words, word.String())
					word.Reset()
					inWord = false
				}
			case r == '#' && !inWord:
				break scan
			default:
				word.WriteRune(r)
				inWord = true
			}
		}
		require.False(t, quoted, "%s: unclosed quote in %q", b, line)
		if inWord {
			words = append(words, word.String())
		}
		if len(words) > 0 {
			out = append(out, words)
		}
	}
	return out
}
