package cli

import (
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/tuple"
)

// formatKey prints a key (relative to its location's prefix) as a tuple when it is a packed
// tuple, otherwise as its bytes in FoundationDB's printable form, in double quotes.
func formatKey(b []byte) string {
	if t, err := tuple.Unpack(b); err == nil && len(t) > 0 {
		return t.String()
	}
	return quoteBytes(b)
}

// formatValue prints a value as a tuple when it is a packed tuple that holds no null element,
// otherwise as its bytes. Nulls are excluded because short binary values, such as the 8-byte
// little-endian counters of atomic adds (01 00 00 …), often happen to unpack as tuples of
// nulls; a value meant as a tuple rarely holds one.
func formatValue(b []byte) string {
	if t, err := tuple.Unpack(b); err == nil && len(t) > 0 && !hasNull(t) {
		return t.String()
	}
	return quoteBytes(b)
}

func hasNull(t tuple.Tuple) bool {
	for _, e := range t {
		if e == nil {
			return true
		}
	}
	return false
}

func quoteBytes(b []byte) string { return `"` + kv.Printable(b) + `"` }
