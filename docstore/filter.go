package docstore

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
)

// Filter is a parsed query filter, ready to match documents. Parse one with ParseFilter, or pass
// the source (an M, a map[string]any, or JSON text) wherever a filter is taken. A Filter is
// immutable and safe for concurrent use.
type Filter struct {
	root  node
	paths []fieldPath // every path the filter reads
}

// node is one part of a filter.
type node interface {
	match(doc map[string]any) bool
	appendString(b []byte) []byte
}

// ParseFilter parses a filter given as an M (or map[string]any), as JSON text (string, []byte or
// json.RawMessage), or nil (every document matches). Operators: $eq $ne $gt $gte $lt $lte $in
// $nin $exists $type $regex (with $options) $size $all $elemMatch $not on fields, and $and $or
// $nor at any level; a field given a plain value (or a *regexp.Regexp) is an equality (or a
// regular-expression) test. Paths are dotted ("address.city", "tags.0"). A malformed filter is
// an error wrapping ErrInvalidFilter that names the operator and the path.
func ParseFilter(src any) (*Filter, error) {
	switch x := src.(type) {
	case *Filter:
		if x == nil {
			return &Filter{root: andNode{}}, nil
		}
		return x, nil
	case nil:
		return &Filter{root: andNode{}}, nil
	}
	m, err := sourceObject(src, "filter", ErrInvalidFilter)
	if err != nil {
		return nil, err
	}
	p := &filterParser{}
	root, err := p.object(m, 0)
	if err != nil {
		return nil, err
	}
	return &Filter{root: root, paths: p.paths}, nil
}

// sourceObject turns a filter, update or projection source into a map: M and map[string]any as
// they are, JSON text decoded.
func sourceObject(src any, what string, kind error) (map[string]any, error) {
	var raw []byte
	switch x := src.(type) {
	case map[string]any:
		return x, nil
	case string:
		raw = []byte(x)
	case []byte:
		raw = x
	case json.RawMessage:
		raw = x
	default:
		return nil, fmt.Errorf("docstore: %s is a %T; want an M, a map[string]any or JSON text: %w", what, src, kind)
	}
	v, err := decodeJSONText(raw)
	if err != nil {
		return nil, fmt.Errorf("docstore: %s: %v: %w", what, err, kind)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("docstore: %s JSON is not an object: %w", what, kind)
	}
	return m, nil
}

// Matches reports whether doc (any document form Insert takes) matches the filter.
func (f *Filter) Matches(doc any) (bool, error) {
	n, err := normalize(doc, "")
	if err != nil {
		return false, err
	}
	m, ok := n.(map[string]any)
	if !ok {
		return false, fmt.Errorf("docstore: a %T is not a document: %w", doc, ErrInvalidDocument)
	}
	return f.root.match(m), nil
}

// String prints the filter as JSON-like text, for plans and messages.
func (f *Filter) String() string { return string(f.root.appendString(nil)) }

func (f *Filter) matchAll() bool {
	a, ok := f.root.(andNode)
	return ok && len(a) == 0
}

type filterParser struct {
	paths []fieldPath
}

func filterError(op, path, format string, args ...any) error {
	where := ""
	if path != "" {
		where = fmt.Sprintf(" at %q", path)
	}
	return fmt.Errorf("docstore: filter %s%s: %s: %w", op, where, fmt.Sprintf(format, args...), ErrInvalidFilter)
}

