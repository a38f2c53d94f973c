package cli_test

import (
	"bufio"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/tuple"
)

// damage opens the fixture's database, changes it with fn, and closes it again.
func (f *fixture) damage(t testing.TB, fn func(tr kv.Transaction)) {
	t.Helper()
	db, err := embedded.Open(f.dir, nil)
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Transact(context.Background(), func(tr kv.Transaction) error { fn(tr); return nil }))
}

// requireOneLineFailure checks that a run failed cleanly: exit code 1, and stderr is one line
// "layerkit: …" that contains want.
func requireOneLineFailure(t testing.TB, r result, want string) {
	t.Helper()
	require.Equal(t, 1, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
	require.True(t, strings.HasPrefix(r.stderr, "layerkit: "), "stderr: %q", r.stderr)
	require.Equal(t, 1, strings.Count(r.stderr, "\n"), "stderr is not one line: %q", r.stderr)
	require.NotContains(t, r.stderr, "internal error")
	require.Contains(t, r.stderr, want)
}

// TestDamagedStore damages one part of a record store at a time and checks that records and
// check name the problem instead of failing in some other way.
func TestDamagedStore(t *testing.T) {
	cases := []struct {
		name   string
		damage func(f *fixture, tr kv.Transaction)
		want   string // in the FAIL line of check, and in the error of records
	}{
		{"missing chunk", func(f *fixture, tr kv.Transaction) {
			tr.Clear(pack(f.prefixes["/inventory"], 1, "D-400", 2))
		}, `record ("D-400") lacks chunk 2 (found chunk 3)`},
		{"whole and split", func(f *fixture, tr kv.Transaction) {
			tr.Set(pack(f.prefixes["/inventory"], 1, "D-400", 0), []byte{})
		}, `record ("D-400") is stored both whole and in chunks`},
		{"garbage record", func(f *fixture, tr kv.Transaction) {
			tr.Set(pack(f.prefixes["/inventory"], 1, "A-100", 0), []byte{0xff, 0xff, 0xff})
		}, `record ("A-100") does not decode as layerkit.cli.test.Records`},
		{"record key not a tuple", func(f *fixture, tr kv.Transaction) {
			tr.Set(append(pack(f.prefixes["/inventory"], 1), 0x99), []byte("x"))
		}, "is not a packed tuple"},
		{"record key without chunk number", func(f *fixture, tr kv.Transaction) {
			tr.Set(pack(f.prefixes["/inventory"], 1, "E-500", "x"), []byte("x"))
		}, "does not end in a chunk number"},
		{"header garbage", func(f *fixture, tr kv.Transaction) {
			tr.Set(pack(f.prefixes["/inventory"], 0), []byte{0x08})
		}, "store header: field 1"},
		{"header without format version", func(f *fixture, tr kv.Transaction) {
			tr.Set(pack(f.prefixes["/inventory"], 0), []byte{})
		}, "store header has no format version"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.damage(t, func(tr kv.Transaction) { c.damage(f, tr) })
			r := run(t, "--db", f.dir, "records", "/inventory", "Item", "--descriptor", f.inventory, "--limit", "0")
			requireOneLineFailure(t, r, c.want)
			r = run(t, "--db", f.dir, "check", "--descriptor", f.inventory, "--store", "/inventory")
			require.Equal(t, 1, r.code, r.stderr)
			require.Contains(t, r.stdout, "FAIL  record store /inventory: ")
			require.Contains(t, r.stdout, c.want)
			require.NotContains(t, r.stderr, "internal error")
		})
	}
}

// TestDamagedIndexes: problems only check can see.
func TestDamagedIndexes(t *testing.T) {
	cases := []struct {
		name   string
		damage func(f *fixture, tr kv.Transaction)
		want   string
	}{
		{"index state garbage", func(f *fixture, tr kv.Transaction) {
			tr.Set(pack(f.prefixes["/inventory"], 5, "Item$category"), []byte("junk"))
		}, `index state of Item$category is "junk", not a packed state code`},
		{"index state unknown", func(f *fixture, tr kv.Transaction) {
			tr.Set(pack(f.prefixes["/inventory"], 5, "Item$category"), tuple.Tuple{9}.Pack())
		}, "index state of Item$category is 9, not a state code (0 to 4)"},
		{"stray index entry", func(f *fixture, tr kv.Transaction) {
			tr.Set(pack(f.prefixes["/inventory"], 2, "Item$category", "tools", "Z-999"), nil)
		}, `index "Item$category" entry ("tools") → ("Z-999") has no record with those values`},
		{"lost index entry", func(f *fixture, tr kv.Transaction) {
			tr.Clear(pack(f.prefixes["/inventory"], 2, "Item$tags", "zinc", "B-200"))
		}, `index "Item$tags" lacks entry ("zinc") → ("B-200")`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.damage(t, func(tr kv.Transaction) { c.damage(f, tr) })
			r := run(t, "--db", f.dir, "check", "--descriptor", f.inventory, "--store", "/inventory", itemVersions)
			require.Equal(t, 1, r.code, r.stderr)
			require.Contains(t, r.stdout, "FAIL  record store /inventory: ")
			require.Contains(t, r.stdout, c.want)
			require.NotContains(t, r.stdout, "does not declare")
			require.Equal(t, "layerkit: check found problems in 1 of 4 parts\n", r.stderr)
		})
	}
}

