package docstore

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Update is a parsed update, ready to apply to documents. Parse one with ParseUpdate, or pass the
// source (an M, a map[string]any, or JSON text) wherever an update is taken. An Update is
// immutable and safe for concurrent use.
type Update struct {
	ops []*updateOp
	// targets are the paths the update may change, in the order of ops.
	targets []fieldPath
	// retrySafe is false when applying the update twice differs from applying it once ($inc,
	// $mul, $push, $pop, $currentDate).
	retrySafe bool
}

type updateOp struct {
	op    string
	path  fieldPath
	ps    string
	value any
	// $rename
	to   fieldPath
	toPs string
	// $push and $addToSet
	each     []any
	slice    *int
	position *int
	sortSpec *pushSort
	// $pull
	cond node
	// $pop
	first bool
}

type pushSort struct {
	desc   bool
	fields []sortField // nil: sort by the elements themselves
}

func updateError(op, path, format string, args ...any) error {
	where := ""
	if path != "" {
		where = fmt.Sprintf(" at %q", path)
	}
	return fmt.Errorf("docstore: update %s%s: %s: %w", op, where, fmt.Sprintf(format, args...), ErrInvalidUpdate)
}

var updateOperators = []string{"$set", "$unset", "$inc", "$mul", "$min", "$max", "$rename", "$setOnInsert", "$currentDate", "$push", "$pop", "$pull", "$pullAll", "$addToSet"}

// ParseUpdate parses an update given as an M (or map[string]any) or as JSON text (string, []byte
// or json.RawMessage): an object of operators, each mapping dotted paths to operands. Operators:
// $set $unset $inc $mul $min $max $rename $setOnInsert $currentDate $push (with $each $slice
// $sort $position) $pop $pull $pullAll $addToSet. A malformed update is an error wrapping
// ErrInvalidUpdate that names the operator and the path.
func ParseUpdate(src any) (*Update, error) {
	if u, ok := src.(*Update); ok && u != nil {
		return u, nil
	}
	m, err := sourceObject(src, "update", ErrInvalidUpdate)
	if err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, updateError("", "", "empty update")
	}
	u := &Update{retrySafe: true}
	for _, op := range sortedKeys(m) {
		if !strings.HasPrefix(op, "$") {
			return nil, updateError("", op, "an update holds operators; %q is a field (use Replace for a whole document)", op)
		}
		if !slices.Contains(updateOperators, op) {
			return nil, updateError(op, "", "unknown operator")
		}
		args, ok := m[op].(map[string]any)
		if !ok {
			return nil, updateError(op, "", "wants an object of paths, got %s", describe(m[op]))
		}
		for _, ps := range sortedKeys(args) {
			o, err := parseUpdateOp(op, ps, args[ps])
			if err != nil {
				return nil, err
			}
			u.ops = append(u.ops, o)
			u.targets = append(u.targets, o.path)
			if o.to != nil {
				u.targets = append(u.targets, o.to)
			}
			switch op {
			case "$inc", "$mul", "$push", "$pop", "$currentDate":
				u.retrySafe = false
			}
		}
	}
	if len(u.ops) == 0 {
		return nil, updateError("", "", "no paths to update")
	}
	for i, a := range u.targets {
		for _, b := range u.targets[i+1:] {
			if isPrefix(a, b) || isPrefix(b, a) {
				return nil, updateError("", a.String(), "conflicts with %q: one update may not touch a path twice or a path and its parent", b.String())
			}
		}
	}
	return u, nil
}

