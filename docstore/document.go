package docstore

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// Document is a document read from a collection. Its fields belong to the caller.
type Document struct {
	fields map[string]any
	rev    Revision
}

// ID returns the document's _id: a string, an int64, a uuid.UUID or a []byte.
func (d *Document) ID() any { return d.fields["_id"] }

// Map returns the document as a map (not a copy): objects are map[string]any, arrays []any,
// numbers int64 or float64, dates time.Time, binary data []byte or uuid.UUID.
func (d *Document) Map() M { return d.fields }

// Get returns the value at a dotted path ("address.city", "tags.0") and whether it exists.
func (d *Document) Get(path string) (any, bool) {
	p, err := parsePath(path)
	if err != nil {
		return nil, false
	}
	return lookup(d.fields, p)
}

// Decode stores the document in v (a pointer to a struct or map) through encoding/json: dates
// arrive as RFC 3339 strings (which time.Time and Date accept), binary data as base64 (which
// []byte accepts) and UUIDs as strings (which uuid.UUID accepts).
func (d *Document) Decode(v any) error {
	raw, err := plainJSON(d.fields)
	if err != nil {
		return fmt.Errorf("docstore: document %s: %w", formatID(d.ID()), err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("docstore: decode document %s into %T: %w", formatID(d.ID()), v, err)
	}
	return nil
}

// JSON returns the document as MongoDB Extended JSON (relaxed): dates as {"$date": "…"}, binary
// data as {"$binary": …}, floats that hold whole numbers with a fraction ("2.0"), fields sorted.
// Insert reads this form back to the same values.
func (d *Document) JSON() ([]byte, error) { return marshalExtended(d.fields) }

// Revision returns the revision the document had when it was read: the versionstamp of the
// transaction that last changed it. It is zero for a document changed earlier in the same
// transaction (its stamp is known only at commit) and for documents returned by writes.
func (d *Document) Revision() Revision { return d.rev }

// Revision identifies one version of a document: the 10-byte versionstamp of the commit that
// wrote it. Revisions of one document increase with every change.
type Revision [10]byte

// IsZero reports whether the revision is unknown.
func (r Revision) IsZero() bool { return r == Revision{} }

// String prints the revision in hex.
func (r Revision) String() string { return hex.EncodeToString(r[:]) }
