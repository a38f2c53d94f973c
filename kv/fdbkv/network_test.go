package fdbkv

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNetworkOptionsSettings(t *testing.T) {
	dir := t.TempDir()
	cert := writeFile(t, "client.pem", "cert")
	key := writeFile(t, "client.key", "key")
	ca := writeFile(t, "ca.pem", "ca")

	got, err := (*NetworkOptions)(nil).settings()
	require.NoError(t, err)
	require.Nil(t, got)
	got, err = (&NetworkOptions{}).settings()
	require.NoError(t, err)
	require.Empty(t, got, "the zero value sets nothing")

	got, err = (&NetworkOptions{
		TLSCertPath: cert, TLSKeyPath: key, TLSCAPath: ca,
		TLSPassword: "pw", TLSVerifyPeers: "Check.Valid=1",
		TraceDir: dir, TraceFormat: "json", TraceLogGroup: "app",
		Knobs:                   []string{"min_trace_severity=10", "http_verbose_level=0"},
		ExternalClientDirectory: dir,
	}).settings()
	require.NoError(t, err)
	require.Equal(t, []networkSetting{
		{"tls_cert_path", cert}, {"tls_key_path", key}, {"tls_ca_path", ca},
		{"tls_password", "pw"}, {"tls_verify_peers", "Check.Valid=1"},
		{"trace_enable", dir}, {"trace_format", "json"}, {"trace_log_group", "app"},
		{"knob", "min_trace_severity=10"}, {"knob", "http_verbose_level=0"},
		{"external_client_directory", dir},
	}, got)
}

func TestNetworkOptionsErrorsNameTheField(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.pem")
	file := writeFile(t, "f", "x")
	for _, c := range []struct {
		opts NetworkOptions
		want string
	}{
		{NetworkOptions{TLSCertPath: missing}, "NetworkOptions.TLSCertPath: open " + missing},
		{NetworkOptions{TLSKeyPath: t.TempDir()}, "NetworkOptions.TLSKeyPath: "},
		{NetworkOptions{TLSCAPath: missing}, "NetworkOptions.TLSCAPath"},
		{NetworkOptions{TraceDir: file}, "NetworkOptions.TraceDir " + file + " is not a directory"},
		{NetworkOptions{TraceFormat: "XML"}, `NetworkOptions.TraceFormat "XML": want "xml" or "json"`},
		{NetworkOptions{Knobs: []string{"a=1", "no_value"}}, `NetworkOptions.Knobs[1] "no_value": want name=value`},
		{NetworkOptions{Knobs: []string{"=1"}}, `NetworkOptions.Knobs[0] "=1"`},
		{NetworkOptions{ExternalClientDirectory: missing}, "NetworkOptions.ExternalClientDirectory " + missing},
	} {
		_, err := c.opts.settings()
		require.ErrorContains(t, err, c.want, "%+v", c.opts)
	}
	_, err := (&NetworkOptions{TLSCertPath: missing}).settings()
	require.ErrorIs(t, err, os.ErrNotExist, "the file system's error is kept")
}

func TestNetworkStateStartsOnceAndRefusesOtherOptionsLater(t *testing.T) {
	tls := []networkSetting{{"tls_ca_path", "/ca.pem"}}
	var s networkState
	calls := 0
	begin := func([]networkSetting) error { calls++; return nil }

	require.NoError(t, s.start(tls, begin))
	require.Equal(t, 1, calls)
	require.NoError(t, s.start(nil, begin), "a later Open without network options is fine")
	require.NoError(t, s.start([]networkSetting{{"tls_ca_path", "/ca.pem"}}, begin), "and one asking for the same ones")
	err := s.start([]networkSetting{{"trace_enable", "/tmp"}}, begin)
	require.ErrorContains(t, err, "already started with other network options")
	require.Equal(t, 1, calls, "the network starts once")

	var failed networkState
	boom := errors.New("boom")
	require.Equal(t, boom, failed.start(tls, func([]networkSetting) error { return boom }))
	require.NoError(t, failed.start(tls, begin), "a start that failed is tried again")
}
