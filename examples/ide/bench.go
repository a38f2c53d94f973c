package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/layerkit/layerkit/directory"
	"github.com/layerkit/layerkit/examples/ide/idestore"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
)

type benchConfig struct {
	dir                        string
	reset                      bool
	sessions, files, messages  int
	duration                   time.Duration
	rate                       int // operations a second offered in the latency phase
	saves100K, saves1M         int // large saves a second, in every phase
	concurrency                []int
	seed                       uint64
	progressEvery              time.Duration
	buildWorkers               int
	workspaces                 int
	smallFileMin, smallFileMax int
	shortMessage, longMessage  int
	bigSmall, bigLarge         int // the sizes of the large saves
	loadShare, appendShare     int // per cent of the mixed operations; the rest are small saves
}

func defaultBenchConfig() benchConfig {
	return benchConfig{
		sessions: 1000, files: 20, messages: 200,
		duration: 10 * time.Second, rate: 2000, saves100K: 20, saves1M: 5,
		concurrency: []int{100, 1000}, seed: 1, progressEvery: 2 * time.Second,
		buildWorkers: 4, workspaces: 10,
		smallFileMin: 1 << 10, smallFileMax: 8 << 10,
		shortMessage: 200, longMessage: 1500,
		bigSmall: 100_000, bigLarge: 1_000_000,
		loadShare: 20, appendShare: 50,
	}
}

// opKind names the operations measured.
type opKind int

const (
	opLoad opKind = iota
	opAppend
	opSaveSmall
	opSave100K
	opSave1M
	numOps
)

var opNames = [numOps]string{"session load", "message append", "file save, small", "file save, 100 KB", "file save, 1 MB"}

// samples collects latencies per operation kind.
type samples struct {
	mu  sync.Mutex
	lat [numOps][]time.Duration
	n   atomic.Int64
}

func (s *samples) add(k opKind, d time.Duration) {
	s.mu.Lock()
	s.lat[k] = append(s.lat[k], d)
	s.mu.Unlock()
	s.n.Add(1)
}

type stat struct {
	p50, p99, max time.Duration
	n             int
}

func (s *samples) stat(k opKind) stat {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := slices.Clone(s.lat[k])
	if len(l) == 0 {
		return stat{}
	}
	slices.Sort(l)
	q := func(p float64) time.Duration { return l[min(len(l)-1, int(math.Ceil(p*float64(len(l))))-1)] }
	return stat{p50: q(0.50), p99: q(0.99), max: l[len(l)-1], n: len(l)}
}

// bench is the state of one run.
type bench struct {
	cfg      benchConfig
	w        io.Writer
	db       *embedded.DB
	ide      *idestore.Store
	sessions []string
	paths    []string
	text     []byte // a pool of generated text that contents are cut from
	failures atomic.Int64
	lastErr  atomic.Value
}

