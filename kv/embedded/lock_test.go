package embedded_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
)

// lockDirEnv switches TestMain into the child of TestSecondProcessIsRefused, which opens the
// store in the directory it names and prints the outcome.
const lockDirEnv = "LAYERKIT_EMBEDDED_LOCK_DIR"

func lockChild(dir string) {
	db, err := embedded.Open(dir, nil)
	if err != nil {
		code, _ := kv.AsError(err)
		fmt.Printf("error %d: %v\n", code.Code, err)
		os.Exit(0)
	}
	fmt.Println("opened")
	if err := db.Close(); err != nil {
		fmt.Println("close:", err)
	}
}

// runLockChild opens dir in a second process and returns what it printed.
func runLockChild(t *testing.T, dir string) string {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), lockDirEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "child: %s", out)
	return strings.TrimSpace(string(out))
}

// TestSecondProcessIsRefused guards that a store open in one process cannot be opened by a
// second one, which gets kv.ErrLockFileFailure saying so, and can open it once the first closed
// it.
func TestSecondProcessIsRefused(t *testing.T) {
	dir := t.TempDir()
	db, err := embedded.Open(dir, nil)
	require.NoError(t, err)
	set(t, db, "k", "v")

	out := runLockChild(t, dir)
	require.Contains(t, out, "error 1529: ")
	require.Contains(t, out, "the database is in use by another process")
	require.Contains(t, out, dir)

	require.NoError(t, db.Close())
	require.Equal(t, "opened", runLockChild(t, dir))
}

// TestSecondOpenInProcessIsRefused guards the same within one process.
func TestSecondOpenInProcessIsRefused(t *testing.T) {
	dir := t.TempDir()
	db, err := embedded.Open(dir, nil)
	require.NoError(t, err)
	set(t, db, "k", "v")
	_, err = embedded.Open(dir, nil)
	require.ErrorIs(t, err, kv.ErrLockFileFailure)
	require.Contains(t, err.Error(), "already open in this process")
	require.NoError(t, db.Close())
	db, err = embedded.Open(dir, nil)
	require.NoError(t, err)
	require.Equal(t, []byte("v"), get(t, db, "k"))
	require.NoError(t, db.Close())
}
