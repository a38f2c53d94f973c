package kvtest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
)

func metadataVersionCases() []testCase {
	return []testCase{
		{"Bump", testMetadataVersionBump},
		{"ReadConflicts", testMetadataVersionConflict},
		{"Watch", testMetadataVersionWatch},
		{"OtherWritesRefused", testMetadataVersionWrites},
	}
}

// readMetadataVersion reads the metadata version key in a new transaction.
func readMetadataVersion(t *testing.T, db kv.Database) []byte {
	t.Helper()
	return getDB(t, db, kv.MetadataVersionKey())
}

// The metadata version key is readable (ReadYourWritesTransaction::get lets
// \xff/metadataVersion through), and a SET_VERSIONSTAMPED_VALUE of 14 zero bytes sets it to the
// commit's versionstamp (atomicOp allows exactly metadataVersionRequiredValue there).
func testMetadataVersionBump(t *testing.T, s *suite) {
	db := s.db(t)
	before := readMetadataVersion(t, db) // absent on a fresh store; any earlier bump's stamp otherwise
	tr := newTr(t, db)
	kv.BumpMetadataVersion(tr)
	_, err := tr.Get(kv.MetadataVersionKey()).Get()
	requireCode(t, kv.ErrAccessedUnreadable, err, "after a bump, the key is unreadable in the same transaction")
	vsf := tr.GetVersionstamp()
	require.NoError(t, tr.Commit())
	vs, err := vsf.Get()
	require.NoError(t, err)
	after := readMetadataVersion(t, db)
	require.Equal(t, hexs(vs[:]), hexs(after), "the value is the versionstamp of the bump")
	if before != nil {
		require.Positive(t, compareBytes(after, before), "and it moved forward")
	}
}

// A read of the metadata version conflicts with a bump committed after the read version, so a
// transaction that relied on cached metadata retries.
func testMetadataVersionConflict(t *testing.T, s *suite) {
	db := s.db(t)
	err := race(t, db,
		func(tr kv.Transaction) { get(t, tr, kv.MetadataVersionKey()) },
		func(tr kv.Transaction) { kv.BumpMetadataVersion(tr) })
	requireConflict(t, err, "reading the metadata version conflicts with a later bump")
	err = race(t, db,
		func(tr kv.Transaction) { get(t, tr.Snapshot(), kv.MetadataVersionKey()) },
		func(tr kv.Transaction) { kv.BumpMetadataVersion(tr) })
	require.NoError(t, err, "a snapshot read of it does not")
}

// The metadata version key can be watched (ReadYourWritesTransaction::watch lets it through).
func testMetadataVersionWatch(t *testing.T, s *suite) {
	db := s.db(t)
	w := watch(t, db, kv.MetadataVersionKey())
	requireQuiet(t, w, "nothing bumped yet")
	write(t, db, kv.BumpMetadataVersion)
	requireFires(t, w, "a bump fires the watch")
}

// Any other write of the metadata version key fails with client_invalid_operation (2000); other
// system keys stay out of reach (2004).
func testMetadataVersionWrites(t *testing.T, s *suite) {
	db := s.db(t)
	for _, c := range []struct {
		name string
		fn   func(tr kv.Transaction)
		want kv.Error
	}{
		{"Set", func(tr kv.Transaction) { tr.Set(kv.MetadataVersionKey(), b("v")) }, kv.ErrClientInvalidOperation},
		{"versionstamped value with another parameter", func(tr kv.Transaction) {
			tr.Atomic(kv.SetVersionstampedValue, kv.MetadataVersionKey(), cat(placeholder, b("x"), le32(0)))
		}, kv.ErrClientInvalidOperation},
		{"Add", func(tr kv.Transaction) { tr.Atomic(kv.Add, kv.MetadataVersionKey(), []byte{1}) }, kv.ErrClientInvalidOperation},
		{"Clear", func(tr kv.Transaction) { tr.Clear(kv.MetadataVersionKey()) }, kv.ErrKeyOutsideLegalRange},
	} {
		tr := newTr(t, db)
		tr.Set(b("ok"), b("v"))
		c.fn(tr)
		requireCode(t, c.want, tr.Commit(), c.name)
	}
	require.Nil(t, getDB(t, db, b("ok")))
	_, err := newTr(t, db).Get([]byte("\xff/metadataVersion2")).Get()
	requireCode(t, kv.ErrKeyOutsideLegalRange, err, "other system keys are not readable")
}
