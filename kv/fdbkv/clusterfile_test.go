package fdbkv

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/layerkit/layerkit/kv"
	"github.com/stretchr/testify/require"
)

// Connection strings FoundationDB accepts, with the coordinators it reads. The first group is
// taken from the client's own parser tests (fdbclient/MonitorLeader.actor.cpp, flow/Hostname).
func TestParseConnectionStringAccepts(t *testing.T) {
	for _, c := range []struct {
		in, desc, id string
		coords       []string
	}{
		{"asdf:2345@1.1.1.1:345", "asdf", "2345", []string{"1.1.1.1:345"}},
		{"0xxdeadbeef:100100100@1.1.1.1:34534,5.1.5.3:23443", "0xxdeadbeef", "100100100", []string{"1.1.1.1:34534", "5.1.5.3:23443"}},
		{"#start of comment\n0xxdeadbeef:100100100@[::1]:1234,[::1]:1235\n# asdfasdf ##", "0xxdeadbeef", "100100100", []string{"[::1]:1234", "[::1]:1235"}},
		{"x:1@[abcd:dcba::1]:1234,[abcd:dcba::abcd:1]:1234", "x", "1", []string{"[abcd:dcba::1]:1234", "[abcd:dcba::abcd:1]:1234"}},
		{"asdf:2345@localhost:1234", "asdf", "2345", []string{"localhost:1234"}},
		{"x:1@localhost:34534,host-name_part1.host-name_part2:1234:tls", "x", "1", []string{"localhost:34534", "host-name_part1.host-name_part2:1234:tls"}},
		// What the integration harness and the Docker image write.
		{"docker:docker@127.0.0.1:4500\n", "docker", "docker", []string{"127.0.0.1:4500"}},
		{"docker:docker@fdb:4500", "docker", "docker", []string{"fdb:4500"}},
		// Blanks are dropped everywhere, even inside a coordinator; comments run to the line end.
		{"  my_db : abc123 @ 10.0.0.1 : 4500 ,\t10.0.0.2:4500:tls # two coordinators\r\n", "my_db", "abc123", []string{"10.0.0.1:4500", "10.0.0.2:4500:tls"}},
		// The same address with and without TLS are two coordinators.
		{"a:b@1.2.3.4:1,1.2.3.4:1:tls", "a", "b", []string{"1.2.3.4:1", "1.2.3.4:1:tls"}},
		// Three dotted numbers are a hostname to FoundationDB (resolved later), not an address.
		{"a:b@1.2.3:4500", "a", "b", []string{"1.2.3:4500"}},
		// Empty description and ID pass FoundationDB's checks.
		{":@1.2.3.4:1", "", "", []string{"1.2.3.4:1"}},
		// The marker FoundationDB appends to addresses it resolved from a hostname cuts the rest.
		{"a:b@1.2.3.4:1(fromHostname)", "a", "b", []string{"1.2.3.4:1(fromHostname)"}},
		// An IPv4 address in brackets; text after an IPv6 port is ignored, as stoi does.
		{"a:b@[1.2.3.4]:5,[::2]:4500x", "a", "b", []string{"[1.2.3.4]:5", "[::2]:4500x"}},
	} {
		cf, err := parseConnectionString(c.in)
		require.NoError(t, err, "%q", c.in)
		require.Equal(t, c.desc, cf.description, "%q", c.in)
		require.Equal(t, c.id, cf.id, "%q", c.in)
		require.Equal(t, c.coords, cf.coordinators, "%q", c.in)
	}
}

