package kv

// MetadataVersionKey returns FoundationDB's metadata version key, \xff/metadataVersion: the one
// key of the system keyspace that a transaction may read (a read of it adds a read conflict,
// as any read does) and watch. It is absent until first changed; after that its value is the
// 10-byte versionstamp of the last transaction that changed it. Layers use it to cache
// metadata (the Record Layer's cacheable store headers): a cached copy is valid as long as the
// metadata version has not moved.
//
// It can only be changed with [BumpMetadataVersion]; any other write of it fails the
// transaction with [ErrClientInvalidOperation] (2000). After a bump, reading it in the same
// transaction fails with [ErrAccessedUnreadable] (1036), as for any versionstamped value.
func MetadataVersionKey() []byte { return []byte("\xff/metadataVersion") }

// BumpMetadataVersion sets the metadata version key (see [MetadataVersionKey]) to the
// versionstamp of tr's commit, the only write FoundationDB allows there: a
// SET_VERSIONSTAMPED_VALUE whose parameter is ten placeholder bytes and offset 0.
func BumpMetadataVersion(tr Transaction) {
	tr.Atomic(SetVersionstampedValue, MetadataVersionKey(), make([]byte, 14))
}