func runBench(ctx context.Context, w io.Writer, cfg benchConfig) error {
	dir, cleanup, err := databaseDir(cfg.dir, "ide-bench-")
	if err != nil {
		return err
	}
	defer cleanup()
	db, err := embedded.Open(dir, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	if cfg.reset {
		if _, err := directory.Root().RemoveIfExists(ctx, db, idestore.Root); err != nil {
			return err
		}
	}
	ide, err := idestore.Open(ctx, db, nil)
	if err != nil {
		return err
	}
	if cfg.sessions < 1 || cfg.files < 1 || cfg.messages < 0 || cfg.duration <= 0 || cfg.rate < 1 {
		return fmt.Errorf("bench: want at least 1 session, 1 file, 0 messages, a positive duration and rate (got %d, %d, %d, %v, %d)", cfg.sessions, cfg.files, cfg.messages, cfg.duration, cfg.rate)
	}
	b := &bench{cfg: cfg, w: w, db: db, ide: ide}
	b.text = generateText(rand.New(rand.NewPCG(cfg.seed, 99)), 4<<20)
	for i := range cfg.files {
		b.paths = append(b.paths, fmt.Sprintf("src/pkg%02d/file%02d.go", i%5, i))
	}
	fmt.Fprintf(w, "IDE benchmark on the durable embedded engine (Pebble, every commit group synced), %d CPUs, database in %s.\n", runtime.NumCPU(), dir)
	fmt.Fprintf(w, "Load average before the run: %s.\n", loadAverage())
	if err := b.build(ctx); err != nil {
		return err
	}
	lat, err := b.latencyPhase(ctx)
	if err != nil {
		return err
	}
	var tput []throughput
	for _, c := range cfg.concurrency {
		t, err := b.throughputPhase(ctx, c)
		if err != nil {
			return err
		}
		tput = append(tput, t)
	}
	if n := b.failures.Load(); n > 0 {
		return fmt.Errorf("%d operations failed; the last: %v", n, b.lastErr.Load())
	}
	b.report(lat, tput)
	fmt.Fprintf(w, "\nLoad average after the run: %s.\n", loadAverage())
	return nil
}

// loadAverage returns the machine's load averages over 1, 5 and 15 minutes, where the system
// tells them (/proc/loadavg), for judging how much of the machine the run had.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// shape names the data set's size; the global setting "bench.dataset" records it, so that a run
// on the same -dir reuses the data set.
func (b *bench) shape() string {
	return fmt.Sprintf("%dx%dx%d", b.cfg.sessions, b.cfg.files, b.cfg.messages)
}

// build creates the data set (or finds it): sessions × files × messages, one transaction per
// session, several sessions at once.
func (b *bench) build(ctx context.Context) error {
	cfg := b.cfg
	set, err := b.ide.Settings(ctx, b.db, "")
	if err != nil {
		return err
	}
	if m, ok := set["bench"].(map[string]any); ok {
		if m["dataset"] != b.shape() {
			return fmt.Errorf("the database holds a data set of shape %v, not %s: give -reset to build a new one", m["dataset"], b.shape())
		}
		for ws := range cfg.workspaces {
			var cont []byte
			for {
				page, err := b.ide.ListSessions(ctx, b.db, benchWorkspace(ws), 1000, cont)
				if err != nil {
					return err
				}
				for _, s := range page.Sessions {
					b.sessions = append(b.sessions, s.Id)
				}
				if cont = page.Continuation; cont == nil {
					break
				}
			}
		}
		if len(b.sessions) != cfg.sessions {
			return fmt.Errorf("the database's data set has %d sessions, want %d: give -reset to build it again", len(b.sessions), cfg.sessions)
		}
		fmt.Fprintf(b.w, "Data set %s (sessions × files × messages) found in the database: reused (-reset builds it again).\n\n", b.shape())
		return nil
	}
	if page, err := b.ide.ListSessions(ctx, b.db, benchWorkspace(0), 1, nil); err != nil || page.Total > 0 {
		if err != nil {
			return err
		}
		return fmt.Errorf("the database holds an unfinished data set: give -reset to build it again")
	}
	fmt.Fprintf(b.w, "Building the data set: %d sessions × %d files (%d–%d KB) × %d messages (about %d and %d bytes), one transaction per session...\n",
		cfg.sessions, cfg.files, cfg.smallFileMin>>10, cfg.smallFileMax>>10, cfg.messages, cfg.shortMessage, cfg.longMessage)
	start := time.Now()
	ids := make([]string, cfg.sessions)
	for i := range ids {
		ids[i] = idestore.NewID()
	}
	var next, done atomic.Int64
	var bytes atomic.Int64
	stop := b.progress(func() string {
		n := done.Load()
		return fmt.Sprintf("built %d/%d sessions (%d%%), %.0f MB", n, cfg.sessions, 100*n/int64(cfg.sessions), float64(bytes.Load())/1e6)
	})
	errs := make(chan error, cfg.buildWorkers)
	for wk := range cfg.buildWorkers {
		go func() {
			rng := rand.New(rand.NewPCG(cfg.seed, uint64(wk)))
			for {
				i := int(next.Add(1)) - 1
				if i >= cfg.sessions || ctx.Err() != nil {
					errs <- ctx.Err()
					return
				}
				n, err := b.buildSession(ctx, rng, i, ids[i])
				if err != nil {
					errs <- err
					return
				}
				bytes.Add(int64(n))
				done.Add(1)
			}
		}()
	}
	var first error
	for range cfg.buildWorkers {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	stop()
	if first != nil {
		return first
	}
	b.sessions = ids
	if err := b.ide.SetSetting(ctx, b.db, "", "bench.dataset", b.shape()); err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Fprintf(b.w, "Built in %v: %.0f MB of contents and messages, %.0f sessions/s, %.1f MB/s.\n\n",
		el.Round(100*time.Millisecond), float64(bytes.Load())/1e6, float64(cfg.sessions)/el.Seconds(), float64(bytes.Load())/1e6/el.Seconds())
	return nil
}

// buildSession writes one session of the data set in one transaction and returns the bytes of
// content and messages it wrote.
func (b *bench) buildSession(ctx context.Context, rng *rand.Rand, i int, id string) (int, error) {
	cfg := b.cfg
	type msg struct {
		id, role, text string
	}
	contents := make([][]byte, cfg.files)
	n := 0
	for f := range contents {
		contents[f] = b.cut(rng, cfg.smallFileMin+rng.IntN(cfg.smallFileMax-cfg.smallFileMin+1))
		n += len(contents[f])
	}
	msgs := make([]msg, cfg.messages)
	for m := range msgs {
		role, size := "user", cfg.shortMessage
		if m%2 == 1 {
			role, size = "assistant", cfg.longMessage
		}
		msgs[m] = msg{idestore.NewID(), role, string(b.cut(rng, size/2+rng.IntN(size+1)))}
		n += len(msgs[m].text)
	}
	err := b.db.Transact(ctx, func(tr kv.Transaction) error {
		if _, err := b.ide.CreateSession(ctx, tr, idestore.NewSession{ID: id, Workspace: benchWorkspace(i % cfg.workspaces), Title: fmt.Sprintf("session %d", i), ModelID: "fast"}); err != nil {
			return err
		}
		for f, c := range contents {
			if _, err := b.ide.SaveFile(ctx, tr, id, b.paths[f], c, idestore.SaveOptions{Window: "w1", SaveID: fmt.Sprintf("%s/build/%d", id, f)}); err != nil {
				return err
			}
		}
		for _, m := range msgs {
			if _, err := b.ide.AppendMessage(ctx, tr, id, idestore.Message{ID: m.id, Role: m.role, Text: m.text, Tokens: int64(len(m.text) / 4)}); err != nil {
				return err
			}
		}
		return b.ide.OpenTab(ctx, tr, id, "w1", b.paths[0])
	})
	return n, err
}

// cut returns n bytes of the text pool from a random place: distinct contents, cheaply.
func (b *bench) cut(rng *rand.Rand, n int) []byte {
	n = min(n, len(b.text))
	off := rng.IntN(len(b.text) - n + 1)
	return b.text[off : off+n]
}

// generateText makes size bytes of source-like text from a small vocabulary.
func generateText(rng *rand.Rand, size int) []byte {
	words := strings.Fields("func return if else for range var const type struct interface map chan go defer select case switch err nil ctx total price cents item cart order user session file save load append message window index record store query version stream")
	out := make([]byte, 0, size+64)
	for len(out) < size {
		if rng.IntN(12) == 0 {
			out = append(out, '\n', '\t')
		}
		out = append(out, words[rng.IntN(len(words))]...)
		out = append(out, ' ')
	}
	return out[:size]
}

// progress prints line() every progressEvery until the returned stop is called.
func (b *bench) progress(line func() string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(b.cfg.progressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprintf(b.w, "   ... %s\n", line())
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// op runs one operation of kind k on session i and records its latency.
func (b *bench) op(ctx context.Context, rng *rand.Rand, k opKind, i int, s *samples) {
	id := b.sessions[i]
	start := time.Now()
	var err error
	switch k {
	case opLoad:
		_, err = b.ide.LoadSession(ctx, b.db, id, idestore.LoadOptions{})
	case opAppend:
		role, size := "user", b.cfg.shortMessage
		if rng.IntN(2) == 0 {
			role, size = "assistant", b.cfg.longMessage
		}
		text := b.cut(rng, size/2+rng.IntN(size+1))
		_, err = b.ide.AppendMessage(ctx, b.db, id, idestore.Message{Role: role, Text: string(text), Tokens: int64(len(text) / 4)})
	case opSaveSmall:
		f := rng.IntN(len(b.paths))
		_, err = b.ide.SaveFile(ctx, b.db, id, b.paths[f], b.cut(rng, b.cfg.smallFileMin+rng.IntN(b.cfg.smallFileMax-b.cfg.smallFileMin+1)), idestore.SaveOptions{Window: "w1"})
	case opSave100K:
		_, err = b.ide.SaveFile(ctx, b.db, id, "assets/catalog.json", b.cut(rng, b.cfg.bigSmall), idestore.SaveOptions{Window: "w2"})
	case opSave1M:
		_, err = b.ide.SaveFile(ctx, b.db, id, "dist/bundle.js", b.cut(rng, b.cfg.bigLarge), idestore.SaveOptions{Window: "w2"})
	}
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		b.failures.Add(1)
		b.lastErr.Store(fmt.Errorf("%s: %w", opNames[k], err))
		return
	}
	s.add(k, time.Since(start))
}

// mixed picks a load, an append or a small save, in the configured shares.
func (b *bench) mixed(rng *rand.Rand) opKind {
	switch p := rng.IntN(100); {
	case p < b.cfg.loadShare:
		return opLoad
	case p < b.cfg.loadShare+b.cfg.appendShare:
		return opAppend
	}
	return opSaveSmall
}

// bigSavers runs the large saves at their fixed rates on random sessions until ctx ends.
func (b *bench) bigSavers(ctx context.Context, s *samples, wg *sync.WaitGroup) {
	for _, job := range []struct {
		k    opKind
		rate int
	}{{opSave100K, b.cfg.saves100K}, {opSave1M, b.cfg.saves1M}} {
		if job.rate <= 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.openLoop(ctx, float64(job.rate), uint64(job.k), wg, func(rng *rand.Rand) {
				b.op(ctx, rng, job.k, rng.IntN(len(b.sessions)), s)
			})
		}()
	}
}

// openLoop calls fn, each call in its own goroutine, at Poisson arrivals of the given rate until
// ctx ends: a slow operation does not delay the next arrival.
func (b *bench) openLoop(ctx context.Context, rate float64, stream uint64, wg *sync.WaitGroup, fn func(*rand.Rand)) {
	rng := rand.New(rand.NewPCG(b.cfg.seed, 1000+stream))
	next := time.Now()
	for {
		next = next.Add(time.Duration(rng.ExpFloat64() / rate * float64(time.Second)))
		if d := time.Until(next); d > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
		} else if ctx.Err() != nil {
			return
		}
		seed := rng.Uint64()
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(rand.New(rand.NewPCG(seed, stream)))
		}()
	}
}

