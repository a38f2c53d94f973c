package record

import (
	"errors"
	"fmt"
	"slices"
	"sort"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// EvolutionOptions relax the rules of ValidateEvolution, as the options of the Java Record
// Layer's MetaDataEvolutionValidator.Builder do. The zero value applies every rule.
type EvolutionOptions struct {
	// AllowNoVersionChange accepts new metadata with the same version as the old.
	AllowNoVersionChange bool
	// AllowNoSinceVersion accepts new record types without a since version.
	AllowNoSinceVersion bool
	// AllowFieldRenames accepts renamed fields (same number); key expressions must then use
	// the new names.
	AllowFieldRenames bool
	// AllowDeprecatedFieldRenames accepts renames of fields that are (or were) deprecated.
	AllowDeprecatedFieldRenames bool
	// AllowUndeprecatingFields accepts a field that is no longer deprecated.
	AllowUndeprecatingFields bool
	// AllowIndexRebuilds accepts changed indexes whose last-modified version was raised: stores
	// rebuild them when opened.
	AllowIndexRebuilds bool
	// AllowOlderFormerIndexAddedVersions accepts former indexes whose added version is older
	// than the index they replace (or than the old metadata, for indexes it never had).
	AllowOlderFormerIndexAddedVersions bool
	// DisallowTypeRenames refuses a record type renamed in the union (same field number).
	DisallowTypeRenames bool
}

// ErrIncompatibleEvolution is wrapped by every *EvolutionError.
var ErrIncompatibleEvolution = errors.New("record: incompatible metadata evolution")

// EvolutionError is one rule that new metadata breaks. Rule is the Java Record Layer's wording
// (MetaDataEvolutionValidator), such as "field type changed", so problems read the same in
// both.
type EvolutionError struct {
	// Rule is the rule broken.
	Rule string
	// Subject names what breaks it: `field "year" of Book`, `index "by_author"`.
	Subject string
	// Detail tells the old and new values, when there are any.
	Detail string
}

// Error prints the subject, the rule and the detail.
func (e *EvolutionError) Error() string {
	s := "record: " + e.Subject + ": " + e.Rule
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

// Unwrap returns ErrIncompatibleEvolution.
func (e *EvolutionError) Unwrap() error { return ErrIncompatibleEvolution }

// ValidateEvolution reports whether stores written with old metadata can be opened with
// newMD, by the Java Record Layer's rules (MetaDataEvolutionValidator): the version must grow;
// the union keeps every record type under the same field number; fields keep their numbers,
// types (int32 may widen to int64, sint32 to sint64), labels and presence, and enums their
// values; record types keep their primary keys, type keys and since versions, and new ones
// have a since version newer than the old metadata; an index keeps its definition unless its
// last-modified version is raised and rebuilds are allowed, a new index is newer than the old
// metadata, and a removed index becomes a FormerIndex that is never dropped or reused.
//
// It is meant for CI, before deploying new metadata: the error joins one *EvolutionError per
// problem (nil when there is none).
func ValidateEvolution(old, newMD *MetaData, opts EvolutionOptions) error {
	if old == nil || newMD == nil {
		return errors.New("record: ValidateEvolution needs the old and the new metadata")
	}
	v := &evolution{old: old, new: newMD, opts: opts}
	if old.version > newMD.version || (!opts.AllowNoVersionChange && old.version == newMD.version) {
		v.add("new meta-data does not have newer version than old meta-data", "metadata", fmt.Sprintf("version %d → %d", old.version, newMD.version))
	}
	// As in the Java validator, a union that cannot be paired stops the check: what follows
	// would only repeat the problem.
	if v.union() {
		if renames, ok := v.typeRenames(); ok {
			v.recordTypes(renames)
			v.indexes(renames)
		}
	}
	return errors.Join(v.errs...)
}

type evolution struct {
	old, new *MetaData
	opts     EvolutionOptions
	errs     []error
	seen     map[[2]protoreflect.FullName]bool
}

func (v *evolution) add(rule, subject, detail string) {
	v.errs = append(v.errs, &EvolutionError{Rule: rule, Subject: subject, Detail: detail})
}

// union checks that every record type of the old union is still there under the same field
// number, as one type, with compatible messages. It reports whether the types could be paired.
func (v *evolution) union() bool {
	ou, nu := v.old.union, v.new.union
	v.seen = map[[2]protoreflect.FullName]bool{}
	paired := map[protoreflect.FullName]protoreflect.FullName{} // old message → new message
	pairedBack := map[protoreflect.FullName]protoreflect.FullName{}
	ok := true
	fields := ou.Fields()
	for i := 0; i < fields.Len(); i++ {
		of := fields.Get(i)
		subject := fmt.Sprintf("union field %d (%s)", of.Number(), of.Name())
		nf := nu.Fields().ByNumber(of.Number())
		if nf == nil {
			v.add("record type removed from union", subject, string(of.Message().Name()))
			ok = false
			continue
		}
		if nf.Kind() != protoreflect.MessageKind {
			v.add("field in new union is not a message type", subject, nf.Kind().String())
			ok = false
			continue
		}
		om, nm := of.Message(), nf.Message()
		if prev, dup := paired[om.FullName()]; dup && prev != nm.FullName() {
			v.add("record type corresponds to multiple types in new meta-data", subject, fmt.Sprintf("%s → %s and %s", om.Name(), prev.Name(), nm.Name()))
			ok = false
			continue
		}
		if prev, dup := pairedBack[nm.FullName()]; dup && prev != om.FullName() {
			v.add("record type corresponds to multiple types in old meta-data", subject, fmt.Sprintf("%s and %s → %s", prev.Name(), om.Name(), nm.Name()))
			ok = false
			continue
		}
		paired[om.FullName()], pairedBack[nm.FullName()] = nm.FullName(), om.FullName()
		v.message(om, nm)
	}
	return ok
}

// message checks that new can read what old wrote: every field kept by number, compatibly.
func (v *evolution) message(old, nm protoreflect.MessageDescriptor) {
	if old == nm {
		return
	}
	key := [2]protoreflect.FullName{old.FullName(), nm.FullName()}
	if v.seen[key] {
		return
	}
	v.seen[key] = true
	if old.ParentFile().Syntax() != nm.ParentFile().Syntax() {
		v.add("message descriptor proto syntax changed", "message "+string(old.Name()), fmt.Sprintf("%v → %v", old.ParentFile().Syntax(), nm.ParentFile().Syntax()))
	}
	fields := old.Fields()
	for i := 0; i < fields.Len(); i++ {
		of := fields.Get(i)
		nf := nm.Fields().ByNumber(of.Number())
		if nf == nil {
			v.add("field removed from message descriptor", fieldSubject(old, of), "")
			continue
		}
		v.field(old, of, nf)
	}
	nfs := nm.Fields()
	for i := 0; i < nfs.Len(); i++ {
		if nf := nfs.Get(i); old.Fields().ByNumber(nf.Number()) == nil && nf.Cardinality() == protoreflect.Required {
			v.add("required field added to record type", fieldSubject(nm, nf), "")
		}
	}
}

func fieldSubject(md protoreflect.MessageDescriptor, fd protoreflect.FieldDescriptor) string {
	return fmt.Sprintf("field %q (%d) of %s", fd.Name(), fd.Number(), md.Name())
}

func deprecated(fd protoreflect.FieldDescriptor) bool {
	o, ok := fd.Options().(*descriptorpb.FieldOptions)
	return ok && o.GetDeprecated()
}

func (v *evolution) field(md protoreflect.MessageDescriptor, of, nf protoreflect.FieldDescriptor) {
	// Like the Java validator, one problem per field: the first.
	subject := fieldSubject(md, of)
	oldDep, newDep := deprecated(of), deprecated(nf)
	if of.Name() != nf.Name() && !(v.opts.AllowFieldRenames || (v.opts.AllowDeprecatedFieldRenames && (oldDep || newDep))) {
		v.add("field renamed", subject, fmt.Sprintf("%s → %s", of.Name(), nf.Name()))
		return
	}
	if !v.opts.AllowUndeprecatingFields && oldDep && !newDep {
		v.add("field is no longer deprecated", subject, "")
		return
	}
	if of.Kind() != nf.Kind() {
		widens := (of.Kind() == protoreflect.Int32Kind && nf.Kind() == protoreflect.Int64Kind) ||
			(of.Kind() == protoreflect.Sint32Kind && nf.Kind() == protoreflect.Sint64Kind)
		if !widens {
			v.add("field type changed", subject, fmt.Sprintf("%v → %v", of.Kind(), nf.Kind()))
			return
		}
	}
	switch {
	case of.Cardinality() == protoreflect.Required && nf.Cardinality() != protoreflect.Required:
		v.add("required field is no longer required", subject, "")
		return
	case of.Cardinality() == protoreflect.Repeated && nf.Cardinality() != protoreflect.Repeated:
		v.add("repeated field is no longer repeated", subject, "")
		return
	case of.HasPresence() != nf.HasPresence():
		v.add("field changed whether default values are stored if set explicitly", subject, fmt.Sprintf("presence %v → %v", of.HasPresence(), nf.HasPresence()))
		return
	}
	if of.Kind() == protoreflect.EnumKind {
		ov := of.Enum().Values()
		for i := 0; i < ov.Len(); i++ {
			if nf.Enum().Values().ByNumber(ov.Get(i).Number()) == nil {
				v.add("enum removes value", subject, fmt.Sprintf("%s = %d", ov.Get(i).Name(), ov.Get(i).Number()))
				return
			}
		}
	}
	if of.Kind() == protoreflect.MessageKind || of.Kind() == protoreflect.GroupKind {
		v.message(of.Message(), nf.Message())
	}
}

// typeRenames maps old record type names to new ones where the union's message at a field
// number changed its name. It reports false when a rename is refused.
func (v *evolution) typeRenames() (map[string]string, bool) {
	renames, ok := map[string]string{}, true
	fields := v.old.union.Fields()
	for i := 0; i < fields.Len(); i++ {
		of := fields.Get(i)
		on, nn := string(of.Message().Name()), string(v.new.union.Fields().ByNumber(of.Number()).Message().Name())
		if on == nn {
			continue
		}
		if v.opts.DisallowTypeRenames {
			v.add("record type name changed", "record type "+on, on+" → "+nn)
			ok = false
			continue
		}
		if prev, dup := renames[on]; dup && prev != nn {
			v.add("record type corresponds to multiple types in new meta-data", "record type "+on, prev+" and "+nn)
			ok = false
			continue
		}
		renames[on] = nn
	}
	return renames, ok
}

func renamed(renames map[string]string, name string) string {
	if n, ok := renames[name]; ok {
		return n
	}
	return name
}

func (v *evolution) recordTypes(renames map[string]string) {
	older := map[string]bool{}
	for _, ot := range v.old.types {
		name := renamed(renames, ot.name)
		older[name] = true
		subject := "record type " + name
		nt := v.new.byName[name]
		if nt == nil {
			v.add("record type removed from meta-data", subject, "")
			continue
		}
		if ot.since != nt.since {
			v.add("record type since version changed", subject, fmt.Sprintf("%d → %d", ot.since, nt.since))
		}
		want := v.renameFields(ot.primaryKey, ot.desc, nt.desc)
		if want.String() != nt.primaryKey.String() {
			v.add("record type primary key changed", subject, fmt.Sprintf("%s → %s", want, nt.primaryKey))
		}
		if ot.typeKey != nt.typeKey {
			v.add("record type key changed", subject, fmt.Sprintf("%d → %d", ot.typeKey, nt.typeKey))
		}
	}
	for _, nt := range v.new.types {
		if older[nt.name] {
			continue
		}
		subject := "record type " + nt.name
		switch {
		case nt.since == 0:
			if !v.opts.AllowNoSinceVersion {
				v.add("new record type is missing since version", subject, "")
			}
		case nt.since <= v.old.version:
			v.add("new record type has since version older than old meta-data", subject, fmt.Sprintf("since %d, old metadata version %d", nt.since, v.old.version))
		}
	}
}

// renameFields rewrites e, an expression on messages of old, for messages of nm: each field is
// named as nm names the field with the same number. Without renames allowed it returns e.
func (v *evolution) renameFields(e KeyExpression, old, nm protoreflect.MessageDescriptor) KeyExpression {
	if !v.opts.AllowFieldRenames && !v.opts.AllowDeprecatedFieldRenames {
		return e
	}
	rename := func(name string) (string, protoreflect.FieldDescriptor, protoreflect.FieldDescriptor) {
		of := old.Fields().ByName(protoreflect.Name(name))
		if of == nil {
			return name, nil, nil
		}
		nf := nm.Fields().ByNumber(of.Number())
		if nf == nil {
			return name, of, nil
		}
		return string(nf.Name()), of, nf
	}
	switch x := e.(type) {
	case fieldExpr:
		x.name, _, _ = rename(x.name)
		return x
	case nestExpr:
		var of, nf protoreflect.FieldDescriptor
		x.parent, of, nf = rename(x.parent)
		if of != nil && nf != nil && of.Message() != nil && nf.Message() != nil {
			x.child = v.renameFields(x.child, of.Message(), nf.Message())
		}
		return x
	case thenExpr:
		kids := make([]KeyExpression, len(x.children))
		for i, c := range x.children {
			kids[i] = v.renameFields(c, old, nm)
		}
		return thenExpr{children: kids}
	}
	return e
}

func (v *evolution) indexes(renames map[string]string) {
	oldFormers, newFormers := formerMap(v.old), formerMap(v.new)
	for name := range oldFormers {
		subject := fmt.Sprintf("former index %q", name)
		if v.new.byIndex[name] != nil {
			v.add("former index key used for new index in meta-data", subject, "")
		} else if _, ok := newFormers[name]; !ok {
			v.add("former index removed from meta-data", subject, "")
		}
	}
	for _, ix := range v.old.indexes {
		if _, former := newFormers[ix.Name]; v.new.byIndex[ix.Name] == nil && !former {
			v.add("index missing in new meta-data", fmt.Sprintf("index %q", ix.Name), "declare it a FormerIndex")
		}
	}
	for _, name := range sortedKeys(newFormers) {
		nf := newFormers[name]
		subject := fmt.Sprintf("former index %q", name)
		if of, ok := oldFormers[name]; ok {
			if of.RemovedVersion != nf.RemovedVersion {
				v.add("removed version of former index differs from prior version", subject, fmt.Sprintf("%d → %d", of.RemovedVersion, nf.RemovedVersion))
			}
			if of.AddedVersion != nf.AddedVersion {
				v.add("added version of former index differs from prior version", subject, fmt.Sprintf("%d → %d", of.AddedVersion, nf.AddedVersion))
			}
			continue
		}
		if nf.RemovedVersion <= v.old.version {
			v.add("new former index has removed version that is not newer than the old meta-data version", subject, fmt.Sprintf("removed %d, old metadata version %d", nf.RemovedVersion, v.old.version))
		}
		oi := v.old.byIndex[name]
		if oi == nil {
			if !v.opts.AllowOlderFormerIndexAddedVersions && nf.AddedVersion <= v.old.version {
				v.add("former index without existing index has added version prior to old meta-data version", subject, fmt.Sprintf("added %d, old metadata version %d", nf.AddedVersion, v.old.version))
			}
			continue
		}
		if nf.AddedVersion > oi.AddedVersion {
			v.add("former index added after old index", subject, fmt.Sprintf("added %d, index added %d", nf.AddedVersion, oi.AddedVersion))
		}
		if !v.opts.AllowOlderFormerIndexAddedVersions && nf.AddedVersion != oi.AddedVersion {
			v.add("former index reports added version older than replacing index", subject, fmt.Sprintf("added %d, index added %d", nf.AddedVersion, oi.AddedVersion))
		}
		if nf.RemovedVersion <= oi.LastModifiedVersion {
			v.add("former index removed before old index's last modification", subject, fmt.Sprintf("removed %d, index last modified %d", nf.RemovedVersion, oi.LastModifiedVersion))
		}
	}
	for _, ni := range v.new.indexes {
		if oi := v.old.byIndex[ni.Name]; oi != nil {
			v.index(oi, ni, renames)
		} else if ni.LastModifiedVersion <= v.old.version {
			v.add("new index has version that is not newer than the old meta-data version", fmt.Sprintf("index %q", ni.Name), fmt.Sprintf("version %d, old metadata version %d", ni.LastModifiedVersion, v.old.version))
		}
	}
}

func (v *evolution) index(oi, ni *Index, renames map[string]string) {
	// Like the Java validator, one problem per index: the first.
	subject := fmt.Sprintf("index %q", ni.Name)
	if oi.AddedVersion != ni.AddedVersion {
		v.add("new index added version does not match old index added version", subject, fmt.Sprintf("%d → %d", oi.AddedVersion, ni.AddedVersion))
		return
	}
	if oi.LastModifiedVersion > ni.LastModifiedVersion {
		v.add("old index has last-modified version newer than new index", subject, fmt.Sprintf("%d → %d", oi.LastModifiedVersion, ni.LastModifiedVersion))
		return
	}
	if oi.LastModifiedVersion != ni.LastModifiedVersion {
		if !v.opts.AllowIndexRebuilds {
			v.add("last modified version of index changed", subject, fmt.Sprintf("%d → %d; allow index rebuilds to change an index", oi.LastModifiedVersion, ni.LastModifiedVersion))
		}
		return // with rebuilds allowed, stores rebuild it: anything may change
	}
	if oi.Type != ni.Type {
		v.add("index type changed", subject, fmt.Sprintf("%s → %s", oi.Type, ni.Type))
		return
	}
	oldTypes := map[string]bool{}
	for _, rt := range oi.types {
		oldTypes[renamed(renames, rt.name)] = true
	}
	newTypes := map[string]bool{}
	for _, rt := range ni.types {
		newTypes[rt.name] = true
	}
	for _, name := range sortedKeys(oldTypes) {
		if !newTypes[name] {
			v.add("new index removes record type", subject, name)
			return
		}
	}
	for _, rt := range ni.types {
		if !oldTypes[rt.name] && (rt.since == 0 || rt.since <= v.old.version) {
			v.add("new index adds record type that is not newer than old meta-data", subject, rt.name)
			return
		}
	}
	want := oi.Expression
	if len(oi.types) > 0 {
		if nt := v.new.byName[renamed(renames, oi.types[0].name)]; nt != nil {
			want = v.renameFields(oi.Expression, oi.types[0].desc, nt.desc)
		}
	}
	oldPos, newPos := hasPKPositions(oi), hasPKPositions(ni)
	switch {
	case want.String() != ni.Expression.String():
		v.add("index key expression changed", subject, fmt.Sprintf("%s → %s", want, ni.Expression))
	case oldPos && newPos && !slices.Equal(oi.pkPositions, ni.pkPositions):
		v.add("new index changes primary key component positions", subject, fmt.Sprintf("%v → %v", oi.pkPositions, ni.pkPositions))
	case oldPos && !newPos:
		v.add("new index drops primary key component positions", subject, "")
	case !oldPos && newPos:
		v.add("new index adds primary key component positions", subject, "")
	case !oi.Unique && ni.Unique:
		v.add("index adds uniqueness constraint", subject, "")
	}
}

// hasPKPositions reports whether an index's entries leave out primary-key columns that are among
// its values, as Java's Index.hasPrimaryKeyComponentPositions: only an index on one type has
// positions, and only when some primary-key column is indexed
// (RecordMetaDataBuilder.buildPrimaryKeyComponentPositions).
func hasPKPositions(ix *Index) bool {
	for _, p := range ix.pkPositions {
		if p >= 0 {
			return true
		}
	}
	return false
}

func formerMap(md *MetaData) map[string]FormerIndex {
	m := make(map[string]FormerIndex, len(md.formers))
	for _, f := range md.formers {
		m[f.Name] = f
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
