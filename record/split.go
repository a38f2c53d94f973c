package record

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/tuple"
)

// How a record is stored (SplitHelper in the Java Record Layer): its union message at
// S+(1)+pk+(0), or in chunks S+(1)+pk+(1…n) of at most 100,000 bytes when larger, or — in a store
// that omits the unsplit suffix — at S+(1)+pk; its version at S+(1)+pk+(-1) (version.go).

// rawRecord is a record's stored bytes.
type rawRecord struct {
	pk     tuple.Tuple
	raw    []byte
	split  bool
	prefix []byte // S+(1)+pack(pk), set by scans
	bytes  int    // key and value bytes read, set by scans
	// version is the record's version when hasVersion, once versionRead says it was looked for.
	version     tuple.Versionstamp
	hasVersion  bool
	versionRead bool
}

// versionPtr returns a pointer to a copy of the record's version, or nil when it has none.
func (r *rawRecord) versionPtr() *tuple.Versionstamp {
	if !r.hasVersion {
		return nil
	}
	v := r.version
	return &v
}

// recordKey returns S+(1)+pack(pk) and the key of its unsplit record (suffix 0, or none when
// the store omits it), built in one allocation. The prefix is capped, so appending to it never
// writes into key0.
func (s *Store) recordKey(pk tuple.Tuple) (pkPrefix, key0 []byte, err error) {
	return s.recordKeyIn(nil, pk, nil)
}

// recordKeyIn is recordKey with the key cut from slab (nil: its own allocation) and, when packed
// is not nil, made of packed (pk's packed bytes) rather than of pk packed again.
func (s *Store) recordKeyIn(slab *keySlab, pk tuple.Tuple, packed []byte) (pkPrefix, key0 []byte, err error) {
	size := len(s.records) + 1
	if packed != nil {
		size += len(packed)
	} else {
		size += pk.PackedSize()
	}
	b := slab.alloc(size)
	b = append(b, s.records...)
	if packed != nil {
		b = append(b, packed...)
	} else if b, err = pk.AppendPack(b); err != nil {
		return nil, nil, fmt.Errorf("record: primary key %v: %v: %w", pk, err, ErrInvalidKey)
	}
	if len(b)+3 > kv.MaxKeySize {
		return nil, nil, fmt.Errorf("record: primary key %v packs to %d bytes, over the key limit: %w", pk, len(b), ErrInvalidKey)
	}
	n := len(b)
	if s.omitsUnsplitSuffix() {
		return b[:n:n], b[:n:n], nil
	}
	b = append(b, unsplitSuffixByte)
	return b[:n:n], b, nil
}

// keySlab hands out room for keys cut from shared blocks, so that the keys of a batch of reads
// cost one allocation. Blocks are never reused: a key stays valid as long as it is referenced.
type keySlab struct {
	block []byte
	size  int // of the next block (0: 4 KB)
}

