package docstore

import (
	"fmt"
	"strings"
)

// projection keeps (include) or drops (exclude) paths of returned documents. _id is kept unless
// excluded by name.
type projection struct {
	include bool
	paths   []fieldPath
	dropID  bool
}

// parseProjection reads a projection: an M (or JSON text) mapping dotted paths to 1/true
// (include) or 0/false (exclude). Include and exclude cannot be mixed, except that _id may be
// excluded from an inclusion.
func parseProjection(src any) (*projection, error) {
	if src == nil {
		return nil, nil
	}
	m, err := sourceObject(src, "projection", ErrInvalidFilter)
	if err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, nil
	}
	p := &projection{}
	mode := 0 // 1 include, -1 exclude
	for _, k := range sortedKeys(m) {
		on, ok := truthy(m[k])
		if !ok {
			return nil, fmt.Errorf("docstore: projection of %q wants 1, 0, true or false, got %s: %w", k, describe(m[k]), ErrInvalidFilter)
		}
		if k == "_id" {
			p.dropID = !on
			continue
		}
		path, err := parsePath(k)
		if err != nil {
			return nil, fmt.Errorf("docstore: projection of %q: %v: %w", k, err, ErrInvalidFilter)
		}
		m := 1
		if !on {
			m = -1
		}
		if mode != 0 && mode != m {
			return nil, fmt.Errorf("docstore: projection mixes inclusion and exclusion at %q: %w", k, ErrInvalidFilter)
		}
		mode = m
		p.paths = append(p.paths, path)
	}
	p.include = mode == 1
	for i, a := range p.paths {
		for _, b := range p.paths[i+1:] {
			if isPrefix(a, b) || isPrefix(b, a) {
				return nil, fmt.Errorf("docstore: projection paths %q and %q collide: %w", a, b, ErrInvalidFilter)
			}
		}
	}
	return p, nil
}

// apply returns the projected copy of doc.
func (p *projection) apply(doc map[string]any) map[string]any {
	if p == nil {
		return doc
	}
	var out map[string]any
	if p.include {
		out = map[string]any{}
		for _, path := range p.paths {
			includePath(doc, out, path)
		}
		if id, ok := doc["_id"]; ok {
			out["_id"] = id
		}
	} else {
		out = cloneValue(doc).(map[string]any)
		for _, path := range p.paths {
			excludePath(out, path)
		}
	}
	if p.dropID {
		delete(out, "_id")
	}
	return out
}

// includePath copies the part of src at path into dst; through arrays it keeps, of each element,
// the part at the rest of the path (elements that are not objects are dropped).
func includePath(src, dst map[string]any, path fieldPath) {
	v, ok := src[path[0]]
	if !ok {
		return
	}
	if len(path) == 1 {
		dst[path[0]] = cloneValue(v)
		return
	}
	switch x := v.(type) {
	case map[string]any:
		sub, _ := dst[path[0]].(map[string]any)
		if sub == nil {
			sub = map[string]any{}
			dst[path[0]] = sub
		}
		includePath(x, sub, path[1:])
	case []any:
		prev, _ := dst[path[0]].([]any)
		out := make([]any, 0, len(x))
		j := 0
		for _, e := range x {
			m, ok := e.(map[string]any)
			if !ok {
				continue
			}
			var sub map[string]any
			if j < len(prev) {
				sub, _ = prev[j].(map[string]any)
			}
			if sub == nil {
				sub = map[string]any{}
			}
			includePath(m, sub, path[1:])
			out = append(out, sub)
			j++
		}
		dst[path[0]] = out
	}
}

// excludePath removes path from doc (a copy), through arrays element by element.
func excludePath(doc map[string]any, path fieldPath) {
	if len(path) == 1 {
		delete(doc, path[0])
		return
	}
	switch x := doc[path[0]].(type) {
	case map[string]any:
		excludePath(x, path[1:])
	case []any:
		for _, e := range x {
			if m, ok := e.(map[string]any); ok {
				excludePath(m, path[1:])
			}
		}
	}
}

func (p *projection) String() string {
	if p == nil {
		return ""
	}
	parts := make([]string, 0, len(p.paths)+1)
	for _, path := range p.paths {
		if p.include {
			parts = append(parts, path.String())
		} else {
			parts = append(parts, "-"+path.String())
		}
	}
	if p.dropID {
		parts = append(parts, "-_id")
	}
	return strings.Join(parts, ", ")
}
