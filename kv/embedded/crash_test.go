package embedded_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
)

// The crash test re-executes the test binary as a child that commits numbered transactions to a
// durable store; these variables switch TestMain into that role.
const (
	crashDirEnv   = "LAYERKIT_EMBEDDED_CRASH_DIR"
	crashRoundEnv = "LAYERKIT_EMBEDDED_CRASH_ROUND"
	// crashKeys is how many keys each numbered transaction writes: all or none must survive.
	crashKeys = 5
	// crashWriters commit concurrently so that crashes also hit commit groups.
	crashWriters = 4
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		crashChild(dir, os.Getenv(crashRoundEnv))
		return
	}
	if dir := os.Getenv(lockDirEnv); dir != "" {
		lockChild(dir)
		return
	}
	os.Exit(m.Run())
}

func crashKey(round string, n, j int) []byte {
	return []byte(fmt.Sprintf("crash/%s/%08d/%d", round, n, j))
}

// crashChild commits transactions numbered from 0 until it is killed, printing each number once
// its commit is acknowledged.
func crashChild(dir, round string) {
	db, err := embedded.Open(dir, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range crashWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := w; ; n += crashWriters {
				err := db.Transact(context.Background(), func(tr kv.Transaction) error {
					for j := range crashKeys {
						tr.Set(crashKey(round, n, j), []byte(strconv.Itoa(n)))
					}
					tr.Atomic(kv.Add, []byte("crash/count/"+round), []byte{1, 0, 0, 0, 0, 0, 0, 0})
					return nil
				})
				if err != nil {
					fmt.Fprintln(os.Stderr, "commit:", err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "%d\n", n) // os.Stdout is unbuffered: once written, the parent gets it
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// TestCrashDurability kills a committing child process with SIGKILL at random moments and checks
// after each reopen that every acknowledged commit is present and that no commit is partial.
func TestCrashDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	dir := t.TempDir()
	rounds := 10
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	for round := range rounds {
		r := strconv.Itoa(round)
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashRoundEnv+"="+r)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())

		acked := map[int]bool{}
		lines := make(chan int)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if n, err := strconv.Atoi(sc.Text()); err == nil {
					lines <- n
				}
			}
		}()
		// Kill at a random moment after the first acknowledgement.
		first, ok := <-lines
		require.True(t, ok, "child acknowledged nothing: %s", stderr.String())
		acked[first] = true
		kill := time.After(time.Duration(5+rng.IntN(150)) * time.Millisecond)
	read:
		for {
			select {
			case n, ok := <-lines:
				if !ok {
					break read
				}
				acked[n] = true
			case <-kill:
				require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
				kill = nil
			}
		}
		err = cmd.Wait()
		require.Error(t, err, "child exited by itself: %s", stderr.String())

		db, err := embedded.Open(dir, nil)
		require.NoError(t, err)
		prefix, err := kv.PrefixRange([]byte("crash/" + r + "/"))
		require.NoError(t, err)
		found, err := kv.ReadTransact(context.Background(), db, func(tr kv.ReadTransaction) (map[int]int, error) {
			kvs, err := tr.GetRange(prefix, kv.RangeOptions{}).GetSlice()
			if err != nil {
				return nil, err
			}
			found := map[int]int{}
			for _, row := range kvs {
				n, err := strconv.Atoi(string(row.Value))
				if err != nil {
					return nil, err
				}
				found[n]++
			}
			return found, nil
		})
		require.NoError(t, err)
		for n := range acked {
			require.Equal(t, crashKeys, found[n], "round %d: acknowledged commit %d lost", round, n)
		}
		for n, c := range found {
			require.Equal(t, crashKeys, c, "round %d: commit %d is partial", round, n)
		}
		count, err := kv.ReadTransact(context.Background(), db, func(tr kv.ReadTransaction) ([]byte, error) {
			return tr.Get([]byte("crash/count/" + r)).Get()
		})
		require.NoError(t, err)
		require.Len(t, count, 8)
		require.Equal(t, uint64(len(found)), leUint64(count), "round %d: counter disagrees with the commits present", round)
		require.NoError(t, db.Close())
		t.Logf("round %d: %d acknowledged, %d present", round, len(acked), len(found))
	}
}

func leUint64(b []byte) uint64 {
	var n uint64
	for i := len(b) - 1; i >= 0; i-- {
		n = n<<8 | uint64(b[i])
	}
	return n
}
