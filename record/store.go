package record

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/record/internal/storepb"
	"github.com/layerkit/layerkit/tuple"
)

// Keyspace ids: the first tuple element after the store prefix (FDBRecordStoreKeyspace in the
// Java Record Layer).
const (
	keyStoreInfo         = 0
	keyRecord            = 1
	keyIndex             = 2
	keyIndexSecondary    = 3
	keyRecordCount       = 4
	keyIndexState        = 5
	keyIndexRange        = 6
	keyUniqueViolations  = 7
	keyRecordVersion     = 8
	keyIndexBuild        = 9
	unsplitSuffix        = 0
	splitChunkSize       = 100_000
	maxRecordsForRebuild = 200 // FDBRecordStore.MAX_RECORDS_FOR_REBUILD
)

// FormatVersion is the store format this package writes and the newest it reads: the Java
// Record Layer's HEADER_USER_FIELDS (8). Records are always stored with a suffix (suffix 0 when
// unsplit) and record versions are not kept.
const FormatVersion = 8

// IndexState says how an index is used. The codes are the Java Record Layer's.
type IndexState int

// Index states.
const (
	// Readable indexes are maintained and used by queries. It is the state of an index without a
	// state key.
	Readable IndexState = 0
	// WriteOnly indexes are maintained but not used by queries (being built).
	WriteOnly IndexState = 1
	// Disabled indexes are neither maintained nor used; their entries are cleared.
	Disabled IndexState = 2
)

// String returns the Java Record Layer's name of the state.
func (s IndexState) String() string {
	switch s {
	case Readable:
		return "READABLE"
	case WriteOnly:
		return "WRITE_ONLY"
	case Disabled:
		return "DISABLED"
	}
	return fmt.Sprintf("IndexState(%d)", int(s))
}

// Prefix is where a store lives: a subspace.Subspace, a directory, or anything with the raw
// prefix bytes.
type Prefix interface {
	Bytes() []byte
}

// Store is a record store opened in one transaction: the metadata, the store's prefix, and the
// store header and index states read in that transaction. Open a Store in every transaction that
// uses it (it costs two pipelined reads); that is what makes index state changes and metadata
// upgrades by other clients take effect at once, as in the Java Record Layer.
//
// A Store is safe for concurrent use by the goroutines of its transaction, except that
// SetIndexState and RebuildIndex must not overlap other calls.
type Store struct {
	ctx     context.Context
	tr      kv.Transaction
	md      *MetaData
	prefix  []byte
	records []byte // prefix + pack(1)
	header  *storepb.DataStoreInfo
	states  map[string]IndexState
	ixKeys  map[string][]byte // index name → prefix + pack(2, name)
}