// latencyPhase offers cfg.rate mixed operations a second on random sessions, with the large
// saves beside them, and measures each operation's latency.
func (b *bench) latencyPhase(ctx context.Context) (*samples, error) {
	cfg := b.cfg
	fmt.Fprintf(b.w, "Latency: %d mixed operations a second (%d%% loads, %d%% appends, %d%% small saves) on random sessions of %d,\n",
		cfg.rate, cfg.loadShare, cfg.appendShare, 100-cfg.loadShare-cfg.appendShare, len(b.sessions))
	fmt.Fprintf(b.w, "with 100 KB saves at %d/s and 1 MB saves at %d/s at the same time, for %v...\n", cfg.saves100K, cfg.saves1M, cfg.duration)
	s := &samples{}
	pctx, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()
	var wg sync.WaitGroup
	stop := b.progress(func() string { return fmt.Sprintf("%d operations done", s.n.Load()) })
	b.bigSavers(pctx, s, &wg)
	b.openLoop(pctx, float64(cfg.rate), 0, &wg, func(rng *rand.Rand) {
		b.op(pctx, rng, b.mixed(rng), rng.IntN(len(b.sessions)), s)
	})
	wg.Wait()
	stop()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	done := s.n.Load()
	offered := int64(float64(cfg.rate+cfg.saves100K+cfg.saves1M) * cfg.duration.Seconds())
	fmt.Fprintf(b.w, "   %d operations in %v (about %d offered).\n", done, cfg.duration, offered)
	if done < offered*9/10 {
		fmt.Fprintf(b.w, "   The database did not keep up with the offered rate: the latencies below include the queue that built up.\n")
	}
	fmt.Fprintln(b.w)
	return s, nil
}