// TestDamagedDirectory writes a directory node the tree does not reach.
func TestDamagedDirectory(t *testing.T) {
	f := newFixture(t)
	f.damage(t, func(tr kv.Transaction) {
		// An orphan node: a node-subspace entry (0xfe + packed prefix) for a prefix no directory
		// lists, with a layer key.
		node := append([]byte{0xfe}, tuple.Tuple{[]byte{0x15, 0x7f}}.Pack()...)
		tr.Set(append(node, tuple.Tuple{"layer"}.Pack()...), []byte{})
	})
	r := run(t, "--db", f.dir, "check")
	require.Equal(t, 1, r.code, r.stderr)
	require.Contains(t, r.stdout, "FAIL  directory layer: ")
	require.Contains(t, r.stdout, "directory: corrupt directory metadata")
}

// TestRandomDamage writes random keys and values into the record store, the directory nodes and
// the raw keyspace, then runs every reading command: each must succeed or fail with one line,
// never panic. The seed is printed; replay one with LAYERKIT_CLI_SEED.
func TestRandomDamage(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("LAYERKIT_CLI_SEED"); s != "" {
		var err error
		seed, err = parseUint(s)
		require.NoError(t, err)
	}
	t.Logf("seed %d (replay with LAYERKIT_CLI_SEED=%d)", seed, seed)
	rnd := rand.New(rand.NewPCG(seed, seed))
	rounds := 4
	if os.Getenv("LAYERKIT_SOAK") != "" {
		rounds = 100
	}
	for round := range rounds {
		f := newFixture(t)
		f.damage(t, func(tr kv.Transaction) {
			for range 1 + rnd.IntN(4) {
				var base []byte
				switch rnd.IntN(4) {
				case 0:
					base = pack(f.prefixes["/inventory"], rnd.IntN(10))
				case 1:
					base = pack(f.prefixes["/inventory"], 1, "A-100")
				case 2:
					base = []byte{0xfe}
				default:
					base = f.prefixes["/misc"]
				}
				key := append(append([]byte(nil), base...), randomBytes(rnd, rnd.IntN(6))...)
				if len(key) == 0 || key[0] == 0xff {
					continue
				}
				if rnd.IntN(3) == 0 {
					tr.Clear(key)
				} else {
					tr.Set(key, randomBytes(rnd, rnd.IntN(12)))
				}
			}
		})
		for _, args := range [][]string{
			{"dirs"},
			{"keys", "/", "--limit", "0"},
			{"keys", "/inventory", "--reverse"},
			{"records", "/inventory", "Item", "--descriptor", f.inventory, "--limit", "0"},
			{"records", "/inventory", "Supplier", "--descriptor", f.inventory, "--where", "name=x"},
			{"check", "--descriptor", f.inventory, "--store", "/inventory"},
		} {
			r := run(t, append([]string{"--db", f.dir}, args...)...)
			require.Contains(t, []int{0, 1}, r.code, "round %d, %v: %s", round, args, r.stderr)
			require.NotContains(t, r.stderr, "internal error", "round %d, %v", round, args)
			if r.code == 1 {
				require.Equal(t, 1, strings.Count(r.stderr, "\n"), "round %d, %v: %q", round, args, r.stderr)
			}
		}
	}
}

func randomBytes(rnd *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		// Mostly tuple type codes and small values, so that damage often looks almost right.
		if rnd.IntN(2) == 0 {
			b[i] = []byte{0x00, 0x01, 0x02, 0x05, 0x14, 0x15, 0x16, 0x13, 0x21, 0x26, 0x27, 0xff}[rnd.IntN(12)]
		} else {
			b[i] = byte(rnd.IntN(256))
		}
	}
	return b
}

