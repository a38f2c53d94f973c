package kvtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
)

// Run runs the conformance suite against the databases open returns. open is called once per
// subtest and must return an empty database not shared with any other running subtest; it should
// register the database's closing with t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) kv.Database) {
	s := &suite{open: open}
	for _, g := range groups() {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					c.fn(t, s)
				})
			}
		})
	}
}

type testCase struct {
	name string
	fn   func(t *testing.T, s *suite)
}

type group struct {
	name  string
	cases []testCase
}

func groups() []group {
	return []group{
		{"ReadWrite", readWriteCases()},
		{"Range", rangeCases()},
		{"Selector", selectorCases()},
		{"ReadYourWrites", rywCases()},
		{"Conflict", conflictCases()},
		{"Atomic", atomicCases()},
		{"Versionstamp", versionstampCases()},
		{"MetadataVersion", metadataVersionCases()},
		{"Version", versionCases()},
		{"Limit", limitCases()},
		{"Lifecycle", lifecycleCases()},
		{"Window", windowCases()},
		{"Watch", watchCases()},
		{"Transact", transactCases()},
		{"Error", errorCases()},
		{"Workload", workloadCases()},
	}
}

type suite struct {
	open func(t *testing.T) kv.Database
}

// db opens a database for an exact-semantics subtest: faults off.
func (s *suite) db(t *testing.T) kv.Database {
	t.Helper()
	db := s.open(t)
	require.NotNil(t, db, "open returned a nil database")
	setFaults(db, kv.Faults{})
	return db
}

// workloadFaults is the fault rate the workloads run with: 5% of each kind.
var workloadFaults = kv.Faults{NotCommitted: 0.05, UnknownApplied: 0.05, UnknownNotApplied: 0.05}

func setFaults(db kv.Database, f kv.Faults) bool {
	fi, ok := db.(kv.FaultInjector)
	if ok {
		fi.InjectFaults(f)
	}
	return ok
}

// soak reports whether LAYERKIT_SOAK=1 asks for long runs.
func soak() bool { return os.Getenv("LAYERKIT_SOAK") == "1" }

func b(s string) []byte { return []byte(s) }

// newTr creates a transaction that is cancelled when the test ends.
func newTr(t *testing.T, db kv.Database) kv.Transaction {
	t.Helper()
	tr, err := db.CreateTransaction()
	require.NoError(t, err, "CreateTransaction")
	t.Cleanup(tr.Cancel)
	return tr
}

// startTr creates a transaction and fixes its read version.
func startTr(t *testing.T, db kv.Database) kv.Transaction {
	t.Helper()
	tr := newTr(t, db)
	_, err := tr.GetReadVersion().Get()
	require.NoError(t, err, "GetReadVersion")
	return tr
}

// write runs fn in a transaction and commits it (faults must be off: it does not retry).
func write(t *testing.T, db kv.Database, fn func(tr kv.Transaction)) {
	t.Helper()
	tr := newTr(t, db)
	fn(tr)
	require.NoError(t, tr.Commit(), "commit")
}

// setKeys writes alternating keys and values and commits.
func setKeys(t *testing.T, db kv.Database, kvs ...string) {
	t.Helper()
	require.Zero(t, len(kvs)%2, "setKeys wants key, value pairs")
	write(t, db, func(tr kv.Transaction) {
		for i := 0; i < len(kvs); i += 2 {
			tr.Set(b(kvs[i]), b(kvs[i+1]))
		}
	})
}

func get(t *testing.T, rt kv.ReadTransaction, key []byte) []byte {
	t.Helper()
	v, err := rt.Get(key).Get()
	require.NoError(t, err, "Get(%s)", kv.Printable(key))
	return v
}

// getDB reads key in a new transaction.
func getDB(t *testing.T, db kv.Database, key []byte) []byte {
	t.Helper()
	return get(t, newTr(t, db), key)
}

func getKey(t *testing.T, rt kv.ReadTransaction, sel kv.KeySelector) string {
	t.Helper()
	k, err := rt.GetKey(sel).Get()
	require.NoError(t, err, "GetKey(%v)", sel)
	return string(k)
}

func getRange(t *testing.T, rt kv.ReadTransaction, r kv.Ranger, o kv.RangeOptions) []kv.KeyValue {
	t.Helper()
	rows, err := rt.GetRange(r, o).GetSlice()
	require.NoError(t, err, "GetRange(%v, %+v)", r, o)
	return rows
}

// rows renders rows as "key=value" strings so failures print readably.
func rows(kvs []kv.KeyValue) []string {
	out := make([]string, 0, len(kvs))
	for _, r := range kvs {
		out = append(out, kv.Printable(r.Key)+"="+kv.Printable(r.Value))
	}
	return out
}

// keys renders the keys of rows.
func keys(kvs []kv.KeyValue) []string {
	out := make([]string, 0, len(kvs))
	for _, r := range kvs {
		out = append(out, kv.Printable(r.Key))
	}
	return out
}

// dump reads every user key of db.
func dump(ctx context.Context, db kv.Database) ([]kv.KeyValue, error) {
	return kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) ([]kv.KeyValue, error) {
		return tr.GetRange(kv.Range{Begin: []byte{}, End: []byte{0xff}}, kv.RangeOptions{Mode: kv.StreamingWantAll}).GetSlice()
	})
}

// requireCode asserts that err is the kv error want (possibly wrapped).
func requireCode(t *testing.T, want kv.Error, err error, msgAndArgs ...any) {
	t.Helper()
	require.Error(t, err, msgAndArgs...)
	require.ErrorIs(t, err, want, msgAndArgs...)
	e, ok := kv.AsError(err)
	require.True(t, ok, "error %v carries no kv.Error", err)
	require.Equal(t, want.Code, e.Code, msgAndArgs...)
}

func le64(v uint64) []byte {
	out := make([]byte, 8)
	for i := range out {
		out[i] = byte(v >> (8 * i))
	}
	return out
}

func fromLE(v []byte) uint64 {
	var n uint64
	for i := len(v) - 1; i >= 0; i-- {
		n = n<<8 | uint64(v[i])
	}
	return n
}

func le32(v int) []byte {
	return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}
}

func hexs(v []byte) string {
	if v == nil {
		return "<absent>"
	}
	return fmt.Sprintf("%x", v)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func compareBytes(a, b []byte) int { return bytes.Compare(a, b) }

func repeat(c byte, n int) []byte { return bytes.Repeat([]byte{c}, n) }
