package embedded_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
)

func openMem(t testing.TB, opts *embedded.Options) *embedded.DB {
	t.Helper()
	db, err := embedded.Open("", opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	return db
}

func set(t testing.TB, db kv.Database, key, value string) {
	t.Helper()
	require.NoError(t, db.Transact(context.Background(), func(tr kv.Transaction) error {
		tr.Set([]byte(key), []byte(value))
		return nil
	}))
}

func get(t testing.TB, db kv.Database, key string) []byte {
	t.Helper()
	v, err := kv.ReadTransact(context.Background(), db, func(tr kv.ReadTransaction) ([]byte, error) {
		return tr.Get([]byte(key)).Get()
	})
	require.NoError(t, err)
	return v
}

// TestDurableAcrossReopen guards that committed data and the version counter survive a reopen,
// so versionstamps keep increasing.
func TestDurableAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	db, err := embedded.Open(dir, nil)
	require.NoError(t, err)
	set(t, db, "a", "1")
	tr, err := db.CreateTransaction()
	require.NoError(t, err)
	tr.Set([]byte("b"), []byte("2"))
	tr.ClearRange(kv.Range{Begin: []byte("a"), End: []byte("b")})
	stampF := tr.GetVersionstamp()
	require.NoError(t, tr.Commit())
	before, err := stampF.Get()
	require.NoError(t, err)
	require.NoError(t, db.Close())

	db, err = embedded.Open(dir, nil)
	require.NoError(t, err)
	defer db.Close()
	require.Nil(t, get(t, db, "a"))
	require.Equal(t, []byte("2"), get(t, db, "b"))
	tr, err = db.CreateTransaction()
	require.NoError(t, err)
	tr.Set([]byte("c"), nil)
	stampF = tr.GetVersionstamp()
	require.NoError(t, tr.Commit())
	after, err := stampF.Get()
	require.NoError(t, err)
	require.Positive(t, bytes.Compare(after[:], before[:]), "versionstamp after reopen %x not after %x", after, before)
	require.Equal(t, []byte{}, get(t, db, "c"))
}