func parseUint(s string) (uint64, error) {
	var n uint64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, os.ErrInvalid
		}
		n = n*10 + uint64(c-'0')
	}
	return n, nil
}

// TestDamagedFiles damages the database's files: every command fails with one line.
func TestDamagedFiles(t *testing.T) {
	cases := []struct {
		name   string
		damage func(dir string)
	}{
		{"manifest truncated", func(dir string) {
			matches, _ := filepath.Glob(filepath.Join(dir, "MANIFEST-*"))
			require.NotEmpty(t, matches)
			for _, m := range matches {
				require.NoError(t, os.Truncate(m, 10))
			}
		}},
		{"manifest garbage", func(dir string) {
			matches, _ := filepath.Glob(filepath.Join(dir, "MANIFEST-*"))
			for _, m := range matches {
				require.NoError(t, os.WriteFile(m, []byte(strings.Repeat("garbage!", 100)), 0o644))
			}
		}},
		{"manifest removed", func(dir string) {
			matches, _ := filepath.Glob(filepath.Join(dir, "MANIFEST-*"))
			for _, m := range matches {
				require.NoError(t, os.Remove(m))
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			c.damage(f.dir)
			r := run(t, "--db", f.dir, "dirs")
			requireOneLineFailure(t, r, "cannot open the database: ")
		})
	}
}

// TestDatabaseInUse: an embedded database is opened by one process at a time.
func TestDatabaseInUse(t *testing.T) {
	f := newFixture(t)
	db, err := embedded.Open(f.dir, nil)
	require.NoError(t, err)
	defer db.Close()
	r := run(t, "--db", f.dir, "dirs")
	requireOneLineFailure(t, r, "is in use (by another process, or already open in this one)")
	require.NoError(t, db.Close())

	// Held by another process: this test binary again, which TestMain turns into a holder.
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "LAYERKIT_CLI_HOLD="+f.dir)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "holding\n", line)
	r = run(t, "--db", f.dir, "dirs")
	require.NoError(t, stdin.Close())
	require.NoError(t, cmd.Wait())
	requireOneLineFailure(t, r, "is in use (by another process")
}

// TestCheckSkipsOtherLayers: a directory whose key (0) is not a record store header (a
// docstore collection keeps a JSON header there) is not taken for a damaged record store,
// unless --store names it.
func TestCheckSkipsOtherLayers(t *testing.T) {
	f := newFixture(t)
	f.damage(t, func(tr kv.Transaction) {
		tr.Set(pack(f.prefixes["/misc"], 0), []byte(`{"format":1}`))
	})
	r := run(t, "--db", f.dir, "check")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	require.NotContains(t, r.stdout, "/misc")
	r = run(t, "--db", f.dir, "check", "--store", "/misc")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stdout, "FAIL  record store /misc: ")
}

// TestDamagedQueueStreamDocstore: the queue, stream and docstore checkers run by check report
// damage to their layers.
func TestDamagedQueueStreamDocstore(t *testing.T) {
	cases := []struct {
		name, part string
		damage     func(f *fixture, tr kv.Transaction)
	}{
		{"queue counter", "queue /jobs", func(f *fixture, tr kv.Transaction) {
			// A state count off by 98: the counters no longer match the messages.
			tr.Atomic(kv.Add, pack(f.prefixes["/jobs"], 6, 0), []byte{98, 0, 0, 0, 0, 0, 0, 0})
		}},
		{"stream entry", "stream /chat", func(f *fixture, tr kv.Transaction) {
			tr.Set(pack(f.prefixes["/chat"], 1, "not an id"), []byte("x"))
		}},
		{"docstore document", "docstore collection /app/users", func(f *fixture, tr kv.Transaction) {
			tr.Set(pack(f.prefixes["/app/users"], 1, 40, "u9"), []byte("garbage"))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.damage(t, func(tr kv.Transaction) { c.damage(f, tr) })
			r := run(t, "--db", f.dir, "check", "--queue", "/jobs", "--stream", "/chat")
			require.Equal(t, 1, r.code, r.stdout+r.stderr)
			require.Contains(t, r.stdout, "FAIL  "+c.part+": ")
			require.Equal(t, 1, strings.Count(r.stdout, "FAIL"), r.stdout)
			require.NotContains(t, r.stderr, "internal error")
		})
	}
}
