package cli

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/layerkit/layerkit/directory"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/tuple"
)

// benchConfig are the bench command's settings.
type benchConfig struct {
	duration    time.Duration
	concurrency int
	valueSize   int
	keysPerTx   int
	memory      bool
}

func (a *app) benchCommand() *cobra.Command {
	cfg := benchConfig{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the engine's transaction throughput for a few seconds",
		Long: `bench runs three short workloads, each for --duration with --concurrency workers, and
prints transactions per second and commit latencies:

  write  each transaction sets --keys keys of --value-size bytes (blind writes, no
         conflicts), committed durably;
  read   each transaction reads --keys random keys written by the first workload;
  range  each transaction reads 100 consecutive keys from a random start.

Without --db or --cluster-file it runs on a fresh embedded database in a temporary
directory (durable: every commit is synced), or in memory with --memory, and removes
it afterwards. Given a database it works in a new directory /layerkit-bench/<time>
and removes that directory at the end; nothing else is touched.`,
		Example: `  # the embedded engine on this machine's disk, about six seconds
  layerkit bench

  # in memory, 64 workers, one second per workload
  layerkit bench --memory --concurrency 64 --duration 1s

  # a FoundationDB cluster (a build with -tags fdb)
  layerkit --cluster-file /etc/foundationdb/fdb.cluster bench`,
		Args: exactArgs(0),
		RunE: a.run(func(ctx context.Context, _ []string) error {
			return a.bench(ctx, cfg)
		}),
	}
	f := cmd.Flags()
	f.DurationVar(&cfg.duration, "duration", 2*time.Second, "how long each workload runs")
	f.IntVar(&cfg.concurrency, "concurrency", 16, "concurrent transactions")
	f.IntVar(&cfg.valueSize, "value-size", 100, "bytes per value")
	f.IntVar(&cfg.keysPerTx, "keys", 10, "keys written or read per transaction")
	f.BoolVar(&cfg.memory, "memory", false, "run on an in-memory embedded database instead of a temporary directory")
	return cmd
}

func (c benchConfig) validate() error {
	switch {
	case c.duration <= 0 || c.duration > 10*time.Minute:
		return fmt.Errorf("--duration %v: want more than 0 and at most 10m", c.duration)
	case c.concurrency < 1 || c.concurrency > 10_000:
		return fmt.Errorf("--concurrency %d: want 1 to 10000", c.concurrency)
	case c.valueSize < 0 || c.valueSize > kv.MaxValueSize:
		return fmt.Errorf("--value-size %d: want 0 to %d", c.valueSize, kv.MaxValueSize)
	case c.keysPerTx < 1 || c.keysPerTx*(c.valueSize+32) > kv.MaxTransactionSize:
		return fmt.Errorf("--keys %d: want at least 1, and a transaction under %d bytes", c.keysPerTx, kv.MaxTransactionSize)
	}
	return nil
}

func (a *app) bench(ctx context.Context, cfg benchConfig) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	if _, err := a.showProgress(); err != nil {
		return err
	}
	db, where, cleanup, err := a.benchDatabase(ctx, cfg)
	if err != nil {
		return err
	}
	space, removeSpace, err := a.benchSpace(ctx, db)
	if err != nil {
		return errors.Join(err, cleanup())
	}
	fmt.Fprintf(a.stdout, "bench: %s, %d workers, %v per workload, %d keys of %d bytes per transaction\n",
		where, cfg.concurrency, cfg.duration, cfg.keysPerTx, cfg.valueSize)
	results, err := a.benchWorkloads(ctx, db, space, cfg)
	err = errors.Join(err, removeSpace(), cleanup())
	if len(results) > 0 {
		tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "workload\ttransactions\ttx/s\tkeys/s\tp50\tp99\tmax\t")
		for _, r := range results {
			fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.0f\t%v\t%v\t%v\t\n", r.name, r.txs, r.perSecond(r.txs), r.perSecond(r.keys),
				r.quantile(0.50), r.quantile(0.99), r.quantile(1))
		}
		if ferr := tw.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

// benchDatabase returns the database to measure: the one the flags name, or a new embedded one
// that cleanup removes.
func (a *app) benchDatabase(ctx context.Context, cfg benchConfig) (kv.Database, string, func() error, error) {
	none := func() error { return nil }
	if a.dbPath != "" || a.clusterFile != "" || a.given {
		if cfg.memory {
			return nil, "", none, errors.New("--memory makes a database of its own; leave out --db and --cluster-file")
		}
		db, err := a.database(ctx)
		switch {
		case a.given:
			return db, "the given database", none, err
		case a.clusterFile != "":
			return db, "FoundationDB " + a.clusterFile, none, err
		}
		return db, "embedded database " + a.dbPath, none, err
	}
	if cfg.memory {
		db, err := embedded.Open("", nil)
		if err != nil {
			return nil, "", none, err
		}
		return db, "embedded engine in memory", db.Close, nil
	}
	dir, err := os.MkdirTemp("", "layerkit-bench-")
	if err != nil {
		return nil, "", none, fmt.Errorf("bench: make a temporary directory: %w", err)
	}
	db, err := embedded.Open(dir, nil)
	if err != nil {
		return nil, "", none, errors.Join(err, os.RemoveAll(dir))
	}
	return db, "embedded engine on disk (durable, in a temporary directory)", func() error {
		return errors.Join(db.Close(), os.RemoveAll(dir))
	}, nil
}

