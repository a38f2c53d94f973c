package kvtest

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
)

func versionstampCases() []testCase {
	return []testCase{
		{"GetVersionstamp", testGetVersionstamp},
		{"Value", testVersionstampedValue},
		{"Key", testVersionstampedKey},
		{"SameWithinTransaction", testVersionstampSameWithinTransaction},
		{"InvalidOffset", testVersionstampInvalidOffset},
		{"ReadBackUnreadable", testVersionstampUnreadable},
		{"Increasing", testVersionstampIncreasing},
		{"KeySizeCountsOffset", testVersionstampKeySize},
		{"UnreadableFromVersionZero", testVersionstampUnreadableFromZero},
		{"UnreadablePersists", testVersionstampUnreadablePersists},
		{"LimitedReadBeforeUnreadable", testVersionstampLimitedRead},
		{"ClearRemovesPlaceholder", testVersionstampClearedPlaceholder},
		{"ReadOnlyCommit", testVersionstampReadOnly},
		{"FailedCommit", testVersionstampFailedCommit},
	}
}

// placeholder is ten bytes the engine must overwrite with the versionstamp.
var placeholder = repeat(0xaa, 10)

func testGetVersionstamp(t *testing.T, s *suite) {
	db := s.db(t)
	tr := newTr(t, db)
	tr.Set(b("k"), b("v"))
	vsf := tr.GetVersionstamp() // obtained before commit, ready after
	require.NoError(t, tr.Commit())
	vs, err := vsf.Get()
	require.NoError(t, err)
	cv, err := tr.GetCommittedVersion()
	require.NoError(t, err)
	require.Equal(t, uint64(cv), binary.BigEndian.Uint64(vs[:8]), "the first 8 bytes are the commit version, big-endian")
}

func testVersionstampedValue(t *testing.T, s *suite) {
	db := s.db(t)
	tr := newTr(t, db)
	tr.Atomic(kv.SetVersionstampedValue, b("vv"), cat(b("pre"), placeholder, b("post"), le32(3)))
	tr.Atomic(kv.SetVersionstampedValue, b("v0"), cat(placeholder, le32(0)))
	vsf := tr.GetVersionstamp()
	require.NoError(t, tr.Commit())
	vs, err := vsf.Get()
	require.NoError(t, err)
	r := newTr(t, db)
	require.Equal(t, hexs(cat(b("pre"), vs[:], b("post"))), hexs(get(t, r, b("vv"))), "the stamp is written at the offset and the offset suffix dropped")
	require.Equal(t, hexs(vs[:]), hexs(get(t, r, b("v0"))), "offset 0")
}

func testVersionstampedKey(t *testing.T, s *suite) {
	db := s.db(t)
	tr := newTr(t, db)
	tr.Atomic(kv.SetVersionstampedKey, cat(b("vk/"), placeholder, b("/tail"), le32(3)), b("value"))
	vsf := tr.GetVersionstamp()
	require.NoError(t, tr.Commit())
	vs, err := vsf.Get()
	require.NoError(t, err)
	got := getRange(t, newTr(t, db), rng("vk/", "vk0"), kv.RangeOptions{})
	require.Len(t, got, 1)
	require.Equal(t, hexs(cat(b("vk/"), vs[:], b("/tail"))), hexs(got[0].Key), "the key carries the stamp at the offset")
	require.Equal(t, "value", string(got[0].Value), "the parameter is the value")
}

func testVersionstampSameWithinTransaction(t *testing.T, s *suite) {
	db := s.db(t)
	tr := newTr(t, db)
	tr.Atomic(kv.SetVersionstampedKey, cat(b("q/"), placeholder, b("/1"), le32(2)), b("one"))
	tr.Atomic(kv.SetVersionstampedKey, cat(b("q/"), placeholder, b("/2"), le32(2)), b("two"))
	tr.Atomic(kv.SetVersionstampedValue, b("q-value"), cat(placeholder, le32(0)))
	require.NoError(t, tr.Commit())
	r := newTr(t, db)
	got := getRange(t, r, rng("q/", "q0"), kv.RangeOptions{})
	require.Len(t, got, 2)
	stamp := get(t, r, b("q-value"))
	require.Equal(t, hexs(stamp), hexs(got[0].Key[2:12]), "one stamp per transaction")
	require.Equal(t, hexs(stamp), hexs(got[1].Key[2:12]))
	require.Equal(t, "/1", string(got[0].Key[12:]))
	require.Equal(t, "/2", string(got[1].Key[12:]))
}

