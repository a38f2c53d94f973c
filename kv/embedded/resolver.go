package embedded

import (
	"bytes"
	"time"

	"github.com/RaduBerinde/btreemap"

	"github.com/layerkit/layerkit/kv"
)

// resolver remembers the write-conflict ranges of recent commits and answers whether a read
// range was written after a read version. It is owned by the commit leader.
//
// Writes are kept per time slice (a generation) so that forgetting commits older than the
// transaction window drops whole generations instead of scanning entries. Inside a generation
// single-key writes, by far the most common, sit in an ordered map from key to its last write
// version (one insert per write). Range writes (range clears, explicit conflict ranges) form a
// step function over the key space, as in FoundationDB's resolver: an entry k → v says that the
// keys from k up to the next entry were last written at version v (0: not written). Since commit
// versions only grow, writing [b, e) at v replaces every step inside the range. A check costs a
// lookup per structure plus the entries inside the read range.
type resolver struct {
	window time.Duration
	gens   []*generation
}

type generation struct {
	start      time.Time
	last       time.Time
	maxVersion int64
	points     *btreemap.BTreeMap[[]byte, int64]
	steps      *btreemap.BTreeMap[[]byte, int64] // nil until the first range write
}

func (r *resolver) init(window time.Duration) { r.window = window }

// isPoint reports whether rg is exactly one key: [k, k+0x00).
func isPoint(rg kv.Range) bool {
	n := len(rg.Begin)
	return len(rg.End) == n+1 && rg.End[n] == 0 && bytes.Equal(rg.End[:n], rg.Begin)
}

// conflicts reports whether any of the ranges was written at a version after rv.
func (r *resolver) conflicts(ranges []kv.Range, rv int64) bool {
	for _, g := range r.gens {
		if g.maxVersion <= rv {
			continue
		}
		for _, rg := range ranges {
			if g.conflicts(rg, rv) {
				return true
			}
		}
	}
	return false
}

// addPoint records that key was written at version v (at least every earlier version). The
// resolver keeps key, which must not change afterwards.
func (r *resolver) addPoint(key []byte, v int64, now time.Time) {
	g := r.current(now, v)
	g.points.ReplaceOrInsert(key, v)
}

// add records that the range was written at version v.
func (r *resolver) add(rg kv.Range, v int64, now time.Time) {
	if isPoint(rg) {
		r.addPoint(rg.Begin, v, now)
		return
	}
	if bytes.Compare(rg.Begin, rg.End) >= 0 {
		return
	}
	g := r.current(now, v)
	if g.steps == nil {
		g.steps = btreemap.New[[]byte, int64](16, bytes.Compare)
	}
	g.addRange(rg, v)
}

// current returns the generation new writes go to, starting one every quarter window and
// dropping those whose writes are all older than any live transaction can be.
func (r *resolver) current(now time.Time, v int64) *generation {
	n := len(r.gens)
	if n == 0 || now.Sub(r.gens[n-1].start) >= r.window/4 {
		r.rotate(now)
		n = len(r.gens)
	}
	g := r.gens[n-1]
	g.last = now
	if v > g.maxVersion {
		g.maxVersion = v
	}
	return g
}

func (r *resolver) rotate(now time.Time) {
	// A transaction that still passes the age check took its read version after now-window,
	// when every write of a generation last written before then was visible; the second of
	// slack covers the time between resolving and publishing a commit.
	keep := r.gens[:0]
	for _, g := range r.gens {
		if now.Sub(g.last) <= r.window+time.Second {
			keep = append(keep, g)
		}
	}
	for i := len(keep); i < len(r.gens); i++ {
		r.gens[i] = nil
	}
	r.gens = append(keep, &generation{
		start:  now,
		last:   now,
		points: btreemap.New[[]byte, int64](32, bytes.Compare),
	})
}

// stepAt returns the step value covering key.
func (g *generation) stepAt(key []byte) int64 {
	for _, v := range g.steps.Descend(btreemap.LE(key), btreemap.Min[[]byte]()) {
		return v
	}
	return 0
}

func (g *generation) conflicts(rg kv.Range, rv int64) bool {
	if isPoint(rg) {
		if _, v, ok := g.points.Get(rg.Begin); ok && v > rv {
			return true
		}
	} else {
		for _, v := range g.points.Ascend(btreemap.GE(rg.Begin), btreemap.LT(rg.End)) {
			if v > rv {
				return true
			}
		}
	}
	if g.steps == nil {
		return false
	}
	if g.stepAt(rg.Begin) > rv {
		return true
	}
	for _, v := range g.steps.Ascend(btreemap.GT(rg.Begin), btreemap.LT(rg.End)) {
		if v > rv {
			return true
		}
	}
	return false
}

func (g *generation) addRange(rg kv.Range, v int64) {
	endVal := g.stepAt(rg.End)
	var inside [][]byte
	for k := range g.steps.Ascend(btreemap.GT(rg.Begin), btreemap.LT(rg.End)) {
		inside = append(inside, k)
	}
	for _, k := range inside {
		g.steps.Delete(k)
	}
	if _, _, ok := g.steps.Get(rg.End); !ok {
		g.steps.ReplaceOrInsert(rg.End, endVal)
	}
	g.steps.ReplaceOrInsert(rg.Begin, v)
}
