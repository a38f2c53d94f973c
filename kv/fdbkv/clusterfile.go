package fdbkv

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"

	"github.com/layerkit/layerkit/kv"
)

// A cluster file holds one connection string, description:ID@coordinator[,coordinator...], in
// which blanks and newlines are ignored everywhere and '#' starts a comment that runs to the end
// of the line. Open reads and checks it the way FoundationDB's client does, so that a missing,
// unreadable or malformed file fails at Open with its path and the problem, rather than at the
// first read with a bare code.

// maxClusterFileBytes is the largest cluster file FoundationDB reads (MAX_CLUSTER_FILE_BYTES).
const maxClusterFileBytes = 60000

// clusterFileEnv is the environment variable FoundationDB reads for the default cluster file.
const clusterFileEnv = "FDB_CLUSTER_FILE"

// ClusterFileError is returned by Open when the cluster file is missing, unreadable or
// malformed. It wraps the kv.Error of the code FoundationDB gives the same problem:
// no_cluster_file_found (1515), file_too_large (1516) or connection_string_invalid (2104).
type ClusterFileError struct {
	// Path is the cluster file, as resolved from Open's argument.
	Path string
	// Problem says what is wrong, for a person to read.
	Problem string
	// Code is FoundationDB's error for the problem.
	Code kv.Error
}

// Error returns the path and the problem.
func (e *ClusterFileError) Error() string {
	return fmt.Sprintf("fdbkv: cluster file %s: %s", e.Path, e.Problem)
}

// Unwrap returns the FoundationDB error code of the problem.
func (e *ClusterFileError) Unwrap() error { return e.Code }

// FoundationDB's codes for cluster file problems.
var (
	errNoClusterFile  = kv.Error{Code: 1515} // no_cluster_file_found
	errFileTooLarge   = kv.Error{Code: 1516} // file_too_large
	errInvalidConnStr = kv.Error{Code: 2104} // connection_string_invalid
)

// connectionGrammar is appended to the errors of a connection string that cannot be split up.
const connectionGrammar = "want description:ID@host:port[,host:port...], each coordinator an IPv4:port, [IPv6]:port or hostname:port, optionally followed by :tls"

// The syntax of a coordinator. FoundationDB takes one that matches hostnameSyntax but not
// ipv4HostnameSyntax for a hostname, and parses anything else as an address: IPv4:port as
// sscanf's "%d.%d.%d.%d:%d" reads it (ipv4Syntax), or [IP]:port with the port read as stoi does
// (leadingInt).
var (
	hostnameSyntax     = regexp.MustCompile(`^([\w-]+\.?)+:\d+(:tls)?$`)
	ipv4HostnameSyntax = regexp.MustCompile(`^(\d{1,3}\.?){4,}:\d+(:tls)?$`)
	ipv4Syntax         = regexp.MustCompile(`^([+-]?\d+)\.([+-]?\d+)\.([+-]?\d+)\.([+-]?\d+):([+-]?\d+)$`)
	leadingInt         = regexp.MustCompile(`^[+-]?\d+`)
)

// clusterFile is a cluster file that FoundationDB would accept.
type clusterFile struct {
	path         string
	description  string
	id           string
	coordinators []string // as written, blanks and comments removed
}

// coordinatorList returns the coordinators, comma-separated, as they appear in the file.
func (c clusterFile) coordinatorList() string { return strings.Join(c.coordinators, ",") }

// resolveClusterFile names the file FoundationDB's client opens for name: name itself, or for ""
// the file $FDB_CLUSTER_FILE names (when set, even to a file that does not exist), else
// fdb.cluster in the working directory when it can be opened, else the platform's default.
// where describes how the default was chosen ("" for an explicit name).
func resolveClusterFile(name string) (path, where string) {
	if name != "" {
		return name, ""
	}
	if env, ok := os.LookupEnv(clusterFileEnv); ok {
		return env, "named by $" + clusterFileEnv
	}
	if f, err := os.Open("fdb.cluster"); err == nil {
		f.Close()
		return "fdb.cluster", "found in the working directory"
	}
	return defaultClusterFile(runtime.GOOS), "the default, as $" + clusterFileEnv + " is unset and there is no ./fdb.cluster"
}

