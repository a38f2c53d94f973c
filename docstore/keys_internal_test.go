package docstore

import (
	"bytes"
	"testing"

	"github.com/layerkit/layerkit/tuple"
)

// The key appenders write what the tuple package packs.
func TestKeyAppendersMatchTuple(t *testing.T) {
	for _, s := range []string{"", "a", "field", "a\x00b", "\x00", "\x00\x00", "é", "long name with spaces"} {
		if got, want := appendKeyString(nil, s), (tuple.Tuple{s}).Pack(); !bytes.Equal(got, want) {
			t.Errorf("string %q: %x, want %x", s, got, want)
		}
	}
	for _, i := range []int{0, 1, 2, 255, 256, 65535, 65536, 1 << 24, 1<<31 - 1} {
		if got, want := appendKeyIndex(nil, i), (tuple.Tuple{int64(i)}).Pack(); !bytes.Equal(got, want) {
			t.Errorf("index %d: %x, want %x", i, got, want)
		}
	}
}