func isPrefix(a, b fieldPath) bool {
	if len(a) > len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func parseUpdateOp(op, ps string, arg any) (*updateOp, error) {
	path, err := parsePath(ps)
	if err != nil {
		return nil, updateError(op, ps, "%v", err)
	}
	if path[0] == "_id" {
		return nil, updateError(op, ps, "_id cannot be updated")
	}
	o := &updateOp{op: op, path: path, ps: ps}
	value := func(v any) (any, error) {
		n, err := normalize(v, ps)
		if err != nil {
			return nil, updateError(op, ps, "%v", strings.TrimSuffix(strings.TrimPrefix(err.Error(), "docstore: "), ": "+ErrInvalidDocument.Error()))
		}
		return n, nil
	}
	switch op {
	case "$set", "$setOnInsert", "$min", "$max":
		o.value, err = value(arg)
	case "$unset":
	case "$inc", "$mul":
		o.value, err = value(arg)
		if err == nil && typeTag(o.value) != tagNumber {
			err = updateError(op, ps, "wants a number, got %s", describe(o.value))
		}
	case "$rename":
		to, ok := arg.(string)
		if !ok {
			return nil, updateError(op, ps, "wants the new path as a string, got %s", describe(arg))
		}
		if o.to, err = parsePath(to); err != nil {
			return nil, updateError(op, to, "%v", err)
		}
		if o.to[0] == "_id" {
			return nil, updateError(op, to, "_id cannot be updated")
		}
		o.toPs = to
	case "$currentDate":
		switch x := arg.(type) {
		case bool:
			if !x {
				err = updateError(op, ps, "wants true or {\"$type\": \"date\"}")
			}
		case map[string]any:
			if t, _ := x["$type"].(string); t != "date" || len(x) != 1 {
				err = updateError(op, ps, "only {\"$type\": \"date\"} is supported, got %s", describe(arg))
			}
		default:
			err = updateError(op, ps, "wants true or {\"$type\": \"date\"}, got %s", describe(arg))
		}
	case "$push", "$addToSet":
		err = o.parseEach(arg, value)
	case "$pop":
		n, ok := wholeNumber(arg)
		if !ok || (n != 1 && n != -1) {
			return nil, updateError(op, ps, "wants 1 or -1, got %s", describe(arg))
		}
		o.first = n == -1
	case "$pull":
		if ops, isOps := isOperatorObject(arg); isOps {
			inner, perr := (&filterParser{}).field(nil, ps, ops, 0)
			if perr != nil {
				return nil, updateError(op, ps, "%v", perr)
			}
			o.cond = inner
		} else if m, isMap := arg.(map[string]any); isMap {
			inner, perr := (&filterParser{}).object(m, 0)
			if perr != nil {
				return nil, updateError(op, ps, "%v", perr)
			}
			o.cond = objectCondition{inner}
		} else {
			o.value, err = value(arg)
		}
	case "$pullAll":
		arr, ok := arg.([]any)
		if !ok {
			return nil, updateError(op, ps, "wants an array, got %s", describe(arg))
		}
		v, verr := value(arr)
		o.each, err = asArray(v), verr
	}
	if err != nil {
		return nil, err
	}
	return o, nil
}

func asArray(v any) []any { a, _ := v.([]any); return a }

// objectCondition is a $pull condition that is a query: it matches elements that are objects
// matching it.
type objectCondition struct{ n node }

func (c objectCondition) match(doc map[string]any) bool {
	if m, ok := doc[""].(map[string]any); ok {
		return c.n.match(m)
	}
	return false
}

func (c objectCondition) appendString(b []byte) []byte { return c.n.appendString(b) }

func (o *updateOp) parseEach(arg any, value func(any) (any, error)) error {
	m, ok := arg.(map[string]any)
	if !ok || m["$each"] == nil {
		if ok {
			for k := range m {
				if strings.HasPrefix(k, "$") {
					return updateError(o.op, o.ps, "modifier %s needs $each", k)
				}
			}
		}
		v, err := value(arg)
		o.each = []any{v}
		return err
	}
	for k := range m {
		switch k {
		case "$each":
		case "$slice", "$sort", "$position":
			if o.op == "$addToSet" {
				return updateError(o.op, o.ps, "modifier %s is not allowed with $addToSet", k)
			}
		default:
			return updateError(o.op, o.ps, "unknown modifier %s", k)
		}
	}
	arr, ok := m["$each"].([]any)
	if !ok {
		return updateError(o.op, o.ps, "$each wants an array, got %s", describe(m["$each"]))
	}
	v, err := value(arr)
	if err != nil {
		return err
	}
	o.each = v.([]any)
	if s, ok := m["$slice"]; ok {
		n, ok := wholeNumber(s)
		if !ok {
			return updateError(o.op, o.ps, "$slice wants an integer, got %s", describe(s))
		}
		o.slice = &n
	}
	if s, ok := m["$position"]; ok {
		n, ok := wholeNumber(s)
		if !ok {
			return updateError(o.op, o.ps, "$position wants an integer, got %s", describe(s))
		}
		o.position = &n
	}
	if s, ok := m["$sort"]; ok {
		ps := &pushSort{}
		if dir, ok := wholeNumber(s); ok && (dir == 1 || dir == -1) {
			ps.desc = dir == -1
		} else if spec, isMap := s.(map[string]any); isMap && len(spec) > 0 {
			for _, k := range sortedKeys(spec) {
				dir, ok := wholeNumber(spec[k])
				path, perr := parsePath(k)
				if !ok || (dir != 1 && dir != -1) || perr != nil {
					return updateError(o.op, o.ps, "$sort field %q wants 1 or -1", k)
				}
				ps.fields = append(ps.fields, sortField{path: path, ps: k, desc: dir == -1})
			}
		} else {
			return updateError(o.op, o.ps, "$sort wants 1, -1 or an object of fields, got %s", describe(s))
		}
		o.sortSpec = ps
	}
	return nil
}

// apply applies the update to doc in place. inserting says the document is being created by an
// upsert ($setOnInsert applies only then); now is the time $currentDate writes.
func (u *Update) apply(doc map[string]any, inserting bool, now time.Time) error {
	for _, o := range u.ops {
		if err := o.apply(doc, inserting, now); err != nil {
			return err
		}
	}
	return nil
}

func (o *updateOp) apply(doc map[string]any, inserting bool, now time.Time) error {
	cur, exists := lookup(doc, o.path)
	switch o.op {
	case "$set":
		return setPath(doc, o.path, cloneValue(o.value), o.op)
	case "$setOnInsert":
		if !inserting {
			return nil
		}
		return setPath(doc, o.path, cloneValue(o.value), o.op)
	case "$unset":
		unsetPath(doc, o.path)
		return nil
	case "$inc", "$mul":
		if !exists {
			v := o.value
			if o.op == "$mul" {
				if _, isInt := v.(int64); isInt {
					v = int64(0)
				} else {
					v = 0.0
				}
			}
			return setPath(doc, o.path, v, o.op)
		}
		if typeTag(cur) != tagNumber {
			return updateError(o.op, o.ps, "the field holds %s, not a number", describe(cur))
		}
		v, err := arith(o.op, cur, o.value)
		if err != nil {
			return updateError(o.op, o.ps, "%v", err)
		}
		return setPath(doc, o.path, v, o.op)
	case "$min", "$max":
		if exists {
			c := compareValues(o.value, cur)
			if o.op == "$min" && c >= 0 || o.op == "$max" && c <= 0 {
				return nil
			}
		}
		return setPath(doc, o.path, cloneValue(o.value), o.op)
	case "$rename":
		if err := noArrayOnPath(doc, o.path, o.op, o.ps); err != nil {
			return err
		}
		if err := noArrayOnPath(doc, o.to, o.op, o.toPs); err != nil {
			return err
		}
		if !exists {
			return nil
		}
		unsetPath(doc, o.path)
		return setPath(doc, o.to, cur, o.op)
	case "$currentDate":
		return setPath(doc, o.path, dateValue(now), o.op)
	case "$push":
		arr, err := o.arrayAt(cur, exists)
		if err != nil {
			return err
		}
		return setPath(doc, o.path, o.push(arr), o.op)
	case "$addToSet":
		arr, err := o.arrayAt(cur, exists)
		if err != nil {
			return err
		}
		for _, e := range o.each {
			if !slices.ContainsFunc(arr, func(x any) bool { return equalValues(x, e) }) {
				arr = append(arr, cloneValue(e))
			}
		}
		return setPath(doc, o.path, arr, o.op)
	case "$pop":
		if !exists {
			return nil
		}
		arr, err := o.arrayAt(cur, exists)
		if err != nil || len(arr) == 0 {
			return err
		}
		if o.first {
			arr = arr[1:]
		} else {
			arr = arr[:len(arr)-1]
		}
		return setPath(doc, o.path, arr, o.op)
	case "$pull", "$pullAll":
		if !exists {
			return nil
		}
		arr, err := o.arrayAt(cur, exists)
		if err != nil {
			return err
		}
		kept := arr[:0:0]
		for _, e := range arr {
			if !o.pulls(e) {
				kept = append(kept, e)
			}
		}
		if len(kept) == len(arr) {
			return nil
		}
		return setPath(doc, o.path, kept, o.op)
	}
	return updateError(o.op, o.ps, "operator not implemented")
}

func (o *updateOp) pulls(e any) bool {
	switch {
	case o.op == "$pullAll":
		return slices.ContainsFunc(o.each, func(x any) bool { return equalValues(x, e) })
	case o.cond != nil:
		return o.cond.match(map[string]any{"": e})
	}
	return equalValues(e, o.value)
}

// arrayAt returns a copy of the array at the op's path (empty when missing), or an error when
// the field holds something else.
func (o *updateOp) arrayAt(cur any, exists bool) ([]any, error) {
	if !exists {
		return []any{}, nil
	}
	arr, ok := cur.([]any)
	if !ok {
		return nil, updateError(o.op, o.ps, "the field holds %s, not an array", describe(cur))
	}
	return slices.Clone(arr), nil
}

func (o *updateOp) push(arr []any) []any {
	each := make([]any, len(o.each))
	for i, e := range o.each {
		each[i] = cloneValue(e)
	}
	pos := len(arr)
	if o.position != nil {
		pos = *o.position
		if pos < 0 {
			pos += len(arr)
		}
		pos = max(0, min(pos, len(arr)))
	}
	arr = slices.Insert(arr, pos, each...)
	if o.sortSpec != nil {
		s := o.sortSpec
		slices.SortStableFunc(arr, func(a, b any) int {
			var c int
			if s.fields == nil {
				c = compareValues(a, b)
				if s.desc {
					c = -c
				}
				return c
			}
			am, _ := a.(map[string]any)
			bm, _ := b.(map[string]any)
			return compareSortKeys(am, bm, s.fields)
		})
	}
	if o.slice != nil {
		n := *o.slice
		switch {
		case n >= 0 && n < len(arr):
			arr = arr[:n]
		case n < 0 && -n < len(arr):
			arr = arr[len(arr)+n:]
		}
	}
	return arr
}

// arith computes $inc (a+b) or $mul (a*b): integers stay integers and fail on overflow; a float
// on either side gives a float, which must stay finite.
func arith(op string, a, b any) (any, error) {
	x, xInt := a.(int64)
	y, yInt := b.(int64)
	if xInt && yInt {
		if op == "$inc" {
			s := x + y
			if (s > x) != (y > 0) {
				return nil, fmt.Errorf("integer overflow: %d + %d", x, y)
			}
			return s, nil
		}
		if x == 0 || y == 0 {
			return int64(0), nil
		}
		p := x * y
		if p/y != x || (x == -1 && y == math.MinInt64) || (y == -1 && x == math.MinInt64) {
			return nil, fmt.Errorf("integer overflow: %d × %d", x, y)
		}
		return p, nil
	}
	f, g := toFloat(a), toFloat(b)
	var r float64
	if op == "$inc" {
		r = f + g
	} else {
		r = f * g
	}
	if math.IsInf(r, 0) || math.IsNaN(r) {
		return nil, fmt.Errorf("result %v is not a finite number", r)
	}
	if r == 0 {
		r = 0
	}
	return r, nil
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	}
	return 0
}

