package record

import (
	"fmt"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// FormerIndex records an index that the metadata no longer has, so that stores still holding
// its data clear it when they are opened with this metadata (the Java Record Layer's
// FormerIndex). Keep former indexes in the metadata for good: the evolution validator refuses
// to drop one or to reuse its name.
type FormerIndex struct {
	// Name is the removed index's name, which was its subspace key.
	Name string
	// AddedVersion is the metadata version that had added the index.
	AddedVersion int
	// RemovedVersion is the metadata version that removed it.
	RemovedVersion int
}

// AddFormerIndex declares a removed index. Opening a store whose metadata version is at least
// fi.AddedVersion and below fi.RemovedVersion clears the index's entries, state, build progress
// and uniqueness violations.
func (b *MetaDataBuilder) AddFormerIndex(fi FormerIndex) *MetaDataBuilder {
	b.formers = append(b.formers, fi)
	return b
}

// SetSinceVersion declares the metadata version that added a record type (Java's
// RecordTypeBuilder.setSinceVersion). A store opened with newer metadata knows that it holds no
// records of a type newer than its own metadata version, so indexes on such types are made
// READABLE at once, without a build; the evolution validator requires it of new types.
func (b *MetaDataBuilder) SetSinceVersion(recordType string, version int) *MetaDataBuilder {
	if b.since == nil {
		b.since = map[string]int{}
	}
	b.since[recordType] = version
	return b
}

// SinceVersion returns the metadata version that added the record type, or 0 when the
// metadata does not say.
func (rt *RecordType) SinceVersion() int { return rt.since }

// FormerIndexes returns the removed indexes the metadata declares.
func (md *MetaData) FormerIndexes() []FormerIndex { return md.formers }

// buildEvolution checks and copies the since versions and former indexes.
func (b *MetaDataBuilder) buildEvolution(md *MetaData, union protoreflect.MessageDescriptor) []error {
	var errs []error
	for name, v := range b.since {
		rt := md.byName[name]
		switch {
		case rt == nil:
			errs = append(errs, b.unknownType(union, name, "since version"))
		case v <= 0 || v > b.version:
			errs = append(errs, fmt.Errorf("record: record type %s has since version %d, outside 1…%d (the metadata version)", name, v, b.version))
		default:
			rt.since = v
		}
	}
	seen := map[string]bool{}
	for _, fi := range b.formers {
		switch {
		case fi.Name == "":
			errs = append(errs, fmt.Errorf("record: a former index has no name"))
		case md.byIndex[fi.Name] != nil:
			errs = append(errs, fmt.Errorf("record: former index %q has the name of an index; an index name cannot be reused", fi.Name))
		case seen[fi.Name]:
			errs = append(errs, fmt.Errorf("record: former index %q is declared twice", fi.Name))
		case fi.AddedVersion < 0 || fi.RemovedVersion <= fi.AddedVersion || fi.RemovedVersion > b.version:
			errs = append(errs, fmt.Errorf("record: former index %q was added in version %d and removed in %d; want added < removed ≤ %d (the metadata version)", fi.Name, fi.AddedVersion, fi.RemovedVersion, b.version))
		default:
			md.formers = append(md.formers, fi)
		}
		seen[fi.Name] = true
	}
	return errs
}
