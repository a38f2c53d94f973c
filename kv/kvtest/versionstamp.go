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
