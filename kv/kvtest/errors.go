package kvtest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
)

func errorCases() []testCase {
	return []testCase{
		{"EngineErrorsAreKVErrors", testEngineErrors},
	}
}

// testEngineErrors checks that the errors an engine returns answer errors.Is, kv.AsError and
// kv.IsRetryable as the contract says, whatever detail the engine wraps around them.
func testEngineErrors(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "k", "1")
	err := race(t, db,
		func(tr kv.Transaction) { get(t, tr, b("k")) },
		func(tr kv.Transaction) { tr.Set(b("k"), b("2")) })
	require.ErrorIs(t, err, kv.ErrNotCommitted)
	require.NotErrorIs(t, err, kv.ErrCommitUnknownResult)
	require.True(t, kv.IsRetryable(err), "1020 is retryable")
	require.False(t, kv.IsMaybeCommitted(err), "1020 means not committed")
	e, ok := kv.AsError(err)
	require.True(t, ok)
	require.Equal(t, 1020, e.Code)
	require.Equal(t, "not_committed", e.Name())

	tr := newTr(t, db)
	tr.Set(repeat('k', kv.MaxKeySize+1), b("v"))
	err = tr.Commit()
	require.ErrorIs(t, err, kv.ErrKeyTooLarge)
	require.False(t, kv.IsRetryable(err), "2102 is not retryable")
	e, ok = kv.AsError(err)
	require.True(t, ok)
	require.Equal(t, "key_too_large", e.Name())
	require.NotEmpty(t, err.Error())
}
