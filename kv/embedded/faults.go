package embedded

import (
	"math/rand/v2"
	"sync"

	"github.com/layerkit/layerkit/kv"
)

// fault is what the injector decided for one commit.
type fault int

const (
	faultNone fault = iota
	faultNotCommitted
	faultUnknownApplied
	faultUnknownNotApplied
)

// faultInjector draws commit faults from a seeded source; it is safe for concurrent use.
type faultInjector struct {
	mu  sync.Mutex
	f   kv.Faults
	rnd *rand.Rand
}

func (fi *faultInjector) init(f kv.Faults, seed uint64) {
	if seed == 0 {
		seed = rand.Uint64()
	}
	fi.f = f
	fi.rnd = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

func (fi *faultInjector) set(f kv.Faults) {
	fi.mu.Lock()
	fi.f = f
	fi.mu.Unlock()
}

// pick draws the fault for one commit.
func (fi *faultInjector) pick() fault {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	f := fi.f
	if f.NotCommitted <= 0 && f.UnknownApplied <= 0 && f.UnknownNotApplied <= 0 {
		return faultNone
	}
	r := fi.rnd.Float64()
	switch {
	case r < f.NotCommitted:
		return faultNotCommitted
	case r < f.NotCommitted+f.UnknownApplied:
		return faultUnknownApplied
	case r < f.NotCommitted+f.UnknownApplied+f.UnknownNotApplied:
		return faultUnknownNotApplied
	}
	return faultNone
}
