package record

import (
	"encoding/binary"
	"fmt"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/tuple"
)

// Record versions, as the Java Record Layer keeps them when its metadata stores record versions
// (FDBRecordVersion, SplitHelper.writeVersion, FDBRecordStore.saveVersionWithOldFormat): a
// 12-byte versionstamp per record — the 10-byte commit version of the transaction that saved it
// and a 2-byte order within that transaction — written with SET_VERSIONSTAMPED_VALUE so that the
// database fills in the commit version. From format 6 it is the packed tuple (versionstamp) at
// S+(1)+pk+(-1), just before the record's data; before format 6, and in stores that omit the
// unsplit suffix, it is the 12 raw bytes at S+(8)+pk.
//
// Within one transaction the versions a Store gives are incomplete (their commit version is all
// 0xff) and numbered 0, 1, 2, … in save order; a record saved twice keeps its first number. The
// Store remembers them, because FoundationDB refuses to read back a key written with a
// versionstamp (1036 accessed_unreadable) before commit.

// versionSuffix is the suffix of a record's version key (SplitHelper.RECORD_VERSION).
const versionSuffix = -1

// CompleteVersion returns v with the commit version of its transaction filled in: stamp is the
// transaction's versionstamp (kv.Transaction.GetVersionstamp, ready after the commit). A
// complete version is returned as it is.
func CompleteVersion(v tuple.Versionstamp, stamp [10]byte) tuple.Versionstamp {
	if v.IsComplete() {
		return v
	}
	v.TransactionVersion = stamp
	return v
}

// usesOldVersionFormat reports whether versions are kept at S+(8)+pk rather than next to the
// record (FDBRecordStore.useOldVersionFormat).
func (s *Store) usesOldVersionFormat() bool {
	return s.header.GetFormatVersion() < formatSaveVersionInline || s.header.GetOmitUnsplitRecordSuffix()
}

// versionKey is the key of the version of the record at pkPrefix.
func (s *Store) versionKey(pkPrefix []byte, pk tuple.Tuple) []byte {
	if s.usesOldVersionFormat() {
		k, _ := pk.AppendPack(s.key(keyRecordVersion)) // pk packed once already in pkPrefix
		return k
	}
	return chunkKey(pkPrefix, versionSuffix)
}

// versionRead is the read of one record's version in flight, or the version already known: the
// one this transaction gave the record, or the one a VERSION index entry holds. It is a value,
// so that the read allocates nothing of its own.
type versionRead struct {
	old    bool
	f      kv.Future[[]byte]
	cached tuple.Versionstamp
	known  bool // cached is the version; no read was issued
}

// startVersionRead starts reading the version of the record at pkPrefix, unless this store saved
// the record in this transaction.
func (s *Store) startVersionRead(pkPrefix []byte, pk tuple.Tuple) versionRead {
	if v, ok := s.localVersion(pkPrefix); ok {
		return versionRead{cached: v, known: true}
	}
	return versionRead{old: s.usesOldVersionFormat(), f: s.tr.Get(s.versionKey(pkPrefix, pk))}
}

// get waits for the version: ok is false when the record has none.
func (r *versionRead) get() (v tuple.Versionstamp, ok bool, err error) {
	if r.known || r.f == nil {
		return r.cached, r.known, nil
	}
	b, err := r.f.Get()
	if err != nil || b == nil {
		return tuple.Versionstamp{}, false, err
	}
	v, err = decodeVersion(b, r.old)
	return v, err == nil, err
}

// decodeVersion reads a stored version: the packed tuple (versionstamp), or 12 raw bytes in the
// old format.
func decodeVersion(b []byte, old bool) (tuple.Versionstamp, error) {
	if old {
		if len(b) != 12 {
			return tuple.Versionstamp{}, fmt.Errorf("record: version of %d bytes, want 12: %w", len(b), ErrCorruptStore)
		}
		v := tuple.Versionstamp{UserVersion: binary.BigEndian.Uint16(b[10:])}
		copy(v.TransactionVersion[:], b)
		return v, nil
	}
	t, err := tuple.Unpack(b)
	if err != nil || len(t) != 1 {
		return tuple.Versionstamp{}, fmt.Errorf("record: version value %x: %w", b, ErrCorruptStore)
	}
	v, ok := t[0].(tuple.Versionstamp)
	if !ok {
		return tuple.Versionstamp{}, fmt.Errorf("record: version value holds %T: %w", t[0], ErrCorruptStore)
	}
	return v, nil
}

