package docstore_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/docstore"
	"github.com/layerkit/layerkit/tuple"
)

// layoutDocs cover every kind of stored value: scalars of each type, an object kept field by
// field, packed arrays holding every type (objects and arrays inside), an array too large to
// pack, and a value split into chunks.
func layoutDocs() []any {
	date := time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)
	id := uuid.MustParse("0190a3b5-0000-7000-8000-000000000001")
	return []any{
		docstore.M{"_id": "scalars", "n": nil, "t": true, "f": false, "i": -3, "big": int64(1) << 60, "d": 1.5,
			"s": "héllo", "empty": "", "b": []byte{0, 1}, "u": id, "date": date, "z\x00ero": 1},
		docstore.M{"_id": 7, "tags": docstore.A{"a", 1, 2.5, nil, true, false, date, []byte{9}, id,
			docstore.M{"k": "v", "a": docstore.A{1}}, docstore.A{docstore.A{"x"}}, docstore.M{}}, "none": docstore.A{}},
		docstore.M{"_id": "objects", "o": docstore.M{"x": 1, "y": docstore.M{"z": "deep", "arr": docstore.A{1, 2}}}, "items": docstore.A{docstore.M{"m": 1}}},
		docstore.M{"_id": "long", "arr": docstore.A{strings.Repeat("l", 1500), docstore.M{"w": strings.Repeat("w", 600)}, docstore.A{1, 2}}},
		docstore.M{"_id": "split", "s": strings.Repeat("z", 150_000)},
	}
}

// The stored keys and values of documents, kept in testdata/stored_layout.golden: a change of
// the encoding shows there (and needs a new format version).
func TestStoredLayoutGolden(t *testing.T) {
	e := newEnv(t)
	c := e.coll("layout")
	require.NoError(t, c.CreateIndex(ctx, e.db, docstore.Index{Name: "tags", Fields: []string{"tags"}}))
	docs := layoutDocs()
	ids, err := c.InsertMany(ctx, e.db, docs)
	require.NoError(t, err)
	for i, id := range ids {
		d, err := c.Get(ctx, e.db, id)
		require.NoError(t, err)
		c, err := docstore.Compare(d.Map(), docs[i])
		require.NoError(t, err)
		require.Zero(t, c, "document %v reads back as %v", docs[i], d.Map())
	}

	ss := e.collSubspace("layout")
	prefix := ss.Bytes()
	// From P+(1), after the header, whose uid is random.
	rows := e.rawRows(ss.Pack(tuple.Tuple{int64(1)}), append(bytes.Clone(prefix), 0xff))
	var golden strings.Builder
	golden.WriteString("# key below the collection prefix (tuple, hex)\tvalue (hex; long ones cut)\n")
	for _, r := range rows {
		suffix := r.Key[len(prefix):]
		el, err := tuple.Unpack(suffix)
		require.NoError(t, err)
		value := hex.EncodeToString(r.Value)
		switch {
		case el[0] == int64(2):
			require.Len(t, r.Value, 10)
			value = "(a 10-byte versionstamp)"
		case len(r.Value) > 128:
			value = fmt.Sprintf("%s… (%d bytes)", hex.EncodeToString(r.Value[:24]), len(r.Value))
		}
		fmt.Fprintf(&golden, "%v %x\t%s\n", el, suffix, value)
	}
	path := "testdata/stored_layout.golden"
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(golden.String()), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), golden.String())
}
