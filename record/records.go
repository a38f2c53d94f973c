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
	// Partial is set for the records of a covering plan: Message holds only the fields of the
	// index entry and the primary key, and Size is zero.
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
	old, err := oldL.get()
	if err != nil {
		return nil, err
	}
	switch {
	case mode == InsertOnly && old != nil && bytes.Equal(old.raw, val):
		// The same bytes are already stored: most likely this insert committed in an attempt
		// that reported commit_unknown_result and is now being retried. Succeed without writes.
		return &Record{Type: rt, PrimaryKey: pk, Message: msg, Size: len(val), Split: old.split}, nil
	case mode == InsertOnly && old != nil:
		return nil, fmt.Errorf("record: insert %s %v: %w", rt.name, pk, ErrRecordExists)
	case mode == UpdateOnly && old == nil:
		return nil, fmt.Errorf("record: update %s %v: %w", rt.name, pk, ErrRecordNotFound)
	}
	rec := &Record{Type: rt, PrimaryKey: pk, Message: msg, Size: len(val), Split: len(val) > splitChunkSize}
	var oldRec *Record
	if old != nil {
		if bytes.Equal(old.raw, val) {
			return rec, nil // nothing changed: no record or index write at all
		}
		if oldRec, err = s.decode(old); err != nil {
			return nil, err
		}
	}
	chs, err := s.indexChanges(oldRec, rec)
	if err != nil {
		return nil, err
	}
	if err := s.checkIndexChanges(chs); err != nil {
		return nil, err
	}
	s.writeRecord(pkPrefix, key0, old, val)
	if err := s.writeIndexChanges(chs); err != nil {
		return nil, err
	}
	return rec, nil
}

// Load returns the record with primary key pk, or nil when there is none.
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
	s.tr.ClearRange(prefixRange(pkPrefix))
	if err := s.writeIndexChanges(chs); err != nil {
		return false, err
	}
	return true, nil
}

// DeleteAllRecords removes every record and index entry of the store, keeping the header and the
// index states.
func (s *Store) DeleteAllRecords() {
	for _, id := range []int{keyRecord, keyIndex, keyIndexSecondary, keyRecordCount, keyIndexRange, keyUniqueViolations, keyRecordVersion, keyIndexBuild} {
		s.tr.ClearRange(s.subRange(id))
	}
}

// rawRecord is a record's stored bytes.
type rawRecord struct {
	pk     tuple.Tuple
	raw    []byte
	split  bool
	prefix []byte // S+(1)+pack(pk), set by scans
	bytes  int    // key and value bytes read, set by scans
}

// recordKey returns S+(1)+pack(pk) and the key of its suffix 0 (the unsplit record), built in
// one allocation. The prefix is capped, so appending to it never writes into key0.
func (s *Store) recordKey(pk tuple.Tuple) (pkPrefix, key0 []byte, err error) {
	b, err := pk.AppendPack(append(make([]byte, 0, len(s.records)+32), s.records...))
	if err != nil {
		return nil, nil, fmt.Errorf("record: primary key %v: %v: %w", pk, err, ErrInvalidKey)
	}
	if len(b)+3 > kv.MaxKeySize {
		return nil, nil, fmt.Errorf("record: primary key %v packs to %d bytes, over the key limit: %w", pk, len(b), ErrInvalidKey)
	}
	n := len(b)
	b = append(b, unsplitSuffixByte)
	return b[:n:n], b, nil
}

// unsplitSuffixByte is tuple.Tuple{int64(unsplitSuffix)}.Pack(): the integer zero.
const unsplitSuffixByte = 0x14

func prefixRange(p []byte) kv.Range {
	return kv.Range{Begin: append(append(make([]byte, 0, len(p)+1), p...), 0x00), End: append(append(make([]byte, 0, len(p)+1), p...), 0xff)}
}

// rawLoad is the read of one record in flight. It is a value, so that a load allocates nothing
// of its own beyond what the engine's reads do.
//
// It reads suffix 0 (an unsplit record) and suffix 1 (the first chunk of a split one), and only
// when the record is split the whole range of its chunks: point reads are much cheaper than a
// range read on most engines, and every write of the record touches one of the two keys, so
// their read conflicts guard the whole record. With eager, both point reads are issued at once
// (a save, which usually finds nothing); otherwise suffix 1 is read only when suffix 0 is absent
// (a load, which usually finds an unsplit record).
type rawLoad struct {
	s        *Store
	pk       tuple.Tuple
	pkPrefix []byte
	f0, f1   kv.Future[[]byte]
}

// startLoad issues the reads of the record at pkPrefix (whose suffix-0 key is key0).
func (s *Store) startLoad(pkPrefix, key0 []byte, pk tuple.Tuple, eager bool) rawLoad {
	l := rawLoad{s: s, pk: pk, pkPrefix: pkPrefix, f0: s.tr.Get(key0)}
	if eager {
		l.f1 = s.tr.Get(chunkKey(pkPrefix, 1))
	}
	return l
}

