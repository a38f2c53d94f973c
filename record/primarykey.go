package record

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/layerkit/layerkit/tuple"
)

// TypeKey returns the record type's key: the (smallest) field number of the type in the union
// message, which RecordTypeKey puts in primary keys.
func (rt *RecordType) TypeKey() int64 { return rt.typeKey }

// PrimaryKeyOf builds the primary key of a record of this type from the values of its
// primary-key fields, in order, without the record type key, which it puts in itself: for the
// key Concat(RecordTypeKey(), Field("branch"), Field("id")) of Book, PrimaryKeyOf("b1", 42) is
// (1, "b1", 42). Values convert as filter values do (an int to int64, an enum to its number).
// A value that Field stores as null — a proto3 field without presence at its default value,
// such as 0 or "" — becomes null, so the key is the one Save computes for such a record.
func (rt *RecordType) PrimaryKeyOf(values ...any) (tuple.Tuple, error) {
	pk := make(tuple.Tuple, 0, len(rt.pkColumns))
	i := 0
	for _, col := range rt.pkColumns {
		if _, ok := col.(recordTypeExpr); ok {
			pk = append(pk, rt.typeKey)
			continue
		}
		if i >= len(values) {
			return nil, fmt.Errorf("record: primary key %s of %s takes %d values, got %d", rt.primaryKey, rt.name, countValueColumns(rt.pkColumns), len(values))
		}
		v, err := pkValue(rt, col, values[i])
		if err != nil {
			return nil, err
		}
		pk = append(pk, v)
		i++
	}
	if i != len(values) {
		return nil, fmt.Errorf("record: primary key %s of %s takes %d values, got %d", rt.primaryKey, rt.name, i, len(values))
	}
	return pk, nil
}

func countValueColumns(cols []KeyExpression) int {
	n := 0
	for _, c := range cols {
		if _, ok := c.(recordTypeExpr); !ok {
			n++
		}
	}
	return n
}

// pkValue converts v for the primary-key column col.
func pkValue(rt *RecordType, col KeyExpression, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	fd := columnField(rt.desc, col)
	if fd == nil {
		return nil, fmt.Errorf("record: primary-key column %s of %s reads no field", col, rt.name)
	}
	c, err := comparand(fd, v)
	if err != nil {
		return nil, fmt.Errorf("record: primary key of %s, column %s: %w", rt.name, col, err)
	}
	f, plain := col.(fieldExpr)
	if n, ok := col.(nestExpr); ok {
		f, plain = n.child.(fieldExpr)
	}
	if plain && !f.notNull && !fd.HasPresence() && isDefault(c) {
		return nil, nil
	}
	return c, nil
}

// isDefault reports whether a converted value is its kind's protobuf default.
func isDefault(v any) bool {
	switch x := v.(type) {
	case int64:
		return x == 0
	case string:
		return x == ""
	case []byte:
		return len(x) == 0
	case bool:
		return !x
	case float32:
		return x == 0
	case float64:
		return x == 0
	}
	return false
}

// LoadAs loads the record with primary key pk as a message of type T: nil when there is none,
// ErrWrongRecordType when the key holds a record of another type.
func LoadAs[T proto.Message](s *Store, pk tuple.Tuple) (T, error) {
	var zero T
	rec, err := s.Load(pk)
	if err != nil || rec == nil {
		return zero, err
	}
	m, ok := rec.Message.(T)
	if !ok {
		return zero, fmt.Errorf("record: %v holds a %s, not a %s: %w", pk, rec.Type.name, messageName(zero), ErrWrongRecordType)
	}
	return m, nil
}

func messageName(m proto.Message) protoreflect.FullName {
	if m == nil {
		return "message"
	}
	return m.ProtoReflect().Descriptor().FullName()
}

// checkLoadedType refuses a record whose type contradicts the record type key its primary key
// starts with.
func (s *Store) checkLoadedType(rec *Record) error {
	if !startsWithTypeKey(rec.Type.pkColumns) || len(rec.PrimaryKey) == 0 {
		return nil
	}
	if key, ok := rec.PrimaryKey[0].(int64); ok && key != rec.Type.typeKey {
		name := fmt.Sprint(key)
		for _, rt := range s.md.types {
			if rt.typeKey == key {
				name = rt.name
			}
		}
		return fmt.Errorf("record: %v is a %s key, but it holds a %s: %w", rec.PrimaryKey, name, rec.Type.name, ErrWrongRecordType)
	}
	return nil
}