// object parses a query object: field conditions and logical operators, all of which must hold.
func (p *filterParser) object(m map[string]any, depth int) (node, error) {
	if depth > MaxDepth {
		return nil, filterError("", "", "nested more than %d levels", MaxDepth)
	}
	var out andNode
	for _, k := range sortedKeys(m) {
		v := m[k]
		if strings.HasPrefix(k, "$") {
			n, err := p.logical(k, v, depth)
			if err != nil {
				return nil, err
			}
			out = append(out, n)
			continue
		}
		path, err := parsePath(k)
		if err != nil {
			return nil, filterError("", k, "%v", err)
		}
		p.paths = append(p.paths, path)
		n, err := p.field(path, k, v, depth)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out.simplest(), nil
}

func (p *filterParser) logical(op string, v any, depth int) (node, error) {
	switch op {
	case "$and", "$or", "$nor":
	default:
		return nil, filterError(op, "", "unknown top-level operator (want $and, $or, $nor or a field name)")
	}
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 {
		return nil, filterError(op, "", "wants a non-empty array of filters, got %s", describe(v))
	}
	children := make([]node, len(arr))
	for i, e := range arr {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, filterError(op, "", "element %d is %s, not a filter object", i, describe(e))
		}
		n, err := p.object(m, depth+1)
		if err != nil {
			return nil, err
		}
		children[i] = n
	}
	switch op {
	case "$and":
		return andNode(children), nil
	case "$or":
		return orNode(children), nil
	}
	return norNode(children), nil
}

// isOperatorObject reports whether v is {"$op": …, …} rather than a value to compare with.
func isOperatorObject(v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return nil, false
	}
	for k := range m {
		if !strings.HasPrefix(k, "$") {
			return nil, false
		}
		if len(m) == 1 {
			if _, isExt, _ := extendedJSON(k, m[k], ""); isExt {
				return nil, false
			}
		}
	}
	return m, true
}

func (p *filterParser) field(path fieldPath, ps string, v any, depth int) (node, error) {
	if re, ok := v.(*regexp.Regexp); ok {
		return &fieldNode{path: path, ps: ps, op: "$regex", re: re}, nil
	}
	ops, isOps := isOperatorObject(v)
	if !isOps {
		if m, ok := v.(map[string]any); ok {
			for k := range m {
				if strings.HasPrefix(k, "$") {
					return nil, filterError(k, ps, "operators cannot be mixed with field names in one object")
				}
			}
		}
		val, err := filterValue(v, "$eq", ps)
		if err != nil {
			return nil, err
		}
		return &fieldNode{path: path, ps: ps, op: "$eq", value: val}, nil
	}
	var out andNode
	keys := sortedKeys(ops)
	if _, ok := ops["$options"]; ok {
		if _, ok := ops["$regex"]; !ok {
			return nil, filterError("$options", ps, "needs $regex beside it")
		}
	}
	for _, op := range keys {
		if op == "$options" {
			continue
		}
		n, err := p.operator(path, ps, op, ops[op], ops, depth)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out.simplest(), nil
}

func filterValue(v any, op, path string) (any, error) {
	n, err := normalizer{dataNames: true}.value(v, path, 0)
	if err != nil {
		return nil, filterError(op, path, "%v", strings.TrimSuffix(strings.TrimPrefix(err.Error(), "docstore: "), ": "+ErrInvalidDocument.Error()))
	}
	return n, nil
}

func (p *filterParser) operator(path fieldPath, ps, op string, v any, all map[string]any, depth int) (node, error) {
	n := &fieldNode{path: path, ps: ps, op: op}
	var err error
	switch op {
	case "$eq", "$ne", "$gt", "$gte", "$lt", "$lte":
		if re, ok := v.(*regexp.Regexp); ok && (op == "$eq" || op == "$ne") {
			n.re = re
			break
		}
		n.value, err = filterValue(v, op, ps)
	case "$in", "$nin":
		arr, ok := v.([]any)
		if !ok {
			return nil, filterError(op, ps, "wants an array, got %s", describe(v))
		}
		for _, e := range arr {
			if re, ok := e.(*regexp.Regexp); ok {
				n.res = append(n.res, re)
				continue
			}
			if _, isOps := isOperatorObject(e); isOps {
				return nil, filterError(op, ps, "array elements are values, not operators")
			}
			val, err := filterValue(e, op, ps)
			if err != nil {
				return nil, err
			}
			n.values = append(n.values, val)
		}
	case "$all":
		arr, ok := v.([]any)
		if !ok {
			return nil, filterError(op, ps, "wants an array, got %s", describe(v))
		}
		for _, e := range arr {
			val, err := filterValue(e, op, ps)
			if err != nil {
				return nil, err
			}
			n.values = append(n.values, val)
		}
	case "$exists":
		b, ok := truthy(v)
		if !ok {
			return nil, filterError(op, ps, "wants a boolean, got %s", describe(v))
		}
		n.exists = b
	case "$type":
		n.types, err = parseTypes(v, ps)
	case "$regex":
		opts, _ := all["$options"].(string)
		if o, ok := all["$options"]; ok {
			if _, isString := o.(string); !isString {
				return nil, filterError("$options", ps, "wants a string, got %s", describe(o))
			}
		}
		n.re, err = compileRegex(v, opts, ps)
	case "$size":
		size, ok := wholeNumber(v)
		if !ok || size < 0 {
			return nil, filterError(op, ps, "wants a non-negative integer, got %s", describe(v))
		}
		n.size = size
	case "$elemMatch":
		m, ok := v.(map[string]any)
		if !ok {
			return nil, filterError(op, ps, "wants an object, got %s", describe(v))
		}
		if ops, isOps := isOperatorObject(m); isOps {
			sub := &filterParser{}
			inner, err := sub.field(nil, ps, ops, depth+1)
			if err != nil {
				return nil, err
			}
			n.elem, n.elemValues = inner, true
		} else {
			sub := &filterParser{}
			inner, err := sub.object(m, depth+1)
			if err != nil {
				return nil, err
			}
			n.elem = inner
		}
	case "$not":
		if re, ok := v.(*regexp.Regexp); ok {
			n.not = &fieldNode{path: path, ps: ps, op: "$regex", re: re}
			break
		}
		ops, isOps := isOperatorObject(v)
		if !isOps {
			return nil, filterError(op, ps, "wants an operator object or a regular expression, got %s", describe(v))
		}
		n.not, err = p.field(path, ps, ops, depth+1)
	default:
		return nil, filterError(op, ps, "unknown operator")
	}
	if err != nil {
		return nil, err
	}
	return n, nil
}

func describe(v any) string {
	if v == nil {
		return "null"
	}
	switch x := v.(type) {
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	case string:
		return fmt.Sprintf("the string %q", x)
	}
	return fmt.Sprintf("%v (%T)", v, v)
}

func truthy(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case json.Number:
		f, err := x.Float64()
		return f != 0, err == nil
	case int:
		return x != 0, true
	case int64:
		return x != 0, true
	case float64:
		return x != 0, true
	}
	return false, false
}

