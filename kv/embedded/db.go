package embedded

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/cockroachdb/pebble/v2"

	"github.com/layerkit/layerkit/kv"
)

// versionKey holds the last commit version. It lives in the system keyspace (0xff and up), which
// user reads and writes never reach, so it cannot collide with data.
var versionKey = []byte("\xff/layerkit/version")

// clockVersion is the version the clock gives at now: microseconds since the Unix epoch, so that
// versions advance by about 1,000,000 a second, as FoundationDB's do.
func clockVersion(now time.Time) int64 { return now.UnixMicro() }

// ErrClosed is returned (wrapped in kv.ErrOperationFailed) by operations on a closed database.
var ErrClosed = errors.New("embedded: database is closed")

// defaultWindow is FoundationDB's MVCC window: transactions older than this fail with 1007.
const defaultWindow = 5 * time.Second

// DB is an embedded database: Pebble storage under an optimistic concurrency resolver, with
// FoundationDB's transaction semantics. It implements kv.Database and kv.FaultInjector and is
// safe for concurrent use.
type DB struct {
	pdb    *pebble.DB
	lock   *pebble.Lock // the directory's lock; nil in memory
	opts   Options
	window time.Duration
	sync   bool
	// durable is set for a store on disk, which records each commit's version (versionKey) so
	// that versions keep growing across a reopen; an in-memory store has nothing to reopen, and
	// skipping that write halves the keys a small transaction adds to the memtable.
	durable bool

	// failure holds the error of the failed state once the storage failed in the background
	// (see fail); failed is closed then.
	failure atomic.Pointer[error]
	failed  chan struct{}
	// stopOnce closes Pebble once, at Close or when the database fails.
	stopOnce sync.Once
	stopErr  error

	// hot are the keys that reverse reads found to have many versions (see hotKeys).
	hot hotKeys

	// version is the last commit version that is visible to new transactions.
	version atomic.Int64

	// vmu guards the read views and the choice of versions.
	vmu    sync.Mutex
	cur    *view
	views  map[*view]struct{}
	refs   int // references held on all views: transactions with a read version
	closed bool
	// maxRead is the largest read version handed out, and pending the version of the commit group
	// being applied (0: none). Read versions follow the clock but stay below pending, and a
	// commit version is above every read version handed out, so a transaction whose read version
	// is v sees exactly the commits at versions up to v.
	maxRead int64
	pending int64
	// applying is set while a commit is applied with the latest view live and unheld; new
	// transactions then wait on applied for the publication.
	applying bool
	applied  *sync.Cond
	waiting  int // transactions waiting on applied

	// qmu guards the commit queue and leadership of the group commit.
	qmu     sync.Mutex
	queue   []*transaction
	spare   []*transaction
	leading bool
	idle    *sync.Cond // signalled when a leader stops
	qclosed bool

	// resolver is used by the commit leader, under vmu when it adds writes.
	resolver resolver
	// gw are the write conflicts of the group being committed, owned by the commit leader.
	gw groupWrites

	faults faultInjector

	watches watchRegistry

	stop     chan struct{}
	reaperWG sync.WaitGroup
}

var (
	_ kv.Database      = (*DB)(nil)
	_ kv.FaultInjector = (*DB)(nil)
)