func TestParseConnectionStringRejects(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "holds no connection string"},
		{"# nothing but a comment\n  \n", "holds no connection string"},
		{"docker:docker", `"docker:docker" has no '@'`},
		{"dockerdocker@1.2.3.4:1", `"dockerdocker" before the '@' has no ':'`},
		{"dock-er:id@1.2.3.4:1", `description "dock-er" may hold only letters, digits and '_'`},
		{"d:i:d@1.2.3.4:1", `ID "i:d" may hold only letters and digits`},
		{"d:i_d@1.2.3.4:1", `ID "i_d" may hold only letters and digits`},
		{"d:i@", "coordinator 1 is empty"},
		{"d:i@1.2.3.4:1,", "coordinator 2 is empty"},
		{"d:i@1.2.3.4:1,,1.2.3.5:1", "coordinator 2 is empty"},
		{"asdf:2345@1.1.1.1:345,1.1.1.1:345", `coordinator 2 "1.1.1.1:345" repeats coordinator 1`},
		{"asdf:2345@localhost:1234,localhost:1234", `coordinator 2 "localhost:1234" repeats coordinator 1`},
		{"a:b@[::1]:1,[0:0::1]:1", `coordinator 2 "[0:0::1]:1" repeats coordinator 1`},
		{"a:b@[1.2.3.4]:5,1.2.3.4:5", `coordinator 2 "1.2.3.4:5" repeats coordinator 1`},
		{"a:b@1.2.3.4", `coordinator 1 "1.2.3.4": not a hostname:port`},
		{"a:b@1.2.3.4:4500:tl", `coordinator 1 "1.2.3.4:4500:tl": not a hostname:port`},
		{"a:b@http://x:1", "not a hostname:port"},
		{"a:b@1.2.3.400:4500", "400 is not an IPv4 octet"},
		{"a:b@1.2.3.4:70000", "port 70000 is not a TCP port"},
		{"a:b@1.2.3.4:0", "port 0 is not a TCP port"},
		{"a:b@fdb:99999", "port 99999 is not a TCP port"},
		{"a:b@[::1]4500", "want [IPv6]:port"},
		{"a:b@[::1", "want [IPv6]:port"},
		{"a:b@[zz::1]:1", `"zz::1" is not an IP address`},
		{"a:b@[::1]:x", "no port number"},
		{"a:b@1.2.3.4:1\nc:d@1.2.3.5:1", "not a hostname:port"},
	} {
		_, err := parseConnectionString(c.in)
		require.Error(t, err, "%q", c.in)
		require.Contains(t, err.Error(), c.want, "%q", c.in)
	}
}

// As FoundationDB's own fuzz test of its parser: blanks and comments scattered anywhere in a
// connection string change nothing.
func TestParseConnectionStringIgnoresScatteredBlanksAndComments(t *testing.T) {
	const conn = "0xxdeadbeef:100100100@1.1.1.1:34534,5.1.5.3:23443,host-name:4500:tls"
	want, err := parseConnectionString(conn)
	require.NoError(t, err)
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	for range 2000 {
		var b strings.Builder
		for i := 0; i < len(conn); {
			if rng.Float64() < 0.1 {
				b.WriteByte(" \t\n\r"[rng.IntN(4)])
			}
			if rng.Float64() < 0.5 {
				b.WriteByte(conn[i])
				i++
			}
			if rng.Float64() < 0.1 {
				b.WriteByte('#')
				for range rng.IntN(20) {
					b.WriteByte("asdfzxcv123345:!@#$#$&()<\"' \t"[rng.IntN(29)])
				}
				b.WriteByte("\n\r"[rng.IntN(2)])
			}
		}
		got, err := parseConnectionString(b.String())
		require.NoError(t, err, "seed %d: %q", seed, b.String())
		require.Equal(t, want, got, "seed %d: %q", seed, b.String())
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	return path
}

// requireClusterFileError checks that err names path and problem and carries FoundationDB's code.
func requireClusterFileError(t *testing.T, err error, path, problem string, code kv.Error) {
	t.Helper()
	var cfe *ClusterFileError
	require.True(t, errors.As(err, &cfe), "want a *ClusterFileError, got %v", err)
	require.Equal(t, path, cfe.Path)
	require.Contains(t, err.Error(), path)
	require.Contains(t, err.Error(), problem)
	require.ErrorIs(t, err, code)
}

func TestReadClusterFile(t *testing.T) {
	good := writeFile(t, "fdb.cluster", "# test cluster\ndocker:docker@127.0.0.1:4500\n")
	cf, err := readClusterFile(good)
	require.NoError(t, err)
	require.Equal(t, good, cf.path)
	require.Equal(t, "127.0.0.1:4500", cf.coordinatorList())

	missing := filepath.Join(t.TempDir(), "nope.cluster")
	_, err = readClusterFile(missing)
	requireClusterFileError(t, err, missing, "does not exist", errNoClusterFile)

	dir := t.TempDir()
	_, err = readClusterFile(dir)
	requireClusterFileError(t, err, dir, "is a directory", errNoClusterFile)

	big := writeFile(t, "big.cluster", "a:b@1.2.3.4:1\n#"+strings.Repeat("x", maxClusterFileBytes))
	_, err = readClusterFile(big)
	requireClusterFileError(t, err, big, "larger than the 60000 bytes", errFileTooLarge)

	bad := writeFile(t, "bad.cluster", "docker:docker@127.0.0.1\n")
	_, err = readClusterFile(bad)
	requireClusterFileError(t, err, bad, `coordinator 1 "127.0.0.1": not a hostname:port`, errInvalidConnStr)
	require.ErrorIs(t, err, kv.Error{Code: 2104}, "errors.Is matches FoundationDB's connection_string_invalid")
}

func TestReadClusterFileUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads files whatever their mode; the permission case cannot be made here")
	}
	path := writeFile(t, "locked.cluster", "a:b@1.2.3.4:1")
	require.NoError(t, os.Chmod(path, 0))
	_, err := readClusterFile(path)
	requireClusterFileError(t, err, path, "permission denied", errNoClusterFile)
}