type throughput struct {
	concurrency int
	txPerSec    float64
	s           *samples
}

// throughputPhase runs c sessions at once, each a window doing mixed operations back to back
// on its own session, with the large saves beside them, and counts transactions a second.
func (b *bench) throughputPhase(ctx context.Context, c int) (throughput, error) {
	cfg := b.cfg
	c = min(c, len(b.sessions))
	fmt.Fprintf(b.w, "Throughput: %d sessions at once, each doing mixed operations back to back on its own session,\n", c)
	fmt.Fprintf(b.w, "with the same large saves beside them, for %v...\n", cfg.duration)
	s := &samples{}
	pctx, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()
	var wg sync.WaitGroup
	stop := b.progress(func() string { return fmt.Sprintf("%d transactions done", s.n.Load()) })
	start := time.Now()
	b.bigSavers(pctx, s, &wg)
	for i := range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(cfg.seed, uint64(5000+i)))
			for pctx.Err() == nil {
				b.op(pctx, rng, b.mixed(rng), i, s)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	stop()
	if err := ctx.Err(); err != nil {
		return throughput{}, err
	}
	t := throughput{concurrency: c, txPerSec: float64(s.n.Load()) / el.Seconds(), s: s}
	fmt.Fprintf(b.w, "   %d transactions in %v: %.0f tx/s.\n\n", s.n.Load(), el.Round(time.Millisecond), t.txPerSec)
	return t, nil
}

