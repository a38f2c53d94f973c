package record_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/record/internal/testpb"
)

// schema is the test .proto file as a descriptor to edit.
type schema struct {
	fdp *descriptorpb.FileDescriptorProto
}

func testSchema() schema {
	return schema{protodesc.ToFileDescriptorProto(testpb.File_records_proto)}
}

func (s schema) message(name string) *descriptorpb.DescriptorProto {
	for _, m := range s.fdp.MessageType {
		if m.GetName() == name {
			return m
		}
	}
	panic("no message " + name)
}

func (s schema) field(msg, name string) *descriptorpb.FieldDescriptorProto {
	for _, f := range s.message(msg).Field {
		if f.GetName() == name {
			return f
		}
	}
	panic("no field " + name + " in " + msg)
}

func (s schema) removeField(msg, name string) {
	m := s.message(msg)
	m.Field = slices.DeleteFunc(m.Field, func(f *descriptorpb.FieldDescriptorProto) bool { return f.GetName() == name })
}

// evolutionCase builds old and new metadata from edited copies of the test schema.
type evolutionCase struct {
	name     string
	editOld  func(s schema)
	editNew  func(s schema)
	buildOld func(b *record.MetaDataBuilder)
	buildNew func(b *record.MetaDataBuilder)
	newVer   int // 0: 2
	opts     record.EvolutionOptions
	want     []string // the rules broken, in any order; none: compatible
}

// evolutionMetaData is the metadata of a case: books and authors keyed by type and id, with
// indexes added in version 1.
func evolutionMetaData(t *testing.T, edit func(schema), version int, build func(*record.MetaDataBuilder)) *record.MetaData {
	t.Helper()
	s := testSchema()
	if edit != nil {
		edit(s)
	}
	fd, err := protodesc.NewFile(s.fdp, nil)
	require.NoError(t, err)
	b := record.NewMetaDataBuilder(fd).SetVersion(version)
	pk := record.Concat(record.RecordTypeKey(), record.Field("id"))
	b.SetPrimaryKey("Book", pk)
	for _, f := range s.message("RecordTypeUnion").Field {
		if f.GetTypeName() == ".layerkit.record.test.Author" {
			b.SetPrimaryKey("Author", pk)
		}
	}
	if build != nil {
		build(b)
	}
	md, err := b.Build()
	require.NoError(t, err)
	return md
}

func baseIndexes(b *record.MetaDataBuilder) {
	b.AddIndex(record.Index{Name: "by_author", RecordTypes: []string{"Book"}, Expression: record.Field("author"), AddedVersion: 1}).
		AddIndex(record.Index{Name: "by_year", RecordTypes: []string{"Book"}, Expression: record.Field("year"), AddedVersion: 1})
}

func with(fns ...func(b *record.MetaDataBuilder)) func(b *record.MetaDataBuilder) {
	return func(b *record.MetaDataBuilder) {
		for _, f := range fns {
			f(b)
		}
	}
}

func index(ix record.Index) func(b *record.MetaDataBuilder) {
	return func(b *record.MetaDataBuilder) { b.AddIndex(ix) }
}

func former(fi record.FormerIndex) func(b *record.MetaDataBuilder) {
	return func(b *record.MetaDataBuilder) { b.AddFormerIndex(fi) }
}

func since(rt string, v int) func(b *record.MetaDataBuilder) {
	return func(b *record.MetaDataBuilder) { b.SetSinceVersion(rt, v) }
}

// toProto2 makes the schema proto2 (where every singular field has presence).
func toProto2(s schema) {
	s.fdp.Syntax = proto.String("proto2")
	f := s.field("Book", "isbn")
	f.Proto3Optional, f.OneofIndex = nil, nil
	s.message("Book").OneofDecl = nil
}

// renameMessage renames a message and every reference to it and to its nested types.
func renameMessage(s schema, from, to string) {
	s.message(from).Name = proto.String(to)
	old, repl := ".layerkit.record.test."+from, ".layerkit.record.test."+to
	var fix func(ms []*descriptorpb.DescriptorProto)
	fix = func(ms []*descriptorpb.DescriptorProto) {
		for _, m := range ms {
			for _, f := range m.Field {
				if t := f.GetTypeName(); t == old || strings.HasPrefix(t, old+".") {
					f.TypeName = proto.String(repl + strings.TrimPrefix(t, old))
				}
			}
			fix(m.NestedType)
		}
	}
	fix(s.fdp.MessageType)
}

