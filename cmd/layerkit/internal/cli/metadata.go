package cli

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/layerkit/layerkit/record"
)

// metaFlags declare a store's primary keys and indexes beside its descriptor set. A store keeps
// no metadata in the database, so the commands that need it (check, index) build it from the
// .proto's own Record Layer options, (com.apple.foundationdb.record.field).primary_key and
// .index, as the Java Record Layer's RecordMetaDataBuilder does, and from these flags, which
// override or add to them.
type metaFlags struct {
	schemaFlags
	primaryKeys    []string
	indexes        []string
	recordVersions bool
	splitRecords   bool
	cmd            *cobra.Command
}

func (f *metaFlags) register(cmd *cobra.Command) {
	f.schemaFlags.register(cmd)
	cmd.Flags().StringArrayVar(&f.primaryKeys, "primary-key", nil, "a record type's primary key: Type=expr, such as Book=branch,shelf,id (repeatable)")
	cmd.Flags().StringArrayVar(&f.indexes, "index", nil, "an index: name=Type[+Type…]:expr[:type][:unique], such as by_author=Book:author (repeatable)")
	cmd.Flags().BoolVar(&f.recordVersions, "store-record-versions", false, "the store keeps record versions (default: the .proto's (schema).store_record_versions, else false)")
	cmd.Flags().BoolVar(&f.splitRecords, "split-long-records", true, "records over 100,000 bytes are split (default: the .proto's (schema).split_long_records, else true)")
	f.cmd = cmd
}

// keyExprHelp explains the expression syntax of --primary-key and --index.
const keyExprHelp = `Metadata: a store's primary keys and indexes are not kept in the database. They
come from the Java Record Layer's options in the .proto, which protoc keeps in the
descriptor set:

    import "record_metadata_options.proto";  // package com.apple.foundationdb.record
    string id = 1 [(com.apple.foundationdb.record.field).primary_key = true];
    string author = 2 [(com.apple.foundationdb.record.field).index = {}];  // index Book$author

and from --primary-key Type=expr and --index name=Type[+Type…]:expr[:type][:unique],
which override them (type: value, the default, count, sum, version, max_ever_long, …).
An expr is comma-separated columns: a field name, a.b for field b of message field a,
tags[] for one key per element of a repeated field, $type for the record type key and
$version for the record's version; an aggregate's expr is groups>value, such as
branch>$empty (a count per branch) or >price (one sum of all prices). The file options
(com.apple.foundationdb.record.schema).split_long_records and .store_record_versions
are read too, or given as flags.`

// metaSpec is a store's metadata as declared, before it is built at the store's version.
type metaSpec struct {
	sch            *schema
	types          []string // record types in union order
	pks            map[string]record.KeyExpression
	indexes        []record.Index
	splitRecords   *bool
	recordVersions *bool
}

