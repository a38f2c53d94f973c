package record

import (
	"bytes"
	"fmt"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/tuple"
)

// Record is a stored record: its type, primary key and message.
type Record struct {
	// Type is the record type.
	Type *RecordType
	// PrimaryKey is the record's primary key.
	PrimaryKey tuple.Tuple
	// Message is the record itself (of the generated type when it is linked in, else dynamicpb).
	Message proto.Message
	// Size is the size of the stored union message in bytes.
	Size int
	// Split reports whether the record is stored in more than one chunk.
	Split bool
	// Version is the record's version when the store keeps them (MetaDataBuilder
	// SetStoreRecordVersions), else nil. A record saved in this transaction has an incomplete
	// version (its transaction version all 0xff) until the transaction commits: CompleteVersion
	// fills it in from the transaction's versionstamp.
	Version *tuple.Versionstamp
	// Partial is set for the records of a covering plan: Message holds only the fields the
	// query required (Query.RequiredFields) and those its filter read, and Size is zero.
	Partial bool
}

// SaveMode says what a save expects to find.
type SaveMode int

// Save modes.
const (
	// Upsert inserts the record or replaces the one with the same primary key.
	Upsert SaveMode = iota
	// InsertOnly fails with ErrRecordExists when the primary key has a different record. An
	// identical record counts as this insert already done, so an insert retried after
	// commit_unknown_result succeeds.
	InsertOnly
	// UpdateOnly fails with ErrRecordNotFound when the primary key has no record.
	UpdateOnly
	// UpsertAnyType is Upsert that may replace a record of another type under the same primary
	// key. The other modes refuse that with ErrRecordTypeChanged, naming both types: types whose
	// primary keys do not start with RecordTypeKey share one key space, and a save of one type
	// over another is most likely a mistake.
	UpsertAnyType
)

// SaveRecord saves msg, a message of one of the store's record types, with the Upsert mode.
func (s *Store) SaveRecord(msg proto.Message) (*Record, error) { return s.Save(msg, Upsert) }

// Save stores msg under the primary key its type's expression computes, serialized as the union
// message, split into 100,000-byte chunks when larger, and maintains every index that is not
// DISABLED by writing only the entries that changed. Unique indexes are checked before anything
// is written, so a failed save leaves the transaction as it was. It returns the saved record.
func (s *Store) Save(msg proto.Message, mode SaveMode) (*Record, error) {
	if msg == nil {
		return nil, fmt.Errorf("record: save of a nil message: %w", ErrUnknownRecordType)
	}
	if err := s.recordsWritable(); err != nil {
		return nil, err
	}
	m := msg.ProtoReflect()
	rt := s.md.byMsg[m.Descriptor().FullName()]
	if rt == nil {
		return nil, fmt.Errorf("record: %s: %w", m.Descriptor().FullName(), ErrUnknownRecordType)
	}
	pk, err := evaluateSingle(rt.primaryKey, m, rt)
	if err != nil {
		return nil, err
	}
	pkPrefix, key0, err := s.recordKey(pk)
	if err != nil {
		return nil, err
	}
	oldL := s.startLoad(pkPrefix, key0, pk, true)
	// The union message with one field set: its tag, the record's length, then the record,
	// marshalled straight into place.
	mo := proto.MarshalOptions{Deterministic: true}
	size := mo.Size(msg)
	val := protowire.AppendTag(make([]byte, 0, size+16), rt.unionField.Number(), protowire.BytesType)
	val = protowire.AppendVarint(val, uint64(size))
	head := len(val)
	val, err = proto.MarshalOptions{Deterministic: true, UseCachedSize: true}.MarshalAppend(val, msg)
	if err != nil {
		return nil, fmt.Errorf("record: encode %s %v: %w", rt.name, pk, err)
	}
	if len(val)-head != size {
		return nil, fmt.Errorf("record: %s %v changed while it was being saved", rt.name, pk)
	}
	if len(val) > splitChunkSize && !s.md.splitLongRecords {
		return nil, fmt.Errorf("record: %s %v is %d bytes, over the %d-byte value limit, and the metadata does not split long records: %w", rt.name, pk, len(val), splitChunkSize, ErrRecordTooLarge)
	}
	old, err := oldL.get()
	if err != nil {
		return nil, err
	}
	switch {
	case mode == InsertOnly && old != nil && bytes.Equal(old.raw, val):
		// The same bytes are already stored: most likely this insert committed in an attempt
		// that reported commit_unknown_result and is now being retried. Succeed without writes.
		return &Record{Type: rt, PrimaryKey: pk, Message: msg, Size: len(val), Split: old.split, Version: old.versionPtr()}, nil
	case mode == InsertOnly && old != nil:
		return nil, fmt.Errorf("record: insert %s %v: %w", rt.name, pk, ErrRecordExists)
	case mode == UpdateOnly && old == nil:
		return nil, fmt.Errorf("record: update %s %v: %w", rt.name, pk, ErrRecordNotFound)
	}
	rec := &Record{Type: rt, PrimaryKey: pk, Message: msg, Size: len(val), Split: len(val) > splitChunkSize}
	var oldRec *Record
	if old != nil {
		if bytes.Equal(old.raw, val) && !s.rewritesUnchanged(rt) {
			// Nothing changed: no record or index write at all.
			rec.Version = old.versionPtr()
			return rec, nil
		}
		if oldRec, err = s.decode(old); err != nil {
			return nil, err
		}
		if oldRec.Type != rt && mode != UpsertAnyType {
			return nil, fmt.Errorf("record: save of %s %v over the %s stored under that primary key (save with UpsertAnyType to replace it): %w", rt.name, pk, oldRec.Type.name, ErrRecordTypeChanged)
		}
	}
	var claimed bool
	if s.md.storeRecordVersions {
		v, isNew, err := s.claimVersion(pkPrefix)
		if err != nil {
			return nil, err
		}
		rec.Version, claimed = &v, isNew
	}
	chs, err := s.indexChanges(oldRec, rec)
	if err == nil {
		err = s.checkIndexChanges(chs)
	}
	if err != nil {
		if claimed {
			s.forgetVersion(pkPrefix)
		}
		return nil, err
	}
	s.writeRecord(pkPrefix, key0, old, val)
	if rec.Version != nil {
		if err := s.writeVersion(pkPrefix, pk, *rec.Version); err != nil {
			return nil, err
		}
	}
	if old == nil {
		if err := s.addRecordCount(rec, 1); err != nil {
			return nil, err
		}
	}
	if err := s.writeIndexChanges(chs); err != nil {
		return nil, err
	}
	return rec, nil
}

