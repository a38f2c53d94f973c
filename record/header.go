package record

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/record/internal/storepb"
)

// Store format versions: the Java Record Layer's FormatVersion.
const (
	// MinFormatVersion is the oldest store format (INFO_ADDED).
	MinFormatVersion = 1
	// MaxFormatVersion is the newest store format read and kept (WRITE_ONLY_WITH_QUEUE): a store
	// at any version from 1 to 15 opens, and a newer one fails with ErrStoreTooNew, as in Java.
	MaxFormatVersion = 15
	// DefaultFormatVersion is the format a new store is created with, and the one an older store
	// is upgraded to when it is opened (READABLE_UNIQUE_PENDING, 9). A store already at a newer
	// version keeps it. WithFormatVersion chooses another.
	DefaultFormatVersion = 9
)

// Format versions at which the layout changes (FormatVersion.java).
const (
	formatRecordCountAdded    = 2
	formatRecordCountKeyAdded = 3
	formatSaveUnsplitSuffix   = 5
	formatSaveVersionInline   = 6
	formatCacheableState      = 7
	formatHeaderUserFields    = 8
	formatFullStoreLock       = 14
)

// metadataVersionKey is FoundationDB's \xff/metadataVersion, which a store whose header is
// cacheable bumps whenever its header or an index state changes, so that clients caching store
// state see the change (FDBRecordContext.setMetaDataVersionStamp).
var metadataVersionKey = []byte("\xff/metadataVersion")

// metadataVersionParam is the SET_VERSIONSTAMPED_VALUE parameter that writes the commit's
// versionstamp as the whole value: ten placeholder bytes, then offset 0 (little-endian).
var metadataVersionParam = make([]byte, 14)

// notJavaReadableField is the header user field that marks a store whose metadata holds unsigned
// integer fields (MetaDataBuilder.AllowUnsignedFields), which the Java Record Layer refuses.
const notJavaReadableField = "layerkit.not_java_readable"

// OpenOption changes how Open treats a store.
type OpenOption func(*openOptions)

type openOptions struct {
	formatVersion int
	userVersion   UserVersionFunc
	indexStates   IndexStateFunc // index_states.go
}

// WithFormatVersion makes Open create new stores, and upgrade older ones, at format version v
// (MinFormatVersion to MaxFormatVersion) instead of DefaultFormatVersion. A store at a newer
// version keeps its version, as in the Java Record Layer.
func WithFormatVersion(v int) OpenOption { return func(o *openOptions) { o.formatVersion = v } }

// UserVersionFunc is the application's own store version check, the Java Record Layer's
// UserVersionChecker.checkUserVersion: given the user version the header holds (-1 for a new
// store), it returns the version to keep, perhaps after migrating data in the same transaction.
// A smaller version than the stored one fails Open with ErrStaleUserVersion.
type UserVersionFunc func(stored int) (int, error)

// WithUserVersion runs fn when the store is opened and records the user version it returns in
// the header.
func WithUserVersion(fn UserVersionFunc) OpenOption {
	return func(o *openOptions) { o.userVersion = fn }
}

// readHeader decodes and validates a stored header: formats 1 to 15 open, a newer one or a fully
// locked store does not (FDBRecordStore.checkStoreHeaderInternal, FormatVersion).
func (s *Store) readHeader(headerKey, raw []byte) error {
	s.header = &storepb.DataStoreInfo{}
	if err := proto.Unmarshal(raw, s.header); err != nil {
		return fmt.Errorf("record: store header at %s: %v: %w", kv.Printable(headerKey), err, ErrCorruptStore)
	}
	v := int(s.header.GetFormatVersion())
	switch {
	case v > MaxFormatVersion:
		return fmt.Errorf("record: store has format version %d, newer than %d: %w", v, MaxFormatVersion, ErrStoreTooNew)
	case v < MinFormatVersion:
		return fmt.Errorf("record: store header at %s has format version %d: %w", kv.Printable(headerKey), v, ErrCorruptStore)
	}
	if lock := s.header.GetStoreLockState(); s.header.StoreLockState != nil {
		switch lock.GetLockState() {
		case storepb.DataStoreInfo_StoreLockState_FORBID_RECORD_UPDATE:
			s.refuseRecordWrites = fmt.Errorf("record: store is locked against record updates (%q): %w", lock.GetReason(), ErrStoreLocked)
		case storepb.DataStoreInfo_StoreLockState_FULL_STORE:
			return fmt.Errorf("record: store is fully locked (%q): %w", lock.GetReason(), ErrStoreLocked)
		default:
			if v >= formatFullStoreLock {
				return fmt.Errorf("record: store has lock state %v, which this package does not know: %w", lock.GetLockState(), ErrStoreLocked)
			}
		}
	}
	if s.header.RecordCountKey != nil {
		key, err := keyExpressionFromProto(s.header.RecordCountKey)
		if err != nil {
			return fmt.Errorf("record: store header names a record count key this package cannot maintain: %v: %w", err, ErrUnsupportedStore)
		}
		if err := s.md.checkRecordCountKey(key); err != nil {
			return fmt.Errorf("record: store header's record count key %s: %v: %w", key, err, ErrUnsupportedStore)
		}
		s.countKey = key
	}
	for _, f := range s.header.GetUserField() {
		if f.GetKey() == notJavaReadableField && !s.md.unsigned {
			return fmt.Errorf("record: store was written with unsigned integer fields (AllowUnsignedFields), which this metadata does not allow: %w", ErrUnsupportedStore)
		}
	}
	return nil
}