// get waits for the load: the record's stored bytes, or nil when there is none.
func (l *rawLoad) get() (*rawRecord, error) {
	v0, err := l.f0.Get()
	if err != nil {
		return nil, err
	}
	if v0 != nil && l.f1 == nil {
		return &rawRecord{pk: l.pk, raw: v0}, nil
	}
	if l.f1 == nil {
		l.f1 = l.s.tr.Get(chunkKey(l.pkPrefix, 1))
	}
	v1, err := l.f1.Get()
	if err != nil {
		return nil, err
	}
	switch {
	case v0 != nil && v1 != nil:
		return nil, fmt.Errorf("record: record %v has an unsplit value and chunks: %w", l.pk, ErrCorruptStore)
	case v0 != nil:
		return &rawRecord{pk: l.pk, raw: v0}, nil
	case v1 == nil:
		return nil, nil
	}
	rows, err := l.s.tr.GetRange(prefixRange(l.pkPrefix), kv.RangeOptions{Mode: kv.StreamingWantAll}).GetSlice()
	if err != nil {
		return nil, err
	}
	return assemble(l.pk, l.pkPrefix, rows)
}

// record waits for the load and decodes it (nil when there is no record).
func (l *rawLoad) record() (*Record, error) {
	r, err := l.get()
	if err != nil || r == nil {
		return nil, err
	}
	return l.s.decode(r)
}

// assemble joins the rows of one primary key into its stored bytes: suffix 0 alone, or chunks
// 1..n in order. A version row (suffix -1) is skipped.
func assemble(pk tuple.Tuple, pkPrefix []byte, rows []kv.KeyValue) (*rawRecord, error) {
	var out *rawRecord
	next := int64(1)
	for _, r := range rows {
		suffix, err := chunkSuffix(r.Key, len(pkPrefix))
		if err != nil {
			return nil, err
		}
		switch {
		case suffix < 0:
			continue
		case suffix == unsplitSuffix:
			if out != nil {
				return nil, fmt.Errorf("record: record %v has an unsplit value and chunks: %w", pk, ErrCorruptStore)
			}
			out = &rawRecord{pk: pk, raw: r.Value}
			next = -1
		case suffix == next:
			if out == nil {
				out = &rawRecord{pk: pk, split: true}
			}
			out.raw = append(out.raw, r.Value...)
			next++
		default:
			return nil, fmt.Errorf("record: record %v has chunk %d out of order: %w", pk, suffix, ErrCorruptStore)
		}
	}
	return out, nil
}

func chunkSuffix(key []byte, at int) (int64, error) {
	t, err := tuple.Unpack(key[at:])
	if err != nil || len(t) != 1 {
		return 0, fmt.Errorf("record: record key %s has no chunk suffix: %w", kv.Printable(key), ErrCorruptStore)
	}
	n, ok := t[0].(int64)
	if !ok {
		return 0, fmt.Errorf("record: record key %s has suffix %v: %w", kv.Printable(key), t[0], ErrCorruptStore)
	}
	return n, nil
}

// writeRecord stores val under pkPrefix, clearing the old chunks when the layout changes.
func (s *Store) writeRecord(pkPrefix, key0 []byte, old *rawRecord, val []byte) {
	if len(val) <= splitChunkSize {
		if old != nil && old.split {
			s.tr.ClearRange(prefixRange(pkPrefix))
		}
		s.tr.Set(key0, val)
		return
	}
	if old != nil {
		s.tr.ClearRange(prefixRange(pkPrefix))
	}
	for i, n := 0, int64(1); i < len(val); i, n = i+splitChunkSize, n+1 {
		end := min(i+splitChunkSize, len(val))
		s.tr.Set(chunkKey(pkPrefix, n), val[i:end])
	}
}

func chunkKey(pkPrefix []byte, suffix int64) []byte {
	b, _ := tuple.Tuple{suffix}.AppendPack(append(make([]byte, 0, len(pkPrefix)+3), pkPrefix...))
	return b
}

// decode turns stored union bytes into a Record.
func (s *Store) decode(r *rawRecord) (*Record, error) {
	num, typ, n := protowire.ConsumeTag(r.raw)
	if n < 0 || typ != protowire.BytesType {
		return nil, fmt.Errorf("record: record %v is not a union message: %w", r.pk, ErrCorruptStore)
	}
	inner, m := protowire.ConsumeBytes(r.raw[n:])
	if m < 0 || n+m != len(r.raw) {
		return nil, fmt.Errorf("record: record %v is not a union message with one field: %w", r.pk, ErrCorruptStore)
	}
	rt := s.md.byField[num]
	if rt == nil {
		return nil, fmt.Errorf("record: record %v has union field %d, which names no record type: %w", r.pk, num, ErrCorruptStore)
	}
	msg := rt.newMsg()
	if err := proto.Unmarshal(inner, msg); err != nil {
		return nil, fmt.Errorf("record: record %v of type %s: %v: %w", r.pk, rt.name, err, ErrCorruptStore)
	}
	return &Record{Type: rt, PrimaryKey: r.pk, Message: msg, Size: len(r.raw), Split: r.split}, nil
}
