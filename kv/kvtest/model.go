package kvtest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/layerkit/layerkit/kv"
)

// The model-based random test drives the database and an in-memory model with the same random
// transactions and compares every read and every committed state. The model is a sorted map
// with its own implementation of the atomic mutations (written from FoundationDB's rules, not
// shared with the engines), read-your-writes, and snapshot isolation: reads see the state at
// the transaction's start plus its own writes; a commit replays the writes on the latest state.

// modelState is a committed state: key -> value.
type modelState map[string][]byte

func (m modelState) clone() modelState {
	out := make(modelState, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (m modelState) sortedKeys() []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func (m modelState) String() string {
	var sb strings.Builder
	for _, k := range m.sortedKeys() {
		fmt.Fprintf(&sb, "%s=%s ", kv.Printable([]byte(k)), kv.Printable(m[k]))
	}
	return sb.String()
}

// mop is one buffered write.
type mop struct {
	kind       string // set, clear, clearRange, atomic
	key, end   string
	value      []byte
	atomicType kv.MutationType
}

func (o mop) apply(m modelState) {
	switch o.kind {
	case "set":
		m[o.key] = o.value
	case "clear":
		delete(m, o.key)
	case "clearRange":
		for k := range m {
			if k >= o.key && k < o.end {
				delete(m, k)
			}
		}
	case "atomic":
		old, ok := m[o.key]
		if v, keep := modelAtomic(o.atomicType, old, ok, o.value); keep {
			m[o.key] = v
		} else {
			delete(m, o.key)
		}
	}
}

func (o mop) String() string {
	switch o.kind {
	case "set":
		return fmt.Sprintf("set(%s, %s)", kv.Printable([]byte(o.key)), kv.Printable(o.value))
	case "clear":
		return fmt.Sprintf("clear(%s)", kv.Printable([]byte(o.key)))
	case "clearRange":
		return fmt.Sprintf("clearRange(%s, %s)", kv.Printable([]byte(o.key)), kv.Printable([]byte(o.end)))
	}
	return fmt.Sprintf("%v(%s, %s)", o.atomicType, kv.Printable([]byte(o.key)), kv.Printable(o.value))
}

// modelAtomic applies an atomic mutation the way FoundationDB documents it. keep is false when
// the key ends up absent.
func modelAtomic(op kv.MutationType, old []byte, present bool, p []byte) (v []byte, keep bool) {
	// fitted is the stored value zero-extended or truncated to the parameter's length.
	fitted := make([]byte, len(p))
	copy(fitted, old)
	switch op {
	case kv.Add:
		carry := 0
		out := make([]byte, len(p))
		for i := range p {
			s := int(fitted[i]) + int(p[i]) + carry
			out[i], carry = byte(s), s>>8
		}
		return out, true
	case kv.BitAnd, kv.BitOr, kv.BitXor:
		if op == kv.BitAnd && !present {
			return slices.Clone(p), true
		}
		out := make([]byte, len(p))
		for i := range p {
			switch op {
			case kv.BitAnd:
				out[i] = fitted[i] & p[i]
			case kv.BitOr:
				out[i] = fitted[i] | p[i]
			default:
				out[i] = fitted[i] ^ p[i]
			}
		}
		return out, true
	case kv.AppendIfFits:
		if len(old)+len(p) > kv.MaxValueSize {
			return old, present
		}
		return append(append([]byte{}, old...), p...), true
	case kv.Max, kv.Min:
		if !present {
			return slices.Clone(p), true
		}
		// Compare as little-endian unsigned integers: from the last byte down.
		cmp := 0
		for i := len(p) - 1; i >= 0 && cmp == 0; i-- {
			cmp = int(p[i]) - int(fitted[i])
		}
		if (op == kv.Max && cmp > 0) || (op == kv.Min && cmp < 0) {
			return slices.Clone(p), true
		}
		return fitted, true
	case kv.ByteMin:
		if !present || bytes.Compare(p, old) < 0 {
			return slices.Clone(p), true
		}
		return old, true
	case kv.ByteMax:
		if !present || bytes.Compare(p, old) > 0 {
			return slices.Clone(p), true
		}
		return old, true
	case kv.CompareAndClear:
		if present && bytes.Equal(old, p) {
			return nil, false
		}
		return old, present
	}
	panic(fmt.Sprintf("model: unexpected mutation %v", op))
}

// resolveSelector resolves sel over sorted keys as FoundationDB does.
func resolveSelector(sel kv.KeySelector, sorted []string) string {
	n := 0 // keys before (or at, with OrEqual) sel.Key
	for _, k := range sorted {
		if k < string(sel.Key) || (sel.OrEqual && k == string(sel.Key)) {
			n++
		}
	}
	i := n - 1 + sel.Offset
	switch {
	case i < 0:
		return ""
	case i >= len(sorted):
		return "\xff"
	}
	return sorted[i]
}

var (
	modelAlphabet = []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	modelValues   = [][]byte{{}, {0}, {1}, {0xff}, []byte("a"), []byte("b"), {1, 0}, {0xff, 0xff}, []byte("ab"), {0, 1, 2}}
	modelAtomics  = []kv.MutationType{kv.Add, kv.BitAnd, kv.BitOr, kv.BitXor, kv.AppendIfFits, kv.Max, kv.Min,
		kv.ByteMin, kv.ByteMax, kv.CompareAndClear}
)

type modelRun struct {
	t    *testing.T
	db   kv.Database
	r    *rand.Rand
	seed uint64
	log  []string // what the current transaction did, printed on failure

	committed modelState // the latest committed state

	tr         kv.Transaction
	base       modelState // committed state at the read version
	view       modelState // base plus own writes: what reads must see
	ops        []mop
	fault      modelFault      // the fault injected into this transaction's commit
	interfered map[string]bool // keys other transactions wrote since the read version
	readKeys   map[string]bool // keys read by non-snapshot Get whose value came from the store
	ownReads   map[string]bool // keys read by non-snapshot Get whose value own writes determined
	indep      map[string]bool // keys whose value own writes determine (set, clear, clear-range)
	rangeReads bool            // a non-snapshot GetKey or GetRange happened

	stats map[string]int // outcomes, logged at the end
}

func (m *modelRun) fail(format string, args ...any) {
	m.t.Helper()
	m.t.Fatalf("model (seed %d, replay with LAYERKIT_KVTEST_SEED=%d): %s\ntransaction so far:\n  %s",
		m.seed, m.seed, fmt.Sprintf(format, args...), strings.Join(m.log, "\n  "))
}

func (m *modelRun) key() string {
	k := modelAlphabet[m.r.IntN(len(modelAlphabet))]
	if m.r.IntN(2) == 0 {
		k += modelAlphabet[m.r.IntN(len(modelAlphabet))]
	}
	return k
}

// modelKeysAfter lists the two-letter keys starting with a.
func modelKeysAfter(a string) []string {
	out := make([]string, 0, len(modelAlphabet))
	for _, c := range modelAlphabet {
		out = append(out, a+c)
	}
	return out
}

func (m *modelRun) value() []byte { return slices.Clone(modelValues[m.r.IntN(len(modelValues))]) }

func (m *modelRun) selector() kv.KeySelector {
	k := m.key()
	if m.r.IntN(10) == 0 {
		k = ""
	}
	return kv.KeySelector{Key: []byte(k), OrEqual: m.r.IntN(2) == 0, Offset: m.r.IntN(7) - 3}
}

func (m *modelRun) begin() {
	tr, err := m.db.CreateTransaction()
	if err != nil {
		m.fail("CreateTransaction: %v", err)
	}
	m.tr = tr
	m.restart()
}

// restart starts over after begin or Reset: a new read version, no writes, no reads.
func (m *modelRun) restart() {
	if _, err := m.tr.GetReadVersion().Get(); err != nil {
		m.fail("GetReadVersion: %v", err)
	}
	m.base = m.committed.clone()
	m.view = m.committed.clone()
	m.ops = nil
	m.interfered = map[string]bool{}
	m.readKeys = map[string]bool{}
	m.ownReads = map[string]bool{}
	m.indep = map[string]bool{}
	m.rangeReads = false
	m.log = m.log[:0]
	m.fault = faultNone
	if _, ok := m.db.(kv.FaultInjector); ok {
		switch p := m.r.IntN(20); {
		case p < 2:
			m.fault = faultNotCommitted
		case p < 4:
			m.fault = faultUnknownApplied
		case p < 6:
			m.fault = faultUnknownNotApplied
		}
	}
	m.log = append(m.log, fmt.Sprintf("begin (fault at commit: %q)", m.fault))
}

func (m *modelRun) write(o mop) {
	m.ops = append(m.ops, o)
	o.apply(m.view)
	m.log = append(m.log, o.String())
	switch o.kind {
	case "set":
		m.indep[o.key] = true
		m.tr.Set([]byte(o.key), o.value)
	case "clear":
		m.indep[o.key] = true
		m.tr.Clear([]byte(o.key))
	case "clearRange":
		for _, a := range modelAlphabet {
			for _, k := range append([]string{a}, modelKeysAfter(a)...) {
				if k >= o.key && k < o.end {
					m.indep[k] = true
				}
			}
		}
		m.tr.ClearRange(kv.Range{Begin: []byte(o.key), End: []byte(o.end)})
	case "atomic":
		m.tr.Atomic(o.atomicType, []byte(o.key), o.value)
	}
}

func (m *modelRun) reader(snapshot bool) kv.ReadTransaction {
	if snapshot {
		return m.tr.Snapshot()
	}
	return m.tr
}

func (m *modelRun) step() {
	switch p := m.r.IntN(100); {
	case p < 14:
		m.write(mop{kind: "set", key: m.key(), value: m.value()})
	case p < 20:
		m.write(mop{kind: "clear", key: m.key()})
	case p < 24:
		a, z := m.key(), m.key()
		if a == z {
			z += "\x00"
		} else if a > z {
			a, z = z, a
		}
		m.write(mop{kind: "clearRange", key: a, end: z})
	case p < 40:
		m.write(mop{kind: "atomic", key: m.key(), value: m.value(), atomicType: modelAtomics[m.r.IntN(len(modelAtomics))]})
	case p < 56:
		k, snap := m.key(), m.r.IntN(3) == 0
		got, err := m.reader(snap).Get([]byte(k)).Get()
		m.log = append(m.log, fmt.Sprintf("get(%s, snapshot=%v) = %s, %v", kv.Printable([]byte(k)), snap, hexs(got), err))
		if err != nil {
			m.fail("Get: %v", err)
		}
		want, ok := m.view[k]
		if ok != (got != nil) || !bytes.Equal(want, got) {
			m.fail("Get(%s) = %s, model has %s (present %v)", kv.Printable([]byte(k)), hexs(got), hexs(want), ok)
		}
		// FoundationDB adds a read conflict only when the value came from the store: a key
		// whose value the transaction's own set or clear determined is not read from it.
		if !snap && !m.indep[k] {
			m.readKeys[k] = true
		} else if !snap {
			m.ownReads[k] = true
		}
	case p < 66:
		sel, snap := m.selector(), m.r.IntN(3) == 0
		got, err := m.reader(snap).GetKey(sel).Get()
		m.log = append(m.log, fmt.Sprintf("getKey(%v, snapshot=%v) = %s, %v", sel, snap, kv.Printable(got), err))
		if err != nil {
			m.fail("GetKey: %v", err)
		}
		if want := resolveSelector(sel, m.view.sortedKeys()); want != string(got) {
			m.fail("GetKey(%v) = %s, model resolves %s over %v", sel, kv.Printable(got), kv.Printable([]byte(want)), m.view)
		}
		m.rangeReads = m.rangeReads || !snap
	case p < 80:
		m.rangeRead()
	case p < 84:
		m.interfere()
	default:
		// A pause in the transaction: nothing to do, keeps the other cases' mix.
	}
}

func (m *modelRun) rangeRead() {
	var r kv.Ranger
	var bk, ek string
	sorted := m.view.sortedKeys()
	if m.r.IntN(2) == 0 {
		a, z := m.key(), m.key()
		if a > z {
			a, z = z, a
		}
		r, bk, ek = kv.Range{Begin: []byte(a), End: []byte(z)}, a, z
	} else {
		sr := kv.SelectorRange{Begin: m.selector(), End: m.selector()}
		r, bk, ek = sr, resolveSelector(sr.Begin, sorted), resolveSelector(sr.End, sorted)
	}
	o := kv.RangeOptions{Limit: m.r.IntN(5), Reverse: m.r.IntN(2) == 0, Mode: kv.StreamingMode(m.r.IntN(7))}
	if o.Mode == kv.StreamingExact && o.Limit == 0 {
		o.Limit = 3
	}
	snap := m.r.IntN(3) == 0
	var want []string
	for _, k := range sorted {
		if k >= bk && k < ek {
			want = append(want, kv.Printable([]byte(k))+"="+kv.Printable(m.view[k]))
		}
	}
	if o.Reverse {
		slices.Reverse(want)
	}
	if o.Limit > 0 && len(want) > o.Limit {
		want = want[:o.Limit]
	}
	var got []kv.KeyValue
	var err error
	if m.r.IntN(2) == 0 {
		got, err = m.reader(snap).GetRange(r, o).GetSlice()
	} else {
		it := m.reader(snap).GetRange(r, o).Iterator()
		for it.Next() {
			got = append(got, it.KeyValue())
		}
		err = it.Err()
	}
	m.log = append(m.log, fmt.Sprintf("getRange(%v, %+v, snapshot=%v) = %v, %v", r, o, snap, rows(got), err))
	if err != nil {
		m.fail("GetRange: %v", err)
	}
	if g := rows(got); !slices.Equal(g, want) && !(len(g) == 0 && len(want) == 0) {
		m.fail("GetRange(%v, %+v) = %v, model has %v", r, o, g, want)
	}
	m.rangeReads = m.rangeReads || !snap
}

// interfere commits a blind write from another transaction, retrying until it is applied:
// a blind write is idempotent, so a retry after 1021 is harmless.
func (m *modelRun) interfere() {
	k, v, clear := m.key(), m.value(), m.r.IntN(4) == 0
	for attempt := 0; ; attempt++ {
		o, err := m.db.CreateTransaction()
		if err != nil {
			m.fail("CreateTransaction: %v", err)
		}
		if clear {
			o.Clear([]byte(k))
		} else {
			o.Set([]byte(k), v)
		}
		err = o.Commit()
		if err == nil {
			break
		}
		if !kv.IsRetryable(err) || attempt > 100 {
			m.fail("interfering commit: %v", err)
		}
	}
	if clear {
		delete(m.committed, k)
	} else {
		m.committed[k] = v
	}
	m.interfered[k] = true
	m.log = append(m.log, fmt.Sprintf("another transaction commits %s(%s)", map[bool]string{true: "clear", false: "set"}[clear], kv.Printable([]byte(k))))
}

// commit commits and checks the outcome against the model's conflict rules and the store.
func (m *modelRun) commit(ctx context.Context) {
	hasWrites := len(m.ops) > 0
	mustConflict, mayConflict := false, m.rangeReads
	for k := range m.readKeys {
		if m.interfered[k] {
			mustConflict = true
		}
	}
	for k := range m.ownReads {
		if m.interfered[k] {
			mayConflict = true // an engine may be stricter than FoundationDB here
		}
	}
	mustConflict = mustConflict && hasWrites
	mayConflict = (mayConflict || mustConflict) && hasWrites
	applied := m.committed.clone()
	for _, o := range m.ops {
		o.apply(applied)
	}
	// The fault is injected with certainty, so a seed replays the same outcomes.
	setFaults(m.db, m.fault.faults())
	err := m.tr.Commit()
	setFaults(m.db, kv.Faults{})
	m.log = append(m.log, fmt.Sprintf("commit with fault %q = %v (must conflict %v, may conflict %v)", m.fault, err, mustConflict, mayConflict))
	m.stats[outcome(err, m.fault, mustConflict)]++
	if !hasWrites {
		// A read-only commit changes nothing; an engine may skip both the check and the fault.
		if err != nil && !(m.fault != faultNone && (errorsIsNotCommitted(err) || kv.IsMaybeCommitted(err))) {
			m.fail("read-only commit: %v", err)
		}
		m.check(ctx)
		return
	}
	switch {
	case err == nil:
		if m.fault != faultNone {
			m.fail("commit succeeded although fault %q was injected", m.fault)
		}
		if mustConflict {
			m.fail("commit succeeded, but a key it read was written after its read version")
		}
		m.committed = applied
	case errorsIsNotCommitted(err):
		if m.fault != faultNotCommitted && !mayConflict {
			m.fail("commit failed with %v but nothing it read was written after its read version", err)
		}
	case kv.IsMaybeCommitted(err):
		got, derr := dump(ctx, m.db)
		if derr != nil {
			m.fail("dump: %v", derr)
		}
		switch m.fault {
		case faultUnknownApplied:
			switch {
			case equalState(got, applied) && (!mustConflict || equalState(got, m.committed)):
				m.committed = applied
			case equalState(got, m.committed) && mayConflict:
				// A real conflict: nothing may be applied.
			default:
				m.fail("fault %q: the store is %v, want the state with the commit %v", m.fault, rows(got), applied)
			}
		case faultUnknownNotApplied:
			if !equalState(got, m.committed) {
				m.fail("fault %q: the store is %v, want the state without the commit %v", m.fault, rows(got), m.committed)
			}
		default:
			m.fail("commit: %v, but fault %q was injected", err, m.fault)
		}
	default:
		m.fail("commit: %v", err)
	}
	m.check(ctx)
}

// modelFault is a commit fault the model injects with certainty.
type modelFault string

const (
	faultNone              modelFault = ""
	faultNotCommitted      modelFault = "1020"
	faultUnknownApplied    modelFault = "1021 applied"
	faultUnknownNotApplied modelFault = "1021 not applied"
)

func (f modelFault) faults() kv.Faults {
	switch f {
	case faultNotCommitted:
		return kv.Faults{NotCommitted: 1}
	case faultUnknownApplied:
		return kv.Faults{UnknownApplied: 1}
	case faultUnknownNotApplied:
		return kv.Faults{UnknownNotApplied: 1}
	}
	return kv.Faults{}
}

func outcome(err error, f modelFault, mustConflict bool) string {
	s := "committed"
	if err != nil {
		s = "failed " + strconv.Itoa(errCode(err))
	}
	if f != faultNone {
		s += " (fault " + string(f) + ")"
	}
	if mustConflict {
		s += " (must conflict)"
	}
	return s
}

func errCode(err error) int {
	e, _ := kv.AsError(err)
	return e.Code
}

func errorsIsNotCommitted(err error) bool {
	e, ok := kv.AsError(err)
	return ok && e.Code == kv.ErrNotCommitted.Code
}

func equalState(got []kv.KeyValue, m modelState) bool {
	if len(got) != len(m) {
		return false
	}
	for _, r := range got {
		v, ok := m[string(r.Key)]
		if !ok || !bytes.Equal(v, r.Value) {
			return false
		}
	}
	return true
}

// check compares the whole store with the model.
func (m *modelRun) check(ctx context.Context) {
	got, err := dump(ctx, m.db)
	if err != nil {
		m.fail("dump: %v", err)
	}
	if !equalState(got, m.committed) {
		m.fail("store %v, model %v", rows(got), m.committed)
	}
}

func modelSeed(t *testing.T) uint64 {
	if s := os.Getenv("LAYERKIT_KVTEST_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("LAYERKIT_KVTEST_SEED=%q: want an unsigned integer: %v", s, err)
		}
		return seed
	}
	return uint64(time.Now().UnixNano())
}

// testModel runs random transactions against the database and the model. Three commits in ten get
// a fault (1020, 1021 applied, 1021 not applied) injected with certainty, chosen by the seeded
// source, so that LAYERKIT_KVTEST_SEED replays a failure exactly: the model then knows what the
// store must hold. Conflicts are checked both ways: a commit whose plain Get read a key another
// transaction wrote after the read version must fail with 1020, and one whose reads could not
// have conflicted must succeed.
func testModel(t *testing.T, s *suite) {
	db := s.db(t)
	seed := modelSeed(t)
	t.Logf("seed %d (replay with LAYERKIT_KVTEST_SEED=%d)", seed, seed)
	m := &modelRun{t: t, db: db, r: rand.New(rand.NewPCG(seed, 0x6b7674657374)), seed: seed, committed: modelState{}, stats: map[string]int{}}
	ctx := context.Background()
	txs := scale(3000, 30000)
	start := time.Now()
	for i := range txs {
		if soak() && i%5000 == 0 {
			t.Logf("%d transactions after %v", i, time.Since(start).Round(time.Millisecond))
		}
		m.begin()
		for n := m.r.IntN(16); n > 0; n-- {
			m.step()
			if m.r.IntN(40) == 0 {
				m.tr.Reset()
				m.restart()
				m.log = append(m.log, "reset")
			}
		}
		if m.r.IntN(8) == 0 {
			m.tr.Cancel() // abandon: nothing may be applied
			m.check(ctx)
			continue
		}
		m.commit(ctx)
	}
	setFaults(db, kv.Faults{})
	t.Logf("%d transactions, commit outcomes: %v", txs, m.stats)
}