// defaultClusterFile is FoundationDB's default cluster file on goos.
func defaultClusterFile(goos string) string {
	switch goos {
	case "darwin", "freebsd":
		return "/usr/local/etc/foundationdb/fdb.cluster"
	case "windows":
		dir := os.Getenv("ProgramData")
		if dir == "" {
			dir = `C:\ProgramData`
		}
		return dir + `\foundationdb\fdb.cluster`
	default:
		return "/etc/foundationdb/fdb.cluster"
	}
}

// readClusterFile resolves, reads and checks the cluster file Open is given.
func readClusterFile(name string) (clusterFile, error) {
	path, where := resolveClusterFile(name)
	fail := func(code kv.Error, format string, args ...any) (clusterFile, error) {
		problem := fmt.Sprintf(format, args...)
		if where != "" {
			problem += " (" + where + ")"
		}
		return clusterFile{}, &ClusterFileError{Path: path, Problem: problem, Code: code}
	}
	if path == "" {
		return fail(errNoClusterFile, "$%s is set but empty", clusterFileEnv)
	}
	f, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fail(errNoClusterFile, "does not exist")
	case errors.Is(err, fs.ErrPermission):
		return fail(errNoClusterFile, "cannot be read by this process: permission denied")
	case err != nil:
		return fail(errNoClusterFile, "cannot be opened: %v", err)
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil && info.IsDir() {
		return fail(errNoClusterFile, "is a directory, not a cluster file")
	}
	b, err := io.ReadAll(io.LimitReader(f, maxClusterFileBytes+1))
	if err != nil {
		return fail(errNoClusterFile, "cannot be read: %v", err)
	}
	if len(b) > maxClusterFileBytes {
		return fail(errFileTooLarge, "is larger than the %d bytes FoundationDB reads", maxClusterFileBytes)
	}
	cf, err := parseConnectionString(string(b))
	if err != nil {
		return fail(errInvalidConnStr, "%v", err)
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	cf.path = path
	return cf, nil
}

// parseConnectionString checks s as FoundationDB's ClusterConnectionString does and returns its
// parts. Beyond FoundationDB, it also refuses IPv4 octets above 255 and ports outside 1-65535,
// which FoundationDB accepts but silently wraps into another address.
func parseConnectionString(s string) (clusterFile, error) {
	t := stripBlanksAndComments(s)
	if t == "" {
		return clusterFile{}, fmt.Errorf("holds no connection string, only blanks and comments; %s", connectionGrammar)
	}
	at := strings.IndexByte(t, '@')
	if at < 0 {
		return clusterFile{}, fmt.Errorf("connection string %q has no '@' between description:ID and the coordinators; %s", t, connectionGrammar)
	}
	key, addrs := t[:at], t[at+1:]
	colon := strings.IndexByte(key, ':')
	if colon < 0 {
		return clusterFile{}, fmt.Errorf("%q before the '@' has no ':' between the description and the ID; %s", key, connectionGrammar)
	}
	desc, id := key[:colon], key[colon+1:]
	for i := 0; i < len(desc); i++ {
		if !isAlnum(desc[i]) && desc[i] != '_' {
			return clusterFile{}, fmt.Errorf("description %q may hold only letters, digits and '_'", desc)
		}
	}
	for i := 0; i < len(id); i++ {
		if !isAlnum(id[i]) {
			return clusterFile{}, fmt.Errorf("ID %q may hold only letters and digits", id)
		}
	}
	cf := clusterFile{description: desc, id: id}
	seen := map[string]int{}
	for i, c := range strings.Split(addrs, ",") {
		n := i + 1
		if c == "" {
			return clusterFile{}, fmt.Errorf("coordinator %d is empty (a ',' too many, or none after the '@'?); %s", n, connectionGrammar)
		}
		same, err := coordinatorIdentity(c)
		if err != nil {
			return clusterFile{}, fmt.Errorf("coordinator %d %q: %v", n, c, err)
		}
		if first, dup := seen[same]; dup {
			return clusterFile{}, fmt.Errorf("coordinator %d %q repeats coordinator %d", n, c, first)
		}
		seen[same] = n
		cf.coordinators = append(cf.coordinators, c)
	}
	return cf, nil
}

// stripBlanksAndComments drops spaces, tabs, carriage returns and newlines, and everything from a
// '#' to the end of its line.
func stripBlanksAndComments(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '#':
			for i < len(s) && s[i] != '\n' && s[i] != '\r' {
				i++
			}
		case ' ', '\t', '\r', '\n':
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// coordinatorIdentity checks one coordinator and returns what makes two coordinators the same
// for FoundationDB: a hostname's host, port and TLS flag as written, or an address's IP, port
// and TLS flag.
func coordinatorIdentity(c string) (string, error) {
	if hostnameSyntax.MatchString(c) && !ipv4HostnameSyntax.MatchString(c) {
		host, rest, _ := strings.Cut(c, ":")
		port, tls, _ := strings.Cut(rest, ":")
		if err := checkPort(port); err != nil {
			return "", err
		}
		return fmt.Sprintf("host %s port %s tls %v", host, port, tls != ""), nil
	}
	addr, port, tls, err := parseNetworkAddress(c)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("ip %s port %d tls %v", addr, port, tls), nil
}

// parseNetworkAddress parses IPv4:port or [IP]:port, optionally followed by :tls, as
// FoundationDB's NetworkAddress::parse does (including its "(fromHostname)" marker, which cuts
// the address short, and its tolerance of text after an IPv6 address's port).
func parseNetworkAddress(s string) (ip netip.Addr, port int, tls bool, err error) {
	f := s
	if i := strings.Index(f, "(fromHostname)"); i >= 0 {
		f = f[:i]
	}
	if len(f) > 4 && strings.HasSuffix(f, ":tls") {
		tls, f = true, f[:len(f)-4]
	}
	if strings.HasPrefix(f, "[") {
		end := strings.IndexByte(f, ']')
		if end < 0 || end+1 >= len(f) || f[end+1] != ':' {
			return ip, 0, false, fmt.Errorf("want [IPv6]:port")
		}
		ip, err = netip.ParseAddr(f[1:end])
		if err != nil {
			return ip, 0, false, fmt.Errorf("%q is not an IP address", f[1:end])
		}
		digits := leadingInt.FindString(f[end+2:])
		if digits == "" {
			return ip, 0, false, fmt.Errorf("no port number after %q", f[:end+2])
		}
		port, err = portNumber(digits)
		return ip, port, tls, err
	}
	m := ipv4Syntax.FindStringSubmatch(f)
	if m == nil {
		return ip, 0, false, fmt.Errorf("not a hostname:port, IPv4:port or [IPv6]:port (optionally followed by :tls)")
	}
	var octets [4]byte
	for i := range octets {
		v, err := strconv.Atoi(m[i+1])
		if err != nil || v < 0 || v > 255 {
			return ip, 0, false, fmt.Errorf("%s is not an IPv4 octet (0-255)", m[i+1])
		}
		octets[i] = byte(v)
	}
	port, err = portNumber(m[5])
	return netip.AddrFrom4(octets), port, tls, err
}

// checkPort checks a hostname's port, which FoundationDB keeps as the text written.
func checkPort(s string) error {
	_, err := portNumber(s)
	return err
}

// portNumber parses a decimal port and checks its range.
func portNumber(s string) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 || v > 65535 {
		return 0, fmt.Errorf("port %s is not a TCP port (1-65535)", s)
	}
	return v, nil
}