// localVersion returns the version this store gave the record at pkPrefix in this transaction.
func (s *Store) localVersion(pkPrefix []byte) (tuple.Versionstamp, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.localVersions[string(pkPrefix)]
	return tuple.IncompleteVersionstamp(n), ok
}

// claimVersion returns the incomplete version of a record saved at pkPrefix in this transaction:
// the one it already has, or the next number (isNew).
func (s *Store) claimVersion(pkPrefix []byte) (v tuple.Versionstamp, isNew bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.localVersions[string(pkPrefix)]; ok {
		return tuple.IncompleteVersionstamp(n), false, nil
	}
	if s.nextLocalVersion > 0xffff {
		return tuple.Versionstamp{}, false, fmt.Errorf("record: more than 65,536 versioned saves in one transaction")
	}
	if s.localVersions == nil {
		s.localVersions = map[string]uint16{}
	}
	n := uint16(s.nextLocalVersion)
	s.nextLocalVersion++
	s.localVersions[string(pkPrefix)] = n
	return tuple.IncompleteVersionstamp(n), true, nil
}

// forgetVersion drops the version of a record deleted in this transaction, so that a new record
// under the same key gets a new number.
func (s *Store) forgetVersion(pkPrefix []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.localVersions, string(pkPrefix))
}

// writeVersion writes the incomplete version v of the record at pkPrefix with
// SET_VERSIONSTAMPED_VALUE: the packed tuple (v) and the offset of its stamp, or in the old
// format the 12 bytes and offset 0 (SplitHelper.packVersion, FDBRecordStore
// .saveVersionWithOldFormat).
func (s *Store) writeVersion(pkPrefix []byte, pk tuple.Tuple, v tuple.Versionstamp) error {
	key := s.versionKey(pkPrefix, pk)
	if s.usesOldVersionFormat() {
		param := append(v.Bytes(), 0, 0, 0, 0)
		s.tr.Atomic(kv.SetVersionstampedValue, key, param)
		return nil
	}
	param, err := tuple.Tuple{v}.PackWithVersionstamp(nil)
	if err != nil {
		return fmt.Errorf("record: version of %v: %w", pk, err)
	}
	s.tr.Atomic(kv.SetVersionstampedValue, key, param)
	return nil
}

// clearOldFormatVersion removes the version a store before format 6 keeps apart from the record.
func (s *Store) clearOldFormatVersion(pkPrefix []byte, pk tuple.Tuple) {
	if s.md.storeRecordVersions && s.usesOldVersionFormat() {
		s.tr.Clear(s.versionKey(pkPrefix, pk))
	}
}

// convertOldVersions moves the versions of a store upgraded past format 5 from S+(8)+pk next to
// their records, as the Java Record Layer does when it opens such a store
// (FDBRecordStore.addConvertRecordVersions).
func (s *Store) convertOldVersions() error {
	base := s.key(keyRecordVersion)
	rows, err := s.tr.GetRange(prefixRange(base), kv.RangeOptions{Mode: kv.StreamingWantAll}).GetSlice()
	if err != nil {
		return err
	}
	for _, r := range rows {
		pk, err := tuple.Unpack(r.Key[len(base):])
		if err != nil {
			return fmt.Errorf("record: old-format version key %s: %w", kv.Printable(r.Key), ErrCorruptStore)
		}
		v, err := decodeVersion(r.Value, true)
		if err != nil {
			return err
		}
		pkPrefix, _, err := s.recordKey(pk)
		if err != nil {
			return err
		}
		val, err := tuple.Tuple{v}.AppendPack(nil)
		if err != nil {
			return fmt.Errorf("record: old-format version of %v: %w", pk, err)
		}
		s.tr.Set(chunkKey(pkPrefix, versionSuffix), val)
	}
	s.tr.ClearRange(prefixRange(base))
	return nil
}
