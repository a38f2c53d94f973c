package cli

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// condition is one --where field=value: a field path from the record type and the value it must
// equal, parsed for the field's type.
type condition struct {
	text  string
	path  []protoreflect.FieldDescriptor
	value protoreflect.Value
}

// parseWhere parses field=value for records of type md. The field is a proto field name (or its
// JSON name); a dotted path reaches into message fields. A repeated field (at any step) matches
// when one of its elements does.
func parseWhere(md protoreflect.MessageDescriptor, text string) (condition, error) {
	name, value, ok := strings.Cut(text, "=")
	if !ok || name == "" {
		return condition{}, fmt.Errorf("--where %q: want field=value", text)
	}
	c := condition{text: text}
	cur := md
	for _, part := range strings.Split(name, ".") {
		if cur == nil {
			return condition{}, fmt.Errorf("--where %q: %s is not a message, so it has no field %q", text, c.path[len(c.path)-1].Name(), part)
		}
		fd := cur.Fields().ByName(protoreflect.Name(part))
		if fd == nil {
			fd = cur.Fields().ByJSONName(part)
		}
		if fd == nil {
			return condition{}, fmt.Errorf("--where %q: %s has no field %q", text, cur.Name(), part)
		}
		if fd.IsMap() {
			return condition{}, fmt.Errorf("--where %q: field %s is a map, which --where cannot compare", text, fd.Name())
		}
		c.path = append(c.path, fd)
		cur = fd.Message()
	}
	last := c.path[len(c.path)-1]
	if last.Kind() == protoreflect.MessageKind || last.Kind() == protoreflect.GroupKind {
		return condition{}, fmt.Errorf("--where %q: field %s is a message; name a field inside it (%s.<field>)", text, last.Name(), name)
	}
	v, err := parseScalar(last, value)
	if err != nil {
		return condition{}, fmt.Errorf("--where %q: field %s is %s: %v", text, last.Name(), kindName(last), err)
	}
	c.value = v
	return c, nil
}

func kindName(fd protoreflect.FieldDescriptor) string {
	if fd.Kind() == protoreflect.EnumKind {
		return "the enum " + string(fd.Enum().Name())
	}
	return fd.Kind().String()
}

func parseScalar(fd protoreflect.FieldDescriptor, s string) (protoreflect.Value, error) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(s), nil
	case protoreflect.BytesKind:
		b, err := unprintable(s)
		return protoreflect.ValueOfBytes(b), err
	case protoreflect.BoolKind:
		b, err := strconv.ParseBool(s)
		return protoreflect.ValueOfBool(b), err
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := strconv.ParseInt(s, 10, 32)
		return protoreflect.ValueOfInt32(int32(n)), err
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := strconv.ParseInt(s, 10, 64)
		return protoreflect.ValueOfInt64(n), err
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := strconv.ParseUint(s, 10, 32)
		return protoreflect.ValueOfUint32(uint32(n)), err
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := strconv.ParseUint(s, 10, 64)
		return protoreflect.ValueOfUint64(n), err
	case protoreflect.FloatKind:
		f, err := strconv.ParseFloat(s, 32)
		return protoreflect.ValueOfFloat32(float32(f)), err
	case protoreflect.DoubleKind:
		f, err := strconv.ParseFloat(s, 64)
		return protoreflect.ValueOfFloat64(f), err
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByName(protoreflect.Name(s)); ev != nil {
			return protoreflect.ValueOfEnum(ev.Number()), nil
		}
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("%q is neither a value name nor a number", s)
		}
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n)), nil
	}
	return protoreflect.Value{}, fmt.Errorf("cannot compare a %s", fd.Kind())
}

// matches reports whether the record m satisfies the condition. An unset field compares as its
// default value.
func (c condition) matches(m protoreflect.Message) bool {
	return c.matchFrom(m, 0)
}

func (c condition) matchFrom(m protoreflect.Message, step int) bool {
	fd := c.path[step]
	v := m.Get(fd)
	last := step == len(c.path)-1
	one := func(v protoreflect.Value) bool {
		if last {
			return equalScalar(fd.Kind(), v, c.value)
		}
		return c.matchFrom(v.Message(), step+1)
	}
	if fd.IsList() {
		l := v.List()
		for i := 0; i < l.Len(); i++ {
			if one(l.Get(i)) {
				return true
			}
		}
		return false
	}
	return one(v)
}

func equalScalar(k protoreflect.Kind, a, b protoreflect.Value) bool {
	switch k {
	case protoreflect.BytesKind:
		return bytes.Equal(a.Bytes(), b.Bytes())
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		x, y := a.Float(), b.Float()
		return x == y || (math.IsNaN(x) && math.IsNaN(y))
	}
	return a.Interface() == b.Interface()
}