// Open opens the database in the directory path, creating it if needed, or an empty in-memory
// database when path is "". opts may be nil for the defaults.
func Open(path string, opts *Options) (*DB, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	db := &DB{
		opts:    o,
		window:  o.TransactionWindow,
		sync:    path != "" && !o.NoSync,
		durable: path != "",
		views:   make(map[*view]struct{}),
		stop:    make(chan struct{}),
		failed:  make(chan struct{}),
	}
	if db.window <= 0 {
		db.window = defaultWindow
	}
	db.idle = sync.NewCond(&db.qmu)
	db.applied = sync.NewCond(&db.vmu)
	db.faults.init(o.Faults, o.FaultSeed)
	db.resolver.init(db.window)
	db.watches.init()

	popts := pebbleOptions(path == "")
	popts.Logger = newLogger(o.Logger)
	popts.EventListener = db.eventListener(popts.Logger)
	dir := path
	rotateLog := false
	if path == "" {
		dir = "mem"
	} else {
		lock, err := lockDir(path)
		if err != nil {
			return nil, err
		}
		format, err := checkStore(path)
		if err != nil {
			lock.Close()
			return nil, err
		}
		popts.Lock, db.lock = lock, lock
		// Pebble opens a store in its old format (a new one in the oldest) and upgrades it once
		// its write-ahead log is open, so that log has no sync offsets; the flush below starts a
		// new one.
		rotateLog = format < pebble.FormatWALSyncChunks
	}
	pdb, err := pebble.Open(dir, popts)
	if err != nil {
		if db.lock != nil {
			db.lock.Close()
		}
		return nil, openErr(path, err)
	}
	db.pdb = pdb
	if rotateLog {
		if err := pdb.Flush(); err != nil {
			db.closeStorage()
			return nil, fmt.Errorf("embedded: open %q: %w", path, storageErr("start a write-ahead log", err))
		}
	}
	v, closer, err := pdb.Get(versionKey)
	switch {
	case err == nil:
		if len(v) != 8 {
			closer.Close()
			db.closeStorage()
			return nil, fmt.Errorf("embedded: open %q: corrupt version record of %d bytes: %w", path, len(v), kv.ErrFileCorrupt)
		}
		db.version.Store(int64(binary.BigEndian.Uint64(v)))
		closer.Close()
	case errors.Is(err, pebble.ErrNotFound):
	default:
		db.closeStorage()
		return nil, fmt.Errorf("embedded: open %q: read version: %w", path, storageErr("read", err))
	}
	db.publish(db.version.Load(), nil, time.Now())
	db.reaperWG.Add(1)
	go db.reap()
	return db, nil
}

// Close waits for commits in flight, fails pending watches with kv.ErrOperationCancelled, makes
// open transactions fail, and closes the storage. Calling Close twice is harmless.
func (db *DB) Close() error {
	db.qmu.Lock()
	if db.qclosed {
		db.qmu.Unlock()
		return nil
	}
	db.qclosed = true
	for db.leading {
		db.idle.Wait()
	}
	db.qmu.Unlock()

	close(db.stop)
	db.reaperWG.Wait()

	closeViews(db.takeViews(true), func(v *view) { v.dbClosed = true })
	db.watches.closeAll(kv.ErrOperationCancelled)
	return db.closeStorage()
}

// takeViews returns every read view. With closing, the database is marked closed and forgets
// them, in the same step.
func (db *DB) takeViews(closing bool) []*view {
	db.vmu.Lock()
	defer db.vmu.Unlock()
	views := make([]*view, 0, len(db.views))
	for v := range db.views {
		views = append(views, v)
	}
	if closing {
		db.closed = true
		db.views = nil
		db.cur = nil
	}
	return views
}

// closeViews closes views, each after mark (under the view's lock) records why, which its reads
// report from then on.
func closeViews(views []*view, mark func(v *view)) {
	for _, v := range views {
		v.mu.Lock()
		mark(v)
		v.mu.Unlock()
		v.close()
	}
}

// closeStorage closes Pebble, unless a failure closed it already, then releases the directory's
// lock.
func (db *DB) closeStorage() error {
	err := db.stopStorage()
	if db.lock != nil {
		if lerr := db.lock.Close(); err == nil {
			err = lerr
		}
	}
	return err
}

// InjectFaults replaces the probabilities of injected commit faults. It is safe to call at any
// time; commits already being resolved may use the old ones.
func (db *DB) InjectFaults(f kv.Faults) { db.faults.set(f) }

// CreateTransaction starts a transaction. Its read version is taken at its first read.
func (db *DB) CreateTransaction() (kv.Transaction, error) {
	if db.isClosed() {
		return nil, closedErr()
	}
	if err := db.failedErr(); err != nil {
		return nil, err
	}
	return newTransaction(db), nil
}

// Transact runs fn in a transaction and commits it, retrying retryable errors (see kv.Transact).
func (db *DB) Transact(ctx context.Context, fn func(kv.Transaction) error, opts ...kv.TransactOption) error {
	return kv.RunTransact(ctx, db, false, fn, opts...)
}

// ReadTransact runs fn in a transaction that is not committed, retrying retryable errors.
func (db *DB) ReadTransact(ctx context.Context, fn func(kv.ReadTransaction) error, opts ...kv.TransactOption) error {
	return kv.RunTransact(ctx, db, true, func(tr kv.Transaction) error { return fn(tr) }, opts...)
}

func (db *DB) isClosed() bool {
	db.vmu.Lock()
	defer db.vmu.Unlock()
	return db.closed
}

func closedErr() error {
	return fmt.Errorf("%w: %w", ErrClosed, kv.ErrOperationFailed)
}

