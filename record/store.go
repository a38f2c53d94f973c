package record

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/record/internal/storepb"
	"github.com/layerkit/layerkit/subspace"
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
	keySlidingWindow     = 10 // INDEX_SLIDING_WINDOW_SPACE: written by Java's leaderboard indexes only; cleared with an index
	unsplitSuffix        = 0
	splitChunkSize       = 100_000
	maxRecordsForRebuild = 200 // FDBRecordStore.MAX_RECORDS_FOR_REBUILD
)

// IndexState says how an index is used. The codes are the Java Record Layer's (IndexState.java).
type IndexState int

// Index states.
const (
	// Readable indexes are maintained and used by queries. It is the state of an index without a
	// state key.
	Readable IndexState = 0
	// WriteOnly indexes are maintained but not used by queries (being built). A unique index in
	// this state records violations under S+(7, index) instead of refusing the save.
	WriteOnly IndexState = 1
	// Disabled indexes are neither maintained nor used; their entries are cleared.
	Disabled IndexState = 2
	// ReadableUniquePending is a unique index that is built but still has recorded violations:
	// queries may use it (without assuming uniqueness), saves that would add a violation are
	// refused, and deletes clear the violations they resolve.
	ReadableUniquePending IndexState = 3
	// WriteOnlyWithQueue is the Java Record Layer's build state whose updates go to a pending
	// queue; this package does not maintain that queue, so a store with such an index refuses
	// record writes.
	WriteOnlyWithQueue IndexState = 4
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
	case ReadableUniquePending:
		return "READABLE_UNIQUE_PENDING"
	case WriteOnlyWithQueue:
		return "WRITE_ONLY_WITH_QUEUE"
	}
	return fmt.Sprintf("IndexState(%d)", int(s))
}

// Scannable reports whether queries may read an index in this state: READABLE or
// READABLE_UNIQUE_PENDING.
func (s IndexState) Scannable() bool { return s == Readable || s == ReadableUniquePending }

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
	ctx      context.Context
	tr       kv.Transaction // a readOnlyTx when opened by OpenReadOnly
	readOnly bool
	md       *MetaData
	prefix   []byte
	records  []byte // prefix + pack(1)
	header   *storepb.DataStoreInfo
	states   map[string]IndexState
	ixKeys   map[string][]byte // index name → prefix + pack(2, name)
	// countKey is the record count key maintained at S+(4): the metadata's, else the header's.
	countKey KeyExpression
	// refuseRecordWrites, when set, is why saves and deletes are refused (a store lock, an
	// index state this package cannot maintain).
	refuseRecordWrites error

	mu sync.Mutex // guards what follows
	// localVersions are the version numbers given in this transaction, by record key prefix.
	localVersions    map[string]uint16
	nextLocalVersion int
	// maxVersionParams are the versionstamped values written to MAX_EVER_VERSION keys in this
	// transaction, the largest per key.
	maxVersionParams map[string][]byte
}

// Open opens the record store at prefix in tr, creating it when the prefix is empty: it reads
// (or writes) the store header at S+(0) and the index states at S+(5, …).
//
// A store whose header has a newer metadata version than md, or a format version above
// MaxFormatVersion, fails with ErrStoreTooNew. An older store is upgraded as the Java Record
// Layer's checkVersion upgrades it: the format version is raised to DefaultFormatVersion (or
// WithFormatVersion's), the metadata version to md's, the data of the metadata's former indexes
// removed since is cleared, and each index added or changed since is made READABLE at once when
// it covers only record types newer than the store (SetSinceVersion), rebuilt in this
// transaction when the store is known to hold at most 200 records it would read, or else marked
// DISABLED until BuildIndex builds it (see upgradeIndexes). A prefix with keys but no header
// fails with ErrStoreNotEmpty.
//
// Open writes only when it creates or upgrades the store, so it is safe to retry. A directory can
// be the prefix as it is (the root of a partition is refused with ErrPartitionRoot).
func Open(ctx context.Context, tr kv.Transaction, md *MetaData, prefix Prefix, opts ...OpenOption) (*Store, error) {
	return open(ctx, tr, false, md, prefix, opts)
}

