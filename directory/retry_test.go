package directory_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/layerkit/layerkit/directory"
	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/subspace"
	"github.com/stretchr/testify/require"
)

// flakyDB makes the next n commits report 1021 (commit_unknown_result), after applying them
// (applied) or not: the two outcomes a client cannot tell apart.
type flakyDB struct {
	kv.Database
	applied bool
	n       atomic.Int64
}

func (f *flakyDB) CreateTransaction() (kv.Transaction, error) {
	tr, err := f.Database.CreateTransaction()
	if err != nil {
		return nil, err
	}
	return &flakyTx{Transaction: tr, db: f}, nil
}

type flakyTx struct {
	kv.Transaction
	db *flakyDB
}

func (t *flakyTx) Commit() error {
	if t.db.n.Add(-1) >= 0 {
		if t.db.applied {
			if err := t.Transaction.Commit(); err != nil {
				return err
			}
		}
		return kv.ErrCommitUnknownResult
	}
	return t.Transaction.Commit()
}

// loopTransactor is a transactor that is neither a database nor a transaction (a user's
// wrapper): it runs the standard retry loop over a database.
type loopTransactor struct{ db kv.Database }

func (l loopTransactor) Transact(ctx context.Context, fn func(kv.Transaction) error, opts ...kv.TransactOption) error {
	return kv.RunTransact(ctx, l.db, false, fn, opts...)
}

func (l loopTransactor) ReadTransact(ctx context.Context, fn func(kv.ReadTransaction) error, opts ...kv.TransactOption) error {
	return kv.RunTransact(ctx, l.db, true, func(tr kv.Transaction) error { return fn(tr) }, opts...)
}

// allocations returns the allocator's count in its first window: how many prefixes were handed
// out (the tests stay in the first window).
func allocations(t *testing.T, db kv.Database) []byte {
	v, err := kv.ReadTransact(context.Background(), db, func(tr kv.ReadTransaction) ([]byte, error) {
		return tr.Get(mustHex(t, "fe01fe0001686361001414")).Get()
	})
	require.NoError(t, err)
	return v
}

// TestRetryAfterCommitUnknownResult guards idempotence under 1021: whether the first commit
// was applied or not, every write operation succeeds on its retry with the outcome of one
// clean run, and no prefix is allocated twice.
func TestRetryAfterCommitUnknownResult(t *testing.T) {
	ctx := context.Background()
	type op struct {
		name  string
		setup func(db kv.Database)
		run   func(t kv.Transactor) error
		after func(t *testing.T, db kv.Database)
	}
	mk := func(path ...string) func(db kv.Database) {
		return func(db kv.Database) {
			_, err := directory.CreateOrOpen(ctx, db, path, nil)
			require.NoError(t, err)
		}
	}
	exists := func(want bool, path ...string) func(t *testing.T, db kv.Database) {
		return func(t *testing.T, db kv.Database) {
			ok, err := directory.Exists(ctx, db, path)
			require.NoError(t, err)
			require.Equal(t, want, ok, "exists %v", path)
		}
	}
	ops := []op{
		{"create", func(kv.Database) {}, func(tr kv.Transactor) error {
			_, err := directory.Create(ctx, tr, []string{"a", "b"}, []byte("L"))
			return err
		}, func(t *testing.T, db kv.Database) {
			d, err := directory.Open(ctx, db, []string{"a", "b"}, []byte("L"))
			require.NoError(t, err)
			require.Equal(t, []byte("L"), d.GetLayer())
			require.Equal(t, mustHex(t, "0200000000000000"), allocations(t, db), "two directories, two allocations")
		}},
		{"create_or_open", func(kv.Database) {}, func(tr kv.Transactor) error {
			_, err := directory.CreateOrOpen(ctx, tr, []string{"a"}, nil)
			return err
		}, func(t *testing.T, db kv.Database) {
			exists(true, "a")(t, db)
			require.Equal(t, mustHex(t, "0100000000000000"), allocations(t, db))
		}},
		{"move", mk("a"), func(tr kv.Transactor) error {
			_, err := directory.Move(ctx, tr, []string{"a"}, []string{"b"})
			return err
		}, func(t *testing.T, db kv.Database) {
			exists(false, "a")(t, db)
			exists(true, "b")(t, db)
		}},
		{"remove", mk("a", "b"), func(tr kv.Transactor) error {
			return directory.Root().Remove(ctx, tr, []string{"a"})
		}, exists(false, "a")},
		{"remove_if_exists", mk("a"), func(tr kv.Transactor) error {
			ok, err := directory.Root().RemoveIfExists(ctx, tr, []string{"a"})
			if err == nil && !ok {
				t.Errorf("RemoveIfExists reported false for a directory it removed")
			}
			return err
		}, exists(false, "a")},
	}
	for _, o := range ops {
		for _, applied := range []bool{true, false} {
			for _, kind := range []string{"database", "transactor"} {
				name := o.name + "/applied=" + map[bool]string{true: "yes", false: "no"}[applied] + "/via=" + kind
				t.Run(name, func(t *testing.T) {
					base := openExactDB(t)
					o.setup(base)
					f := &flakyDB{Database: base, applied: applied}
					f.n.Store(1)
					var tr kv.Transactor = f
					if kind == "transactor" {
						tr = loopTransactor{f}
					}
					require.NoError(t, o.run(tr))
					require.Equal(t, int64(-1), f.n.Load(), "exactly one retry")
					o.after(t, base)
				})
			}
		}
	}
}