func wholeNumber(v any) (int, bool) {
	n, err := normalizer{}.value(v, "", 0)
	if err != nil {
		return 0, false
	}
	switch x := n.(type) {
	case int64:
		if x > math.MaxInt32 {
			return 0, false
		}
		return int(x), true
	case float64:
		if x == math.Trunc(x) && x <= math.MaxInt32 && x >= math.MinInt32 {
			return int(x), true
		}
	}
	return 0, false
}

// typeCodes maps $type aliases and BSON type numbers to the stored types that match them.
var typeAliases = map[string][]string{
	"double": {"double"}, "string": {"string"}, "object": {"object"}, "array": {"array"},
	"binData": {"binData"}, "bool": {"bool"}, "date": {"date"}, "null": {"null"},
	"int": {"long"}, "long": {"long"}, "number": {"double", "long"},
}

var typeNumbers = map[int]string{1: "double", 2: "string", 3: "object", 4: "array", 5: "binData", 8: "bool", 9: "date", 10: "null", 16: "int", 18: "long"}

func parseTypes(v any, path string) ([]string, error) {
	var list []any
	if arr, ok := v.([]any); ok {
		list = arr
	} else {
		list = []any{v}
	}
	if len(list) == 0 {
		return nil, filterError("$type", path, "wants a type or a non-empty array of types")
	}
	var out []string
	for _, e := range list {
		name, isString := e.(string)
		if !isString {
			code, ok := wholeNumber(e)
			if !ok || typeNumbers[code] == "" {
				return nil, filterError("$type", path, "unknown type %s", describe(e))
			}
			name = typeNumbers[code]
		}
		ts, ok := typeAliases[name]
		if !ok {
			return nil, filterError("$type", path, "unknown type %q", name)
		}
		out = append(out, ts...)
	}
	return out, nil
}

