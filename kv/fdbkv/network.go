package fdbkv

import (
	"fmt"
	"os"
	"slices"
	"strings"
)

// NetworkOptions are FoundationDB client network options: process-wide settings that the client
// reads when its network starts, so they must be set before the first database is opened. Open
// sets them and starts the network itself; an Open that gives them after the network is already
// running (started by an earlier Open, or by the application through the binding) fails rather
// than letting FoundationDB ignore them, as it does for TLS and trace options set late.
//
// Every field is optional; the zero value sets nothing. For options not listed here, call the
// binding yourself before the first Open (see the package documentation).
//
//	db, err := fdbkv.Open("/etc/foundationdb/fdb.cluster", &fdbkv.Options{
//		Network: &fdbkv.NetworkOptions{
//			TLSCertPath: "/etc/foundationdb/client.pem",
//			TLSKeyPath:  "/etc/foundationdb/client.key",
//			TLSCAPath:   "/etc/foundationdb/ca.pem",
//			TraceDir:    "/var/log/myapp/fdb",
//			Knobs:       []string{"min_trace_severity=10"},
//		},
//	})
type NetworkOptions struct {
	// TLSCertPath, TLSKeyPath and TLSCAPath name PEM files: the client's certificate chain, its
	// private key, and the certificate authorities it trusts (tls_cert_path, tls_key_path,
	// tls_ca_path). Open checks that each one it is given can be read.
	TLSCertPath, TLSKeyPath, TLSCAPath string
	// TLSPassword decrypts an encrypted private key (tls_password).
	TLSPassword string
	// TLSVerifyPeers is FoundationDB's peer verification rule, such as "Check.Valid=1" or
	// "S.CN=fdb-server" (tls_verify_peers).
	TLSVerifyPeers string
	// TraceDir, when set, makes the client write trace files into that directory
	// (trace_enable). Open checks that it exists.
	TraceDir string
	// TraceFormat is "xml" (FoundationDB's default) or "json" (trace_format).
	TraceFormat string
	// TraceLogGroup tags this process's trace events (trace_log_group).
	TraceLogGroup string
	// Knobs are client knobs, each "name=value" (knob), applied in order.
	Knobs []string
	// ExternalClientDirectory loads every FoundationDB client library found in this directory
	// beside the linked one, so the process can talk to clusters of other versions during an
	// upgrade (external_client_directory; the multi-version client).
	ExternalClientDirectory string
}

// networkSetting is one network option to set: its FoundationDB name and string value.
type networkSetting struct {
	name, value string
}

// settings checks the options and lists them in the order they are set.
func (n *NetworkOptions) settings() ([]networkSetting, error) {
	if n == nil {
		return nil, nil
	}
	var out []networkSetting
	add := func(name, value string) {
		if value != "" {
			out = append(out, networkSetting{name, value})
		}
	}
	for _, f := range []struct{ field, name, path string }{
		{"TLSCertPath", "tls_cert_path", n.TLSCertPath},
		{"TLSKeyPath", "tls_key_path", n.TLSKeyPath},
		{"TLSCAPath", "tls_ca_path", n.TLSCAPath},
	} {
		if f.path == "" {
			continue
		}
		if err := readable(f.path); err != nil {
			return nil, fmt.Errorf("fdbkv: NetworkOptions.%s: %w", f.field, err)
		}
		add(f.name, f.path)
	}
	add("tls_password", n.TLSPassword)
	add("tls_verify_peers", n.TLSVerifyPeers)
	if n.TraceDir != "" {
		if info, err := os.Stat(n.TraceDir); err != nil || !info.IsDir() {
			return nil, fmt.Errorf("fdbkv: NetworkOptions.TraceDir %s is not a directory", n.TraceDir)
		}
		add("trace_enable", n.TraceDir)
	}
	switch n.TraceFormat {
	case "", "xml", "json":
		add("trace_format", n.TraceFormat)
	default:
		return nil, fmt.Errorf("fdbkv: NetworkOptions.TraceFormat %q: want \"xml\" or \"json\"", n.TraceFormat)
	}
	add("trace_log_group", n.TraceLogGroup)
	for i, k := range n.Knobs {
		name, _, ok := strings.Cut(k, "=")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("fdbkv: NetworkOptions.Knobs[%d] %q: want name=value", i, k)
		}
		add("knob", k)
	}
	if n.ExternalClientDirectory != "" {
		if info, err := os.Stat(n.ExternalClientDirectory); err != nil || !info.IsDir() {
			return nil, fmt.Errorf("fdbkv: NetworkOptions.ExternalClientDirectory %s is not a directory", n.ExternalClientDirectory)
		}
		add("external_client_directory", n.ExternalClientDirectory)
	}
	return out, nil
}

// readable reports why the file at path cannot be read, or nil.
func readable(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil && info.IsDir() {
		return fmt.Errorf("%s is a directory, not a file", path)
	}
	return nil
}

// networkState remembers which network options the process's network started with, so that a
// later Open asking for other ones fails instead of being ignored.
type networkState struct {
	started bool
	applied []networkSetting
}

// start runs begin (set the options and start the network) unless the network already runs, in
// which case asking for other options than those it started with is an error.
func (s *networkState) start(want []networkSetting, begin func([]networkSetting) error) error {
	if s.started {
		if want != nil && !slices.Equal(want, s.applied) {
			return fmt.Errorf("fdbkv: Options.Network cannot take effect: the FoundationDB client network of this process already started with other network options (set them in the first Open)")
		}
		return nil
	}
	if err := begin(want); err != nil {
		return err
	}
	s.started, s.applied = true, want
	return nil
}
