package record

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/layerkit/layerkit/record/internal/storepb"
)

// Key expressions in the Java Record Layer's serialized form (record_key_expression.proto), as
// a store header holds its record count key. Only the kinds this package evaluates convert; any
// other is refused with an error naming it, so a header is never half understood.

// keyExpressionToProto returns e as the Java Record Layer serializes it (each kind's toProto).
func keyExpressionToProto(e KeyExpression) (*storepb.KeyExpression, error) {
	switch e := e.(type) {
	case fieldExpr:
		return &storepb.KeyExpression{Field: fieldToProto(e)}, nil
	case thenExpr:
		t := &storepb.Then{}
		for _, c := range e.children {
			pc, err := keyExpressionToProto(c)
			if err != nil {
				return nil, err
			}
			t.Child = append(t.Child, pc)
		}
		return &storepb.KeyExpression{Then: t}, nil
	case nestExpr:
		child, err := keyExpressionToProto(e.child)
		if err != nil {
			return nil, err
		}
		return &storepb.KeyExpression{Nesting: &storepb.Nesting{Parent: fieldToProto(fieldExpr{name: e.parent, fan: e.fan}), Child: child}}, nil
	case recordTypeExpr:
		return &storepb.KeyExpression{RecordTypeKey: &storepb.RecordTypeKey{}}, nil
	case emptyExpr:
		return &storepb.KeyExpression{Empty: &storepb.Empty{}}, nil
	case versionExpr:
		return &storepb.KeyExpression{Version: &storepb.Version{}}, nil
	case groupingExpr:
		whole, err := keyExpressionToProto(e.whole)
		if err != nil {
			return nil, err
		}
		return &storepb.KeyExpression{Grouping: &storepb.Grouping{WholeKey: whole, GroupedCount: proto.Int32(int32(e.grouped))}}, nil
	}
	return nil, fmt.Errorf("record: key expression %s has no serialized form here", e)
}

func fieldToProto(f fieldExpr) *storepb.Field {
	fan := storepb.Field_SCALAR
	switch f.fan {
	case FanOutType:
		fan = storepb.Field_FAN_OUT
	case ConcatenateType:
		fan = storepb.Field_CONCATENATE
	}
	null := storepb.Field_NOT_UNIQUE
	if f.notNull {
		null = storepb.Field_NOT_NULL
	}
	return &storepb.Field{FieldName: proto.String(f.name), FanType: fan.Enum(), NullInterpretation: null.Enum()}
}

// keyExpressionFromProto converts a serialized key expression, refusing the kinds this package
// does not evaluate.
func keyExpressionFromProto(p *storepb.KeyExpression) (KeyExpression, error) {
	switch {
	case p == nil:
		return nil, fmt.Errorf("record: empty key expression")
	case p.Field != nil:
		return fieldFromProto(p.Field)
	case p.Then != nil:
		var children []KeyExpression
		for _, c := range p.Then.Child {
			e, err := keyExpressionFromProto(c)
			if err != nil {
				return nil, err
			}
			children = append(children, e)
		}
		return Concat(children...), nil
	case p.Nesting != nil:
		parent, err := fieldFromProto(p.Nesting.Parent)
		if err != nil {
			return nil, err
		}
		f := parent.(fieldExpr)
		if f.notNull || f.fan == ConcatenateType {
			return nil, fmt.Errorf("record: nesting into field %q with a null interpretation or fan type this package does not evaluate", f.name)
		}
		child, err := keyExpressionFromProto(p.Nesting.Child)
		if err != nil {
			return nil, err
		}
		return nestExpr{parent: f.name, fan: f.fan, child: child}, nil
	case p.RecordTypeKey != nil:
		return RecordTypeKey(), nil
	case p.Empty != nil:
		return Empty(), nil
	case p.Version != nil:
		return VersionKey(), nil
	case p.Grouping != nil:
		whole, err := keyExpressionFromProto(p.Grouping.WholeKey)
		if err != nil {
			return nil, err
		}
		return groupingExpr{whole: whole, grouped: int(p.Grouping.GetGroupedCount())}, nil
	}
	return nil, fmt.Errorf("record: key expression %v is of a kind this package does not evaluate", p)
}

func fieldFromProto(p *storepb.Field) (KeyExpression, error) {
	if p == nil || p.FieldName == nil {
		return nil, fmt.Errorf("record: key expression field without a name")
	}
	f := fieldExpr{name: p.GetFieldName()}
	switch p.GetFanType() {
	case storepb.Field_SCALAR:
		f.fan = Scalar
	case storepb.Field_FAN_OUT:
		f.fan = FanOutType
	case storepb.Field_CONCATENATE:
		f.fan = ConcatenateType
	default:
		return nil, fmt.Errorf("record: key expression field %q has fan type %v", f.name, p.GetFanType())
	}
	switch p.GetNullInterpretation() {
	case storepb.Field_NOT_UNIQUE:
	case storepb.Field_NOT_NULL:
		f.notNull = true
	default:
		return nil, fmt.Errorf("record: key expression field %q has null interpretation %v, which this package does not evaluate", f.name, p.GetNullInterpretation())
	}
	return f, nil
}