func testVersionstampInvalidOffset(t *testing.T, s *suite) {
	db := s.db(t)
	for _, c := range []struct {
		name       string
		op         kv.MutationType
		key, param []byte
	}{
		{"value offset past the end", kv.SetVersionstampedValue, b("k"), cat(b("abc"), placeholder, le32(4))},
		{"value shorter than its offset", kv.SetVersionstampedValue, b("k"), b("ab")},
		{"value without room for the stamp", kv.SetVersionstampedValue, b("k"), cat(repeat(0, 9), le32(0))},
		{"key offset past the end", kv.SetVersionstampedKey, cat(b("k/"), placeholder, le32(3)), b("v")},
		{"key shorter than its offset", kv.SetVersionstampedKey, b("k"), b("v")},
		{"key with a negative offset", kv.SetVersionstampedKey, cat(b("k/"), placeholder, le32(-1)), b("v")},
	} {
		tr := newTr(t, db)
		tr.Set(b("other"), b("x"))
		tr.Atomic(c.op, c.key, c.param)
		requireCode(t, kv.ErrClientInvalidOperation, tr.Commit(), c.name)
	}
	require.Nil(t, getDB(t, db, b("other")), "nothing of a transaction with an invalid versionstamp op is committed")
}

func testVersionstampUnreadable(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "vv", "old")
	tr := newTr(t, db)
	tr.Atomic(kv.SetVersionstampedValue, b("vv"), cat(placeholder, le32(0)))
	_, err := tr.Get(b("vv")).Get()
	requireCode(t, kv.ErrAccessedUnreadable, err, "reading a key written with a versionstamped value")

	tr2 := newTr(t, db)
	tr2.Atomic(kv.SetVersionstampedKey, cat(b("vk/"), placeholder, le32(3)), b("v"))
	_, err = tr2.GetRange(rng("vk/", "vk0"), kv.RangeOptions{}).GetSlice()
	requireCode(t, kv.ErrAccessedUnreadable, err, "reading a range that holds a versionstamped key")
	_, err = tr2.Get(b("unrelated")).Get()
	require.NoError(t, err, "other keys stay readable")
}

func testVersionstampIncreasing(t *testing.T, s *suite) {
	db := s.db(t)
	var prev []byte
	for i := range 10 {
		tr := newTr(t, db)
		tr.Set(b("k"), []byte{byte(i)})
		vsf := tr.GetVersionstamp()
		require.NoError(t, tr.Commit())
		vs, err := vsf.Get()
		require.NoError(t, err)
		require.Len(t, vs, 10)
		if prev != nil {
			require.Positive(t, bytes.Compare(vs[:], prev), "stamps increase with commit order: %x after %x", vs, prev)
		}
		prev = bytes.Clone(vs[:])
	}
}

// The key limit applies to the key as given to SET_VERSIONSTAMPED_KEY, its 4-byte offset suffix
// included (ReadYourWrites.actor.cpp, atomicOp checks key.size() before the versionstamp
// range): a key that would be 10,000 bytes once stamped is refused if the suffix makes it longer.
func testVersionstampKeySize(t *testing.T, s *suite) {
	db := s.db(t)
	key := func(n int) []byte { // n bytes in all, the stamp at offset 0
		return cat(placeholder, repeat('k', n-14), le32(0))
	}
	write(t, db, func(tr kv.Transaction) { tr.Atomic(kv.SetVersionstampedKey, key(kv.MaxKeySize), b("v")) })
	for _, n := range []int{kv.MaxKeySize + 1, kv.MaxKeySize + 4} {
		tr := newTr(t, db)
		tr.Atomic(kv.SetVersionstampedKey, key(n), b("v"))
		requireCode(t, kv.ErrKeyTooLarge, tr.Commit(), "a versionstamped key of %d bytes with its suffix", n)
	}
}

