package kvtest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func versionCases() []testCase {
	return []testCase{
		{"ReadVersion", testReadVersion},
		{"CommittedVersion", testCommittedVersion},
		{"ReadOnlyCommittedVersion", testReadOnlyCommittedVersion},
		{"FollowsTheClock", testVersionsFollowTheClock},
	}
}

func testReadVersion(t *testing.T, s *suite) {
	db := s.db(t)
	tr := newTr(t, db)
	rv, err := tr.GetReadVersion().Get()
	require.NoError(t, err)
	require.GreaterOrEqual(t, rv, int64(0), "read versions are not negative")
	rv2, err := tr.Snapshot().GetReadVersion().Get()
	require.NoError(t, err)
	require.Equal(t, rv, rv2, "one read version per transaction, snapshot view included")
	get(t, tr, b("k"))
	rv3, err := tr.GetReadVersion().Get()
	require.NoError(t, err)
	require.Equal(t, rv, rv3, "reads do not move the read version")
}

func testCommittedVersion(t *testing.T, s *suite) {
	db := s.db(t)
	var last int64
	for i := range 5 {
		tr := startTr(t, db)
		rv, err := tr.GetReadVersion().Get()
		require.NoError(t, err)
		require.GreaterOrEqual(t, rv, last, "a transaction started after a commit reads at or after its version")
		tr.Set(b("k"), []byte{byte(i)})
		require.NoError(t, tr.Commit())
		cv, err := tr.GetCommittedVersion()
		require.NoError(t, err)
		require.Greater(t, cv, rv, "the commit version is after the read version")
		require.Greater(t, cv, last, "commit versions increase")
		last = cv
	}
}

func testReadOnlyCommittedVersion(t *testing.T, s *suite) {
	db := s.db(t)
	tr := newTr(t, db)
	get(t, tr, b("k"))
	require.NoError(t, tr.Commit())
	cv, err := tr.GetCommittedVersion()
	require.NoError(t, err)
	require.Equal(t, int64(-1), cv, "a read-only transaction has no commit version")
}

// Versions advance with time, about 1,000,000 a second (FoundationDB's VERSIONS_PER_SECOND, which
// the master follows even when nothing commits), so a difference of versions measures elapsed
// time on every engine.
func testVersionsFollowTheClock(t *testing.T, s *suite) {
	db := s.db(t)
	rv := func() int64 {
		v, err := newTr(t, db).GetReadVersion().Get()
		require.NoError(t, err)
		return v
	}
	first := rv()
	time.Sleep(200 * time.Millisecond)
	second := rv()
	require.GreaterOrEqual(t, second-first, int64(150_000), "200 ms without a commit moved read versions by at least 150,000")
	require.Less(t, second-first, int64(3_000_000), "and by well under 3 s worth")

	tr := startTr(t, db)
	before, err := tr.GetReadVersion().Get()
	require.NoError(t, err)
	time.Sleep(50 * time.Millisecond)
	tr.Set(b("k"), b("v"))
	require.NoError(t, tr.Commit())
	cv, err := tr.GetCommittedVersion()
	require.NoError(t, err)
	require.GreaterOrEqual(t, cv-before, int64(40_000), "a commit 50 ms after the read version is about 50,000 versions later")
}
