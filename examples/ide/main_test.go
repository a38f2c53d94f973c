package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestMain lets the test binary be the crash step's child process, as the command is when it
// runs the story: the scenario test starts this binary again with crashChildEnv set.
func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		err := crashChild(context.Background(), dir, os.Stdout) // returns only with an error
		fmt.Fprintln(os.Stderr, "ide crash child:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// The story runs end to end on a durable database and says what each step shows; a second run
// on the same -dir finds the first run's sessions, and -reset starts over.
func TestScenario(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	cfg := defaultConfig()
	cfg.dir = dir
	cfg.crashAcks = 12
	require.NoError(t, run(context.Background(), &out, cfg))
	s := out.String()
	for _, want := range []string{
		"Database in " + dir + " (kept after the run; -reset starts over)",
		"the index by provider finds 2 from acme",
		"In effect here: {ai: {model: deep}, editor: {fontSize: 15, tabSize: 4}, theme: light}",
		"4 messages appended; the COUNT index says 4, the SUM index 76 tokens",
		"Saved again unchanged: still version 2",
		"split into 3 chunks",
		"A save from an editor still holding version 1 is refused, as expected",
		"What changed since a sync after the first save (VERSION index): cart.go (version 2), testdata/carts.json (version 1).",
		"committed after 1 attempt and 1 attempt — disjoint edits do not conflict",
		"conflicted as expected (1020 not_committed) and was retried",
		"plan IndexScan(sessions_by_activity eq=(\"/home/ada/shop\") reverse) | Fetch",
		"The child died of SIGKILL",
		"Nothing half-written",
		"All consistent.",
	} {
		require.Contains(t, s, want)
	}
	require.Regexp(t, regexp.MustCompile(`versions \d+ \(by w[12]\) and \d+ \(by w[12]\) are both in the history`), s)
	require.Regexp(t, regexp.MustCompile(`Reopened: all \d+ acknowledged messages are there once each, and all \d+ acknowledged versions`), s)
	require.Regexp(t, regexp.MustCompile(`"Fix the checkout total" +opened [0-9:.]+\n +"Write the release notes"`), s)

	out.Reset()
	require.NoError(t, run(context.Background(), &out, cfg))
	require.Contains(t, out.String(), "Found 2 sessions of workspace /home/ada/shop from earlier runs, kept as they were")
	require.Contains(t, out.String(), "(4 in all, counted by a COUNT index")

	out.Reset()
	cfg.reset = true
	require.NoError(t, run(context.Background(), &out, cfg))
	require.Contains(t, out.String(), "-reset: removed the IDE's data")
	require.NotContains(t, out.String(), "from earlier runs")
	require.Contains(t, out.String(), "(2 in all, counted by a COUNT index")
}

// A small benchmark runs every phase and prints the table beside the targets; on the same
// -dir a second run reuses the data set.
func TestBenchQuick(t *testing.T) {
	dir := t.TempDir()
	cfg := defaultBenchConfig()
	cfg.dir = dir
	cfg.sessions, cfg.files, cfg.messages = 12, 3, 20
	cfg.duration = 300 * time.Millisecond
	cfg.rate, cfg.saves100K, cfg.saves1M = 200, 10, 5
	cfg.concurrency = []int{4, 12}
	cfg.progressEvery = 100 * time.Millisecond
	var out bytes.Buffer
	require.NoError(t, runBench(context.Background(), &out, cfg))
	s := out.String()
	require.Contains(t, s, "Building the data set: 12 sessions × 3 files")
	require.Regexp(t, regexp.MustCompile(`Built in [0-9.]+m?s: `), s)
	for _, row := range []string{"session load", "file save, 100 KB", "file save, 1 MB", "file save, small", "message append"} {
		// A row without samples (possible in so short a run, under the race detector) shows "-".
		require.Regexp(t, regexp.MustCompile(row+` +< \d+ ms +(≤ \d+ ms|-) +([0-9.]+ ms +[0-9.]+ ms +[0-9.]+ ms +[1-9]\d*|- +- +- +0)`), s)
	}
	require.Regexp(t, regexp.MustCompile(`tx/s, 4 sessions +10,000 +≥ 20,000 +\d+`), s)
	require.Regexp(t, regexp.MustCompile(`tx/s, 12 sessions +10,000 +≥ 20,000 +\d+`), s)
	require.Regexp(t, regexp.MustCompile(`4 sessions: session load [0-9.]+ ms/`), s)

	out.Reset()
	require.NoError(t, runBench(context.Background(), &out, cfg))
	require.Contains(t, out.String(), "Data set 12x3x20 (sessions × files × messages) found in the database: reused")

	cfg.files = 4
	err := runBench(context.Background(), &out, cfg)
	require.ErrorContains(t, err, "give -reset to build a new one")
}