// With "" the client picks the file as FoundationDB does: $FDB_CLUSTER_FILE when set (even to
// a file that is missing), else ./fdb.cluster, else the platform default.
func TestReadClusterFileDefaultResolution(t *testing.T) {
	t.Setenv(clusterFileEnv, "")
	_, err := readClusterFile("")
	requireClusterFileError(t, err, "", "$FDB_CLUSTER_FILE is set but empty", errNoClusterFile)

	missing := filepath.Join(t.TempDir(), "env.cluster")
	t.Setenv(clusterFileEnv, missing)
	_, err = readClusterFile("")
	requireClusterFileError(t, err, missing, "does not exist (named by $FDB_CLUSTER_FILE)", errNoClusterFile)

	require.NoError(t, os.Unsetenv(clusterFileEnv)) // t.Setenv restores it when the test ends
	t.Chdir(t.TempDir())
	def := defaultClusterFile(runtime.GOOS)
	if _, err := os.Stat(def); err == nil {
		t.Logf("%s exists on this machine; the default-file case is not checked", def)
	} else {
		_, err = readClusterFile("")
		requireClusterFileError(t, err, def, "does not exist (the default, as $FDB_CLUSTER_FILE is unset and there is no ./fdb.cluster)", errNoClusterFile)
	}

	require.NoError(t, os.WriteFile("fdb.cluster", []byte("local:1@10.1.1.1:4500"), 0o644))
	cf, err := readClusterFile("")
	require.NoError(t, err)
	require.Equal(t, "10.1.1.1:4500", cf.coordinatorList())
	wd, _ := os.Getwd()
	require.Equal(t, filepath.Join(wd, "fdb.cluster"), cf.path, "the path is reported absolute")
}

func TestDefaultClusterFile(t *testing.T) {
	require.Equal(t, "/etc/foundationdb/fdb.cluster", defaultClusterFile("linux"))
	require.Equal(t, "/usr/local/etc/foundationdb/fdb.cluster", defaultClusterFile("darwin"))
	t.Setenv("ProgramData", `D:\Data`)
	require.Equal(t, `D:\Data\foundationdb\fdb.cluster`, defaultClusterFile("windows"))
}

// FuzzParseConnectionString checks that no input panics the parser and that an accepted string
// reads back the same once written without blanks and comments.
func FuzzParseConnectionString(f *testing.F) {
	for _, s := range []string{
		"docker:docker@127.0.0.1:4500",
		"#c\n a:b @ [::1]:1 , host-name:2:tls",
		"x:1@1.2.3.4:1(fromHostname),1.2.3:5",
		"a:b@[::1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cf, err := parseConnectionString(s)
		if err != nil {
			return
		}
		again, err := parseConnectionString(cf.description + ":" + cf.id + "@" + cf.coordinatorList())
		require.NoError(t, err)
		require.Equal(t, cf, again)
	})
}