// view is a read version: the state after commit version `version`, which transactions that
// start between two commits share. While it is the latest version and no commit is being
// applied, reads go straight to Pebble; before the commit leader applies the next version it
// freezes the view in a Pebble snapshot if any transaction still holds it. A lone committer so
// never pays for a snapshot.
type view struct {
	version int64
	db      *pebble.DB
	snap    *pebble.Snapshot // nil while the view is live
	hot     *hotKeys

	// pool holds idle Pebble iterators over the view (see viewIter).
	poolMu sync.Mutex
	pool   []*viewIter

	// mu is held shared by reads and exclusively by close, so a snapshot is never closed under
	// a running read.
	mu       sync.RWMutex
	closed   bool
	dbClosed bool  // closed with the database, not for age
	failed   error // closed because the database failed

	// Guarded by DB.vmu.
	refs    int
	lastUse time.Time
	reaped  bool
	// holders are the transactions holding the view, by weak pointer, so that the reaper can
	// tell a transaction that lives on from one that was dropped. The first few fit in
	// holdersBuf, which the view's own allocation carries.
	holders    []weak.Pointer[transaction]
	holdersBuf [4]weak.Pointer[transaction]
}

// closedErr is the error of a read through a closed view.
func (v *view) closedErr() error {
	if v.failed != nil {
		return v.failed
	}
	if v.dbClosed {
		return closedErr()
	}
	return kv.ErrTransactionTooOld
}

func (v *view) close() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.closed {
		v.closed = true
		v.closeIters()
		if v.snap != nil {
			v.snap.Close()
		}
	}
}

// acquireView returns the view of the latest commit, referenced for tx, and tx's read version:
// the clock's version, kept between the view's version and the version of a commit in flight.
// The view records tx by a weak pointer, so a transaction dropped without being finished does
// not pin the view (see reap).
func (db *DB) acquireView(tx *transaction, now time.Time) (*view, int64, error) {
	if tx.self == (weak.Pointer[transaction]{}) {
		tx.self = weak.Make(tx)
	}
	db.vmu.Lock()
	defer db.vmu.Unlock()
	for db.applying && !db.closed {
		db.waiting++
		db.applied.Wait()
		db.waiting--
	}
	if db.closed {
		return nil, 0, closedErr()
	}
	if err := db.failedErr(); err != nil {
		return nil, 0, err
	}
	v := db.cur
	v.refs++
	db.refs++
	v.lastUse = now
	tx.holdIdx = len(v.holders)
	v.holders = append(v.holders, tx.self)
	return v, db.readVersionLocked(v.version, now), nil
}

// readVersion returns a read version for a transaction that no longer reads (one that has
// committed): the clock's, without holding a view.
func (db *DB) readVersion(now time.Time) int64 {
	db.vmu.Lock()
	defer db.vmu.Unlock()
	return db.readVersionLocked(db.version.Load(), now)
}

// readVersionLocked picks a read version at or after base (the version of the state read) that
// follows the clock and stays below the commit in flight. It needs vmu.
func (db *DB) readVersionLocked(base int64, now time.Time) int64 {
	rv := max(base, clockVersion(now))
	if db.pending != 0 && rv >= db.pending {
		rv = db.pending - 1
	}
	db.maxRead = max(db.maxRead, rv)
	return rv
}

// nextVersion picks the version of the next commit group and marks it in flight: after the last
// commit, after every read version handed out, and at least the clock's, so versions advance
// with time and never go back, also across a reopen.
func (db *DB) nextVersion(now time.Time) int64 {
	db.vmu.Lock()
	defer db.vmu.Unlock()
	v := max(db.version.Load()+1, db.maxRead+1, clockVersion(now))
	db.pending = v
	return v
}

// abandonVersion ends a commit group that published nothing.
func (db *DB) abandonVersion() {
	db.vmu.Lock()
	db.pending = 0
	db.vmu.Unlock()
}

// publish makes version, whose writes Pebble has just applied, the read version of new
// transactions. The snapshot is taken here, by the commit leader, so that it holds exactly the
// commits up to version.
//
// The group's write conflict ranges go to the resolver only if some transaction still holds an
// older read version: only such a transaction can conflict with them, and any transaction that
// takes a read version later gets this one. A lone committer so skips the resolver entirely.
func (db *DB) publish(version int64, gw *groupWrites, now time.Time) {
	nv := &view{version: version, db: db.pdb, hot: &db.hot, lastUse: now}
	nv.holders = nv.holdersBuf[:0]
	db.vmu.Lock()
	if gw != nil && db.refs > 0 {
		for _, k := range gw.points {
			db.resolver.addPoint(k, version, now)
		}
		for _, r := range gw.ranges {
			db.resolver.add(r, version, now)
		}
	}
	old := db.cur
	db.cur = nv
	db.views[nv] = struct{}{}
	drop := old != nil && old.refs == 0
	if drop {
		delete(db.views, old)
	}
	db.version.Store(version)
	db.pending = 0
	db.applying = false
	db.applied.Broadcast()
	db.vmu.Unlock()
	if drop {
		old.close()
	}
}

