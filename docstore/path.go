package docstore

import (
	"fmt"
	"strconv"
	"strings"
)

// fieldPath is a dotted path split into its components: "a.b.0" is {"a", "b", "0"}. A numeric
// component addresses an array element when the value there is an array, and a field otherwise.
type fieldPath []string

func parsePath(s string) (fieldPath, error) {
	if s == "" {
		return nil, fmt.Errorf("empty path")
	}
	p := fieldPath(strings.Split(s, "."))
	for _, c := range p {
		if c == "" {
			return nil, fmt.Errorf("path %q has an empty component", s)
		}
		if strings.HasPrefix(c, "$") {
			return nil, fmt.Errorf("path %q has a component starting with '$' (positional operators are not supported)", s)
		}
	}
	return p, nil
}

func (p fieldPath) String() string { return strings.Join(p, ".") }

// arrayIndex reads a path component as an array index: decimal digits without a leading zero.
func arrayIndex(c string) (int, bool) {
	if c == "" || len(c) > 9 || (len(c) > 1 && c[0] == '0') {
		return 0, false
	}
	for i := 0; i < len(c); i++ {
		if c[i] < '0' || c[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(c)
	return n, err == nil
}

// candidate is one value a path reaches in a document, under MongoDB's rules: arrays met before
// the last component are traversed (each element that is an object continues the path; a
// numeric component also takes that element), and an array at the end is seen both as itself and
// as each of its elements (expanded). missing marks a branch that ended without the field.
type candidate struct {
	v        any
	missing  bool
	expanded bool
}

// collector gathers candidates; multi records that an array was met (the path is multikey in
// this document).
type collector struct {
	out   []candidate
	multi bool
}

func (c *collector) walk(v any, p fieldPath) {
	if len(p) == 0 {
		c.out = append(c.out, candidate{v: v})
		if arr, ok := v.([]any); ok {
			c.multi = true
			for _, e := range arr {
				c.out = append(c.out, candidate{v: e, expanded: true})
			}
		}
		return
	}
	switch x := v.(type) {
	case map[string]any:
		child, ok := x[p[0]]
		if !ok {
			c.out = append(c.out, candidate{missing: true})
			return
		}
		c.walk(child, p[1:])
	case []any:
		c.multi = true
		n := len(c.out)
		if i, ok := arrayIndex(p[0]); ok && i < len(x) {
			c.walk(x[i], p[1:])
		}
		for _, e := range x {
			if m, ok := e.(map[string]any); ok {
				c.walk(m, p)
			}
		}
		if len(c.out) == n {
			c.out = append(c.out, candidate{missing: true})
		}
	default:
		c.out = append(c.out, candidate{missing: true})
	}
}

// collect returns the candidates of path p in doc.
func collect(doc map[string]any, p fieldPath) []candidate {
	var c collector
	c.walk(doc, p)
	return c.out
}

// keyValues returns the values a path contributes to an index or a sort: each element of an
// array at the end of the path (an empty array contributes undefined), every other value
// reached, and null for a branch without the field. multi reports that an array was met.
func keyValues(doc map[string]any, p fieldPath, dst []any) (out []any, multi bool) {
	var c collector
	c.walk(doc, p)
	out = dst
	for _, cd := range c.out {
		switch {
		case cd.missing:
			out = append(out, nil)
		case cd.expanded:
			out = append(out, cd.v)
		default:
			if arr, ok := cd.v.([]any); ok {
				if len(arr) == 0 {
					out = append(out, undefined{})
				}
				continue
			}
			out = append(out, cd.v)
		}
	}
	return out, c.multi
}

// lookup returns the value at a path without traversing arrays except by numeric components,
// and whether it exists: the plain reading update operators use.
func lookup(v any, p fieldPath) (any, bool) {
	for _, c := range p {
		switch x := v.(type) {
		case map[string]any:
			child, ok := x[c]
			if !ok {
				return nil, false
			}
			v = child
		case []any:
			i, ok := arrayIndex(c)
			if !ok || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// overlaps reports whether two paths touch a common part of a document, judged by their first
// component: updating one may change what the other reads.
func overlaps(a, b fieldPath) bool { return len(a) > 0 && len(b) > 0 && a[0] == b[0] }
