package record_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/record/internal/testpb"
	"github.com/layerkit/layerkit/tuple"
)

func TestMetaDataBuild(t *testing.T) {
	md := testMetaData(t)
	require.Equal(t, 1, md.Version())
	require.Len(t, md.RecordTypes(), 2)
	book := md.RecordType("Book")
	require.NotNil(t, book)
	require.Equal(t, "concat(recordType, branch, shelf, id)", book.PrimaryKey().String())
	require.Len(t, book.Indexes(), 6)
	require.Equal(t, "holders[*].city", md.Index("by_holder_city").Expression.String())
	require.Nil(t, md.RecordType("Stray"))
}

// Every validation error names what is wrong and where.
func TestMetaDataErrors(t *testing.T) {
	base := func() *record.MetaDataBuilder {
		return record.NewMetaDataBuilder(testpb.File_records_proto).
			SetPrimaryKey("Book", record.Field("id")).
			SetPrimaryKey("Author", record.Field("id"))
	}
	cases := []struct {
		name string
		b    *record.MetaDataBuilder
		want string
	}{
		{"unknown field in index", base().AddIndex(record.Index{Name: "x", RecordTypes: []string{"Book"}, Expression: record.Field("nope")}), `Book has no field "nope"`},
		{"unknown field in primary key", base().SetPrimaryKey("Book", record.Field("nope")), `Book has no field "nope"`},
		{"unknown nested field", base().AddIndex(record.Index{Name: "x", RecordTypes: []string{"Book"}, Expression: record.Nest("origin", record.Field("zip"))}), `Address has no field "zip"`},
		{"primary key fans out", base().SetPrimaryKey("Book", record.FanOut("tags")), "fans out"},
		{"repeated field as scalar", base().AddIndex(record.Index{Name: "x", RecordTypes: []string{"Book"}, Expression: record.Field("tags")}), `field "tags" of Book is repeated`},
		{"scalar field as fan-out", base().AddIndex(record.Index{Name: "x", RecordTypes: []string{"Book"}, Expression: record.FanOut("title")}), `field "title" of Book is not repeated`},
		{"message field as value", base().AddIndex(record.Index{Name: "x", RecordTypes: []string{"Book"}, Expression: record.Field("origin")}), `is a message`},
		{"map field", base().AddIndex(record.Index{Name: "x", RecordTypes: []string{"Author"}, Expression: record.Field("notes")}), `is a map`},
		{"nest into scalar", base().AddIndex(record.Index{Name: "x", RecordTypes: []string{"Book"}, Expression: record.Nest("title", record.Field("a"))}), `not a message field`},
		{"duplicate index", base().AddIndex(record.Index{Name: "x", RecordTypes: []string{"Book"}, Expression: record.Field("title")}).AddIndex(record.Index{Name: "x", RecordTypes: []string{"Book"}, Expression: record.Field("author")}), `duplicate index name "x"`},
		{"union does not list type", base().SetPrimaryKey("Stray", record.Field("id")), "Stray, which union RecordTypeUnion does not list"},
		{"index on type outside union", base().AddIndex(record.Index{Name: "x", RecordTypes: []string{"Stray"}, Expression: record.Field("id")}), "Stray, which union RecordTypeUnion does not list"},
		{"unknown record type", base().SetPrimaryKey("Magazine", record.Field("id")), `unknown record type "Magazine"`},
		{"missing primary key", record.NewMetaDataBuilder(testpb.File_records_proto).SetPrimaryKey("Book", record.Field("id")), "Author has no primary key"},
		{"no union", base().SetUnion("Nope"), `no union message "Nope"`},
		{"index without types", base().AddIndex(record.Index{Name: "x", Expression: record.Field("id")}), "covers no record types"},
		{"index without expression", base().AddIndex(record.Index{Name: "x", RecordTypes: []string{"Book"}}), "has no expression"},
		{"unsupported index type", base().AddIndex(record.Index{Name: "x", RecordTypes: []string{"Book"}, Expression: record.Field("id"), Type: "rank"}), `unsupported type "rank"`},
		{"index newer than metadata", base().AddIndex(record.Index{Name: "x", RecordTypes: []string{"Book"}, Expression: record.Field("id"), AddedVersion: 5}), "after the metadata version 1"},
		{"unsigned fields", record.NewMetaDataBuilder(testpb.File_unsigned_proto).SetUnion("CounterUnion").SetPrimaryKey("Counter", record.Field("id")), `field "small" of layerkit.record.test.unsigned.Counter has unsigned type uint32, which the Java Record Layer refuses`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			md, err := c.b.Build()
			require.Error(t, err)
			require.Nil(t, md)
			require.Contains(t, err.Error(), c.want)
		})
	}
}

// A union can be named explicitly, and several problems are reported together.
func TestMetaDataUnionOptionAndJoinedErrors(t *testing.T) {
	_, err := record.NewMetaDataBuilder(testpb.File_records_proto).SetUnion("RecordTypeUnion").
		SetPrimaryKey("Book", record.Field("nope")).
		SetPrimaryKey("Author", record.FanOut("name")).Build()
	require.ErrorContains(t, err, `Book has no field "nope"`)
	require.ErrorContains(t, err, `field "name" of Author is not repeated`)
}

// The union can be marked with the Java Record Layer's option instead of being named.
func TestMetaDataUnionByOption(t *testing.T) {
	md, err := record.NewMetaDataBuilder(testpb.File_union_option_proto).
		SetPrimaryKey("Magazine", record.Field("issue")).Build()
	require.NoError(t, err)
	require.Equal(t, "Everything", string(md.Union().Name()))
	require.NotNil(t, md.RecordType("Magazine"))
	e := newEnvWith(t, md)
	m := &testpb.Magazine{Issue: proto.Int64(12), Name: proto.String("Overland")}
	e.must(func(st *record.Store) error { _, err := st.SaveRecord(m); return err })
	e.must(func(st *record.Store) error {
		rec, err := st.Load(tuple.Tuple{int64(12)})
		require.NoError(t, err)
		require.True(t, proto.Equal(m, rec.Message))
		return err
	})
	// Without the option and without the conventional name there is no union.
	_, err = record.NewMetaDataBuilder(testpb.File_union_option_proto).SetUnion("Nope").Build()
	require.ErrorContains(t, err, `no union message "Nope"`)
}
