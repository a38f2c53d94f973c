package record

import (
	"errors"
	"fmt"
	"sort"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// DefaultUnionName is the conventional name of the union message that lists a file's record
// types, used when [MetaDataBuilder.SetUnion] is not called.
const DefaultUnionName = "RecordTypeUnion"

// IndexType names how an index is maintained: each type has its own maintainer (see
// maintainer.go), registered under the type's name.
type IndexType string

// Index types.
const (
	// ValueIndex keeps one entry per indexed key: the indexed values followed by the parts of the
	// primary key that are not already among them, with an empty value.
	ValueIndex IndexType = "value"
	// VersionIndex is a value index whose expression holds VersionKey: its entries list records
	// by the version of their last save (see Store.ChangesSince).
	VersionIndex IndexType = "version"
)

// Index declares a secondary index. It is a plain value given to [MetaDataBuilder.AddIndex];
// after Build it must not be changed.
type Index struct {
	// Name identifies the index and is its subspace key: entries live under S+(2, Name).
	Name string
	// RecordTypes are the record types the index covers (at least one).
	RecordTypes []string
	// Expression computes the indexed values of a record.
	Expression KeyExpression
	// Type is the kind of index; the zero value means ValueIndex.
	Type IndexType
	// Unique makes a save fail when another record already has the same indexed values. Keys
	// with a null column are exempt, as in the Java Record Layer.
	Unique bool
	// AddedVersion is the metadata version that introduced the index (0: the builder's version
	// when AddIndex is called, so call SetVersion before adding the indexes of a new version).
	AddedVersion int
	// LastModifiedVersion is the metadata version of the index's last change (0: AddedVersion).
	LastModifiedVersion int
	// ClearWhenZero makes a COUNT, COUNT_NOT_NULL or SUM index clear a group's key when its
	// value drops to zero, instead of keeping a zero (the Java Record Layer's clearWhenZero
	// option).
	ClearWhenZero bool

	// pkPositions[i] is the column of the index key that holds primary-key column i, or -1 when
	// the primary-key column is stored after the indexed values; nil for an index on several
	// record types, whose entries hold the whole primary key after the values.
	pkPositions []int
	// pkRest counts the primary-key columns stored after the values (-1 in pkPositions);
	// pkTail is set when they are the whole primary key in order (every position -1, or
	// pkPositions nil), so an entry's primary key is the tail of its key.
	pkRest  int
	pkTail  bool
	columns []KeyExpression
	types   []*RecordType
	kind    *indexType
}

// Columns returns the single-column parts of the index expression, in key order.
func (ix *Index) Columns() []KeyExpression { return ix.columns }

// RecordType is one record type of a [MetaData]: a message listed in the union.
type RecordType struct {
	name       string
	desc       protoreflect.MessageDescriptor
	unionField protoreflect.FieldDescriptor
	primaryKey KeyExpression
	pkColumns  []KeyExpression
	typeKey    int64
	indexes    []*Index
	newMsg     func() proto.Message
	since      int // the metadata version that added the type (0: not declared)
}

// Name returns the record type's name (its message's short name).
func (rt *RecordType) Name() string { return rt.name }

// Descriptor returns the record type's message descriptor.
func (rt *RecordType) Descriptor() protoreflect.MessageDescriptor { return rt.desc }

// PrimaryKey returns the primary key expression.
func (rt *RecordType) PrimaryKey() KeyExpression { return rt.primaryKey }

// Indexes returns the indexes that cover the record type.
func (rt *RecordType) Indexes() []*Index { return rt.indexes }

// MetaData describes the record types and indexes of a store. It is immutable and safe for
// concurrent use.
type MetaData struct {
	file    protoreflect.FileDescriptor
	union   protoreflect.MessageDescriptor
	version int
	// splitLongRecords, recordCountKey and unsigned are the builder's settings.
	splitLongRecords    bool
	storeRecordVersions bool
	recordCountKey      KeyExpression
	unsigned            bool
	types               []*RecordType
	byName              map[string]*RecordType
	byMsg               map[protoreflect.FullName]*RecordType
	byField             map[protoreflect.FieldNumber]*RecordType
	indexes             []*Index
	byIndex             map[string]*Index
	formers             []FormerIndex // see former.go
}

// Version returns the metadata version, stored in the store header.
func (md *MetaData) Version() int { return md.version }

// Union returns the union message descriptor.
func (md *MetaData) Union() protoreflect.MessageDescriptor { return md.union }

// RecordType returns the record type called name, or nil.
func (md *MetaData) RecordType(name string) *RecordType { return md.byName[name] }

// RecordTypes returns every record type in union field order.
func (md *MetaData) RecordTypes() []*RecordType { return md.types }

// Index returns the index called name, or nil.
func (md *MetaData) Index(name string) *Index { return md.byIndex[name] }

// Indexes returns every index in declaration order.
func (md *MetaData) Indexes() []*Index { return md.indexes }

// StoreRecordVersions reports whether saves give records versions.
func (md *MetaData) StoreRecordVersions() bool { return md.storeRecordVersions }

// SplitLongRecords reports whether records larger than one value are split into chunks.
func (md *MetaData) SplitLongRecords() bool { return md.splitLongRecords }

// RecordCountKey returns the record count key expression, or nil.
func (md *MetaData) RecordCountKey() KeyExpression { return md.recordCountKey }

// JavaCompatible reports whether the Java Record Layer can open stores of this metadata: false
// when AllowUnsignedFields let unsigned integer fields in.
func (md *MetaData) JavaCompatible() bool { return !md.unsigned }

// MetaDataBuilder collects the declarations of a [MetaData]. It is not safe for concurrent use.
// Its methods record errors instead of returning them; Build reports them all.
type MetaDataBuilder struct {
	file           protoreflect.FileDescriptor
	unionName      string
	version        int
	pks            map[string]KeyExpression
	pkOrder        []string
	indexes        []*Index
	noSplit        bool
	versions       bool
	recordCountKey KeyExpression
	unsigned       bool
	since          map[string]int // record type → since version (see former.go)
	formers        []FormerIndex
}

// NewMetaDataBuilder starts metadata for the record types of a generated .proto file, such as
// testpb.File_records_proto. The union message is RecordTypeUnion unless SetUnion names another.
func NewMetaDataBuilder(file protoreflect.FileDescriptor) *MetaDataBuilder {
	return &MetaDataBuilder{file: file, version: 1, pks: map[string]KeyExpression{}}
}

// SetUnion names the union message of the file. Without it, the union is the message marked with
// the Java Record Layer's option (com.apple.foundationdb.record.record).usage = UNION, or else
// the message named RecordTypeUnion.
func (b *MetaDataBuilder) SetUnion(name string) *MetaDataBuilder { b.unionName = name; return b }

// recordOptionNumber is the extension number of the Java Record Layer's message, field and file
// options; unionUsage is RecordTypeOptions.Usage.UNION.
const (
	recordOptionNumber = 1233
	unionUsage         = 2
)

func (b *MetaDataBuilder) findUnion() (protoreflect.MessageDescriptor, error) {
	msgs := b.file.Messages()
	if b.unionName != "" {
		if u := msgs.ByName(protoreflect.Name(b.unionName)); u != nil {
			return u, nil
		}
		return nil, fmt.Errorf("record: file %s has no union message %q", b.file.Path(), b.unionName)
	}
	var marked []protoreflect.MessageDescriptor
	for i := 0; i < msgs.Len(); i++ {
		if markedAsUnion(msgs.Get(i)) {
			marked = append(marked, msgs.Get(i))
		}
	}
	switch len(marked) {
	case 1:
		return marked[0], nil
	case 0:
		if u := msgs.ByName(DefaultUnionName); u != nil {
			return u, nil
		}
		return nil, fmt.Errorf("record: file %s has no union message: none is marked usage = UNION and none is named %s", b.file.Path(), DefaultUnionName)
	}
	return nil, fmt.Errorf("record: file %s marks %d messages as the union (%s, %s, …); name one with SetUnion", b.file.Path(), len(marked), marked[0].Name(), marked[1].Name())
}

// markedAsUnion reports whether a message carries the option record.usage = UNION, read from
// the option's wire bytes so that it works whether or not the option's Go type is linked in.
func markedAsUnion(md protoreflect.MessageDescriptor) bool {
	opts := md.Options()
	if opts == nil {
		return false
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(opts)
	if err != nil {
		return false
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		if num == recordOptionNumber && typ == protowire.BytesType {
			inner, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return false
			}
			if usageIsUnion(inner) {
				return true
			}
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return false
		}
		b = b[m:]
	}
	return false
}

func usageIsUnion(b []byte) bool {
	union := false
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		if num == 1 && typ == protowire.VarintType {
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return false
			}
			union = v == unionUsage // the last value wins, as protobuf parsing does
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return false
		}
		b = b[m:]
	}
	return union
}