// noArrayOnPath refuses a $rename through an array, as MongoDB does.
func noArrayOnPath(doc map[string]any, p fieldPath, op, ps string) error {
	var v any = doc
	for _, c := range p {
		switch x := v.(type) {
		case map[string]any:
			child, ok := x[c]
			if !ok {
				return nil
			}
			v = child
		case []any:
			return updateError(op, ps, "the path goes through an array")
		default:
			return nil
		}
	}
	return nil
}

// setPath stores v at p, creating objects along the way; a numeric component indexes an array
// (padding it with nulls). A scalar on the way is an error.
func setPath(doc map[string]any, p fieldPath, v any, op string) error {
	var cur any = doc
	for i, c := range p {
		last := i == len(p)-1
		switch x := cur.(type) {
		case map[string]any:
			if last {
				x[c] = v
				return nil
			}
			next, ok := x[c]
			if !ok {
				next = map[string]any{}
				x[c] = next
			}
			cur = next
		case []any:
			idx, ok := arrayIndex(c)
			if !ok {
				return updateError(op, p.String(), "cannot use the part %q to traverse an array", c)
			}
			if idx >= len(x) {
				if idx > maxPad {
					return updateError(op, p.String(), "array index %d is too far past the end", idx)
				}
				grown := make([]any, idx+1)
				copy(grown, x)
				if err := replaceAt(doc, p[:i], grown); err != nil {
					return err
				}
				x = grown
			}
			if last {
				x[idx] = v
				return nil
			}
			if x[idx] == nil {
				return updateError(op, p.String(), "cannot create field %q in element %d, which is null", p[i+1], idx)
			}
			cur = x[idx]
		default:
			return updateError(op, p.String(), "cannot create field %q in %s", c, describe(cur))
		}
	}
	return nil
}