// checkVersion brings the header up to date with the metadata and the options, as the Java
// Record Layer's checkVersion does when a store is opened: user version, format version (and
// what an upgrade implies), metadata version (and the indexes it adds), record count key. It
// reports whether the header changed.
func (s *Store) checkVersion(newStore bool, o openOptions) (bool, error) {
	dirty := false
	if o.userVersion != nil {
		old := -1
		if !newStore {
			old = int(s.header.GetUserVersion())
		}
		uv, err := o.userVersion(old)
		if err != nil {
			return false, err
		}
		if uv < old {
			return false, fmt.Errorf("record: user version %d is older than the store's %d: %w", uv, old, ErrStaleUserVersion)
		}
		if uv != old {
			s.header.UserVersion = proto.Int32(int32(uv))
			dirty = true
		}
	}
	if s.md.unsigned && !s.hasUserField(notJavaReadableField) {
		s.header.UserField = append(s.header.UserField, &storepb.DataStoreInfo_UserFieldEntry{
			Key:   proto.String(notJavaReadableField),
			Value: []byte("unsigned integer fields are stored with their exact values, which the Java Record Layer refuses"),
		})
		dirty = true
	}
	oldFormat := int(s.header.GetFormatVersion())
	newFormat := max(oldFormat, o.formatVersion)
	oldMD := -1
	if !newStore {
		oldMD = int(s.header.GetMetaDataversion())
	}
	if oldMD > s.md.version {
		return false, fmt.Errorf("record: store has metadata version %d, newer than %d: %w", oldMD, s.md.version, ErrStoreTooNew)
	}
	if newFormat == oldFormat && oldMD == s.md.version {
		return dirty, nil
	}
	if s.readOnly && !newStore {
		return false, fmt.Errorf("record: store at %s has metadata version %d, opened with %d: %w", kv.Printable(s.prefix), oldMD, s.md.version, ErrStoreNeedsUpgrade)
	}
	if newFormat != oldFormat {
		s.header.FormatVersion = proto.Int32(int32(newFormat))
		// Records of a store older than format 5 whose metadata does not split long records
		// were written without the unsplit suffix; the store keeps doing so
		// (FDBRecordStore.checkRebuild).
		if oldFormat >= MinFormatVersion && oldFormat < formatSaveUnsplitSuffix && newFormat >= formatSaveUnsplitSuffix && !s.md.splitLongRecords {
			s.header.OmitUnsplitRecordSuffix = proto.Bool(true)
		}
		// Versions kept apart from the records move next to them once the format allows.
		if oldFormat >= MinFormatVersion && oldFormat < formatSaveVersionInline && s.md.storeRecordVersions && !s.usesOldVersionFormat() {
			if err := s.convertOldVersions(); err != nil {
				return false, err
			}
		}
	}
	if oldMD != s.md.version {
		// Metadata that no longer keeps versions drops the old-format ones.
		if !newStore && !s.md.storeRecordVersions && (oldFormat < formatSaveVersionInline || s.header.GetOmitUnsplitRecordSuffix()) {
			s.tr.ClearRange(prefixRange(s.key(keyRecordVersion)))
		}
		s.header.MetaDataversion = proto.Int32(int32(s.md.version))
	}
	if err := s.checkRecordCounts(newStore, oldFormat); err != nil {
		return false, err
	}
	if !newStore && oldMD != s.md.version {
		if err := s.upgradeIndexes(oldMD, o.indexStates); err != nil {
			return false, err
		}
	}
	return true, nil
}

