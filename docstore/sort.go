package docstore

import (
	"fmt"
	"strings"
)

// sortField is one key of a sort: a path and a direction.
type sortField struct {
	path fieldPath
	ps   string
	desc bool
}

// parseSort reads a sort given as paths, each optionally prefixed with '-' for descending:
// []string{"age", "-name"}.
func parseSort(spec []string) ([]sortField, error) {
	out := make([]sortField, 0, len(spec))
	for _, s := range spec {
		f := sortField{ps: s}
		if strings.HasPrefix(s, "-") {
			f.desc, f.ps = true, s[1:]
		} else if strings.HasPrefix(s, "+") {
			f.ps = s[1:]
		}
		p, err := parsePath(f.ps)
		if err != nil {
			return nil, fmt.Errorf("docstore: sort %q: %v: %w", s, err, ErrInvalidFilter)
		}
		f.path = p
		for _, g := range out {
			if g.ps == f.ps {
				return nil, fmt.Errorf("docstore: sort names %q twice: %w", f.ps, ErrInvalidFilter)
			}
		}
		out = append(out, f)
	}
	return out, nil
}

// sortKey returns the value a document sorts by on one field: MongoDB's rule is the smallest of
// the path's key values ascending and the largest descending (an array sorts by an element; an
// empty array as undefined, before null; a missing field as null).
func sortKey(doc map[string]any, f sortField) any {
	vals, _ := keyValues(doc, f.path, nil)
	if len(vals) == 0 {
		return nil
	}
	best := vals[0]
	for _, v := range vals[1:] {
		c := compareValues(v, best)
		if f.desc && c > 0 || !f.desc && c < 0 {
			best = v
		}
	}
	return best
}

// compareSortKeys orders two documents by the sort fields (directions applied). A nil document
// sorts as one without any of the fields.
func compareSortKeys(a, b map[string]any, fields []sortField) int {
	for _, f := range fields {
		c := compareValues(sortKey(a, f), sortKey(b, f))
		if f.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// allDescending reports whether every field sorts descending: ties are then broken by _id
// descending too, as a reverse index scan returns them.
func allDescending(fields []sortField) bool {
	for _, f := range fields {
		if !f.desc {
			return false
		}
	}
	return len(fields) > 0
}

func sortString(fields []sortField) string {
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = f.ps
		if f.desc {
			parts[i] = "-" + f.ps
		}
	}
	return strings.Join(parts, ", ")
}
