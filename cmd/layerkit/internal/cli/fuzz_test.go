package cli

// Fuzz targets for the decoders that read what a damaged database may hold. They live in the
// package (not cli_test) because the decoders are not exported; the command-level behaviour on
// damaged stores is tested black-box in damage_test.go.

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/tuple"
)

// FuzzStoreHeader: any bytes decode or fail, never panic; a decoded header has a format version.
func FuzzStoreHeader(f *testing.F) {
	f.Add([]byte{0x08, 0x08, 0x10, 0x01, 0x28, 0xa3, 0xbc, 0x9c, 0x9e, 0xa1, 0x34})
	f.Add([]byte{0x08})
	f.Add([]byte(`{"format":1}`))
	f.Add(protowire.AppendTag(nil, 4, protowire.BytesType))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseStoreHeader(b)
		if err == nil && h.formatVersion <= 0 {
			t.Fatalf("header %x decoded without a format version", b)
		}
	})
}

// FuzzPrintable: the raw: syntax reads back every key kv.Printable prints, and any text either
// parses or fails.
func FuzzPrintable(f *testing.F) {
	f.Add([]byte("app/\x00\xff\\"), `\x15\x01`)
	f.Add([]byte{}, `\`)
	f.Add([]byte{0x5c, 0x78}, `\x1`)
	f.Fuzz(func(t *testing.T, key []byte, text string) {
		got, err := unprintable(kv.Printable(key))
		if err != nil || !bytes.Equal(got, key) {
			t.Fatalf("unprintable(Printable(%x)) = %x, %v", key, got, err)
		}
		_, _ = unprintable(text)
	})
}

// FuzzRecordKeys: rows under a store's record subspace, whatever their keys and values, are
// grouped into records or refused with an error, never a panic; the chunks of a record that
// assembles are exactly its rows' values in order.
func FuzzRecordKeys(f *testing.F) {
	prefix := []byte{0x15, 0x07}
	base := storeKey(prefix, recordKey)
	rec := func(elems ...any) []byte { return append(append([]byte(nil), base...), tuple.Tuple(elems).Pack()...) }
	f.Add(rec("a", 0), []byte("x"), rec("a", 1), []byte("y"), false)
	f.Add(rec("a", 1), []byte("x"), rec("a", 3), []byte("y"), false)
	f.Add(rec("a", -1), []byte("v"), rec("b", 0), []byte("y"), true)
	f.Add(append(append([]byte(nil), base...), 0x99), []byte{}, rec(), []byte{}, false)
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 []byte, omitUnsplit bool) {
		if !bytes.HasPrefix(k1, base) || !bytes.HasPrefix(k2, base) || bytes.Compare(k1, k2) >= 0 {
			return
		}
		s := &recordScanner{prefix: prefix, display: "fuzz", header: storeHeader{formatVersion: 8, omitUnsplit: omitUnsplit}}
		groups, err := s.group([]kv.KeyValue{{Key: k1, Value: v1}, {Key: k2, Value: v2}}, base)
		if err != nil {
			return
		}
		for _, g := range groups {
			r, err := s.assemble(g)
			if err != nil {
				continue
			}
			var want []byte
			for _, row := range g.rows {
				if row.suffix != suffixVersion {
					want = append(want, row.value...)
				}
			}
			if !bytes.Equal(r.data, want) {
				t.Fatalf("record %v assembled %x from rows %v", r.pk, r.data, g.rows)
			}
		}
	})
}