// writeHeader stores the header, stamped with the time, and bumps the metadata version key when
// the store's state is cacheable (FDBRecordStore.updateStoreHeaderAsync): always when the old
// header was cacheable; when only the new one is, if the key was never set.
func (s *Store) writeHeader(oldCacheable bool) error {
	s.header.LastUpdateTime = proto.Uint64(uint64(time.Now().UnixMilli()))
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(s.header)
	if err != nil {
		return fmt.Errorf("record: encode store header: %w", err)
	}
	s.tr.Set(s.key(keyStoreInfo), b)
	switch {
	case oldCacheable:
		s.bumpMetadataVersion()
	case s.header.GetCacheable():
		v, err := s.tr.Snapshot().Get(metadataVersionKey).Get()
		if err != nil {
			return fmt.Errorf("record: read the metadata version key: %w", err)
		}
		if v == nil {
			s.bumpMetadataVersion()
		}
	}
	return nil
}

// bumpMetadataVersion sets \xff/metadataVersion to this commit's versionstamp.
func (s *Store) bumpMetadataVersion() {
	s.tr.Atomic(kv.SetVersionstampedValue, metadataVersionKey, metadataVersionParam)
}

// omitsUnsplitSuffix reports whether unsplit records are stored at S+(1)+pk without the suffix 0:
// stores older than format 5, and older stores upgraded with the flag set, whose metadata does
// not split long records (FDBRecordStore: splitLongRecords || !omitUnsplitRecordSuffix).
func (s *Store) omitsUnsplitSuffix() bool {
	if s.md.splitLongRecords {
		return false
	}
	return s.header.GetFormatVersion() < formatSaveUnsplitSuffix || s.header.GetOmitUnsplitRecordSuffix()
}

// SetStateCacheable marks the store's state (header and index states) as cacheable or not, the
// Java Record Layer's setStateCacheability: while it is, every change of the header or of an
// index state bumps FoundationDB's metadata version key so that clients caching the state drop
// it. It needs format version 7 or later.
func (s *Store) SetStateCacheable(cacheable bool) error {
	if err := s.writable(); err != nil {
		return err
	}
	if s.header.GetFormatVersion() < formatCacheableState {
		return fmt.Errorf("record: store state cannot be cacheable at format version %d (needs %d)", s.header.GetFormatVersion(), formatCacheableState)
	}
	old := s.header.GetCacheable()
	if old == cacheable {
		return nil
	}
	s.header.Cacheable = proto.Bool(cacheable)
	return s.writeHeader(old)
}

// SetHeaderUserField stores an application value in the store header (the Java Record Layer's
// setHeaderUserField, format 8 or later). Keep such values small: the header is read by every
// Open. A nil value removes the field.
func (s *Store) SetHeaderUserField(key string, value []byte) error {
	if err := s.writable(); err != nil {
		return err
	}
	if s.header.GetFormatVersion() < formatHeaderUserFields {
		return fmt.Errorf("record: header user fields need format version %d, the store has %d", formatHeaderUserFields, s.header.GetFormatVersion())
	}
	if key == notJavaReadableField {
		return fmt.Errorf("record: header user field %q is reserved", key)
	}
	fields := s.header.UserField[:0]
	for _, f := range s.header.UserField {
		if f.GetKey() != key {
			fields = append(fields, f)
		}
	}
	if value != nil {
		fields = append(fields, &storepb.DataStoreInfo_UserFieldEntry{Key: proto.String(key), Value: append([]byte{}, value...)})
	}
	s.header.UserField = fields
	return s.writeHeader(s.header.GetCacheable())
}

func (s *Store) hasUserField(key string) bool {
	for _, f := range s.header.GetUserField() {
		if f.GetKey() == key {
			return true
		}
	}
	return false
}

// HeaderUserField returns the application value stored under key in the header, or nil.
func (s *Store) HeaderUserField(key string) []byte {
	for _, f := range s.header.GetUserField() {
		if f.GetKey() == key {
			return append([]byte{}, f.GetValue()...)
		}
	}
	return nil
}