// Open opens the record store at prefix in tr, creating it when the prefix is empty: it reads
// (or writes) the store header at S+(0) and the index states at S+(5, …).
//
// A store whose header has a newer metadata version than md fails with ErrStoreTooNew. A store
// with an older version is upgraded as the Java Record Layer's checkVersion does: the header is
// rewritten, the data of the metadata's former indexes removed since is cleared, and each index
// added or changed since is made READABLE at once when it covers only record types newer than
// the store (SetSinceVersion), rebuilt in this transaction when the store holds at most 200
// records, or else marked DISABLED until BuildIndex builds it (see upgradeIndexes). A prefix with
// keys but no header fails with ErrStoreNotEmpty.
//
// Open writes only when it creates or upgrades the store, so it is safe to retry.
func Open(ctx context.Context, tr kv.Transaction, md *MetaData, prefix Prefix) (*Store, error) {
	if md == nil {
		return nil, errors.New("record: Open needs metadata")
	}
	if prefix == nil {
		return nil, errors.New("record: Open needs a prefix")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := append([]byte(nil), prefix.Bytes()...)
	s := &Store{ctx: ctx, tr: tr, md: md, prefix: p, ixKeys: make(map[string][]byte, len(md.indexes))}
	s.records = s.key(keyRecord)
	for _, ix := range md.indexes {
		s.ixKeys[ix.Name] = s.key(keyIndex, ix.Name)
	}
	headerKey := s.key(keyStoreInfo)
	hf := tr.Get(headerKey)
	sf := tr.GetRange(s.subRange(keyIndexState), kv.RangeOptions{Mode: kv.StreamingWantAll})
	raw, err := hf.Get()
	if err != nil {
		return nil, err
	}
	stateRows, err := sf.GetSlice()
	if err != nil {
		return nil, err
	}
	if err := s.readStates(stateRows); err != nil {
		return nil, err
	}
	if raw == nil {
		return s, s.create(headerKey)
	}
	s.header = &storepb.DataStoreInfo{}
	if err := proto.Unmarshal(raw, s.header); err != nil {
		return nil, fmt.Errorf("record: store header at %s: %v: %w", kv.Printable(headerKey), err, ErrCorruptStore)
	}
	if v := s.header.GetFormatVersion(); v > FormatVersion {
		return nil, fmt.Errorf("record: store has format version %d, newer than %d: %w", v, FormatVersion, ErrStoreTooNew)
	}
	if s.header.GetOmitUnsplitRecordSuffix() {
		return nil, fmt.Errorf("record: store omits the unsplit record suffix, which this package does not read: %w", ErrStoreTooNew)
	}
	stored := int(s.header.GetMetaDataversion())
	switch {
	case stored > md.version:
		return nil, fmt.Errorf("record: store has metadata version %d, newer than %d: %w", stored, md.version, ErrStoreTooNew)
	case stored < md.version:
		if err := s.upgrade(headerKey, stored); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// MetaData returns the store's metadata.
func (s *Store) MetaData() *MetaData { return s.md }

// Transaction returns the transaction the store was opened in.
func (s *Store) Transaction() kv.Transaction { return s.tr }

// StoreInfo is what the store header says.
type StoreInfo struct {
	// FormatVersion is the store format version (see FormatVersion).
	FormatVersion int
	// MetaDataVersion is the version of the metadata the store was last opened with.
	MetaDataVersion int
	// UserVersion is the application's own version number (the Java Record Layer's user
	// version); this package keeps it but never sets it.
	UserVersion int
	// LastUpdate is when the header was last written.
	LastUpdate time.Time
}

// Info returns what the store header says, as read (or written) when the store was opened.
func (s *Store) Info() StoreInfo {
	return StoreInfo{
		FormatVersion:   int(s.header.GetFormatVersion()),
		MetaDataVersion: int(s.header.GetMetaDataversion()),
		UserVersion:     int(s.header.GetUserVersion()),
		LastUpdate:      time.UnixMilli(int64(s.header.GetLastUpdateTime())),
	}
}

// IndexState returns the state of the named index as read in this transaction.
func (s *Store) IndexState(name string) (IndexState, error) {
	if s.md.byIndex[name] == nil {
		return 0, fmt.Errorf("record: index %q: %w", name, ErrUnknownIndex)
	}
	return s.states[name], nil
}

func (s *Store) create(headerKey []byte) error {
	rows, err := s.tr.GetRange(kv.Range{Begin: s.prefix, End: strincOrEnd(s.prefix)}, kv.RangeOptions{Limit: 1}).GetSlice()
	if err != nil {
		return err
	}
	if len(rows) > 0 {
		return fmt.Errorf("record: key %s under store prefix %s: %w", kv.Printable(rows[0].Key), kv.Printable(s.prefix), ErrStoreNotEmpty)
	}
	s.header = &storepb.DataStoreInfo{
		FormatVersion:   proto.Int32(FormatVersion),
		MetaDataversion: proto.Int32(int32(s.md.version)),
	}
	return s.writeHeader(headerKey)
}

func (s *Store) writeHeader(headerKey []byte) error {
	s.header.LastUpdateTime = proto.Uint64(uint64(time.Now().UnixMilli()))
	b, err := proto.Marshal(s.header)
	if err != nil {
		return fmt.Errorf("record: encode store header: %w", err)
	}
	s.tr.Set(headerKey, b)
	return nil
}

// upgrade moves the store from metadata version stored to the current one.
func (s *Store) upgrade(headerKey []byte, stored int) error {
	if err := s.upgradeIndexes(stored); err != nil {
		return err
	}
	if s.header.GetFormatVersion() < FormatVersion {
		s.header.FormatVersion = proto.Int32(FormatVersion)
	}
	s.header.MetaDataversion = proto.Int32(int32(s.md.version))
	return s.writeHeader(headerKey)
}

func (s *Store) readStates(rows []kv.KeyValue) error {
	s.states = make(map[string]IndexState, len(rows))
	base := s.key(keyIndexState)
	for _, r := range rows {
		kt, err := tuple.Unpack(r.Key[len(base):])
		if err != nil || len(kt) != 1 {
			return fmt.Errorf("record: index state key %s: %w", kv.Printable(r.Key), ErrCorruptStore)
		}
		name, ok := kt[0].(string)
		if !ok {
			continue // an index named by an integer subspace key: not one of ours
		}
		vt, err := tuple.Unpack(r.Value)
		if err != nil || len(vt) != 1 {
			return fmt.Errorf("record: index state of %q: %w", name, ErrCorruptStore)
		}
		code, ok := vt[0].(int64)
		if !ok {
			return fmt.Errorf("record: index state of %q is %v: %w", name, vt[0], ErrCorruptStore)
		}
		s.states[name] = IndexState(code)
	}
	return nil
}

// SetIndexState changes the state of the named index in this transaction, as the Java Record
// Layer's markIndexWriteOnly, markIndexDisabled and markIndexReadable do: WRITE_ONLY keeps the
// entries (and, coming from READABLE, records the whole key space as built at S+(6, name));
// DISABLED clears the entries, the build's range set, the uniqueness violations and the build
// data; READABLE is refused unless the build's range set covers every record (use
// BuildIndex or RebuildIndex to build an index). See index_states.go.
func (s *Store) SetIndexState(name string, state IndexState) error {
	ix := s.md.byIndex[name]
	if ix == nil {
		return fmt.Errorf("record: index %q: %w", name, ErrUnknownIndex)
	}
	return s.changeIndexState(ix, state)
}

// key returns prefix + pack(elems).
func (s *Store) key(elems ...any) []byte {
	b, err := tuple.Tuple(elems).AppendPack(append(make([]byte, 0, len(s.prefix)+16), s.prefix...))
	if err != nil {
		panic(err) // only constant ids and index names reach here
	}
	return b
}

func (s *Store) subRange(id int) kv.Range {
	p := s.key(id)
	return kv.Range{Begin: append(append([]byte(nil), p...), 0x00), End: append(p, 0xff)}
}

func (s *Store) indexRange(ix *Index) kv.Range {
	p := s.ixKeys[ix.Name]
	return kv.Range{Begin: append(append([]byte(nil), p...), 0x00), End: append(append([]byte(nil), p...), 0xff)}
}

func strincOrEnd(p []byte) []byte {
	if e, err := kv.Strinc(p); err == nil {
		return e
	}
	return []byte{0xff}
}