// benchSpace makes the directory the workloads write in, /layerkit-bench/<nanoseconds>, and a
// function that removes it (and /layerkit-bench once it is empty).
func (a *app) benchSpace(ctx context.Context, db kv.Database) ([]byte, func() error, error) {
	path := []string{"layerkit-bench", strconv.FormatInt(time.Now().UnixNano(), 10)}
	d, err := directory.Create(ctx, db, path, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("bench: create the directory /%s/%s: %w", path[0], path[1], err)
	}
	ss, err := d.Subspace()
	if err != nil {
		return nil, nil, err
	}
	remove := func() error {
		// The clean-up must run even when the bench was interrupted.
		ctx := context.WithoutCancel(ctx)
		if err := directory.Root().Remove(ctx, db, path); err != nil {
			return fmt.Errorf("bench: remove /%s/%s: %w", path[0], path[1], err)
		}
		left, err := directory.List(ctx, db, path[:1])
		if err == nil && len(left) == 0 {
			_, err = directory.Root().RemoveIfExists(ctx, db, path[:1])
		}
		return err
	}
	return ss.Bytes(), remove, nil
}

// benchResult is what one workload measured.
type benchResult struct {
	name    string
	txs     int64
	keys    int64
	elapsed time.Duration
	lat     []time.Duration // sorted
}

func (r benchResult) perSecond(n int64) float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(n) / r.elapsed.Seconds()
}

func (r benchResult) quantile(q float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(q*float64(len(r.lat))+0.5) - 1
	i = max(0, min(i, len(r.lat)-1))
	return r.lat[i].Round(time.Microsecond)
}

func (a *app) benchWorkloads(ctx context.Context, db kv.Database, space []byte, cfg benchConfig) ([]benchResult, error) {
	var written atomic.Int64
	key := func(id int64) []byte { return append(append([]byte(nil), space...), tuple.Tuple{id}.Pack()...) }
	value := make([]byte, cfg.valueSize)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	workloads := []struct {
		name string
		fn   func(tr kv.Transaction, rnd *rand.Rand) (int, error)
	}{
		{"write", func(tr kv.Transaction, _ *rand.Rand) (int, error) {
			first := written.Add(int64(cfg.keysPerTx)) - int64(cfg.keysPerTx)
			for i := range cfg.keysPerTx {
				tr.Set(key(first+int64(i)), value)
			}
			return cfg.keysPerTx, nil
		}},
		{"read", func(tr kv.Transaction, rnd *rand.Rand) (int, error) {
			n := written.Load()
			fs := make([]kv.Future[[]byte], cfg.keysPerTx)
			for i := range fs {
				fs[i] = tr.Get(key(rnd.Int64N(max(n, 1))))
			}
			for _, f := range fs {
				if _, err := f.Get(); err != nil {
					return 0, err
				}
			}
			return cfg.keysPerTx, nil
		}},
		{"range", func(tr kv.Transaction, rnd *rand.Rand) (int, error) {
			begin := key(rnd.Int64N(max(written.Load(), 1)))
			rows, err := tr.GetRange(kv.Range{Begin: begin, End: append(append([]byte(nil), space...), 0xff)},
				kv.RangeOptions{Limit: 100, Mode: kv.StreamingWantAll}).GetSlice()
			return len(rows), err
		}},
	}
	var results []benchResult
	for _, w := range workloads {
		r, err := a.runWorkload(ctx, db, cfg, w.name, w.fn)
		if err != nil {
			return results, fmt.Errorf("bench %s: %w", w.name, err)
		}
		results = append(results, r)
	}
	return results, nil
}

// runWorkload runs fn in transactions from cfg.concurrency workers for cfg.duration, showing the
// time gone as a progress bar.
func (a *app) runWorkload(ctx context.Context, db kv.Database, cfg benchConfig, name string, fn func(kv.Transaction, *rand.Rand) (int, error)) (benchResult, error) {
	bar, err := a.newProgress(cfg.duration.Milliseconds(), fmt.Sprintf("%-5s", name))
	if err != nil {
		return benchResult{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	deadline := start.Add(cfg.duration)
	var wg sync.WaitGroup
	var mu sync.Mutex
	res := benchResult{name: name}
	var firstErr error
	for w := range cfg.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
			var lat []time.Duration
			var txs, keys int64
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t0 := time.Now()
				n, err := kv.Transact(ctx, db, func(tr kv.Transaction) (int, error) { return fn(tr, rnd) })
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
					break
				}
				lat = append(lat, time.Since(t0))
				txs++
				keys += int64(n)
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			res.txs += txs
			res.keys += keys
			mu.Unlock()
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case <-tick.C:
			bar.Set(min(time.Since(start), cfg.duration).Milliseconds())
		}
	}
	res.elapsed = time.Since(start)
	if firstErr != nil {
		return res, firstErr
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	bar.Finish()
	slices.Sort(res.lat)
	return res, nil
}
