package directory

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/tuple"
)

// The constants of the on-disk format (spec/directory.md §1).
const (
	// subdirs is the first tuple element of a node's child entries: N + pack((0, name)).
	subdirs = 0

	majorVersion = 1
	minorVersion = 0
	microVersion = 0
)

var (
	// partitionLayer is the layer value that makes a directory a partition.
	partitionLayer = []byte("partition")

	layerSuffix   = tuple.Tuple{[]byte("layer")}.Pack()
	versionSuffix = tuple.Tuple{[]byte("version")}.Pack()
	hcaSuffix     = tuple.Tuple{[]byte("hca")}.Pack()

	// versionValue is (1, 0, 0) as three little-endian 32-bit integers.
	versionValue = func() []byte {
		b := make([]byte, 12)
		binary.LittleEndian.PutUint32(b[0:], majorVersion)
		binary.LittleEndian.PutUint32(b[4:], minorVersion)
		binary.LittleEndian.PutUint32(b[8:], microVersion)
		return b
	}()
)

// concat returns a new slice holding the parts one after another; it never aliases them.
func concat(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// subdirKey is the key of the child entry name under the node whose key is node.
func subdirKey(node []byte, name string) []byte {
	return concat(node, tuple.Tuple{subdirs, name}.Pack())
}

// subdirRange is the range of every child entry of a node: [N 14 00, N 14 ff).
func subdirRange(node []byte) kv.Range {
	p := concat(node, tuple.Tuple{subdirs}.Pack())
	return kv.Range{Begin: concat(p, []byte{0x00}), End: concat(p, []byte{0xff})}
}

// layerKey is the key of a node's layer value.
func layerKey(node []byte) []byte { return concat(node, layerSuffix) }

// nodeRange is the range of every key of a node: [N 00, N ff).
func nodeRange(node []byte) kv.Range {
	return kv.Range{Begin: concat(node, []byte{0x00}), End: concat(node, []byte{0xff})}
}

// checkPath refuses path elements that cannot be stored as tuple strings, before any
// transaction starts.
func checkPath(path []string) error {
	for i, name := range path {
		if !utf8.ValidString(name) {
			return fmt.Errorf("%w: element %d of %s is not valid UTF-8", ErrInvalidPath, i, formatPath(path))
		}
	}
	return nil
}

// formatPath prints a path in tuple style, as ("a", "b").
func formatPath(path []string) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, p := range path {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(p))
	}
	b.WriteByte(')')
	return b.String()
}

func equalPaths(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// join returns a new path: a followed by b.
func join(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	return append(append(out, a...), b...)
}

func isPartition(layer []byte) bool { return bytes.Equal(layer, partitionLayer) }
