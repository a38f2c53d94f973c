package record_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/record/internal/storepb"
	"github.com/layerkit/layerkit/subspace"
	"github.com/layerkit/layerkit/tuple"
)

// Golden files of the Java Record Layer's formats (testdata/format/*.golden): every key and value
// a case leaves under its store prefix, as readable hex. Each line is
//
//	<key as a tuple relative to the prefix>
//	  key   <key bytes after the prefix, hex>
//	  value <value bytes, hex>
//
// and the store header (S+(0)) is shown decoded, without its timestamp. The expected bytes were
// worked out from the Java source cited in each test and checked by hand; -update rewrites them.

// layout renders the rows under prefix p.
func layout(t testing.TB, p subspace.Subspace, rows []kv.KeyValue) string {
	t.Helper()
	var b strings.Builder
	for _, r := range rows {
		rel := r.Key[len(p.Bytes()):]
		tt, err := p.Unpack(r.Key)
		name := fmt.Sprintf("%x (not a tuple)", rel)
		if err == nil {
			name = tt.String()
		}
		if len(tt) == 1 && tt[0] == int64(0) {
			var h storepb.DataStoreInfo
			require.NoError(t, proto.Unmarshal(r.Value, &h))
			h.LastUpdateTime = nil
			text, err := prototext.MarshalOptions{}.Marshal(&h)
			require.NoError(t, err)
			fmt.Fprintf(&b, "%s header {%s}\n", name, strings.Join(strings.Fields(string(text)), " "))
			continue
		}
		fmt.Fprintf(&b, "%s\n  key   %s\n  value %s\n", name, spaced(rel), spaced(r.Value))
	}
	return b.String()
}

// spaced prints bytes as hex in groups of two, so tuple elements stand out a little.
func spaced(b []byte) string {
	if len(b) == 0 {
		return "(empty)"
	}
	h := hex.EncodeToString(b)
	var out []string
	for len(h) > 32 {
		out = append(out, h[:32])
		h = h[32:]
	}
	return strings.Join(append(out, h), " ")
}

// golden compares got with testdata/format/<name>.golden (or writes it with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "format", name+".golden")
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run with -update to create %s", path)
	require.Equal(t, string(want), got, "golden file %s", path)
}

// rowsUnder returns the rows of dump whose keys start with prefix + pack(elems).
func rowsUnder(p subspace.Subspace, rows []kv.KeyValue, elems ...any) []kv.KeyValue {
	pre := p.Pack(tuple.Tuple(elems))
	var out []kv.KeyValue
	for _, r := range rows {
		if bytes.HasPrefix(r.Key, pre) {
			out = append(out, r)
		}
	}
	return out
}