// SetSplitLongRecords says whether a record whose serialized union message exceeds one value
// (100,000 bytes) is split into chunks (the default here) or refused. The Java Record Layer's
// default is false: declare the same value as the Java metadata of a shared store, since it also
// decides, when a store older than format 5 is upgraded, whether its records keep being stored
// without the unsplit suffix (FDBRecordStore.checkRebuild).
func (b *MetaDataBuilder) SetSplitLongRecords(split bool) *MetaDataBuilder {
	b.noSplit = !split
	return b
}

// SetStoreRecordVersions makes every save give the record a version, a 12-byte versionstamp
// (commit version and order within the transaction) kept next to the record and returned by
// Load, as the Java Record Layer's storeRecordVersions does (its default is false, as here).
// VERSION indexes need it.
func (b *MetaDataBuilder) SetStoreRecordVersions(store bool) *MetaDataBuilder {
	b.versions = store
	return b
}

// SetRecordCountKey declares the record count key of the Java Record Layer: a count per value of
// expr (Empty for one count of all records) kept at S+(4)+value by atomic adds as records are
// inserted and deleted. Java deprecates it in favour of a COUNT index; declare it only to match
// the metadata of a store that has one. A store whose header names a count key is maintained by
// that key even when the metadata declares none.
func (b *MetaDataBuilder) SetRecordCountKey(expr KeyExpression) *MetaDataBuilder {
	b.recordCountKey = expr
	return b
}