func addUnionField(s schema, number int32, typeName string) {
	name := fmt.Sprintf("_%s_%d", typeName, number)
	u := s.message("RecordTypeUnion")
	u.Field = append(u.Field, &descriptorpb.FieldDescriptorProto{
		Name: proto.String(name), Number: proto.Int32(number), JsonName: proto.String(name),
		Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(),
		TypeName: proto.String(".layerkit.record.test." + typeName),
	})
}

// The rules of the Java Record Layer's MetaDataEvolutionValidator, one case each: what breaks a
// rule, and what the options allow.
func TestEvolutionRules(t *testing.T) {
	cases := []evolutionCase{
		{name: "same schema, newer version"},
		{name: "same version", newVer: 1, want: []string{"new meta-data does not have newer version than old meta-data"}},
		{name: "same version allowed", newVer: 1, opts: record.EvolutionOptions{AllowNoVersionChange: true}},
		{name: "older version", newVer: 1, buildOld: with(func(b *record.MetaDataBuilder) { b.SetVersion(3) }, baseIndexes), opts: record.EvolutionOptions{AllowNoVersionChange: true},
			want: []string{"new meta-data does not have newer version than old meta-data"}},
		{name: "field removed", editNew: func(s schema) { s.removeField("Book", "price") }, want: []string{"field removed from message descriptor"}},
		{name: "field added"},
		{name: "field type changed", editNew: func(s schema) { s.field("Book", "rating").Type = descriptorpb.FieldDescriptorProto_TYPE_DOUBLE.Enum() },
			want: []string{"field type changed"}},
		{name: "int32 widens to int64", editNew: func(s schema) { s.field("Book", "year").Type = descriptorpb.FieldDescriptorProto_TYPE_INT64.Enum() }},
		{name: "int64 does not narrow to int32", editNew: func(s schema) { s.field("Book", "shelf").Type = descriptorpb.FieldDescriptorProto_TYPE_INT32.Enum() },
			want: []string{"field type changed"}},
		{name: "sint32 widens to sint64",
			editOld: func(s schema) { s.field("Book", "year").Type = descriptorpb.FieldDescriptorProto_TYPE_SINT32.Enum() },
			editNew: func(s schema) { s.field("Book", "year").Type = descriptorpb.FieldDescriptorProto_TYPE_SINT64.Enum() }},
		{name: "nested message field type changed", editNew: func(s schema) {
			s.field("Address", "street").Type = descriptorpb.FieldDescriptorProto_TYPE_BYTES.Enum()
		},
			want: []string{"field type changed"}},
		{name: "repeated field no longer repeated", editNew: func(s schema) {
			s.field("Address", "phones").Label = descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
		}, want: []string{"repeated field is no longer repeated"}},
		{name: "presence dropped", editNew: func(s schema) {
			f := s.field("Book", "isbn")
			f.Proto3Optional, f.OneofIndex = nil, nil
			s.message("Book").OneofDecl = nil
		}, want: []string{"field changed whether default values are stored if set explicitly"}},
		{name: "field renamed", editNew: func(s schema) { s.field("Book", "blob").Name = proto.String("payload") }, want: []string{"field renamed"}},
		{name: "field renames allowed", editNew: func(s schema) { s.field("Book", "blob").Name = proto.String("payload") }, opts: record.EvolutionOptions{AllowFieldRenames: true}},
		{name: "indexed field renamed", editNew: func(s schema) { s.field("Book", "author").Name = proto.String("writer") },
			buildNew: func(b *record.MetaDataBuilder) {
				b.AddIndex(record.Index{Name: "by_author", RecordTypes: []string{"Book"}, Expression: record.Field("writer"), AddedVersion: 1}).
					AddIndex(record.Index{Name: "by_year", RecordTypes: []string{"Book"}, Expression: record.Field("year"), AddedVersion: 1})
			},
			want: []string{"field renamed", "index key expression changed"}},
		{name: "indexed field renamed, renames allowed", editNew: func(s schema) { s.field("Book", "author").Name = proto.String("writer") },
			buildNew: func(b *record.MetaDataBuilder) {
				b.AddIndex(record.Index{Name: "by_author", RecordTypes: []string{"Book"}, Expression: record.Field("writer"), AddedVersion: 1}).
					AddIndex(record.Index{Name: "by_year", RecordTypes: []string{"Book"}, Expression: record.Field("year"), AddedVersion: 1})
			},
			opts: record.EvolutionOptions{AllowFieldRenames: true}},
		{name: "deprecated field renamed", editOld: func(s schema) {
			s.field("Book", "blob").Options = &descriptorpb.FieldOptions{Deprecated: proto.Bool(true)}
		},
			editNew: func(s schema) {
				f := s.field("Book", "blob")
				f.Name, f.Options = proto.String("payload"), &descriptorpb.FieldOptions{Deprecated: proto.Bool(true)}
			},
			opts: record.EvolutionOptions{AllowDeprecatedFieldRenames: true}},
		{name: "field undeprecated", editOld: func(s schema) {
			s.field("Book", "blob").Options = &descriptorpb.FieldOptions{Deprecated: proto.Bool(true)}
		},
			want: []string{"field is no longer deprecated"}},
		{name: "field undeprecated allowed", editOld: func(s schema) {
			s.field("Book", "blob").Options = &descriptorpb.FieldOptions{Deprecated: proto.Bool(true)}
		},
			opts: record.EvolutionOptions{AllowUndeprecatingFields: true}},
		{name: "enum value removed", editNew: func(s schema) {
			e := s.fdp.EnumType[0]
			e.Value = e.Value[:2]
		}, want: []string{"enum removes value"}},
		{name: "required field added", editOld: toProto2, editNew: func(s schema) {
			toProto2(s)
			m := s.message("Address")
			m.Field = append(m.Field, &descriptorpb.FieldDescriptorProto{Name: proto.String("zip"), JsonName: proto.String("zip"), Number: proto.Int32(9),
				Label: descriptorpb.FieldDescriptorProto_LABEL_REQUIRED.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()})
		}, want: []string{"required field added to record type"}},
		{name: "proto syntax changed", editNew: toProto2,
			want: []string{"message descriptor proto syntax changed", "field changed whether default values are stored if set explicitly"}},
		{name: "record type removed from union", editNew: func(s schema) { s.removeField("RecordTypeUnion", "_Author") },
			want: []string{"record type removed from union"}},
		{name: "record type renamed", editNew: func(s schema) {
			renameMessage(s, "Author", "Writer")
		}, buildNew: func(b *record.MetaDataBuilder) {
			baseIndexes(b)
			b.SetPrimaryKey("Writer", record.Concat(record.RecordTypeKey(), record.Field("id")))
		}},
		{name: "record type renames refused", editNew: func(s schema) {
			renameMessage(s, "Author", "Writer")
		}, buildNew: func(b *record.MetaDataBuilder) {
			baseIndexes(b)
			b.SetPrimaryKey("Writer", record.Concat(record.RecordTypeKey(), record.Field("id")))
		}, opts: record.EvolutionOptions{DisallowTypeRenames: true}, want: []string{"record type name changed"}},
		{name: "new record type", editNew: func(s schema) { addUnionField(s, 3, "Stray") },
			buildNew: with(baseIndexes, since("Stray", 2), func(b *record.MetaDataBuilder) { b.SetPrimaryKey("Stray", record.Field("id")) })},
		{name: "new record type without since version", editNew: func(s schema) { addUnionField(s, 3, "Stray") },
			buildNew: with(baseIndexes, func(b *record.MetaDataBuilder) { b.SetPrimaryKey("Stray", record.Field("id")) }),
			want:     []string{"new record type is missing since version"}},
		{name: "new record type without since version allowed", editNew: func(s schema) { addUnionField(s, 3, "Stray") },
			buildNew: with(baseIndexes, func(b *record.MetaDataBuilder) { b.SetPrimaryKey("Stray", record.Field("id")) }),
			opts:     record.EvolutionOptions{AllowNoSinceVersion: true}},
		{name: "new record type with an old since version", editNew: func(s schema) { addUnionField(s, 3, "Stray") },
			buildNew: with(baseIndexes, since("Stray", 1), func(b *record.MetaDataBuilder) { b.SetPrimaryKey("Stray", record.Field("id")) }),
			want:     []string{"new record type has since version older than old meta-data"}},
		{name: "since version changed", buildOld: with(baseIndexes, since("Author", 1)), buildNew: with(baseIndexes, since("Author", 2)),
			want: []string{"record type since version changed"}},
		{name: "primary key changed", buildNew: with(baseIndexes, func(b *record.MetaDataBuilder) { b.SetPrimaryKey("Author", record.Field("id")) }),
			want: []string{"record type primary key changed"}},
		{name: "record type key changed", editOld: func(s schema) { s.message("RecordTypeUnion").Field[0].Number = proto.Int32(5) },
			editNew: func(s schema) {
				s.message("RecordTypeUnion").Field[0].Number = proto.Int32(5)
				addUnionField(s, 4, "Book")
			}, want: []string{"record type key changed"}},
		{name: "index removed", buildNew: func(b *record.MetaDataBuilder) {
			b.AddIndex(record.Index{Name: "by_year", RecordTypes: []string{"Book"}, Expression: record.Field("year"), AddedVersion: 1})
		}, want: []string{"index missing in new meta-data"}},
		{name: "index removed as a former index", buildNew: func(b *record.MetaDataBuilder) {
			b.AddIndex(record.Index{Name: "by_year", RecordTypes: []string{"Book"}, Expression: record.Field("year"), AddedVersion: 1}).
				AddFormerIndex(record.FormerIndex{Name: "by_author", AddedVersion: 1, RemovedVersion: 2})
		}},
		{name: "former index removed too early", buildNew: func(b *record.MetaDataBuilder) {
			b.AddIndex(record.Index{Name: "by_year", RecordTypes: []string{"Book"}, Expression: record.Field("year"), AddedVersion: 1}).
				AddFormerIndex(record.FormerIndex{Name: "by_author", AddedVersion: 0, RemovedVersion: 1})
		}, want: []string{"new former index has removed version that is not newer than the old meta-data version", "former index reports added version older than replacing index", "former index removed before old index's last modification"}},
		{name: "former index with an older added version", buildNew: func(b *record.MetaDataBuilder) {
			b.AddIndex(record.Index{Name: "by_year", RecordTypes: []string{"Book"}, Expression: record.Field("year"), AddedVersion: 1}).
				AddFormerIndex(record.FormerIndex{Name: "by_author", AddedVersion: 0, RemovedVersion: 2})
		}, want: []string{"former index reports added version older than replacing index"}},
		{name: "former index with an older added version allowed", buildNew: func(b *record.MetaDataBuilder) {
			b.AddIndex(record.Index{Name: "by_year", RecordTypes: []string{"Book"}, Expression: record.Field("year"), AddedVersion: 1}).
				AddFormerIndex(record.FormerIndex{Name: "by_author", AddedVersion: 0, RemovedVersion: 2})
		}, opts: record.EvolutionOptions{AllowOlderFormerIndexAddedVersions: true}},
		{name: "former index added after the index", buildNew: func(b *record.MetaDataBuilder) {
			b.AddIndex(record.Index{Name: "by_year", RecordTypes: []string{"Book"}, Expression: record.Field("year"), AddedVersion: 1}).
				AddFormerIndex(record.FormerIndex{Name: "by_author", AddedVersion: 3, RemovedVersion: 4})
		}, buildOld: func(b *record.MetaDataBuilder) {
			b.SetVersion(3).AddIndex(record.Index{Name: "by_author", RecordTypes: []string{"Book"}, Expression: record.Field("author"), AddedVersion: 2}).
				AddIndex(record.Index{Name: "by_year", RecordTypes: []string{"Book"}, Expression: record.Field("year"), AddedVersion: 1})
		}, newVer: 4, want: []string{"former index added after old index", "former index reports added version older than replacing index"}},
		{name: "former index of an index the old metadata never had", buildNew: with(baseIndexes, former(record.FormerIndex{Name: "gone", AddedVersion: 1, RemovedVersion: 2})),
			want: []string{"former index without existing index has added version prior to old meta-data version"}},
		{name: "former index dropped", buildOld: with(baseIndexes, former(record.FormerIndex{Name: "gone", AddedVersion: 0, RemovedVersion: 1})),
			want: []string{"former index removed from meta-data"}},
		{name: "former index kept", buildOld: with(baseIndexes, former(record.FormerIndex{Name: "gone", AddedVersion: 0, RemovedVersion: 1})),
			buildNew: with(baseIndexes, former(record.FormerIndex{Name: "gone", AddedVersion: 0, RemovedVersion: 1}))},
		{name: "former index changed", buildOld: with(baseIndexes, former(record.FormerIndex{Name: "gone", AddedVersion: 0, RemovedVersion: 1})),
			buildNew: with(baseIndexes, former(record.FormerIndex{Name: "gone", AddedVersion: 0, RemovedVersion: 2})),
			want:     []string{"removed version of former index differs from prior version"}},
		{name: "former index name reused", buildOld: with(baseIndexes, former(record.FormerIndex{Name: "gone", AddedVersion: 0, RemovedVersion: 1})),
			buildNew: with(baseIndexes, index(record.Index{Name: "gone", RecordTypes: []string{"Book"}, Expression: record.Field("title"), AddedVersion: 2})),
			want:     []string{"former index key used for new index in meta-data"}},
		{name: "new index", buildNew: with(baseIndexes, index(record.Index{Name: "by_title", RecordTypes: []string{"Book"}, Expression: record.Field("title"), AddedVersion: 2}))},
		{name: "new index with an old version", buildNew: with(baseIndexes, index(record.Index{Name: "by_title", RecordTypes: []string{"Book"}, Expression: record.Field("title"), AddedVersion: 1})),
			want: []string{"new index has version that is not newer than the old meta-data version"}},
		{name: "index changed without a new version", buildNew: func(b *record.MetaDataBuilder) {
			b.AddIndex(record.Index{Name: "by_author", RecordTypes: []string{"Book"}, Expression: record.Concat(record.Field("author"), record.Field("title")), AddedVersion: 1})
			b.AddIndex(record.Index{Name: "by_year", RecordTypes: []string{"Book"}, Expression: record.Field("year"), AddedVersion: 1})
		}, want: []string{"index key expression changed"}},
		{name: "index changed with a new version", buildNew: func(b *record.MetaDataBuilder) {
			b.AddIndex(record.Index{Name: "by_author", RecordTypes: []string{"Book"}, Expression: record.Concat(record.Field("author"), record.Field("title")), AddedVersion: 1, LastModifiedVersion: 2})
			b.AddIndex(record.Index{Name: "by_year", RecordTypes: []string{"Book"}, Expression: record.Field("year"), AddedVersion: 1})
		}, want: []string{"last modified version of index changed"}},
		{name: "index rebuilds allowed", buildNew: func(b *record.MetaDataBuilder) {
			b.AddIndex(record.Index{Name: "by_author", RecordTypes: []string{"Book"}, Expression: record.Concat(record.Field("author"), record.Field("title")), AddedVersion: 1, LastModifiedVersion: 2})
			b.AddIndex(record.Index{Name: "by_year", RecordTypes: []string{"Book"}, Expression: record.Field("year"), AddedVersion: 1})
		}, opts: record.EvolutionOptions{AllowIndexRebuilds: true}},
		{name: "index added version changed", buildNew: with(index(record.Index{Name: "by_author", RecordTypes: []string{"Book"}, Expression: record.Field("author"), AddedVersion: 2}),
			index(record.Index{Name: "by_year", RecordTypes: []string{"Book"}, Expression: record.Field("year"), AddedVersion: 1})),
			want: []string{"new index added version does not match old index added version"}},
		{name: "index last-modified version went back", buildOld: func(b *record.MetaDataBuilder) {
			b.SetVersion(3)
			b.AddIndex(record.Index{Name: "by_author", RecordTypes: []string{"Book"}, Expression: record.Field("author"), AddedVersion: 1, LastModifiedVersion: 3})
			b.AddIndex(record.Index{Name: "by_year", RecordTypes: []string{"Book"}, Expression: record.Field("year"), AddedVersion: 1})
		}, newVer: 4, opts: record.EvolutionOptions{AllowIndexRebuilds: true}, want: []string{"old index has last-modified version newer than new index"}},
		{name: "index adds uniqueness", buildNew: with(index(record.Index{Name: "by_author", RecordTypes: []string{"Book"}, Expression: record.Field("author"), AddedVersion: 1, Unique: true}),
			index(record.Index{Name: "by_year", RecordTypes: []string{"Book"}, Expression: record.Field("year"), AddedVersion: 1})),
			want: []string{"index adds uniqueness constraint"}},
		{name: "index drops uniqueness", buildOld: with(index(record.Index{Name: "by_author", RecordTypes: []string{"Book"}, Expression: record.Field("author"), AddedVersion: 1, Unique: true}),
			index(record.Index{Name: "by_year", RecordTypes: []string{"Book"}, Expression: record.Field("year"), AddedVersion: 1}))},
		{name: "index adds an old record type", buildOld: with(baseIndexes, index(record.Index{Name: "by_id", RecordTypes: []string{"Book"}, Expression: record.Field("id"), AddedVersion: 1})),
			buildNew: with(baseIndexes, index(record.Index{Name: "by_id", RecordTypes: []string{"Book", "Author"}, Expression: record.Field("id"), AddedVersion: 1})),
			want:     []string{"new index adds record type that is not newer than old meta-data"}},
		{name: "index adds a new record type", editNew: func(s schema) {
			addUnionField(s, 3, "Stray")
			m := s.message("Stray")
			m.Field = append(m.Field, &descriptorpb.FieldDescriptorProto{Name: proto.String("title"), JsonName: proto.String("title"), Number: proto.Int32(2),
				Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()})
		},
			buildOld: with(baseIndexes, index(record.Index{Name: "by_title", RecordTypes: []string{"Book"}, Expression: record.Field("title"), AddedVersion: 1})),
			buildNew: with(baseIndexes, since("Stray", 2), func(b *record.MetaDataBuilder) {
				b.SetPrimaryKey("Stray", record.Concat(record.RecordTypeKey(), record.Field("id")))
			}, index(record.Index{Name: "by_title", RecordTypes: []string{"Book", "Stray"}, Expression: record.Field("title"), AddedVersion: 1}))},
		// A single-type index leaves the indexed primary-key columns out of its entries; an index
		// on several types keeps the whole primary key, so its entries change.
		{name: "index on a primary-key field adds a new record type", editNew: func(s schema) { addUnionField(s, 3, "Stray") },
			buildOld: with(baseIndexes, index(record.Index{Name: "by_id", RecordTypes: []string{"Book"}, Expression: record.Field("id"), AddedVersion: 1})),
			buildNew: with(baseIndexes, since("Stray", 2), func(b *record.MetaDataBuilder) {
				b.SetPrimaryKey("Stray", record.Concat(record.RecordTypeKey(), record.Field("id")))
			}, index(record.Index{Name: "by_id", RecordTypes: []string{"Book", "Stray"}, Expression: record.Field("id"), AddedVersion: 1})),
			want: []string{"new index drops primary key component positions"}},
		{name: "index removes a record type", buildOld: with(baseIndexes, index(record.Index{Name: "by_id", RecordTypes: []string{"Book", "Author"}, Expression: record.Field("id"), AddedVersion: 1})),
			buildNew: with(baseIndexes, index(record.Index{Name: "by_id", RecordTypes: []string{"Book"}, Expression: record.Field("id"), AddedVersion: 1})),
			want:     []string{"new index removes record type"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			buildOld, buildNew := c.buildOld, c.buildNew
			if buildOld == nil {
				buildOld = baseIndexes
			}
			if buildNew == nil {
				buildNew = baseIndexes
			}
			newVer := c.newVer
			if newVer == 0 {
				newVer = 2
			}
			old := evolutionMetaData(t, c.editOld, 1, buildOld)
			nmd := evolutionMetaData(t, c.editNew, newVer, buildNew)
			err := record.ValidateEvolution(old, nmd, c.opts)
			var got []string
			for _, e := range unjoin(err) {
				var ee *record.EvolutionError
				require.ErrorAs(t, e, &ee)
				require.ErrorIs(t, e, record.ErrIncompatibleEvolution)
				got = append(got, ee.Rule)
			}
			slices.Sort(got)
			got = slices.Compact(got) // a rule may be broken in several places
			want := slices.Clone(c.want)
			slices.Sort(want)
			require.Equal(t, want, got, "errors: %v", err)
		})
	}
}

func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestEvolutionErrorNamesTheProblem(t *testing.T) {
	old := evolutionMetaData(t, nil, 1, baseIndexes)
	nmd := evolutionMetaData(t, func(s schema) { s.field("Book", "rating").Type = descriptorpb.FieldDescriptorProto_TYPE_DOUBLE.Enum() }, 2, baseIndexes)
	err := record.ValidateEvolution(old, nmd, record.EvolutionOptions{})
	require.EqualError(t, err, `record: field "rating" (15) of Book: field type changed (float → double)`)
	require.True(t, errors.Is(err, record.ErrIncompatibleEvolution))
}