func compileRegex(v any, opts, path string) (*regexp.Regexp, error) {
	if re, ok := v.(*regexp.Regexp); ok && opts == "" {
		return re, nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, filterError("$regex", path, "wants a string, got %s", describe(v))
	}
	flags := ""
	for _, o := range opts {
		switch o {
		case 'i', 'm', 's':
			if !strings.ContainsRune(flags, o) {
				flags += string(o)
			}
		default:
			return nil, filterError("$options", path, "option %q is not supported (i, m and s are)", o)
		}
	}
	if flags != "" {
		s = "(?" + flags + ")" + s
	}
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, filterError("$regex", path, "%v", err)
	}
	return re, nil
}

// Logical nodes.

type andNode []node

// simplest returns the only condition of a one-condition AND, or the AND.
func (a andNode) simplest() node {
	if len(a) == 1 {
		return a[0]
	}
	return a
}

func (a andNode) match(doc map[string]any) bool {
	for _, c := range a {
		if !c.match(doc) {
			return false
		}
	}
	return true
}

func (a andNode) appendString(b []byte) []byte { return appendLogical(b, "$and", a) }

type orNode []node

func (o orNode) match(doc map[string]any) bool {
	for _, c := range o {
		if c.match(doc) {
			return true
		}
	}
	return false
}

func (o orNode) appendString(b []byte) []byte { return appendLogical(b, "$or", o) }

type norNode []node

func (o norNode) match(doc map[string]any) bool { return !orNode(o).match(doc) }

func (o norNode) appendString(b []byte) []byte { return appendLogical(b, "$nor", o) }

func appendLogical(b []byte, op string, children []node) []byte {
	if op == "$and" && len(children) == 0 {
		return append(b, "{}"...)
	}
	b = append(b, `{"`+op+`": [`...)
	for i, c := range children {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = c.appendString(b)
	}
	return append(b, "]}"...)
}

// fieldNode is one operator applied to the candidates of a path.
type fieldNode struct {
	path       fieldPath
	ps         string
	op         string
	value      any
	values     []any
	res        []*regexp.Regexp
	re         *regexp.Regexp
	exists     bool
	types      []string
	size       int
	elem       node // $elemMatch
	elemValues bool // $elemMatch of operators on the elements themselves
	not        node
}

func (n *fieldNode) match(doc map[string]any) bool {
	if n.path == nil { // inside $elemMatch of values: doc is {"": element}
		return n.matchCandidates(valueCandidates(doc[""]))
	}
	return n.matchCandidates(collect(doc, n.path))
}

// valueCandidates are the candidates of a value itself: it, and its elements when it is an array.
func valueCandidates(v any) []candidate {
	out := []candidate{{v: v}}
	if arr, ok := v.([]any); ok {
		for _, e := range arr {
			out = append(out, candidate{v: e, expanded: true})
		}
	}
	return out
}

func (n *fieldNode) matchCandidates(cs []candidate) bool {
	switch n.op {
	case "$eq":
		if n.re != nil {
			return anyRegex(cs, n.re)
		}
		return anyEqual(cs, n.value)
	case "$ne":
		if n.re != nil {
			return !anyRegex(cs, n.re)
		}
		return !anyEqual(cs, n.value)
	case "$gt", "$gte", "$lt", "$lte":
		if n.value == nil {
			if n.op == "$gte" || n.op == "$lte" {
				return anyEqual(cs, nil)
			}
			return false
		}
		tag := typeTag(n.value)
		for _, c := range cs {
			if c.missing || typeTag(c.v) != tag {
				continue
			}
			cmp := compareValues(c.v, n.value)
			if n.op == "$gt" && cmp > 0 || n.op == "$gte" && cmp >= 0 || n.op == "$lt" && cmp < 0 || n.op == "$lte" && cmp <= 0 {
				return true
			}
		}
		return false
	case "$in":
		return n.anyIn(cs)
	case "$nin":
		return !n.anyIn(cs)
	case "$all":
		if len(n.values) == 0 {
			return false
		}
		for _, v := range n.values {
			if !anyEqual(cs, v) {
				return false
			}
		}
		return true
	case "$exists":
		has := false
		for _, c := range cs {
			if !c.missing {
				has = true
				break
			}
		}
		return has == n.exists
	case "$type":
		for _, c := range cs {
			if !c.missing && slices.Contains(n.types, typeName(c.v)) {
				return true
			}
		}
		return false
	case "$regex":
		return anyRegex(cs, n.re)
	case "$size":
		for _, c := range cs {
			if arr, ok := c.v.([]any); ok && !c.expanded && len(arr) == n.size {
				return true
			}
		}
		return false
	case "$elemMatch":
		for _, c := range cs {
			arr, ok := c.v.([]any)
			if !ok || c.expanded {
				continue
			}
			for _, e := range arr {
				if n.elemValues {
					if n.elem.match(map[string]any{"": e}) {
						return true
					}
				} else if m, ok := e.(map[string]any); ok && n.elem.match(m) {
					return true
				}
			}
		}
		return false
	case "$not":
		if fn, ok := n.not.(*fieldNode); ok {
			return !fn.matchCandidates(cs)
		}
		return !matchAllCandidates(n.not, cs)
	}
	return false
}