// AllowUnsignedFields lets the record file hold uint32, uint64, fixed32 and fixed64 fields, which
// the Java Record Layer refuses (RecordMetaDataBuilder.validateDataTypes): their values are kept
// exactly (uint64 above 2^63-1 as an unsigned tuple integer), and every store opened with the
// metadata is marked in its header as not readable by Java. Without it, Build refuses them.
func (b *MetaDataBuilder) AllowUnsignedFields() *MetaDataBuilder {
	b.unsigned = true
	return b
}

// SetVersion sets the metadata version (default 1). Raise it whenever the metadata changes.
func (b *MetaDataBuilder) SetVersion(v int) *MetaDataBuilder { b.version = v; return b }

// SetPrimaryKey declares the primary key expression of a record type. Every record type needs
// one; it must yield exactly one key (no fan-out).
//
// Every record type shares one record extent, S+(1). When a store has several types, start each
// primary key with RecordTypeKey() — Concat(RecordTypeKey(), Field("id")) — so that a Book and
// an Author with the same id are different records. Without it the types share one key space:
// a save of one type over the other's record is refused (ErrRecordTypeChanged), and queries on
// one type scan the others' records too. RecordType.PrimaryKeyOf builds such keys.
func (b *MetaDataBuilder) SetPrimaryKey(recordType string, pk KeyExpression) *MetaDataBuilder {
	if _, ok := b.pks[recordType]; !ok {
		b.pkOrder = append(b.pkOrder, recordType)
	}
	b.pks[recordType] = pk
	return b
}

// AddIndex declares an index. The Index is copied.
func (b *MetaDataBuilder) AddIndex(ix Index) *MetaDataBuilder {
	c := ix
	c.RecordTypes = append([]string(nil), ix.RecordTypes...)
	if c.AddedVersion == 0 {
		c.AddedVersion = b.version
	}
	b.indexes = append(b.indexes, &c)
	return b
}

