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
// transaction window drops whole generations instead of scanning entries. Inside a generation the
// writes form a step function over the key space, as in FoundationDB's resolver: an entry k → v
// says that the keys from k up to the next entry were last written at version v (0: not written
// in this generation). Since commit versions only grow, writing [b, e) at v replaces every step
// inside the range, so a check costs one floor lookup plus the steps inside the read range.
type resolver struct {
	window time.Duration
	gens   []*generation
}

type generation struct {
	start      time.Time
	last       time.Time
	maxVersion int64
	steps      *btreemap.BTreeMap[[]byte, int64]
}

func (r *resolver) init(window time.Duration) { r.window = window }

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

// add records that the range was written at version v (which is at least every earlier one).
func (r *resolver) add(rg kv.Range, v int64, now time.Time) {
	if bytes.Compare(rg.Begin, rg.End) >= 0 {
		return
	}
	g := r.current(now)
	g.add(rg, v)
	g.last = now
	if v > g.maxVersion {
		g.maxVersion = v
	}
}

// current returns the generation new writes go to, starting one every quarter window and
// dropping those whose writes are all older than any live transaction can be.
func (r *resolver) current(now time.Time) *generation {
	if n := len(r.gens); n > 0 && now.Sub(r.gens[n-1].start) < r.window/4 {
		return r.gens[n-1]
	}
	// A transaction that still passes the age check took its read version after
	// now-window, when every write of a generation last written before then was visible; the
	// second of slack covers the time between resolving and publishing a commit.
	keep := r.gens[:0]
	for _, g := range r.gens {
		if now.Sub(g.last) <= r.window+time.Second {
			keep = append(keep, g)
		}
	}
	for i := len(keep); i < len(r.gens); i++ {
		r.gens[i] = nil
	}
	r.gens = keep
	g := &generation{start: now, last: now, steps: btreemap.New[[]byte, int64](16, bytes.Compare)}
	r.gens = append(r.gens, g)
	return g
}

// valueAt returns the step value covering key.
func (g *generation) valueAt(key []byte) int64 {
	for _, v := range g.steps.Descend(btreemap.LE(key), btreemap.Min[[]byte]()) {
		return v
	}
	return 0
}

func (g *generation) conflicts(rg kv.Range, rv int64) bool {
	if g.valueAt(rg.Begin) > rv {
		return true
	}
	for _, v := range g.steps.Ascend(btreemap.GT(rg.Begin), btreemap.LT(rg.End)) {
		if v > rv {
			return true
		}
	}
	return false
}

func (g *generation) add(rg kv.Range, v int64) {
	endVal := g.valueAt(rg.End)
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