// report prints the figures beside the design's targets and the goal.
func (b *bench) report(lat *samples, tput []throughput) {
	w := b.w
	fmt.Fprintf(w, "Results (data set %s; latency phase %d ops/s offered + 100 KB saves %d/s + 1 MB saves %d/s):\n\n",
		b.shape(), b.cfg.rate, b.cfg.saves100K, b.cfg.saves1M)
	fmt.Fprintf(w, "  %-22s %-10s %-10s %10s %10s %10s %8s  %s\n", "operation", "design", "goal", "p50", "p99", "max", "n", "goal met")
	rows := []struct {
		k            opKind
		design, goal string
		limit        time.Duration
	}{
		{opLoad, "< 50 ms", "≤ 5 ms", 5 * time.Millisecond},
		{opSave100K, "< 100 ms", "≤ 20 ms", 20 * time.Millisecond},
		{opSave1M, "< 100 ms", "", 0},
		{opSaveSmall, "< 100 ms", "", 0},
		{opAppend, "< 20 ms", "≤ 5 ms", 5 * time.Millisecond},
	}
	for _, r := range rows {
		st := lat.stat(r.k)
		met := ""
		if r.limit > 0 {
			met = "yes (p99)"
			if st.p99 > r.limit {
				met = "NO (p99)"
			}
		}
		goal := r.goal
		if goal == "" {
			goal = "-"
		}
		fmt.Fprintf(w, "  %-22s %-10s %-10s %10s %10s %10s %8d  %s\n", opNames[r.k], r.design, goal, ms(st.p50), ms(st.p99), ms(st.max), st.n, met)
	}
	for _, t := range tput {
		met := "yes"
		if t.txPerSec < 20_000 {
			met = "NO"
		}
		fmt.Fprintf(w, "  %-22s %-10s %-10s %10.0f %32s  %s\n", fmt.Sprintf("tx/s, %d sessions", t.concurrency), "10,000", "≥ 20,000", t.txPerSec, "", met)
	}
	fmt.Fprintf(w, "\nLatency under the throughput runs (p50 / p99 / max):\n")
	for _, t := range tput {
		var parts []string
		for _, k := range []opKind{opLoad, opAppend, opSaveSmall, opSave100K, opSave1M} {
			st := t.s.stat(k)
			parts = append(parts, fmt.Sprintf("%s %s/%s/%s", strings.TrimPrefix(opNames[k], "file "), ms(st.p50), ms(st.p99), ms(st.max)))
		}
		fmt.Fprintf(w, "  %d sessions: %s\n", t.concurrency, strings.Join(parts, "; "))
	}
}

func ms(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

// benchWorkspace names the workspaces the data set's sessions belong to.
func benchWorkspace(i int) string { return fmt.Sprintf("/bench/ws%02d", i) }