// TestTransactionTooOld guards the window: reads that need the database and commits that write
// fail with 1007 once the read version is older than the window, while reads of what the
// transaction already fetched do not; a retry loop recovers.
func TestTransactionTooOld(t *testing.T) {
	db := openMem(t, &embedded.Options{TransactionWindow: 50 * time.Millisecond})
	set(t, db, "k", "v")
	tr, err := db.CreateTransaction()
	require.NoError(t, err)
	_, err = tr.Get([]byte("k")).Get()
	require.NoError(t, err)
	time.Sleep(80 * time.Millisecond)
	_, err = tr.Get([]byte("other")).Get()
	require.ErrorIs(t, err, kv.ErrTransactionTooOld)
	v, err := tr.Get([]byte("k")).Get()
	require.NoError(t, err, "a key read before is answered from what the transaction fetched")
	require.Equal(t, []byte("v"), v)
	tr.Set([]byte("k"), []byte("w"))
	require.ErrorIs(t, tr.Commit(), kv.ErrTransactionTooOld)
	require.Equal(t, []byte("v"), get(t, db, "k"))

	tries := 0
	err = db.Transact(context.Background(), func(tr kv.Transaction) error {
		tries++
		if _, err := tr.Get([]byte("k")).Get(); err != nil {
			return err
		}
		if tries == 1 {
			time.Sleep(80 * time.Millisecond)
		}
		tr.Set([]byte("k"), []byte("w"))
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, 2, tries)
	require.Equal(t, []byte("w"), get(t, db, "k"))
}

// TestLimits guards the size limits and the system keyspace with FoundationDB's codes: the
// mutation puts the transaction in error, later reads and the commit return it, and nothing is
// written.
func TestLimits(t *testing.T) {
	db := openMem(t, nil)
	cases := []struct {
		name  string
		write func(tr kv.Transaction)
		want  kv.Error
	}{
		{"key too large", func(tr kv.Transaction) { tr.Set(bytes.Repeat([]byte("k"), kv.MaxKeySize+1), nil) }, kv.ErrKeyTooLarge},
		{"value too large", func(tr kv.Transaction) { tr.Set([]byte("k"), make([]byte, kv.MaxValueSize+1)) }, kv.ErrValueTooLarge},
		{"atomic param too large", func(tr kv.Transaction) { tr.Atomic(kv.Add, []byte("k"), make([]byte, kv.MaxValueSize+1)) }, kv.ErrValueTooLarge},
		{"system key", func(tr kv.Transaction) { tr.Set([]byte("\xff/x"), nil) }, kv.ErrKeyOutsideLegalRange},
		{"clear range into system keys", func(tr kv.Transaction) {
			tr.ClearRange(kv.Range{Begin: []byte("a"), End: []byte("\xff\x00")})
		}, kv.ErrKeyOutsideLegalRange},
		{"inverted clear range", func(tr kv.Transaction) { tr.ClearRange(kv.Range{Begin: []byte("b"), End: []byte("a")}) }, kv.ErrInvertedRange},
		{"transaction too large", func(tr kv.Transaction) {
			v := make([]byte, kv.MaxValueSize)
			for i := range 101 {
				tr.Set([]byte(fmt.Sprintf("big/%03d", i)), v)
			}
		}, kv.ErrTransactionTooLarge},
		{"versionstamp offset out of range", func(tr kv.Transaction) {
			tr.Atomic(kv.SetVersionstampedKey, []byte("short\x05\x00\x00\x00"), nil)
		}, kv.ErrClientInvalidOperation},
		{"versionstamped value too short", func(tr kv.Transaction) {
			tr.Atomic(kv.SetVersionstampedValue, []byte("k"), []byte("abc\x00\x00\x00\x00"))
		}, kv.ErrClientInvalidOperation},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, err := db.CreateTransaction()
			require.NoError(t, err)
			tr.Set([]byte("marker"), []byte(c.name))
			c.write(tr)
			err = tr.Commit()
			require.ErrorIs(t, err, c.want)
			require.NotContains(t, err.Error(), "%!", "error text is malformed")
			require.Nil(t, get(t, db, "marker"), "a failed transaction wrote")
		})
	}
	t.Run("error returned by later reads", func(t *testing.T) {
		tr, err := db.CreateTransaction()
		require.NoError(t, err)
		tr.Set(bytes.Repeat([]byte("k"), kv.MaxKeySize+1), nil)
		_, err = tr.Get([]byte("x")).Get()
		require.ErrorIs(t, err, kv.ErrKeyTooLarge)
		require.Contains(t, err.Error(), "kkkk", "error names the key")
		_, err = tr.GetRange(kv.Range{Begin: []byte("a"), End: []byte("b")}, kv.RangeOptions{}).GetSlice()
		require.ErrorIs(t, err, kv.ErrKeyTooLarge)
	})
	t.Run("reads of system keys", func(t *testing.T) {
		tr, err := db.CreateTransaction()
		require.NoError(t, err)
		_, err = tr.Get([]byte("\xff/x")).Get()
		require.ErrorIs(t, err, kv.ErrKeyOutsideLegalRange)
		k, err := tr.GetKey(kv.FirstGreaterThan([]byte("zzz"))).Get()
		require.NoError(t, err)
		require.Equal(t, []byte{0xff}, k)
		// The engine's own records live above 0xff and stay invisible.
		kvs, err := tr.GetRange(kv.Range{Begin: []byte{}, End: []byte{0xff}}, kv.RangeOptions{}).GetSlice()
		require.NoError(t, err)
		for _, r := range kvs {
			require.Less(t, r.Key[0], byte(0xff))
		}
	})
}