// matchAllCandidates applies an AND of field operators (from $not) to one set of candidates.
func matchAllCandidates(nd node, cs []candidate) bool {
	switch x := nd.(type) {
	case *fieldNode:
		return x.matchCandidates(cs)
	case andNode:
		for _, c := range x {
			if !matchAllCandidates(c, cs) {
				return false
			}
		}
		return true
	}
	return false
}

func (n *fieldNode) anyIn(cs []candidate) bool {
	for _, v := range n.values {
		if anyEqual(cs, v) {
			return true
		}
	}
	for _, re := range n.res {
		if anyRegex(cs, re) {
			return true
		}
	}
	return false
}

// anyEqual: some candidate equals v; null also matches a missing field.
func anyEqual(cs []candidate, v any) bool {
	for _, c := range cs {
		if c.missing {
			if v == nil {
				return true
			}
			continue
		}
		if equalValues(c.v, v) {
			return true
		}
	}
	return false
}

func anyRegex(cs []candidate, re *regexp.Regexp) bool {
	for _, c := range cs {
		if s, ok := c.v.(string); ok && !c.missing && re.MatchString(s) {
			return true
		}
	}
	return false
}

func (n *fieldNode) appendString(b []byte) []byte {
	if n.path != nil {
		b = append(b, '{')
		b = appendJSONString(b, n.ps)
		b = append(b, ": "...)
	}
	b = append(b, `{"`+n.op+`": `...)
	switch n.op {
	case "$in", "$nin", "$all":
		b = append(b, '[')
		for i, v := range n.values {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = appendJSONValue(b, v)
		}
		for i, re := range n.res {
			if i > 0 || len(n.values) > 0 {
				b = append(b, ", "...)
			}
			b = append(b, "/"+re.String()+"/"...)
		}
		b = append(b, ']')
	case "$exists":
		b = fmt.Appendf(b, "%t", n.exists)
	case "$type":
		b = appendJSONValue(b, anySlice(n.types))
	case "$regex":
		b = append(b, "/"+n.re.String()+"/"...)
	case "$size":
		b = fmt.Appendf(b, "%d", n.size)
	case "$elemMatch", "$not":
		inner := n.elem
		if n.op == "$not" {
			inner = n.not
		}
		b = inner.appendString(b)
	default:
		if n.re != nil {
			b = append(b, "/"+n.re.String()+"/"...)
		} else {
			b = appendJSONValue(b, n.value)
		}
	}
	b = append(b, '}')
	if n.path != nil {
		b = append(b, '}')
	}
	return b
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, e := range s {
		out[i] = e
	}
	return out
}

func appendJSONString(b []byte, s string) []byte {
	raw, _ := json.Marshal(s)
	return append(b, raw...)
}

func appendJSONValue(b []byte, v any) []byte {
	if _, ok := v.(undefined); ok {
		return append(b, "undefined"...)
	}
	raw, err := marshalExtended(v)
	if err != nil {
		return fmt.Appendf(b, "%v", v)
	}
	return append(b, raw...)
}