// rewritesUnchanged reports whether a save of the bytes already stored still writes, as every
// save does in the Java Record Layer: when the store keeps versions (the record gets a new one)
// or a COUNT_UPDATES index counts the save.
func (s *Store) rewritesUnchanged(rt *RecordType) bool {
	if s.md.storeRecordVersions {
		return true
	}
	for _, ix := range rt.indexes {
		if ix.Type == CountUpdatesIndex && s.maintained(ix) {
			return true
		}
	}
	return false
}

// Load returns the record with primary key pk, or nil when there is none. Its Type says which
// record type it is; LoadAs checks the type. When the record types' primary keys start with
// RecordTypeKey, a record whose type contradicts the type key of pk fails with
// ErrWrongRecordType.
func (s *Store) Load(pk tuple.Tuple) (*Record, error) {
	pkPrefix, key0, err := s.recordKey(pk)
	if err != nil {
		return nil, err
	}
	l := s.startLoad(pkPrefix, key0, pk, false)
	return l.record()
}

// LoadFuture issues the read of the record with primary key pk and returns a future of it (nil
// when there is none), so several loads can be in flight at once.
func (s *Store) LoadFuture(pk tuple.Tuple) (kv.Future[*Record], error) {
	pkPrefix, key0, err := s.recordKey(pk)
	if err != nil {
		return nil, err
	}
	return &recordFuture{l: s.startLoad(pkPrefix, key0, pk, false)}, nil
}

// recordFuture is the future of LoadFuture: one allocation for the whole load.
type recordFuture struct {
	mu   sync.Mutex
	l    rawLoad
	done bool
	rec  *Record
	err  error
}

func (f *recordFuture) Get() (*Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.done {
		f.rec, f.err = f.l.record()
		f.done, f.l = true, rawLoad{}
	}
	return f.rec, f.err
}

// Exists reports whether a record with primary key pk exists.
func (s *Store) Exists(pk tuple.Tuple) (bool, error) {
	pkPrefix, key0, err := s.recordKey(pk)
	if err != nil {
		return false, err
	}
	l := s.startLoad(pkPrefix, key0, pk, false)
	r, err := l.get()
	return r != nil, err
}

// Delete removes the record with primary key pk and its index entries, and reports whether there
// was one. Retried after a commit_unknown_result whose commit went through, it reports false.
func (s *Store) Delete(pk tuple.Tuple) (bool, error) {
	if err := s.recordsWritable(); err != nil {
		return false, err
	}
	pkPrefix, key0, err := s.recordKey(pk)
	if err != nil {
		return false, err
	}
	l := s.startLoad(pkPrefix, key0, pk, true)
	old, err := l.get()
	if err != nil || old == nil {
		return false, err
	}
	oldRec, err := s.decode(old)
	if err != nil {
		return false, err
	}
	chs, err := s.indexChanges(oldRec, nil)
	if err != nil {
		return false, err
	}
	if err := s.checkIndexChanges(chs); err != nil {
		return false, err
	}
	s.clearRecord(pkPrefix, key0)
	s.clearOldFormatVersion(pkPrefix, pk)
	s.forgetVersion(pkPrefix)
	if err := s.addRecordCount(oldRec, -1); err != nil {
		return false, err
	}
	if err := s.writeIndexChanges(chs); err != nil {
		return false, err
	}
	return true, nil
}

// DeleteAllRecords removes every record and everything derived from them, keeping only the
// header and the index states: as the Java Record Layer's deleteAllRecords, it clears from S+(1)
// up to the index states S+(5, …), and from after them to the end of the store's keyspace
// (record counts, index entries, secondary spaces, built ranges, uniqueness violations, old
// record versions, build state, and any keyspace a newer version adds).
func (s *Store) DeleteAllRecords() error {
	if err := s.recordsWritable(); err != nil {
		return err
	}
	states := s.subRange(keyIndexState)
	s.tr.ClearRange(kv.Range{Begin: s.records, End: states.Begin})
	s.tr.ClearRange(kv.Range{Begin: states.End, End: append(append([]byte(nil), s.prefix...), 0xff)})
	return nil
}