// TestGroupCommit runs many committers at once: every commit gets a unique versionstamp, stamps
// of one group share the version and differ in batch order, and all writes are present.
func TestGroupCommit(t *testing.T) {
	// On disk with sync, so that committers pile up behind each sync and groups surely form.
	db, err := embedded.Open(t.TempDir(), nil)
	require.NoError(t, err)
	defer db.Close()
	const goroutines, perG = 32, 50
	stamps := make(chan [10]byte, goroutines*perG)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perG {
				key := []byte(fmt.Sprintf("g%02d/%03d", g, i))
				tr, err := db.CreateTransaction()
				if err != nil {
					t.Error(err)
					return
				}
				tr.Set(key, []byte("v"))
				// Blind increments never conflict; each must see the earlier members of its group.
				tr.Atomic(kv.Add, []byte("counter"), []byte{1, 0, 0, 0})
				tr.Atomic(kv.SetVersionstampedKey, append([]byte("stamp/\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"), 6, 0, 0, 0), key)
				f := tr.GetVersionstamp()
				if err := tr.Commit(); err != nil {
					t.Error(err)
					return
				}
				s, err := f.Get()
				if err != nil {
					t.Error(err)
					return
				}
				stamps <- s
			}
		}()
	}
	wg.Wait()
	close(stamps)
	seen := map[[10]byte]bool{}
	versions := map[uint64]int{}
	for s := range stamps {
		require.False(t, seen[s], "versionstamp %x given twice", s)
		seen[s] = true
		versions[binary.BigEndian.Uint64(s[:8])]++
	}
	require.Len(t, seen, goroutines*perG)
	// Each versionstamped key landed under its own stamp and names its writer.
	kvs, err := kv.ReadTransact(context.Background(), db, func(tr kv.ReadTransaction) ([]kv.KeyValue, error) {
		return tr.GetRange(kv.Range{Begin: []byte("stamp/"), End: []byte("stamp0")}, kv.RangeOptions{}).GetSlice()
	})
	require.NoError(t, err)
	require.Len(t, kvs, goroutines*perG)
	for _, r := range kvs {
		var s [10]byte
		copy(s[:], r.Key[len("stamp/"):])
		require.True(t, seen[s], "stamped key %x has an unknown stamp", r.Key)
		require.Equal(t, []byte("v"), get(t, db, string(r.Value)))
	}
	require.Equal(t, uint64(goroutines*perG), leUint64(get(t, db, "counter")))
	require.Less(t, len(versions), goroutines*perG, "no two commits were ever grouped")
	t.Logf("%d commits in %d versions", goroutines*perG, len(versions))
}

// TestGroupOrderConflicts guards that members of one group are resolved in order: of many
// transactions that all read and write one key from the same read version, exactly one commits.
func TestGroupOrderConflicts(t *testing.T) {
	db := openMem(t, nil)
	set(t, db, "hot", "0")
	const n = 16
	trs := make([]kv.Transaction, n)
	for i := range trs {
		tr, err := db.CreateTransaction()
		require.NoError(t, err)
		_, err = tr.Get([]byte("hot")).Get()
		require.NoError(t, err)
		tr.Set([]byte("hot"), []byte(fmt.Sprint(i)))
		trs[i] = tr
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, tr := range trs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = tr.Commit() }()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else {
			require.ErrorIs(t, err, kv.ErrNotCommitted)
		}
	}
	require.Equal(t, 1, ok)
}

