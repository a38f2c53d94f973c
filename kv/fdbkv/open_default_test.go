//go:build !fdb

package fdbkv_test

import (
	"testing"

	"github.com/layerkit/layerkit/kv/fdbkv"
	"github.com/stretchr/testify/require"
)

func TestOpenWithoutFDBTagIsUnavailable(t *testing.T) {
	db, err := fdbkv.Open("", nil)
	require.ErrorIs(t, err, fdbkv.ErrUnavailable)
	require.Nil(t, db)
	require.Contains(t, err.Error(), "-tags fdb")
}