// OpenReadOnly opens the record store at prefix in a read-only transaction, such as the one
// kv.ReadTransact gives: loads, queries and aggregate reads work, and every method that writes
// fails with ErrReadOnly. A prefix without a store reads as an empty store; a store that Open
// would upgrade (older metadata version, a new user version) fails with ErrStoreNeedsUpgrade. A
// store older than DefaultFormatVersion is read at its own format.
func OpenReadOnly(ctx context.Context, tr kv.ReadTransaction, md *MetaData, prefix Prefix, opts ...OpenOption) (*Store, error) {
	return open(ctx, readOnlyTx{tr}, true, md, prefix, opts)
}

func open(ctx context.Context, tr kv.Transaction, readOnly bool, md *MetaData, prefix Prefix, opts []OpenOption) (*Store, error) {
	if md == nil {
		return nil, errors.New("record: Open needs metadata")
	}
	if prefix == nil {
		return nil, errors.New("record: Open needs a prefix")
	}
	if ss, ok := prefix.(interface {
		Subspace() (subspace.Subspace, error)
	}); ok {
		// A directory: the root of a partition holds the partition's tree, not a store.
		if _, err := ss.Subspace(); err != nil {
			return nil, fmt.Errorf("record: store prefix %v: %w", prefix, err)
		}
	}
	o := openOptions{formatVersion: DefaultFormatVersion}
	for _, opt := range opts {
		opt(&o)
	}
	if o.formatVersion < MinFormatVersion || o.formatVersion > MaxFormatVersion {
		return nil, fmt.Errorf("record: format version %d is not between %d and %d", o.formatVersion, MinFormatVersion, MaxFormatVersion)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := append([]byte(nil), prefix.Bytes()...)
	s := &Store{ctx: ctx, tr: tr, readOnly: readOnly, md: md, prefix: p, ixKeys: make(map[string][]byte, len(md.indexes))}
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
	newStore := raw == nil
	if newStore {
		if err := s.checkEmpty(); err != nil {
			return nil, err
		}
		s.header = &storepb.DataStoreInfo{}
	} else if err := s.readHeader(headerKey, raw); err != nil {
		return nil, err
	}
	oldCacheable := s.header.GetCacheable()
	if readOnly && !newStore {
		o.formatVersion = 0 // read at the stored format: nothing to write
	}
	dirty, err := s.checkVersion(newStore, o)
	if err != nil {
		return nil, err
	}
	if readOnly && dirty && !newStore {
		return nil, fmt.Errorf("record: store at %s (metadata version %d, opened with %d): %w", kv.Printable(s.prefix), s.header.GetMetaDataversion(), md.version, ErrStoreNeedsUpgrade)
	}
	if md.recordCountKey != nil {
		s.countKey = md.recordCountKey
	}
	if s.header.GetRecordCountState() == storepb.DataStoreInfo_DISABLED {
		s.countKey = nil
	}
	if dirty && !readOnly {
		if err := s.writeHeader(oldCacheable); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// MetaData returns the store's metadata.
func (s *Store) MetaData() *MetaData { return s.md }

// Transaction returns the transaction the store was opened in. For a store opened with
// OpenReadOnly it is a kv.Transaction that reads through the read-only transaction, drops
// writes and fails Commit: write through the transaction you own instead.
func (s *Store) Transaction() kv.Transaction { return s.tr }

// StoreInfo is what the store header says.
type StoreInfo struct {
	// FormatVersion is the store format version (MinFormatVersion to MaxFormatVersion).
	FormatVersion int
	// MetaDataVersion is the version of the metadata the store was last opened with.
	MetaDataVersion int
	// UserVersion is the application's own version number (the Java Record Layer's user
	// version), set through WithUserVersion.
	UserVersion int
	// LastUpdate is when the header was last written.
	LastUpdate time.Time
	// OmitUnsplitSuffix reports that unsplit records are stored without the suffix 0, as stores
	// older than format 5 without split records were.
	OmitUnsplitSuffix bool
	// Cacheable reports that the store's state is cacheable (see SetStateCacheable).
	Cacheable bool
	// RecordCountKey is the record count key the store maintains, or nil.
	RecordCountKey KeyExpression
	// Incarnation is the Java Record Layer's incarnation number, kept as it is.
	Incarnation int
}

// Info returns what the store header says, as read (or written) when the store was opened.
func (s *Store) Info() StoreInfo {
	return StoreInfo{
		FormatVersion:     int(s.header.GetFormatVersion()),
		MetaDataVersion:   int(s.header.GetMetaDataversion()),
		UserVersion:       int(s.header.GetUserVersion()),
		LastUpdate:        time.UnixMilli(int64(s.header.GetLastUpdateTime())),
		OmitUnsplitSuffix: s.omitsUnsplitSuffix(),
		Cacheable:         s.header.GetCacheable(),
		RecordCountKey:    s.countKey,
		Incarnation:       int(s.header.GetIncarnation()),
	}
}

// IndexState returns the state of the named index as read in this transaction.
func (s *Store) IndexState(name string) (IndexState, error) {
	if s.md.byIndex[name] == nil {
		return 0, fmt.Errorf("record: index %q: %w", name, ErrUnknownIndex)
	}
	return s.states[name], nil
}

// checkEmpty refuses to create a store under a prefix that holds keys.
func (s *Store) checkEmpty() error {
	rows, err := s.tr.GetRange(kv.Range{Begin: s.prefix, End: strincOrEnd(s.prefix)}, kv.RangeOptions{Limit: 1}).GetSlice()
	if err != nil {
		return err
	}
	if len(rows) > 0 {
		return fmt.Errorf("record: key %s under store prefix %s: %w", kv.Printable(rows[0].Key), kv.Printable(s.prefix), ErrStoreNotEmpty)
	}
	return nil
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
		if !ok || code < int64(Readable) || code > int64(WriteOnlyWithQueue) {
			return fmt.Errorf("record: index state of %q is %v: %w", name, vt[0], ErrCorruptStore)
		}
		s.states[name] = IndexState(code)
		if IndexState(code) == WriteOnlyWithQueue && s.md.byIndex[name] != nil {
			s.refuseRecordWrites = fmt.Errorf("record: index %q is %v, whose pending-write queue this package does not maintain: %w", name, WriteOnlyWithQueue, ErrUnsupportedStore)
		}
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
	if err := s.writable(); err != nil {
		return err
	}
	return s.changeIndexState(ix, state)
}

// writeIndexState stores an index state (no key for READABLE) and bumps the metadata version key
// of a cacheable store (FDBRecordStore.updateIndexState).
func (s *Store) writeIndexState(ix *Index, state IndexState) {
	key := s.key(keyIndexState, ix.Name)
	if state == Readable {
		s.tr.Clear(key)
	} else {
		s.tr.Set(key, tuple.Tuple{int64(state)}.Pack())
	}
	if s.header.GetCacheable() {
		s.bumpMetadataVersion()
	}
	s.states[ix.Name] = state
}

// writable reports why this store cannot be written, or nil.
func (s *Store) writable() error {
	if s.readOnly {
		return ErrReadOnly
	}
	return nil
}

// recordsWritable reports why records cannot be saved or deleted, or nil.
func (s *Store) recordsWritable() error {
	if err := s.writable(); err != nil {
		return err
	}
	return s.refuseRecordWrites
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

// indexRange is every key of the index's subspace: S+(2, name) itself (an ungrouped aggregate's
// key) and every key that extends it.
func (s *Store) indexRange(ix *Index) kv.Range {
	p := s.ixKeys[ix.Name]
	return kv.Range{Begin: append([]byte(nil), p...), End: strincOrEnd(p)}
}

func strincOrEnd(p []byte) []byte {
	if e, err := kv.Strinc(p); err == nil {
		return e
	}
	return []byte{0xff}
}