// stampAt returns prefix + a versionstamp of version v and batch order 0 + the offset suffix
// for offset len(prefix), without the suffix when suffix is false.
func stampAt(prefix string, v uint64, suffix bool) []byte {
	k := append(b(prefix), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	binary.BigEndian.PutUint64(k[len(prefix):], v)
	if suffix {
		k = append(k, le32(len(prefix))...)
	}
	return k
}

// The keys a versionstamped key may land on are unreadable from the stamp of the read version,
// or from version 0 when the transaction has not taken one (ReadYourWrites.actor.cpp, atomicOp:
// getVersionstampKeyRange with getCachedReadVersion().orDefault(0)).
func testVersionstampUnreadableFromZero(t *testing.T, s *suite) {
	db := s.db(t)
	tr := newTr(t, db)
	tr.Atomic(kv.SetVersionstampedKey, cat(b("vz/"), placeholder, le32(3)), b("v"))
	_, err := tr.Get(stampAt("vz/", 1, false)).Get()
	requireCode(t, kv.ErrAccessedUnreadable, err, "without a read version, stamps from version 0 are unreadable")

	tr = startTr(t, db)
	rv, err := tr.GetReadVersion().Get()
	require.NoError(t, err)
	tr.Atomic(kv.SetVersionstampedKey, cat(b("vz/"), placeholder, le32(3)), b("v"))
	require.Nil(t, get(t, tr, stampAt("vz/", 1, false)), "with a read version, a stamp of an older version is readable")
	_, err = tr.Get(stampAt("vz/", uint64(rv), false)).Get()
	requireCode(t, kv.ErrAccessedUnreadable, err, "and the stamp of the read version is not")
}

// Once unreadable, a key stays unreadable whatever the transaction writes there later, until it
// clears it (WriteMap.cpp: mutate keeps is_unreadable; clear resets it).
func testVersionstampUnreadablePersists(t *testing.T, s *suite) {
	db := s.db(t)
	tr := newTr(t, db)
	tr.Atomic(kv.SetVersionstampedValue, b("vv"), cat(placeholder, le32(0)))
	tr.Set(b("vv"), b("plain"))
	_, err := tr.Get(b("vv")).Get()
	requireCode(t, kv.ErrAccessedUnreadable, err, "a set after a versionstamped value leaves the key unreadable")
	tr.Clear(b("vv"))
	require.Nil(t, get(t, tr, b("vv")), "a clear makes it readable")
	tr.Set(b("vv"), b("again"))
	require.Equal(t, "again", string(get(t, tr, b("vv"))), "and it stays so")
	require.NoError(t, tr.Commit())
	require.Equal(t, "again", string(getDB(t, db, b("vv"))))

	tr = startTr(t, db)
	rv, err := tr.GetReadVersion().Get()
	require.NoError(t, err)
	inside := stampAt("vk/", uint64(rv)+1, false)
	tr.Set(inside, b("plain"))
	tr.Atomic(kv.SetVersionstampedKey, cat(b("vk/"), placeholder, le32(3)), b("v"))
	_, err = tr.Get(inside).Get()
	requireCode(t, kv.ErrAccessedUnreadable, err, "a key written before, where a versionstamped key may land, becomes unreadable")
	later := stampAt("vk/", uint64(rv)+2, false)
	tr.Set(later, b("plain"))
	_, err = tr.Get(later).Get()
	requireCode(t, kv.ErrAccessedUnreadable, err, "and so is one written there after")
}

// A range read stops at its limit before reaching an unreadable key and succeeds, as the
// read-your-writes iterator only fails when it reaches an unreadable segment.
func testVersionstampLimitedRead(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "lr/a", "1", "lr/b", "2")
	tr := newTr(t, db)
	tr.Atomic(kv.SetVersionstampedValue, b("lr/c"), cat(placeholder, le32(0)))
	require.Equal(t, []string{"lr/a", "lr/b"}, keys(getRange(t, tr, rng("lr/", "lr0"), kv.RangeOptions{Limit: 2})), "a limited read that stops before the unreadable key")
	_, err := tr.GetRange(rng("lr/", "lr0"), kv.RangeOptions{Limit: 3}).GetSlice()
	requireCode(t, kv.ErrAccessedUnreadable, err, "one that reaches it fails")
}

// A clear over where a versionstamped key waits in the write map (its key as given, with the
// read version's stamp) removes it, as WriteMap::clear removes any write inside.
func testVersionstampClearedPlaceholder(t *testing.T, s *suite) {
	db := s.db(t)
	tr := newTr(t, db)
	tr.Atomic(kv.SetVersionstampedKey, cat(b("cp/"), placeholder, le32(3)), b("v"))
	tr.ClearRange(rng("cp/", "cp0"))
	tr.Set(b("other"), b("x"))
	require.NoError(t, tr.Commit())
	require.Empty(t, getRange(t, newTr(t, db), rng("cp/", "cp0"), kv.RangeOptions{}), "the cleared versionstamped key is not written")
}

// A transaction that wrote nothing has no versionstamp: no_commit_version (2021), as NativeAPI's
// commitMutations sets it for a read-only commit.
func testVersionstampReadOnly(t *testing.T, s *suite) {
	db := s.db(t)
	tr := newTr(t, db)
	get(t, tr, b("k"))
	before := tr.GetVersionstamp()
	require.NoError(t, tr.Commit())
	_, err := before.Get()
	requireCode(t, kv.ErrNoCommitVersion, err, "asked before the commit")
	_, err = tr.GetVersionstamp().Get()
	requireCode(t, kv.ErrNoCommitVersion, err, "asked after the commit")
}

// A failed commit has no versionstamp: the future fails with the commit's error, wrapped in
// transaction_invalid_version (2020) when the commit reached the cluster, as NativeAPI's
// commitAndWatch sets it.
func testVersionstampFailedCommit(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "k", "1")
	tr := startTr(t, db)
	get(t, tr, b("k"))
	before := tr.GetVersionstamp()
	setKeys(t, db, "k", "2")
	tr.Set(b("x"), b("x"))
	requireConflict(t, tr.Commit(), "setup: the commit conflicts")
	for _, f := range []kv.Future[[10]byte]{before, tr.GetVersionstamp()} {
		_, err := f.Get()
		require.ErrorIs(t, err, kv.ErrNotCommitted, "the commit's error")
		require.ErrorIs(t, err, kv.ErrTransactionInvalidVersion, "and FoundationDB's 2020")
	}

	tr = newTr(t, db)
	tr.Set(repeat('k', kv.MaxKeySize+1), b("v"))
	early := tr.GetVersionstamp()
	requireCode(t, kv.ErrKeyTooLarge, tr.Commit())
	_, err := early.Get()
	require.ErrorIs(t, err, kv.ErrKeyTooLarge, "a commit that never started fails the versionstamp with its error")
}
