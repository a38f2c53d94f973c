// Command ide is the persistence of an AI-assisted IDE on layerkit, told as a user story and
// measured against the IDE's design targets.
//
// Without flags it opens a workspace, chats with the assistant, edits and saves files (some
// large), lets two windows edit one session at once, switches between sessions, and finally
// has a child process killed with SIGKILL in the middle of its work to show that reopening the
// database loses nothing that was acknowledged. The database is durable, on disk, in a new
// temporary directory (removed at the end) or in -dir, which is kept and reused: a second run
// finds the sessions of the first. -reset removes the IDE's data from -dir first.
//
//	go run ./examples/ide                    # the story, in a temporary directory
//	go run ./examples/ide -dir /tmp/ide      # ... in a directory kept across runs
//	go run ./examples/ide -dir /tmp/ide -reset
//	go run ./examples/ide -bench             # the design's targets: 1,000 sessions × 20 files × 200 messages
//	go run ./examples/ide -bench -sessions 100 -duration 3s   # a quicker run
//
// The package idestore holds the IDE's data model; this command only drives it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		// The child process of the crash step: it works until it is killed, or fails.
		err := crashChild(context.Background(), dir, os.Stdout)
		fmt.Fprintln(os.Stderr, "ide crash child:", err)
		os.Exit(1)
	}
	cfg := defaultConfig()
	bcfg := defaultBenchConfig()
	flag.StringVar(&cfg.dir, "dir", "", "directory of the durable database, kept across runs (default: a new temporary directory, removed at the end)")
	flag.BoolVar(&cfg.reset, "reset", false, "remove the IDE's data from -dir before the story starts")
	bench := flag.Bool("bench", false, "measure the design's targets instead of telling the story")
	flag.IntVar(&bcfg.sessions, "sessions", bcfg.sessions, "bench: sessions in the data set")
	flag.IntVar(&bcfg.files, "files", bcfg.files, "bench: files per session")
	flag.IntVar(&bcfg.messages, "messages", bcfg.messages, "bench: messages per session")
	flag.DurationVar(&bcfg.duration, "duration", bcfg.duration, "bench: length of each measured phase")
	flag.IntVar(&bcfg.rate, "rate", bcfg.rate, "bench: operations a second offered in the latency phase")
	flag.IntVar(&bcfg.saves100K, "saves-100k", bcfg.saves100K, "bench: 100 KB saves a second, in every phase")
	flag.IntVar(&bcfg.saves1M, "saves-1m", bcfg.saves1M, "bench: 1 MB saves a second, in every phase")
	mix := flag.String("mix", fmt.Sprintf("%d/%d/%d", bcfg.loadShare, bcfg.appendShare, 100-bcfg.loadShare-bcfg.appendShare), "bench: per cent of session loads / message appends / small file saves in the mixed operations")
	conc := flag.String("concurrency", "100,1000", "bench: the numbers of concurrent sessions of the throughput phases, comma-separated (\"\" for none)")
	cpuprofile := flag.String("cpuprofile", "", "bench: write a CPU profile of the run to this file")
	flag.Parse()
	if _, err := fmt.Sscanf(*mix, "%d/%d/%d", &bcfg.loadShare, &bcfg.appendShare, new(int)); err != nil || bcfg.loadShare < 0 || bcfg.appendShare < 0 || bcfg.loadShare+bcfg.appendShare > 100 {
		fmt.Fprintf(os.Stderr, "ide: -mix %q: want three percentages such as 20/50/30\n", *mix)
		os.Exit(2)
	}
	bcfg.concurrency = bcfg.concurrency[:0]
	for _, f := range strings.Split(*conc, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "ide: -concurrency %q: want positive numbers separated by commas\n", *conc)
			os.Exit(2)
		}
		bcfg.concurrency = append(bcfg.concurrency, n)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ide:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "ide:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if *bench {
		bcfg.dir, bcfg.reset = cfg.dir, cfg.reset
		err = runBench(ctx, os.Stdout, bcfg)
	} else {
		err = run(ctx, os.Stdout, cfg)
	}
	if err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "ide:", err)
		os.Exit(1)
	}
}