// alloc returns an empty slice with room for n bytes; appending more moves it elsewhere rather
// than into a neighbour. A nil slab allocates each key alone.
func (k *keySlab) alloc(n int) []byte {
	if k == nil || n > 1024 {
		return make([]byte, 0, n)
	}
	if cap(k.block)-len(k.block) < n {
		size := k.size
		if size < n {
			size = 4096
		}
		k.block, k.size = make([]byte, 0, size), 4096
	}
	at := len(k.block)
	k.block = k.block[:at+n]
	return k.block[at : at : at+n]
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
//
// When the store keeps record versions, the version key is read alongside.
type rawLoad struct {
	s        *Store
	pk       tuple.Tuple
	pkPrefix []byte
	f0, f1   kv.Future[[]byte]
	v        versionRead
}

// noChunk is the answer for the first chunk of a record in a store without the unsplit suffix,
// which has no chunks: ready, and shared so that a load does not allocate it.
var noChunk = kv.Ready[[]byte](nil, nil)

// startLoad issues the reads of the record at pkPrefix (whose suffix-0 key is key0).
func (s *Store) startLoad(pkPrefix, key0 []byte, pk tuple.Tuple, eager bool) rawLoad {
	l := rawLoad{s: s, pk: pk, pkPrefix: pkPrefix, f0: s.tr.Get(key0)}
	if s.md.storeRecordVersions {
		l.v = s.startVersionRead(pkPrefix, pk)
	}
	if len(key0) == len(pkPrefix) {
		// Without the unsplit suffix there are no chunks either (such stores do not split).
		l.f1 = noChunk
		return l
	}
	if eager {
		l.f1 = s.tr.Get(chunkKey(pkPrefix, 1))
	}
	return l
}

// startEntryLoad issues the reads of the record an index entry points at. An entry of a VERSION
// index holds the record's version (the index is rewritten on every save), so the version key is
// not read.
func (s *Store) startEntryLoad(e *indexEntry, pkPrefix, key0 []byte) rawLoad {
	if !s.md.storeRecordVersions || e.Index.Type != VersionIndex {
		return s.startLoad(pkPrefix, key0, e.PrimaryKey, false)
	}
	for i, c := range e.Index.columns {
		if _, ok := c.(versionExpr); ok {
			if v, ok := e.Values[i].(tuple.Versionstamp); ok {
				l := rawLoad{s: s, pk: e.PrimaryKey, pkPrefix: pkPrefix, f0: s.tr.Get(key0), v: versionRead{cached: v, known: true}}
				if len(key0) == len(pkPrefix) {
					l.f1 = noChunk
				}
				return l
			}
		}
	}
	return s.startLoad(pkPrefix, key0, e.PrimaryKey, false)
}

// get waits for the load: the record's stored bytes, or nil when there is none.
func (l *rawLoad) get() (*rawRecord, error) {
	r := new(rawRecord)
	found, err := l.load(r)
	if err != nil || !found {
		return nil, err
	}
	return r, nil
}

// load waits for the load and fills dst with the record's stored bytes, reporting whether there
// is a record.
func (l *rawLoad) load(dst *rawRecord) (bool, error) {
	found, err := l.loadRaw(dst)
	if err != nil || !found || !l.s.md.storeRecordVersions {
		return found, err
	}
	if dst.version, dst.hasVersion, err = l.v.get(); err != nil {
		return false, err
	}
	dst.versionRead = true
	return true, nil
}

func (l *rawLoad) loadRaw(dst *rawRecord) (bool, error) {
	v0, err := l.f0.Get()
	if err != nil {
		return false, err
	}
	if v0 != nil && l.f1 == nil {
		*dst = rawRecord{pk: l.pk, raw: v0}
		return true, nil
	}
	if l.f1 == nil {
		l.f1 = l.s.tr.Get(chunkKey(l.pkPrefix, 1))
	}
	v1, err := l.f1.Get()
	if err != nil {
		return false, err
	}
	switch {
	case v0 != nil && v1 != nil:
		return false, fmt.Errorf("record: record %v has an unsplit value and chunks: %w", l.pk, ErrCorruptStore)
	case v0 != nil:
		*dst = rawRecord{pk: l.pk, raw: v0}
		return true, nil
	case v1 == nil:
		return false, nil
	}
	rows, err := l.s.tr.GetRange(prefixRange(l.pkPrefix), kv.RangeOptions{Mode: kv.StreamingWantAll}).GetSlice()
	if err != nil {
		return false, err
	}
	return assembleInto(dst, l.pk, l.pkPrefix, rows, nil)
}

// record waits for the load and decodes it (nil when there is no record).
func (l *rawLoad) record() (*Record, error) {
	var r rawRecord
	found, err := l.load(&r)
	if err != nil || !found {
		return nil, err
	}
	rec, err := l.s.decode(&r)
	if err != nil {
		return nil, err
	}
	if err := l.s.checkLoadedType(rec); err != nil {
		return nil, err
	}
	return rec, nil
}

// assembleInto joins the rows of one primary key into dst, their stored bytes: suffix 0 alone,
// or chunks 1..n in order, and the version row (suffix -1) when there is one. It reports
// whether there is a record (dst is meaningless when not); suffixes, when not nil, are the
// rows' suffix elements, already decoded.
func assembleInto(dst *rawRecord, pk tuple.Tuple, pkPrefix []byte, rows []kv.KeyValue, suffixes []any) (bool, error) {
	found := false
	*dst = rawRecord{pk: pk}
	next := int64(1)
	for i, r := range rows {
		var suffix int64
		var err error
		if suffixes != nil {
			suffix, err = suffixValue(r.Key, suffixes[i])
		} else {
			suffix, err = chunkSuffix(r.Key, len(pkPrefix))
		}
		if err != nil {
			return false, err
		}
		switch {
		case suffix == versionSuffix:
			if dst.version, err = decodeVersion(r.Value, false); err != nil {
				return false, fmt.Errorf("record: version of record %v: %w", pk, err)
			}
			dst.hasVersion = true
		case suffix == unsplitSuffix:
			if found {
				return false, fmt.Errorf("record: record %v has an unsplit value and chunks: %w", pk, ErrCorruptStore)
			}
			dst.raw, found = r.Value, true
			next = -1
		case suffix == next:
			dst.raw = append(dst.raw, r.Value...)
			dst.split, found = true, true
			next++
		default:
			return false, fmt.Errorf("record: record %v has chunk %d out of order: %w", pk, suffix, ErrCorruptStore)
		}
	}
	dst.versionRead = found
	return found, nil
}

func chunkSuffix(key []byte, at int) (int64, error) {
	t, err := tuple.Unpack(key[at:])
	if err != nil || len(t) != 1 {
		return 0, fmt.Errorf("record: record key %s has no chunk suffix: %w", kv.Printable(key), ErrCorruptStore)
	}
	return suffixValue(key, t[0])
}

// suffixValue is the chunk number of the suffix element s of a record key.
func suffixValue(key []byte, s any) (int64, error) {
	n, ok := s.(int64)
	if !ok {
		return 0, fmt.Errorf("record: record key %s has suffix %v: %w", kv.Printable(key), s, ErrCorruptStore)
	}
	return n, nil
}

// writeRecord stores val under pkPrefix. An update first clears the old record's whole key range
// (chunks and version), so nothing of it survives whichever side wrote it.
func (s *Store) writeRecord(pkPrefix, key0 []byte, old *rawRecord, val []byte) {
	if old != nil {
		s.clearRecord(pkPrefix, key0)
	}
	if len(val) <= splitChunkSize {
		s.tr.Set(key0, val)
		return
	}
	for i, n := 0, int64(1); i < len(val); i, n = i+splitChunkSize, n+1 {
		end := min(i+splitChunkSize, len(val))
		s.tr.Set(chunkKey(pkPrefix, n), val[i:end])
	}
}

// clearRecord removes every key of the record at pkPrefix: the range of its suffixes, or the one
// key of a store without the unsplit suffix.
func (s *Store) clearRecord(pkPrefix, key0 []byte) {
	if len(key0) == len(pkPrefix) {
		s.tr.Clear(key0)
		return
	}
	s.tr.ClearRange(prefixRange(pkPrefix))
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
	// The message is new: merging into it is unmarshalling without first resetting it.
	if err := (proto.UnmarshalOptions{Merge: true}).Unmarshal(inner, msg); err != nil {
		return nil, fmt.Errorf("record: record %v of type %s: %v: %w", r.pk, rt.name, err, ErrCorruptStore)
	}
	if !r.versionRead && s.md.storeRecordVersions {
		// A scan of a store that keeps versions apart from the records (before format 6).
		pkPrefix, _, err := s.recordKey(r.pk)
		if err != nil {
			return nil, err
		}
		l := s.startVersionRead(pkPrefix, r.pk)
		if r.version, r.hasVersion, err = l.get(); err != nil {
			return nil, err
		}
	}
	if !r.hasVersion {
		return &Record{Type: rt, PrimaryKey: r.pk, Message: msg, Size: len(r.raw), Split: r.split}, nil
	}
	// The record and its version in one allocation.
	rv := &versionedRecord{Record: Record{Type: rt, PrimaryKey: r.pk, Message: msg, Size: len(r.raw), Split: r.split}, v: r.version}
	rv.Record.Version = &rv.v
	return &rv.Record, nil
}

// versionedRecord is a Record with room for its version.
type versionedRecord struct {
	Record
	v tuple.Versionstamp
}