// Build validates the declarations and returns the metadata. The error lists every problem
// found (joined with errors.Join). See SetPrimaryKey about record types that share a key space.
func (b *MetaDataBuilder) Build() (*MetaData, error) {
	if b.file == nil {
		return nil, errors.New("record: metadata needs a file descriptor")
	}
	if b.version < 0 {
		return nil, fmt.Errorf("record: metadata version %d is negative", b.version)
	}
	union, err := b.findUnion()
	if err != nil {
		return nil, err
	}
	md := &MetaData{
		file: b.file, union: union, version: b.version,
		splitLongRecords: !b.noSplit, storeRecordVersions: b.versions, unsigned: b.unsigned,
		byName:  map[string]*RecordType{},
		byMsg:   map[protoreflect.FullName]*RecordType{},
		byField: map[protoreflect.FieldNumber]*RecordType{},
		byIndex: map[string]*Index{},
	}
	var errs []error
	if !b.unsigned {
		errs = append(errs, unsignedFields(b.file)...)
	}
	fields := union.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if fd.Kind() != protoreflect.MessageKind || fd.IsList() || fd.IsMap() {
			errs = append(errs, fmt.Errorf("record: union %s field %q must be a singular message field", union.Name(), fd.Name()))
			continue
		}
		msg := fd.Message()
		name := string(msg.Name())
		if rt, dup := md.byName[name]; dup {
			// A type listed twice (an old field kept when its number changed): every field
			// decodes to it; the smallest number is its record type key (RecordType.java:173),
			// and records are written under the field named _<Type>, or else the one with the
			// largest number (RecordMetaDataBuilder.remapUnionField).
			if rt.desc.FullName() != msg.FullName() {
				errs = append(errs, fmt.Errorf("record: union %s lists two record types named %s", union.Name(), name))
				continue
			}
			md.byField[fd.Number()] = rt
			rt.typeKey = min(rt.typeKey, int64(fd.Number()))
			canonical := protoreflect.Name("_" + name)
			if fd.Name() == canonical || (rt.unionField.Name() != canonical && fd.Number() > rt.unionField.Number()) {
				rt.unionField = fd
			}
			continue
		}
		rt := &RecordType{name: name, desc: msg, unionField: fd, typeKey: int64(fd.Number()), newMsg: messageFactory(msg)}
		md.types = append(md.types, rt)
		md.byName[name] = rt
		md.byMsg[msg.FullName()] = rt
		md.byField[fd.Number()] = rt
	}
	if len(md.types) == 0 {
		errs = append(errs, fmt.Errorf("record: union %s lists no record types", union.Name()))
	}
	for _, name := range b.pkOrder {
		rt := md.byName[name]
		if rt == nil {
			errs = append(errs, b.unknownType(union, name, "primary key"))
			continue
		}
		pk := b.pks[name]
		if pk == nil {
			errs = append(errs, fmt.Errorf("record: primary key of %s is nil", name))
			continue
		}
		if err := pk.check(rt.desc); err != nil {
			errs = append(errs, fmt.Errorf("record: primary key of %s: %w", name, err))
			continue
		}
		if pk.fansOut() {
			errs = append(errs, fmt.Errorf("record: primary key %s of %s fans out; a primary key must yield exactly one key", pk, name))
			continue
		}
		if countVersions(pk) > 0 {
			errs = append(errs, fmt.Errorf("record: primary key %s of %s names the version, which a record gets only when saved", pk, name))
			continue
		}
		rt.primaryKey = pk
		rt.pkColumns = pk.flatten(nil)
	}
	for _, rt := range md.types {
		if rt.primaryKey == nil && b.pks[rt.name] == nil {
			errs = append(errs, fmt.Errorf("record: record type %s has no primary key (call SetPrimaryKey)", rt.name))
		}
	}
	for _, ix := range b.indexes {
		if err := md.addIndex(b, union, ix); err != nil {
			errs = append(errs, err)
		}
	}
	if b.recordCountKey != nil {
		if err := md.setRecordCountKey(b.recordCountKey); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, b.buildEvolution(md, union)...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	sort.SliceStable(md.types, func(i, j int) bool { return md.types[i].typeKey < md.types[j].typeKey })
	return md, nil
}

// unsignedFields reports every unsigned integer field of the file's messages and the messages
// their fields use, as the Java Record Layer does when it builds metadata
// (RecordMetaDataBuilder.validateDataTypes).
func unsignedFields(file protoreflect.FileDescriptor) []error {
	var errs []error
	seen := map[protoreflect.FullName]bool{}
	var queue []protoreflect.MessageDescriptor
	for i := 0; i < file.Messages().Len(); i++ {
		queue = append(queue, file.Messages().Get(i))
	}
	for len(queue) > 0 {
		m := queue[0]
		queue = queue[1:]
		if seen[m.FullName()] {
			continue
		}
		seen[m.FullName()] = true
		for i := 0; i < m.Fields().Len(); i++ {
			fd := m.Fields().Get(i)
			switch fd.Kind() {
			case protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind:
				errs = append(errs, fmt.Errorf("record: field %q of %s has unsigned type %v, which the Java Record Layer refuses; use a signed type, or AllowUnsignedFields for stores Java will not read", fd.Name(), m.FullName(), fd.Kind()))
			case protoreflect.MessageKind, protoreflect.GroupKind:
				queue = append(queue, fd.Message()) // for a map, its entry message
			}
		}
	}
	return errs
}

