package directory

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/tuple"
)

// allocMu makes the steps of one allocation that must not interleave with another allocation in
// the same transaction atomic: setting SetNextWriteNoWriteConflictRange and the write it is for,
// and the window bookkeeping. It is held only while reads are issued, never while they are
// awaited.
var allocMu sync.Mutex

// allocator is the high contention allocator (spec §2). It hands out short integers c, never the
// same twice, so that concurrent allocations rarely conflict: counters are read at snapshot and
// changed with atomic ADD, and two transactions conflict only when they pick the same candidate.
type allocator struct {
	counters []byte // hca + pack((0,)); counters[start] counts allocations in the window at start
	recent   []byte // hca + pack((1,)); recent[c] marks candidate c as taken
}

func newAllocator(hca []byte) allocator {
	return allocator{
		counters: concat(hca, tuple.Tuple{0}.Pack()),
		recent:   concat(hca, tuple.Tuple{1}.Pack()),
	}
}

var addOne = []byte{1, 0, 0, 0, 0, 0, 0, 0}

// drawCandidate returns a uniform integer in [0, n). Tests replace it to make allocation
// deterministic.
var drawCandidate = rand.Int64N

func (a allocator) counterKey(start int64) []byte {
	return concat(a.counters, tuple.Tuple{start}.Pack())
}
func (a allocator) recentKey(c int64) []byte { return concat(a.recent, tuple.Tuple{c}.Pack()) }

func (a allocator) countersRange() kv.Range {
	return kv.Range{Begin: concat(a.counters, []byte{0x00}), End: concat(a.counters, []byte{0xff})}
}

// latest issues the snapshot read of the last counter key.
func (a allocator) latest(snap kv.ReadTransaction) kv.RangeResult {
	return snap.GetRange(a.countersRange(), kv.RangeOptions{Limit: 1, Reverse: true})
}

// startOf decodes the window start of the last counter, 0 when there is none.
func (a allocator) startOf(r kv.RangeResult) (int64, error) {
	kvs, err := r.GetSlice()
	if err != nil {
		return 0, err
	}
	if len(kvs) == 0 {
		return 0, nil
	}
	t, err := tuple.Unpack(kvs[0].Key[len(a.counters):])
	if err != nil || len(t) != 1 {
		return 0, fmt.Errorf("%w: allocator counter key %s: %v", ErrCorrupt, kv.Printable(kvs[0].Key), err)
	}
	start, ok := t[0].(int64)
	if !ok || start < 0 {
		return 0, fmt.Errorf("%w: allocator counter key %s does not hold a window start", ErrCorrupt, kv.Printable(kvs[0].Key))
	}
	return start, nil
}

// windowSize grows the window as allocations accumulate, so prefixes stay short while few
// directories exist and candidates stay easy to find when many do.
func windowSize(start int64) int64 {
	switch {
	case start < 255:
		return 64
	case start < 65535:
		return 1024
	default:
		return 8192
	}
}

// decodeCount reads a little-endian int64 counter, zero-extending a shorter value.
func decodeCount(v []byte) int64 {
	var b [8]byte
	copy(b[:], v)
	return int64(binary.LittleEndian.Uint64(b[:]))
}

// allocate returns pack((c,)) for a candidate c that no other allocation has returned or will
// return, following spec §2 step by step.
func (a allocator) allocate(tr kv.Transaction) ([]byte, error) {
	snap := tr.Snapshot()
restart:
	for {
		start, err := a.startOf(a.latest(snap))
		if err != nil {
			return nil, err
		}
		var window int64
		advanced := false
		for {
			allocMu.Lock()
			if advanced {
				tr.ClearRange(kv.Range{Begin: a.counters, End: a.counterKey(start)})
				tr.SetNextWriteNoWriteConflictRange()
				tr.ClearRange(kv.Range{Begin: a.recent, End: a.recentKey(start)})
			}
			tr.Atomic(kv.Add, a.counterKey(start), addOne)
			countF := snap.Get(a.counterKey(start))
			allocMu.Unlock()
			v, err := countF.Get()
			if err != nil {
				return nil, err
			}
			count := decodeCount(v)
			window = windowSize(start)
			if count*2 < window {
				break
			}
			start += window
			advanced = true
		}
		for {
			// The window was less than half full at the snapshot, so this takes about two tries.
			c := start + drawCandidate(window)
			key := a.recentKey(c)
			allocMu.Lock()
			latestR := a.latest(snap)
			candF := tr.Get(key) // not snapshot: two allocators that pick c conflict here
			tr.SetNextWriteNoWriteConflictRange()
			tr.Set(key, []byte{})
			allocMu.Unlock()
			latest, err := a.startOf(latestR)
			if err != nil {
				return nil, err
			}
			taken, err := candF.Get()
			if err != nil {
				return nil, err
			}
			if latest > start {
				// Another allocation in this transaction moved the window on.
				continue restart
			}
			if taken == nil {
				if err := tr.AddWriteConflictKey(key); err != nil {
					return nil, err
				}
				return tuple.Tuple{c}.Pack(), nil
			}
		}
	}
}
