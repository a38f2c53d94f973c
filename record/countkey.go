package record

import (
	"encoding/binary"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/record/internal/storepb"
	"github.com/layerkit/layerkit/tuple"
)

// The record count key of the Java Record Layer: S+(4)+value holds the number of records whose
// count key evaluates to value, an 8-byte little-endian integer changed by atomic adds when a
// record is inserted or deleted (FDBRecordStore.addRecordCount). Java deprecates it in favour of
// COUNT indexes but still maintains it in stores whose metadata has one.

// setRecordCountKey validates the metadata's record count key.
func (md *MetaData) setRecordCountKey(key KeyExpression) error {
	if err := md.checkRecordCountKey(key); err != nil {
		return fmt.Errorf("record: record count key %s: %w", key, err)
	}
	if _, err := keyExpressionToProto(key); err != nil {
		return fmt.Errorf("record: record count key %s: %w", key, err)
	}
	md.recordCountKey = key
	return nil
}

// checkRecordCountKey checks that key yields one key per record and applies to at least one
// record type. As in Java, a field a record type lacks evaluates to null on its records.
func (md *MetaData) checkRecordCountKey(key KeyExpression) error {
	if key.fansOut() || countVersions(key) > 0 {
		return fmt.Errorf("it fans out or names the version; a count key yields one key per record from its fields")
	}
	var errs []error
	for _, rt := range md.types {
		err := key.check(rt.desc)
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("on %s: %w", rt.name, err))
	}
	return errors.Join(errs...)
}

// addRecordCount adds delta to the count of rec's count key value.
func (s *Store) addRecordCount(rec *Record, delta int64) error {
	if s.countKey == nil {
		return nil
	}
	v, err := evaluateSingle(s.countKey, rec.Message.ProtoReflect(), rec.Type)
	if err != nil {
		return fmt.Errorf("record: record count key of %s %v: %w", rec.Type.name, rec.PrimaryKey, err)
	}
	k, err := v.AppendPack(s.key(keyRecordCount))
	if err != nil {
		return fmt.Errorf("record: record count key of %s %v: %v: %w", rec.Type.name, rec.PrimaryKey, err, ErrInvalidKey)
	}
	s.tr.Atomic(kv.Add, k, encodeInt64(delta))
	return nil
}

// checkRecordCounts rebuilds the record counts when the count key changed, as the Java Record
// Layer does when a store is opened with a new format or metadata version
// (FDBRecordStore.checkPossiblyRebuildRecordCounts): the counts are cleared, the header records
// the metadata's key, and the counts of an existing store are recounted in this transaction.
func (s *Store) checkRecordCounts(newStore bool, oldFormat int) error {
	mdKey := s.md.recordCountKey
	format := int(s.header.GetFormatVersion())
	var mdProto *storepb.KeyExpression
	if mdKey != nil {
		var err error
		if mdProto, err = keyExpressionToProto(mdKey); err != nil {
			return err
		}
	}
	rebuild := (!newStore && oldFormat < formatRecordCountAdded) ||
		(mdKey != nil && format >= formatRecordCountKeyAdded && (s.header.RecordCountKey == nil || !sameKeyExpression(s.countKey, mdKey))) ||
		(mdKey == nil && s.header.RecordCountKey != nil)
	if !rebuild {
		return nil
	}
	if !newStore {
		s.tr.ClearRange(prefixRange(s.key(keyRecordCount)))
	}
	if format >= formatRecordCountKeyAdded {
		s.header.RecordCountKey = mdProto
	}
	s.countKey = mdKey
	if newStore || mdKey == nil || s.header.GetRecordCountState() == storepb.DataStoreInfo_DISABLED {
		return nil
	}
	counts := map[string]int64{}
	err := s.scanAllRecords(func(rec *Record) error {
		v, err := evaluateSingle(mdKey, rec.Message.ProtoReflect(), rec.Type)
		if err != nil {
			return err
		}
		counts[string(v.Pack())]++
		return nil
	})
	if err != nil {
		return err
	}
	base := s.key(keyRecordCount)
	for k, n := range counts {
		s.tr.Set(append(append([]byte(nil), base...), k...), encodeInt64(n))
	}
	return nil
}

// sameKeyExpression compares two key expressions as the Java Record Layer's equals does: same
// kinds, fields, fan types and null interpretations.
func sameKeyExpression(a, b KeyExpression) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	pa, err1 := keyExpressionToProto(a)
	pb, err2 := keyExpressionToProto(b)
	return err1 == nil && err2 == nil && proto.Equal(pa, pb)
}

// RecordCountFromKey returns the number of records whose record count key evaluates to value, as
// the store's record count key keeps it (0 when there are none), in one read. It fails when the
// store keeps no record count key.
func (s *Store) RecordCountFromKey(value tuple.Tuple) (int64, error) {
	if s.countKey == nil {
		return 0, fmt.Errorf("record: store keeps no record count key")
	}
	if !s.countKeyReadable() {
		return 0, fmt.Errorf("record: the store's record count key is %v, not readable: %w", s.header.GetRecordCountState(), ErrIndexNotReadable)
	}
	if len(value) != s.countKey.ColumnCount() {
		return 0, fmt.Errorf("record: record count key %s has %d columns, got %v", s.countKey, s.countKey.ColumnCount(), value)
	}
	k, err := value.AppendPack(s.key(keyRecordCount))
	if err != nil {
		return 0, fmt.Errorf("record: record count key value %v: %v: %w", value, err, ErrInvalidKey)
	}
	v, err := s.tr.Get(k).Get()
	if err != nil {
		return 0, err
	}
	return decodeInt64(v)
}

// countKeyReadable reports whether the record count key may be read: the header's
// record_count_state is unset or READABLE (FDBRecordStore.getSnapshotRecordCount).
func (s *Store) countKeyReadable() bool {
	return s.countKey != nil && (s.header.RecordCountState == nil || s.header.GetRecordCountState() == storepb.DataStoreInfo_READABLE)
}

// encodeInt64 is v as FoundationDB's atomic ADD takes it: 8 bytes, little-endian.
func encodeInt64(v int64) []byte {
	return binary.LittleEndian.AppendUint64(make([]byte, 0, 8), uint64(v))
}

// decodeInt64 reads an 8-byte little-endian integer; an absent value is 0. A shorter value (an
// ADD of fewer bytes) is zero-extended, as FoundationDB does.
func decodeInt64(v []byte) (int64, error) {
	if len(v) > 8 {
		return 0, fmt.Errorf("record: counter value of %d bytes, want at most 8: %w", len(v), ErrCorruptStore)
	}
	var b [8]byte
	copy(b[:], v)
	return int64(binary.LittleEndian.Uint64(b[:])), nil
}