// maxPad bounds how far past its end $set may extend an array.
const maxPad = 1000

// replaceAt stores v at the existing path p (used to grow an array in place).
func replaceAt(doc map[string]any, p fieldPath, v any) error {
	if len(p) == 0 {
		return nil
	}
	parent, ok := lookup(doc, p[:len(p)-1])
	if !ok {
		return nil
	}
	switch x := parent.(type) {
	case map[string]any:
		x[p[len(p)-1]] = v
	case []any:
		if i, ok := arrayIndex(p[len(p)-1]); ok && i < len(x) {
			x[i] = v
		}
	}
	return nil
}

// unsetPath removes the field at p; an array element is set to null instead, as MongoDB does.
func unsetPath(doc map[string]any, p fieldPath) {
	parent, ok := lookup(doc, p[:len(p)-1])
	if !ok {
		return
	}
	last := p[len(p)-1]
	switch x := parent.(type) {
	case map[string]any:
		delete(x, last)
	case []any:
		if i, ok := arrayIndex(last); ok && i < len(x) {
			x[i] = nil
		}
	}
}

// Apply returns a copy of doc (any form Insert takes) with the update applied as to an existing
// document ($setOnInsert does nothing), $currentDate writing now. It is the update's meaning
// without a store: what UpdateOne would leave.
func (u *Update) Apply(doc any, now time.Time) (M, error) {
	n, err := normalize(doc, "")
	if err != nil {
		return nil, err
	}
	m, ok := n.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("docstore: a %T is not a document: %w", doc, ErrInvalidDocument)
	}
	if err := u.apply(m, false, now); err != nil {
		return nil, err
	}
	return m, nil
}
