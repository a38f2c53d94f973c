package record_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/record/internal/testpb"
)

// kindsFile is a proto3 file with a record type holding a field of every scalar kind a key
// expression reads, and a nested message.
func kindsFile(t *testing.T) protoreflect.FileDescriptor {
	t.Helper()
	field := func(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type, typeName string) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num), Type: typ.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()}
		if typeName != "" {
			f.TypeName = proto.String(typeName)
		}
		return f
	}
	fdp := &descriptorpb.FileDescriptorProto{
		Name: proto.String("kinds.proto"), Package: proto.String("kinds"), Syntax: proto.String("proto3"),
		EnumType: []*descriptorpb.EnumDescriptorProto{{Name: proto.String("Color"), Value: []*descriptorpb.EnumValueDescriptorProto{
			{Name: proto.String("NONE"), Number: proto.Int32(0)}, {Name: proto.String("RED"), Number: proto.Int32(1)}, {Name: proto.String("BLUE"), Number: proto.Int32(-2)},
		}}},
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("Inner"), Field: []*descriptorpb.FieldDescriptorProto{
				field("n", 1, descriptorpb.FieldDescriptorProto_TYPE_SINT32, ""),
				field("t", 2, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
			}},
			{Name: proto.String("Sample"), Field: []*descriptorpb.FieldDescriptorProto{
				field("id", 1, descriptorpb.FieldDescriptorProto_TYPE_INT64, ""),
				field("flag", 2, descriptorpb.FieldDescriptorProto_TYPE_BOOL, ""),
				field("s", 3, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
				field("by", 4, descriptorpb.FieldDescriptorProto_TYPE_BYTES, ""),
				field("f", 5, descriptorpb.FieldDescriptorProto_TYPE_FLOAT, ""),
				field("d", 6, descriptorpb.FieldDescriptorProto_TYPE_DOUBLE, ""),
				field("i32", 7, descriptorpb.FieldDescriptorProto_TYPE_INT32, ""),
				field("i64", 8, descriptorpb.FieldDescriptorProto_TYPE_INT64, ""),
				field("si32", 9, descriptorpb.FieldDescriptorProto_TYPE_SINT32, ""),
				field("si64", 10, descriptorpb.FieldDescriptorProto_TYPE_SINT64, ""),
				field("sf32", 11, descriptorpb.FieldDescriptorProto_TYPE_SFIXED32, ""),
				field("sf64", 12, descriptorpb.FieldDescriptorProto_TYPE_SFIXED64, ""),
				field("color", 13, descriptorpb.FieldDescriptorProto_TYPE_ENUM, ".kinds.Color"),
				field("inner", 14, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".kinds.Inner"),
			}},
			{Name: proto.String("RecordTypeUnion"), Field: []*descriptorpb.FieldDescriptorProto{
				field("_Sample", 1, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".kinds.Sample"),
			}},
		},
	}
	fd, err := protodesc.NewFile(fdp, nil)
	require.NoError(t, err)
	return fd
}

