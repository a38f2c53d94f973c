package cli

import (
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The Java Record Layer's options in a .proto file (record_metadata_options.proto): extension
// 1233 of MessageOptions (RecordTypeOptions) and of FieldOptions (FieldOptions). They are read
// from the options' wire bytes, so a descriptor set carries them whether or not their Go types
// exist anywhere.
const (
	recordOptionNumber = 1233

	// SchemaOptions.split_long_records and .store_record_versions (a file option).
	schemaSplitLongRecords    = 3
	schemaStoreRecordVersions = 4

	// RecordTypeOptions.usage, and its value UNION.
	recordTypeUsage = 1
	usageUnion      = 2

	// FieldOptions.indexed (deprecated), .primary_key and .index; IndexOption.type and .unique.
	fieldIndexedDeprecated = 1
	fieldPrimaryKey        = 2
	fieldIndex             = 3
	indexOptionType        = 1
	indexOptionUnique      = 2
)

// recordOption returns the bytes of the Record Layer option (extension 1233) set on a
// descriptor's options message, and whether it is set.
func recordOption(opts proto.Message) ([]byte, bool) {
	if opts == nil || !opts.ProtoReflect().IsValid() {
		return nil, false
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(opts)
	if err != nil {
		return nil, false
	}
	var out []byte
	found := false
	eachField(b, func(num protowire.Number, typ protowire.Type, v []byte) {
		if num == recordOptionNumber && typ == protowire.BytesType {
			// Repeated occurrences of a message field merge, as protobuf's parser does.
			out = append(out, v...)
			found = true
		}
	})
	return out, found
}

// eachField calls fn for each field of a serialized message: for a bytes field v is its
// content, for a varint its bytes as they are; malformed input ends the walk.
func eachField(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte)) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return
		}
		b = b[n:]
		if typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return
			}
			fn(num, typ, v)
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return
		}
		fn(num, typ, b[:m])
		b = b[m:]
	}
}

func varintField(v []byte) uint64 {
	x, n := protowire.ConsumeVarint(v)
	if n < 0 {
		return 0
	}
	return x
}

// isMarkedUnion reports whether a message carries (com.apple.foundationdb.record.record).usage
// = UNION.
func isMarkedUnion(md protoreflect.MessageDescriptor) bool {
	opt, ok := recordOption(md.Options())
	if !ok {
		return false
	}
	union := false
	eachField(opt, func(num protowire.Number, typ protowire.Type, v []byte) {
		if num == recordTypeUsage && typ == protowire.VarintType {
			union = varintField(v) == usageUnion
		}
	})
	return union
}

// fieldOptions is what a field's (com.apple.foundationdb.record.field) option declares.
type fieldOptions struct {
	primaryKey bool
	index      bool
	indexType  string
	unique     bool
	// deprecatedIndexed is set when the field uses the old "indexed" enum option.
	deprecatedIndexed bool
}

func readFieldOptions(fd protoreflect.FieldDescriptor) (fieldOptions, bool) {
	opt, ok := recordOption(fd.Options())
	if !ok {
		return fieldOptions{}, false
	}
	var fo fieldOptions
	eachField(opt, func(num protowire.Number, typ protowire.Type, v []byte) {
		switch {
		case num == fieldPrimaryKey && typ == protowire.VarintType:
			fo.primaryKey = varintField(v) != 0
		case num == fieldIndexedDeprecated && typ == protowire.VarintType:
			fo.deprecatedIndexed = true
		case num == fieldIndex && typ == protowire.BytesType:
			fo.index = true
			fo.indexType = "value" // IndexOption.type's declared default
			eachField(v, func(num protowire.Number, typ protowire.Type, v []byte) {
				switch {
				case num == indexOptionType && typ == protowire.BytesType:
					fo.indexType = string(v)
				case num == indexOptionUnique && typ == protowire.VarintType:
					fo.unique = varintField(v) != 0
				}
			})
		}
	})
	return fo, true
}

// readSchemaOptions reads the file option (com.apple.foundationdb.record.schema): whether long
// records are split and record versions stored; nil where the option does not say.
func readSchemaOptions(fd protoreflect.FileDescriptor) (split, versions *bool) {
	opt, ok := recordOption(fd.Options())
	if !ok {
		return nil, nil
	}
	eachField(opt, func(num protowire.Number, typ protowire.Type, v []byte) {
		if typ != protowire.VarintType {
			return
		}
		b := varintField(v) != 0
		switch num {
		case schemaSplitLongRecords:
			split = &b
		case schemaStoreRecordVersions:
			versions = &b
		}
	})
	return split, versions
}
