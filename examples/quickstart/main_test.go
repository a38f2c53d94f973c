package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The tour runs in memory and explains each step; the conflict of step 5 must come back as
// kv.ErrNotCommitted (run fails otherwise).
func TestRun(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, config{}))
	s := out.String()
	require.Contains(t, s, `Opened the embedded engine in memory; every key below is under the tuple ("quickstart").`)
	require.Contains(t, s, "1. Wrote 4 fruit in one transaction")
	require.Contains(t, s, "     (\"apple\") -> (1, \"in stock\")\n     (\"banana\") -> (2, \"in stock\")\n     (\"cherry\") -> (3, \"in stock\")\n     (\"damson\") -> (4, \"in stock\")\n")
	require.Contains(t, s, "3. 8 writers added 1 to one counter 100 times each with atomic ADD, which reads nothing and so conflicts with nothing: 0 -> 800 (0 retries).")
	require.Contains(t, s, "4. Appended 2 entries to a log with versionstamped keys; the log holds 2, in commit order:")
	require.Regexp(t, `(?m)^     [0-9a-f]{20}  first\n     [0-9a-f]{20}  second$`, s)
	require.Contains(t, s, "     t1's commit failed, as expected: kv: not_committed (1020): Transaction not committed due to conflict with another transaction (retryable: true;")
	require.NotContains(t, s, "The keys stay in")
}

// On disk the keys outlive the run: the next run says what it found and goes on from it, and
// -reset clears it.
func TestDirKeepsKeys(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var first, second, reset bytes.Buffer
	require.NoError(t, run(ctx, &first, config{dir: dir}))
	require.Contains(t, first.String(), "Opened the embedded engine on disk in "+dir+"; every key below")
	require.Contains(t, first.String(), "The keys stay in "+dir+": run again with the same -dir")

	require.NoError(t, run(ctx, &second, config{dir: dir}))
	s := second.String()
	require.Contains(t, s, "Opened the embedded engine on disk in "+dir+`: it holds 7 keys under ("quickstart") from earlier runs, the counter at 800. Continuing from them; -reset clears them first.`)
	require.Contains(t, s, ": 800 -> 1600 (0 retries).")
	require.Contains(t, s, "the log holds 4, in commit order:")
	stamps := regexp.MustCompile(`(?m)^     ([0-9a-f]{20})  (first|second)$`).FindAllStringSubmatch(s, -1)
	require.Len(t, stamps, 4)
	for i := 1; i < len(stamps); i++ {
		require.Less(t, stamps[i-1][1], stamps[i][1], "log entries in commit order")
	}

	require.NoError(t, run(ctx, &reset, config{dir: dir, reset: true}))
	require.Contains(t, reset.String(), `-reset cleared the 9 keys earlier runs left under ("quickstart").`)
	require.Contains(t, reset.String(), ": 0 -> 800 (0 retries).")
	require.True(t, strings.Contains(reset.String(), "the log holds 2,"))
}