// TestCoveringEveryKind checks that a covering plan's partial records hold exactly the values
// of the records, for every scalar kind, extreme values, a nested field and unset (null) fields.
func TestCoveringEveryKind(t *testing.T) {
	fd := kindsFile(t)
	sample := fd.Messages().ByName("Sample")
	cols := []string{"flag", "s", "by", "f", "d", "i32", "i64", "si32", "si64", "sf32", "sf64", "color"}
	exprs := []record.KeyExpression{}
	for _, c := range cols {
		exprs = append(exprs, record.Field(c))
	}
	exprs = append(exprs, record.Nest("inner", record.Concat(record.Field("n"), record.Field("t"))))
	md, err := record.NewMetaDataBuilder(fd).
		SetPrimaryKey("Sample", record.Field("id")).
		AddIndex(record.Index{Name: "all", RecordTypes: []string{"Sample"}, Expression: record.Concat(exprs...)}).
		Build()
	require.NoError(t, err)
	e := newEnvWith(t, md)

	f := sample.Fields()
	msg := func(id int64, fill func(m protoreflect.Message)) proto.Message {
		m := dynamicpb.NewMessage(sample)
		m.Set(f.ByName("id"), protoreflect.ValueOfInt64(id))
		m.Set(f.ByName("flag"), protoreflect.ValueOfBool(true))
		fill(m)
		return m
	}
	full := func(low bool) func(m protoreflect.Message) {
		return func(m protoreflect.Message) {
			m.Set(f.ByName("s"), protoreflect.ValueOfString("héllo\x00world"))
			m.Set(f.ByName("by"), protoreflect.ValueOfBytes([]byte{0, 0xff, 1}))
			m.Set(f.ByName("f"), protoreflect.ValueOfFloat32(-1.5))
			m.Set(f.ByName("d"), protoreflect.ValueOfFloat64(math.MaxFloat64))
			inner := m.Mutable(f.ByName("inner")).Message()
			in := inner.Descriptor().Fields()
			if low {
				m.Set(f.ByName("i32"), protoreflect.ValueOfInt32(math.MinInt32))
				m.Set(f.ByName("i64"), protoreflect.ValueOfInt64(math.MinInt64))
				m.Set(f.ByName("si32"), protoreflect.ValueOfInt32(math.MinInt32))
				m.Set(f.ByName("si64"), protoreflect.ValueOfInt64(math.MinInt64))
				m.Set(f.ByName("sf32"), protoreflect.ValueOfInt32(-7))
				m.Set(f.ByName("sf64"), protoreflect.ValueOfInt64(-8))
				m.Set(f.ByName("color"), protoreflect.ValueOfEnum(-2))
				inner.Set(in.ByName("n"), protoreflect.ValueOfInt32(-3))
			} else {
				m.Set(f.ByName("i32"), protoreflect.ValueOfInt32(math.MaxInt32))
				m.Set(f.ByName("i64"), protoreflect.ValueOfInt64(math.MaxInt64))
				m.Set(f.ByName("si32"), protoreflect.ValueOfInt32(math.MaxInt32))
				m.Set(f.ByName("si64"), protoreflect.ValueOfInt64(math.MaxInt64))
				m.Set(f.ByName("sf32"), protoreflect.ValueOfInt32(7))
				m.Set(f.ByName("sf64"), protoreflect.ValueOfInt64(8))
				m.Set(f.ByName("color"), protoreflect.ValueOfEnum(1))
				inner.Set(in.ByName("t"), protoreflect.ValueOfString("deep"))
			}
		}
	}
	saved := []proto.Message{
		msg(1, full(false)),
		msg(2, full(true)),
		msg(3, func(protoreflect.Message) {}), // every column but flag null
	}
	e.must(func(st *record.Store) error {
		for _, m := range saved {
			if _, err := st.SaveRecord(m); err != nil {
				return err
			}
		}
		return nil
	})
	required := append([]record.KeyExpression{record.Field("id")}, exprs...)
	e.must(func(st *record.Store) error {
		plan, err := st.Plan(record.Query{RecordTypes: []string{"Sample"}, Filter: record.Where("flag").Equals(true), RequiredFields: required})
		require.NoError(t, err)
		require.Contains(t, plan.Explain(), "Covering(")
		recs, err := st.Execute(plan, record.ExecuteOptions{}).All()
		require.NoError(t, err)
		require.Len(t, recs, len(saved))
		for _, rec := range recs {
			require.True(t, rec.Partial)
			id := rec.Message.ProtoReflect().Get(f.ByName("id")).Int()
			require.True(t, proto.Equal(saved[id-1], rec.Message), "record %d: partial %v, saved %v", id, rec.Message, saved[id-1])
		}
		return nil
	})
}

// TestCoveringUnsigned checks covering plans over unsigned fields kept exactly
// (AllowUnsignedFields), including values above the int64 range.
func TestCoveringUnsigned(t *testing.T) {
	md, err := record.NewMetaDataBuilder(testpb.File_unsigned_proto).SetUnion("CounterUnion").AllowUnsignedFields().
		SetPrimaryKey("Counter", record.Field("id")).
		AddIndex(record.Index{Name: "by_big", RecordTypes: []string{"Counter"}, Expression: record.Concat(record.Field("big"), record.Field("small"), record.Field("fixed"))}).
		Build()
	require.NoError(t, err)
	e := newEnvWith(t, md)
	saved := []*testpb.Counter{
		{Id: 1, Small: math.MaxUint32, Big: math.MaxUint64, Fixed: 1<<63 + 5},
		{Id: 2, Small: 7, Big: 1 << 63, Fixed: math.MaxUint64},
		{Id: 3, Small: 1, Big: 42, Fixed: 9},
	}
	e.must(func(st *record.Store) error {
		for _, c := range saved {
			if _, err := st.SaveRecord(c); err != nil {
				return err
			}
		}
		return nil
	})
	e.must(func(st *record.Store) error {
		plan, err := st.Plan(record.Query{RecordTypes: []string{"Counter"}, Filter: record.Where("big").GreaterThan(uint64(0)),
			RequiredFields: []record.KeyExpression{record.Field("id"), record.Field("big"), record.Field("small"), record.Field("fixed")}})
		require.NoError(t, err)
		require.Contains(t, plan.Explain(), "Covering(")
		recs, err := st.Execute(plan, record.ExecuteOptions{}).All()
		require.NoError(t, err)
		require.Len(t, recs, len(saved))
		want := map[int64]*testpb.Counter{}
		for _, c := range saved {
			want[c.Id] = c
		}
		for _, rec := range recs {
			got := rec.Message.(*testpb.Counter)
			require.True(t, proto.Equal(want[got.Id], got), "partial %v, saved %v", got, want[got.Id])
		}
		return nil
	})
}