func (b *MetaDataBuilder) unknownType(union protoreflect.MessageDescriptor, name, what string) error {
	if b.file.Messages().ByName(protoreflect.Name(name)) != nil {
		return fmt.Errorf("record: %s names %s, which union %s does not list", what, name, union.Name())
	}
	return fmt.Errorf("record: %s names unknown record type %q", what, name)
}

func (md *MetaData) addIndex(b *MetaDataBuilder, union protoreflect.MessageDescriptor, ix *Index) error {
	if ix.Name == "" {
		return errors.New("record: an index has no name")
	}
	what := fmt.Sprintf("index %q", ix.Name)
	if _, dup := md.byIndex[ix.Name]; dup {
		return fmt.Errorf("record: duplicate index name %q", ix.Name)
	}
	if ix.Type == "" {
		ix.Type = ValueIndex
	}
	kind := indexTypes[ix.Type]
	if kind == nil {
		return fmt.Errorf("record: %s has unsupported type %q", what, ix.Type)
	}
	ix.kind = kind
	if ix.Expression == nil {
		return fmt.Errorf("record: %s has no expression", what)
	}
	if len(ix.RecordTypes) == 0 {
		return fmt.Errorf("record: %s covers no record types", what)
	}
	ix.types = nil
	var pkCols []KeyExpression
	for i, name := range ix.RecordTypes {
		rt := md.byName[name]
		if rt == nil {
			return b.unknownType(union, name, what)
		}
		if err := ix.Expression.check(rt.desc); err != nil {
			return fmt.Errorf("record: %s on %s: %w", what, name, err)
		}
		if rt.primaryKey == nil {
			return fmt.Errorf("record: %s covers %s, which has no valid primary key", what, name)
		}
		if i == 0 {
			pkCols = rt.pkColumns
		}
		ix.types = append(ix.types, rt)
	}
	if ix.LastModifiedVersion == 0 {
		ix.LastModifiedVersion = ix.AddedVersion
	}
	if ix.AddedVersion > b.version || ix.LastModifiedVersion > b.version {
		return fmt.Errorf("record: %s was added or modified in version %d, after the metadata version %d", what, max(ix.AddedVersion, ix.LastModifiedVersion), b.version)
	}
	ix.columns = ix.Expression.flatten(nil)
	// A primary-key column already among the indexed columns is not repeated in the entry
	// (Index.trimPrimaryKey in the Java Record Layer); fan-out columns never count, since they
	// hold one element of a list rather than the field. Java computes these positions only
	// for an index on a single record type (RecordMetaDataBuilder.build, for the indexes of
	// each RecordTypeBuilder), so an index on several types keeps the whole primary key (and
	// its types may have primary keys of different shapes).
	ix.pkPositions = nil
	if len(ix.types) > 1 {
		pkCols = nil
	} else {
		ix.pkPositions = make([]int, len(pkCols))
	}
	ix.pkRest, ix.pkTail = 0, true
	for i, pc := range pkCols {
		ix.pkPositions[i] = -1
		for j, c := range ix.columns {
			if c.String() == pc.String() && !c.fansOut() {
				ix.pkPositions[i] = j
				break
			}
		}
		if ix.pkPositions[i] < 0 {
			ix.pkRest++
		} else {
			ix.pkTail = false
		}
	}
	if err := kind.validate(md, ix); err != nil {
		return err
	}
	md.indexes = append(md.indexes, ix)
	md.byIndex[ix.Name] = ix
	for _, rt := range ix.types {
		rt.indexes = append(rt.indexes, ix)
	}
	return nil
}

func sameColumns(a, b []KeyExpression) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].String() != b[i].String() {
			return false
		}
	}
	return true
}

// messageFactory makes empty messages of the generated type of md when one is registered, or
// dynamic messages otherwise.
func messageFactory(md protoreflect.MessageDescriptor) func() proto.Message {
	if mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName()); err == nil && mt.Descriptor() == md {
		return func() proto.Message { return mt.New().Interface() }
	}
	return func() proto.Message { return dynamicpb.NewMessage(md) }
}