// TestFaultRates guards that injected faults happen at roughly the configured rates, that
// "unknown, applied" commits are applied and the others are not.
func TestFaultRates(t *testing.T) {
	db := openMem(t, &embedded.Options{
		Faults:    kv.Faults{NotCommitted: 0.1, UnknownApplied: 0.1, UnknownNotApplied: 0.1},
		FaultSeed: 42,
	})
	const n = 2000
	var notCommitted, unknown, ok int
	for i := range n {
		key := []byte(fmt.Sprintf("k%05d", i))
		tr, err := db.CreateTransaction()
		require.NoError(t, err)
		tr.Set(key, []byte("v"))
		err = tr.Commit()
		present := get(t, db, string(key)) != nil
		switch {
		case err == nil:
			ok++
			require.True(t, present)
		case errors.Is(err, kv.ErrNotCommitted):
			notCommitted++
			require.False(t, present)
		case errors.Is(err, kv.ErrCommitUnknownResult):
			unknown++
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	// Expected: 200 not committed, 400 unknown; allow a wide margin for the random draw.
	require.InDelta(t, 200, notCommitted, 80)
	require.InDelta(t, 400, unknown, 120)
	require.InDelta(t, 1400, ok, 150)

	db.InjectFaults(kv.Faults{})
	for i := range 100 {
		set(t, db, fmt.Sprintf("after%d", i), "v")
	}
}

// TestFaultsRetriedByTransact guards that kv.Transact overcomes injected faults: an increment
// that carries its own idempotency check ends up applied exactly once per call.
func TestFaultsRetriedByTransact(t *testing.T) {
	db := openMem(t, &embedded.Options{Faults: kv.Faults{NotCommitted: 0.2, UnknownApplied: 0.2, UnknownNotApplied: 0.2}})
	ctx := context.Background()
	for i := range 100 {
		token := []byte(fmt.Sprintf("done/%d", i))
		_, err := kv.Transact(ctx, db, func(tr kv.Transaction) (struct{}, error) {
			done, err := tr.Get(token).Get()
			if err != nil || done != nil {
				return struct{}{}, err
			}
			tr.Set(token, nil)
			tr.Atomic(kv.Add, []byte("counter"), []byte{1, 0, 0, 0})
			return struct{}{}, nil
		})
		require.NoError(t, err)
	}
	db.InjectFaults(kv.Faults{})
	require.Equal(t, []byte{100, 0, 0, 0}, get(t, db, "counter"))
}

// TestPebbleLogsQuiet guards that Pebble prints nothing by default, and that its lines reach
// Options.Logger when one is set.
func TestPebbleLogsQuiet(t *testing.T) {
	run := func(opts *embedded.Options) string {
		dir := t.TempDir()
		out := captureOutput(t, func() {
			for range 2 {
				db, err := embedded.Open(dir, opts)
				require.NoError(t, err)
				for i := range 50 {
					set(t, db, fmt.Sprint(i), strings.Repeat("v", 1000))
				}
				require.NoError(t, db.Close())
			}
		})
		return out
	}
	require.Empty(t, run(nil))
	var buf lockedBuffer
	require.Empty(t, run(&embedded.Options{Logger: slog.New(slog.NewTextHandler(&buf, nil))}))
	require.Contains(t, buf.String(), "component=pebble", "Pebble's lines reach the logger")
}

// captureOutput returns what fn writes to stdout and stderr.
func captureOutput(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	stdout, stderr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = w, w
	var out bytes.Buffer
	done := make(chan struct{})
	go func() { out.ReadFrom(r); close(done) }()
	defer func() {
		os.Stdout, os.Stderr = stdout, stderr
	}()
	fn()
	w.Close()
	<-done
	os.Stdout, os.Stderr = stdout, stderr
	return out.String()
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestWatch guards watches: armed at commit, fired by a later change, not by a rewrite of the
// same value, cancelled with 1101, failed with the transaction's error.
func TestWatch(t *testing.T) {
	db := openMem(t, nil)
	ctx := context.Background()
	set(t, db, "w", "1")
	var w kv.Watch
	require.NoError(t, db.Transact(ctx, func(tr kv.Transaction) error {
		w = tr.Watch([]byte("w"))
		return nil
	}))
	set(t, db, "w", "1")
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	require.ErrorIs(t, w.Wait(short), context.DeadlineExceeded)
	cancel()
	set(t, db, "w", "2")
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	require.NoError(t, w.Wait(wctx))

	tr, err := db.CreateTransaction()
	require.NoError(t, err)
	w2 := tr.Watch([]byte("w"))
	require.NoError(t, tr.Commit())
	w2.Cancel()
	require.ErrorIs(t, w2.Wait(ctx), kv.ErrOperationCancelled)

	tr, err = db.CreateTransaction()
	require.NoError(t, err)
	w3 := tr.Watch([]byte("w"))
	tr.Set(bytes.Repeat([]byte("k"), kv.MaxKeySize+1), nil)
	require.ErrorIs(t, tr.Commit(), kv.ErrKeyTooLarge)
	require.ErrorIs(t, w3.Wait(ctx), kv.ErrKeyTooLarge)

	// A change between the read version and the commit fires at once.
	tr, err = db.CreateTransaction()
	require.NoError(t, err)
	_, err = tr.Get([]byte("w")).Get()
	require.NoError(t, err)
	w4 := tr.Watch([]byte("w"))
	set(t, db, "w", "3")
	require.NoError(t, tr.Commit())
	require.NoError(t, w4.Wait(wctx))

	// A range clear fires watches inside it.
	tr, err = db.CreateTransaction()
	require.NoError(t, err)
	w5 := tr.Watch([]byte("w"))
	require.NoError(t, tr.Commit())
	require.NoError(t, db.Transact(ctx, func(tr kv.Transaction) error {
		tr.ClearRange(kv.Range{Begin: []byte("a"), End: []byte("z")})
		return nil
	}))
	require.NoError(t, w5.Wait(wctx))
}

// TestTooManyWatches guards the limit of 10,000 outstanding watches (1032).
func TestTooManyWatches(t *testing.T) {
	db := openMem(t, nil)
	tr, err := db.CreateTransaction()
	require.NoError(t, err)
	ws := make([]kv.Watch, 0, 10_000)
	for i := range 10_000 {
		ws = append(ws, tr.Watch([]byte(fmt.Sprint(i))))
	}
	over := tr.Watch([]byte("one more"))
	require.ErrorIs(t, over.Wait(context.Background()), kv.ErrTooManyWatches)
	for _, w := range ws[:10] {
		w.Cancel()
	}
	again := tr.Watch([]byte("fits again"))
	require.NoError(t, tr.Commit())
	again.Cancel()
	require.ErrorIs(t, again.Wait(context.Background()), kv.ErrOperationCancelled)
	tr.Reset()
}

// TestCloseFailsWork guards Close: pending watches fail, new transactions and reads of open ones
// fail cleanly, and closing twice is harmless.
func TestCloseFailsWork(t *testing.T) {
	db, err := embedded.Open("", nil)
	require.NoError(t, err)
	set(t, db, "k", "v")
	tr, err := db.CreateTransaction()
	require.NoError(t, err)
	_, err = tr.Get([]byte("k")).Get()
	require.NoError(t, err)
	wt, err := db.CreateTransaction()
	require.NoError(t, err)
	w := wt.Watch([]byte("k"))
	require.NoError(t, wt.Commit())
	require.NoError(t, db.Close())
	require.NoError(t, db.Close())
	require.ErrorIs(t, w.Wait(context.Background()), kv.ErrOperationCancelled)
	_, err = db.CreateTransaction()
	require.ErrorIs(t, err, embedded.ErrClosed)
	_, err = tr.Get([]byte("k")).Get()
	require.Error(t, err)
	tr.Set([]byte("k"), []byte("w"))
	require.ErrorIs(t, tr.Commit(), embedded.ErrClosed)
}

// TestConcurrentIncrements is a bank-style invariant under concurrency and faults: every
// successful increment is counted exactly once.
func TestConcurrentIncrements(t *testing.T) {
	db := openMem(t, &embedded.Options{Faults: kv.Faults{NotCommitted: 0.05, UnknownNotApplied: 0.05}})
	ctx := context.Background()
	var wg sync.WaitGroup
	const goroutines, perG = 8, 50
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perG {
				err := db.Transact(ctx, func(tr kv.Transaction) error {
					v, err := tr.Get([]byte("n")).Get()
					if err != nil {
						return err
					}
					var n uint64
					if v != nil {
						n = binary.BigEndian.Uint64(v)
					}
					tr.Set([]byte("n"), binary.BigEndian.AppendUint64(nil, n+1))
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	require.Equal(t, uint64(goroutines*perG), binary.BigEndian.Uint64(get(t, db, "n")))
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestUseAfterCommit guards FoundationDB's rule that a transaction is done once Commit returns:
// later operations fail with 2017 until Reset, while the commit's results stay readable.
func TestUseAfterCommit(t *testing.T) {
	db := openMem(t, nil)
	tr, err := db.CreateTransaction()
	require.NoError(t, err)
	tr.Set([]byte("k"), []byte("v"))
	require.NoError(t, tr.Commit())
	_, err = tr.Get([]byte("k")).Get()
	require.ErrorIs(t, err, kv.ErrUsedDuringCommit)
	require.ErrorIs(t, tr.Commit(), kv.ErrUsedDuringCommit)
	v, err := tr.GetCommittedVersion()
	require.NoError(t, err)
	require.Positive(t, v)
	_, err = tr.GetVersionstamp().Get()
	require.NoError(t, err)
	tr.Reset()
	got, err := tr.Get([]byte("k")).Get()
	require.NoError(t, err)
	require.Equal(t, []byte("v"), got)
}

// TestReadOfOwnClearAddsNoConflict guards FoundationDB's rule that a read answered by the
// transaction's own range clear adds no read conflict, while a read of the database does.
func TestReadOfOwnClearAddsNoConflict(t *testing.T) {
	db := openMem(t, nil)
	set(t, db, "b", "1")
	run := func(clearFirst bool) error {
		tr, err := db.CreateTransaction()
		require.NoError(t, err)
		if clearFirst {
			tr.ClearRange(kv.Range{Begin: []byte("a"), End: []byte("c")})
		}
		_, err = tr.GetRange(kv.Range{Begin: []byte("a"), End: []byte("d")}, kv.RangeOptions{}).GetSlice()
		require.NoError(t, err)
		set(t, db, "b", "2") // inside the cleared part
		tr.Set([]byte("x"), []byte("1"))
		return tr.Commit()
	}
	require.NoError(t, run(true))
	require.ErrorIs(t, run(false), kv.ErrNotCommitted)

	// Keys the transaction set before reading are its own too; other keys of the range are not.
	own := func(other string) error {
		tr, err := db.CreateTransaction()
		require.NoError(t, err)
		tr.Set([]byte("b"), []byte("mine"))
		tr.Atomic(kv.Add, []byte("bb"), []byte{1})
		_, err = tr.GetRange(kv.Range{Begin: []byte("a"), End: []byte("d")}, kv.RangeOptions{}).GetSlice()
		require.NoError(t, err)
		set(t, db, other, "theirs")
		return tr.Commit()
	}
	require.NoError(t, own("b"))
	require.ErrorIs(t, own("a"), kv.ErrNotCommitted)
	require.ErrorIs(t, own("bb"), kv.ErrNotCommitted, "a pending atomic op depends on the stored value")
	require.ErrorIs(t, own("c"), kv.ErrNotCommitted)
}

// TestConsistentReadsUnderCommits moves money between accounts from several goroutines while
// readers sum all accounts with read-only transactions: every reader must see a consistent state
// (the total never changes), which guards that shared read views are frozen before a commit is
// applied under them, and that the resolver sees every conflict when writers interleave.
func TestConsistentReadsUnderCommits(t *testing.T) {
	for _, store := range []string{"memory", "disk"} {
		t.Run("store="+store, func(t *testing.T) {
			path := ""
			if store == "disk" {
				path = t.TempDir()
			}
			db, err := embedded.Open(path, &embedded.Options{NoSync: true, Faults: kv.Faults{NotCommitted: 0.02, UnknownNotApplied: 0.02}})
			require.NoError(t, err)
			defer db.Close()
			ctx := context.Background()
			const accounts, total = 10, 1000
			account := func(i int) []byte { return []byte(fmt.Sprintf("acct/%02d", i)) }
			require.NoError(t, db.Transact(ctx, func(tr kv.Transaction) error {
				for i := range accounts {
					tr.Set(account(i), binary.BigEndian.AppendUint64(nil, total/accounts))
				}
				return nil
			}))
			// sum reads the accounts one by one, so a commit landing between two reads of a
			// transaction would show as a wrong total.
			sum := func(tr kv.ReadTransaction) (uint64, error) {
				var s uint64
				for i := range accounts {
					v, err := tr.Get(account(i)).Get()
					if err != nil {
						return 0, err
					}
					s += binary.BigEndian.Uint64(v)
					runtime.Gosched()
				}
				return s, nil
			}
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 300 {
						from, to := (w+i)%accounts, (w*3+i*7+1)%accounts
						if from == to {
							continue
						}
						err := db.Transact(ctx, func(tr kv.Transaction) error {
							a, err := tr.Get(account(from)).Get()
							if err != nil {
								return err
							}
							b, err := tr.Get(account(to)).Get()
							if err != nil {
								return err
							}
							x, y := binary.BigEndian.Uint64(a), binary.BigEndian.Uint64(b)
							if x == 0 {
								return nil
							}
							tr.Set(account(from), binary.BigEndian.AppendUint64(nil, x-1))
							tr.Set(account(to), binary.BigEndian.AppendUint64(nil, y+1))
							return nil
						})
						if err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			for reads := 0; ; reads++ {
				select {
				case <-done:
					require.Positive(t, reads)
					return
				default:
				}
				s, err := kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) (uint64, error) {
					s1, err := sum(tr)
					if err != nil {
						return 0, err
					}
					// Read twice in one transaction: both reads see the same version.
					s2, err := sum(tr.Snapshot())
					if err != nil {
						return 0, err
					}
					if s1 != s2 {
						return 0, fmt.Errorf("one transaction saw totals %d and %d", s1, s2)
					}
					return s1, nil
				})
				require.NoError(t, err)
				require.Equal(t, uint64(total), s)
			}
		})
	}
}

// TestAbandonedTransactionCancelsWatches guards that a transaction dropped without commit,
// cancel or reset fails its watches with 1025 once collected, so they do not hold the watch
// limit forever.
func TestAbandonedTransactionCancelsWatches(t *testing.T) {
	db := openMem(t, nil)
	w := func() kv.Watch {
		tr, err := db.CreateTransaction()
		require.NoError(t, err)
		return tr.Watch([]byte("k"))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Wait(ctx) }()
	for {
		runtime.GC()
		select {
		case err := <-done:
			require.ErrorIs(t, err, kv.ErrTransactionCancelled)
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestSelectorResolvesToEmptyKey guards that a key selector landing on the empty key returns an
// empty key, not nil, also when the read's scratch memory is fresh (the collectors' pool is
// emptied by two collections).
func TestSelectorResolvesToEmptyKey(t *testing.T) {
	db := openMem(t, nil)
	set(t, db, "", "v")
	for _, reverse := range []bool{false, true} {
		sel := kv.FirstGreaterOrEqual(nil)
		if reverse {
			sel = kv.LastLessThan([]byte("a"))
		}
		runtime.GC()
		runtime.GC()
		k, err := kv.ReadTransact(context.Background(), db, func(tr kv.ReadTransaction) ([]byte, error) {
			return tr.GetKey(sel).Get()
		})
		require.NoError(t, err)
		require.NotNil(t, k, "%v", sel)
		require.Empty(t, k, "%v", sel)
	}
}