// freeze is called by the commit leader before it applies a new version: the latest view gets
// its snapshot if a transaction holds it (or, on disk, always, since readers must not wait for
// a sync); otherwise new transactions wait for the publication.
func (db *DB) freeze() {
	db.vmu.Lock()
	defer db.vmu.Unlock()
	cur := db.cur
	if cur.snap != nil {
		return
	}
	// Readers wait for a publication only if none is waiting already, so a steady stream of
	// commits cannot starve them.
	if cur.refs == 0 && db.waiting == 0 && !db.sync {
		db.applying = true
		return
	}
	cur.mu.Lock()    // wait for reads in flight
	if !cur.closed { // closed when the database failed: nothing reads it any more
		cur.snap = db.pdb.NewSnapshot()
	}
	cur.mu.Unlock()
}

// unfreeze lets transactions take the latest view again after a failed apply.
func (db *DB) unfreeze() {
	db.vmu.Lock()
	db.pending = 0
	db.applying = false
	db.applied.Broadcast()
	db.vmu.Unlock()
}

// releaseView drops tx's reference on v.
func (db *DB) releaseView(tx *transaction, v *view) {
	db.vmu.Lock()
	v.refs--
	if !v.reaped {
		db.refs--
	}
	if i, last := tx.holdIdx, len(v.holders)-1; i >= 0 && i <= last {
		if i != last {
			v.holders[i] = v.holders[last]
			if o := v.holders[i].Value(); o != nil {
				o.holdIdx = i
			}
		}
		v.holders[last] = weak.Pointer[transaction]{}
		v.holders = v.holders[:last]
	}
	tx.holdIdx = -1
	drop := v.refs == 0 && v != db.cur && !db.closed
	if drop {
		delete(db.views, v)
	}
	db.vmu.Unlock()
	if drop {
		v.close()
	}
}

// live reports whether a transaction still holds v and can still be used: its own reads of what
// it already fetched are answered from v however old it is, as FoundationDB answers them from
// the transaction's cache. It needs vmu.
func (v *view) live() bool {
	for _, h := range v.holders {
		if h.Value() != nil {
			return true
		}
	}
	return false
}

// reap closes the snapshots of views that no transaction can use any more: older than the
// window and held by no live transaction (one that was dropped without being finished is
// garbage). An open snapshot keeps Pebble from compacting away old data, so a transaction that
// lives on past the window keeps its view's data until it is finished, reset or dropped.
func (db *DB) reap() {
	defer db.reaperWG.Done()
	every := db.window / 2
	if every < 10*time.Millisecond {
		every = 10 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	failed := db.failed
	for {
		select {
		case <-db.stop:
			return
		case <-failed:
			failed = nil // handled once
			db.shutDown(db.failedErr())
		case now := <-t.C:
			var old []*view
			db.vmu.Lock()
			for v := range db.views {
				if v == db.cur || now.Sub(v.lastUse) <= db.window+time.Second {
					continue
				}
				if !v.reaped {
					// Its transactions can no longer commit writes (their read version is too
					// old), so they no longer count as readers the resolver must serve.
					db.refs -= v.refs
					v.reaped = true
				}
				if !v.live() {
					delete(db.views, v)
					old = append(old, v)
				}
			}
			db.vmu.Unlock()
			for _, v := range old {
				v.close()
			}
		}
	}
}

// shutDown stops a database that failed with err: transactions that already read get err from
// their next read, pending watches fail with it, and once the commit in flight (if any) is done
// the storage is closed, which also stops Pebble from retrying the compaction that failed. The
// directory stays locked until Close.
func (db *DB) shutDown(err error) {
	closeViews(db.takeViews(false), func(v *view) { v.failed = err })
	db.watches.closeAll(err)
	// New commits see the failure before they queue; wait for the group in flight.
	db.qmu.Lock()
	for db.leading {
		db.idle.Wait()
	}
	db.qmu.Unlock()
	db.stopStorage()
}

// stopStorage closes Pebble once.
func (db *DB) stopStorage() error {
	db.stopOnce.Do(func() { db.stopErr = db.pdb.Close() })
	return db.stopErr
}