// TestCreateRetryDoesNotClaimOthersWork guards the other side: when the directory already
// existed before the call (another client made it), Create still fails with
// ErrDirAlreadyExists even if its own commit attempts report 1021.
func TestCreateRetryDoesNotClaimOthersWork(t *testing.T) {
	ctx := context.Background()
	base := openExactDB(t)
	_, err := directory.Create(ctx, base, []string{"a"}, nil)
	require.NoError(t, err)
	f := &flakyDB{Database: base, applied: true}
	f.n.Store(3)
	_, err = directory.Create(ctx, f, []string{"a"}, nil)
	require.ErrorIs(t, err, directory.ErrDirAlreadyExists)
	// Remove of a missing directory is not turned into success either.
	require.ErrorIs(t, directory.Root().Remove(ctx, f, []string{"missing"}), directory.ErrDirNotExists)
}

// TestCreateInCallersTransaction documents the limit: in the caller's transaction the
// operation runs once per attempt of the caller's loop, which owns retries; a Create whose
// first commit was applied but reported 1021 then fails on the retry with ErrDirAlreadyExists,
// as in the official bindings. CreateOrOpen is the retry-safe choice there.
func TestCreateInCallersTransaction(t *testing.T) {
	ctx := context.Background()
	base := openExactDB(t)
	f := &flakyDB{Database: base, applied: true}
	f.n.Store(1)
	err := kv.RunTransact(ctx, f, false, func(tr kv.Transaction) error {
		_, err := directory.Create(ctx, tr, []string{"a"}, nil)
		return err
	})
	require.ErrorIs(t, err, directory.ErrDirAlreadyExists)

	f.n.Store(1)
	err = kv.RunTransact(ctx, f, false, func(tr kv.Transaction) error {
		_, err := directory.CreateOrOpen(ctx, tr, []string{"b"}, nil)
		return err
	})
	require.NoError(t, err)
}

// TestCreatePrefixRetry guards the manual-prefix path under an applied 1021.
func TestCreatePrefixRetry(t *testing.T) {
	ctx := context.Background()
	l := directory.NewDirectoryLayer(subspace.FromBytes([]byte{0xaa}), subspace.FromBytes([]byte{0xbb}), true)
	base := openExactDB(t, l)
	f := &flakyDB{Database: base, applied: true}
	f.n.Store(1)
	d, err := l.CreatePrefix(ctx, f, []string{"m"}, nil, []byte{0xbb, 0x01})
	require.NoError(t, err)
	require.Equal(t, []byte{0xbb, 0x01}, prefixOf(t, d))
	_, err = l.CreatePrefix(ctx, base, []string{"m2"}, nil, []byte{0xbb, 0x01})
	require.ErrorIs(t, err, directory.ErrPrefixInUse)
}

// hangingDB stands for a cluster that cannot be reached: every commit blocks until the
// transaction is cancelled, which is how FoundationDB's blocked calls are stopped.
type hangingDB struct{ kv.Database }

func (h hangingDB) CreateTransaction() (kv.Transaction, error) {
	tr, err := h.Database.CreateTransaction()
	if err != nil {
		return nil, err
	}
	return &hangingTx{Transaction: tr, cancelled: make(chan struct{})}, nil
}

type hangingTx struct {
	kv.Transaction
	once      sync.Once
	cancelled chan struct{}
}

func (t *hangingTx) Cancel() {
	t.once.Do(func() { close(t.cancelled) })
	t.Transaction.Cancel()
}

func (t *hangingTx) Commit() error {
	<-t.cancelled
	return kv.ErrTransactionCancelled
}

// TestWriteStopsWhenContextEnds: a directory write given a database runs its own retry loop;
// when its ctx ends during a commit that never returns by itself, the call returns ctx's error
// promptly instead of hanging.
func TestWriteStopsWhenContextEnds(t *testing.T) {
	db := testdb.OpenEmbedded(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := directory.CreateOrOpen(ctx, hangingDB{db}, []string{"a"}, nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 2*time.Second, "the write must stop soon after its ctx ends")
}