// parse collects the primary keys and indexes the .proto's options and the flags declare. Its
// errors are mistakes in those declarations; a record type left without a primary key is not
// one of them (see build).
func (f *metaFlags) parse(sch *schema) (*metaSpec, error) {
	m := &metaSpec{sch: sch, pks: map[string]record.KeyExpression{}}
	var problems []error
	known := map[string]bool{}
	fields := sch.union.Fields()
	for i := 0; i < fields.Len(); i++ {
		md := fields.Get(i).Message()
		if md == nil || known[string(md.Name())] {
			continue
		}
		known[string(md.Name())] = true
		m.types = append(m.types, string(md.Name()))
		pk, ix, err := optionMetaData(md)
		if err != nil {
			problems = append(problems, err)
		}
		if pk != nil {
			m.pks[string(md.Name())] = pk
		}
		m.indexes = append(m.indexes, ix...)
	}
	for _, s := range f.primaryKeys {
		typ, expr, ok := strings.Cut(s, "=")
		if !ok || !known[typ] {
			problems = append(problems, fmt.Errorf("--primary-key %q: want Type=expr with a record type of %s (%s)", s, sch.union.Name(), strings.Join(m.types, ", ")))
			continue
		}
		ke, err := parseKeyExpr(expr)
		if err != nil {
			problems = append(problems, fmt.Errorf("--primary-key %q: %w", s, err))
			continue
		}
		m.pks[typ] = ke
	}
	for _, s := range f.indexes {
		ix, err := parseIndexFlag(s)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		replaced := false
		for i := range m.indexes {
			if m.indexes[i].Name == ix.Name {
				m.indexes[i], replaced = ix, true
			}
		}
		if !replaced {
			m.indexes = append(m.indexes, ix)
		}
	}
	m.splitRecords, m.recordVersions = readSchemaOptions(sch.file)
	if f.cmd != nil && f.cmd.Flags().Changed("split-long-records") {
		m.splitRecords = &f.splitRecords
	}
	if f.cmd != nil && f.cmd.Flags().Changed("store-record-versions") {
		m.recordVersions = &f.recordVersions
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return m, nil
}

// build makes the metadata at version, the metadata version the store's header records, so that
// opening the store with it never upgrades the store.
func (m *metaSpec) build(version int) (*record.MetaData, error) {
	b := record.NewMetaDataBuilder(m.sch.file).SetUnion(string(m.sch.union.Name())).SetVersion(max(version, 1))
	if m.splitRecords != nil {
		b.SetSplitLongRecords(*m.splitRecords)
	}
	if m.recordVersions != nil {
		b.SetStoreRecordVersions(*m.recordVersions)
	}
	var missing []string
	for _, t := range m.types {
		if pk, ok := m.pks[t]; ok {
			b.SetPrimaryKey(t, pk)
		} else {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("no primary key for %s: mark a field (com.apple.foundationdb.record.field).primary_key = true or give --primary-key %s=<fields>", strings.Join(missing, ", "), missing[0])
	}
	for _, ix := range m.indexes {
		b.AddIndex(ix)
	}
	md, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	return md, nil
}

// optionMetaData reads the primary key and indexes a record type declares through the Java
// Record Layer's field options: primary_key on one field, and index on each indexed field,
// named Type$field as the Java RecordMetaDataBuilder names them.
func optionMetaData(md protoreflect.MessageDescriptor) (record.KeyExpression, []record.Index, error) {
	var pk record.KeyExpression
	var indexes []record.Index
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		fo, ok := readFieldOptions(fd)
		if !ok {
			continue
		}
		name := string(fd.Name())
		switch {
		case fo.deprecatedIndexed && !fo.index:
			return nil, nil, fmt.Errorf("%s.%s uses the deprecated option (field).indexed; use (field).index = {type: \"value\"}", md.Name(), name)
		case fo.index:
			expr := record.Field(name)
			if fd.IsList() {
				expr = record.FanOut(name)
			}
			indexes = append(indexes, record.Index{
				Name:        string(md.Name()) + "$" + name,
				RecordTypes: []string{string(md.Name())},
				Expression:  expr,
				Type:        record.IndexType(fo.indexType),
				Unique:      fo.unique,
			})
		case fo.primaryKey:
			if pk != nil {
				return nil, nil, fmt.Errorf("%s marks more than one field as its primary key; declare a composite key with --primary-key %s=a,b", md.Name(), md.Name())
			}
			if fd.IsList() {
				return nil, nil, fmt.Errorf("%s.%s is repeated and cannot be the primary key", md.Name(), name)
			}
			pk = record.Field(name)
		}
	}
	return pk, indexes, nil
}

// parseIndexFlag parses name=Type[+Type…]:expr[:type][:unique].
func parseIndexFlag(s string) (record.Index, error) {
	bad := func(why string) (record.Index, error) {
		return record.Index{}, fmt.Errorf("--index %q: %s (want name=Type[+Type…]:expr[:type][:unique])", s, why)
	}
	name, rest, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return bad("no index name")
	}
	parts := strings.Split(rest, ":")
	if len(parts) < 2 || parts[0] == "" {
		return bad("no record type")
	}
	ix := record.Index{Name: name, RecordTypes: strings.Split(parts[0], "+")}
	for _, opt := range parts[2:] {
		switch {
		case opt == "unique":
			ix.Unique = true
		case opt != "" && ix.Type == "" && strings.Trim(opt, "abcdefghijklmnopqrstuvwxyz_") == "":
			ix.Type = record.IndexType(opt)
		default:
			return bad(fmt.Sprintf("unknown option %q", opt))
		}
	}
	ke, err := parseKeyExpr(parts[1])
	if err != nil {
		return bad(err.Error())
	}
	ix.Expression = ke
	return ix, nil
}

// parseKeyExpr parses comma-separated columns (field, a.b nested, tags[] fan-out, $type,
// $version, $empty), or groups>value for an aggregate index.
func parseKeyExpr(s string) (record.KeyExpression, error) {
	if groups, value, ok := strings.Cut(s, ">"); ok {
		v := record.Empty()
		if strings.TrimSpace(value) != "" {
			var err error
			if v, err = parseColumns(value); err != nil {
				return nil, err
			}
		}
		if strings.TrimSpace(groups) == "" {
			return record.Ungrouped(v), nil
		}
		gs, err := parseColumnList(groups)
		if err != nil {
			return nil, err
		}
		return record.GroupBy(v, gs...), nil
	}
	return parseColumns(s)
}

// parseColumns parses columns into one expression: the column, or their concatenation.
func parseColumns(s string) (record.KeyExpression, error) {
	cols, err := parseColumnList(s)
	if err != nil {
		return nil, err
	}
	if len(cols) == 1 {
		return cols[0], nil
	}
	return record.Concat(cols...), nil
}

func parseColumnList(s string) ([]record.KeyExpression, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("empty key expression")
	}
	var cols []record.KeyExpression
	for _, col := range strings.Split(s, ",") {
		c, err := parseColumn(strings.TrimSpace(col))
		if err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	return cols, nil
}

func parseColumn(col string) (record.KeyExpression, error) {
	switch col {
	case "$type":
		return record.RecordTypeKey(), nil
	case "$version":
		return record.VersionKey(), nil
	case "$empty":
		return record.Empty(), nil
	}
	head, tail, nested := strings.Cut(col, ".")
	name, fan := strings.CutSuffix(head, "[]")
	if name == "" || strings.ContainsAny(name, "[]$ ") {
		return nil, fmt.Errorf("bad column %q: want a field name, a.b, tags[], $type, $version or $empty", col)
	}
	if !nested {
		if fan {
			return record.FanOut(name), nil
		}
		return record.Field(name), nil
	}
	child, err := parseColumn(tail)
	if err != nil {
		return nil, err
	}
	if fan {
		return record.NestFanOut(name, child), nil
	}
	return record.Nest(name, child), nil
}
