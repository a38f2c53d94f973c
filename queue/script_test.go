package queue_test

import (
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/queue"
	"github.com/layerkit/layerkit/queue/internal/queuepb"
	"github.com/layerkit/layerkit/subspace"
	"github.com/layerkit/layerkit/tuple"
)

var update = flag.Bool("update", false, "rewrite the expected output of testdata/*.script")

// TestScripts runs the data-driven scripts in testdata/*.script against a queue and a stream at
// the prefix ("s"), on an embedded engine without faults and a fake clock. Commit versions follow
// the engine's clock, so IDs are printed with their commit version replaced by its rank among
// the versions seen so far (1, 2, ...): the same on every run. Each case is a command, a line "----" and
// the expected output; "dump" prints every key under the prefix, decoded, with its value: the
// stored layout of the package documentation, byte for byte where it matters. Commands:
//
//	enqueue <payload> [delay=<d>] [priority=<n>] [key=<k>]   enqueue in a transaction
//	enqueue-many <p1,p2,...> [delay=... priority=... key=...]  EnqueueMany in a transaction
//	receive <n>                 lease up to n messages (leases are numbered from 1)
//	ack <lease> | nack <lease> [error=<e>] [delay=<d>] | extend <lease> <d>
//	redrive | purge | stats | advance <d>
//	append <value> [key=<k>]    append to the stream
//	advance-group <name> <n>    advance a group over the next n entries
//	trim <n>                    trim the stream before its n-th remaining entry
//	dump                        the keys and values under the prefix
//
// Run with -update to rewrite the expected output after checking the differences.
func TestScripts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.script"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			r := newScriptRunner(t)
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			var out strings.Builder
			for _, block := range strings.Split(strings.TrimSpace(string(data)), "\n\n") {
				var cmd string
				for _, l := range strings.Split(block, "\n") {
					if strings.HasPrefix(l, "#") {
						out.WriteString(l + "\n")
					} else if cmd == "" {
						cmd = l
					}
				}
				require.NotEmpty(t, cmd, "block without a command in %s:\n%s", file, block)
				out.WriteString(cmd + "\n----\n" + r.ranked(r.run(cmd)) + "\n\n")
			}
			got := strings.TrimSpace(out.String()) + "\n"
			if *update {
				require.NoError(t, os.WriteFile(file, []byte(got), 0o644))
				return
			}
			require.Equal(t, string(data), got)
		})
	}
}

// tokenPattern matches a lease token in an error: tokens are random.
var tokenPattern = regexp.MustCompile(`\b[0-9a-f]{32}\b`)

// idPattern matches an entry ID as printed: 16 hex digits of commit version, 8 of batch order
// and user version.
var idPattern = regexp.MustCompile(`\b([0-9a-f]{16})([0-9a-f]{8})\b`)

// ranked replaces the commit version of every ID in s by its rank in order of first appearance,
// which follows commit order in a script.
func (r *scriptRunner) ranked(s string) string {
	return idPattern.ReplaceAllStringFunc(s, func(id string) string {
		m := idPattern.FindStringSubmatch(id)
		n, ok := r.versions[m[1]]
		if !ok {
			n = len(r.versions) + 1
			r.versions[m[1]] = n
		}
		return fmt.Sprintf("%016x%s", n, m[2])
	})
}

type scriptRunner struct {
	t      *testing.T
	db     kv.Database
	prefix subspace.Subspace
	clock  *fakeClock
	q      *queue.Queue
	s      *queue.Stream
	leases []queue.Lease
	// versions ranks the commit versions of the IDs printed so far.
	versions map[string]int
}

func newScriptRunner(t *testing.T) *scriptRunner {
	r := &scriptRunner{t: t, db: testdb.OpenEmbedded(t, &embedded.Options{}), prefix: subspace.Sub("s"), clock: newFakeClock(), versions: map[string]int{}}
	var err error
	r.q, err = queue.NewQueue(r.prefix.Sub("q"), &queue.Options{Clock: r.clock.Now, LeaseDuration: 10 * time.Second, MaxAttempts: 2, IdempotencyRetention: time.Hour})
	require.NoError(t, err)
	r.s, err = queue.NewStream(r.prefix.Sub("st"), &queue.StreamOptions{Clock: r.clock.Now, IdempotencyRetention: time.Hour})
	require.NoError(t, err)
	testdb.Check(t, r.db, "queue", queue.Check(r.prefix.Sub("q")))
	testdb.Check(t, r.db, "stream", queue.CheckStream(r.prefix.Sub("st")))
	return r
}

// args splits a command's words into positional ones and key=value options.
func args(words []string) ([]string, map[string]string) {
	var pos []string
	opts := map[string]string{}
	for _, w := range words {
		if k, v, ok := strings.Cut(w, "="); ok {
			opts[k] = v
		} else {
			pos = append(pos, w)
		}
	}
	return pos, opts
}

func (r *scriptRunner) duration(s string) time.Duration {
	d, err := time.ParseDuration(s)
	require.NoError(r.t, err, s)
	return d
}

func (r *scriptRunner) lease(s string) queue.Lease {
	n, err := strconv.Atoi(s)
	require.NoError(r.t, err)
	require.True(r.t, n >= 1 && n <= len(r.leases), "no lease %d", n)
	return r.leases[n-1]
}

func (r *scriptRunner) run(cmd string) string {
	words := strings.Fields(cmd)
	pos, opts := args(words[1:])
	result := func(err error) string {
		if err != nil {
			return "error: " + tokenPattern.ReplaceAllString(err.Error(), "<token>")
		}
		return "ok"
	}
	switch words[0] {
	case "enqueue", "enqueue-many":
		o := &queue.EnqueueOptions{}
		if d, ok := opts["delay"]; ok {
			o.Delay = r.duration(d)
		}
		if p, ok := opts["priority"]; ok {
			n, err := strconv.Atoi(p)
			require.NoError(r.t, err)
			o.Priority = int32(n)
		}
		if k, ok := opts["key"]; ok {
			o.IdempotencyKey = []byte(k)
		}
		if words[0] == "enqueue-many" {
			var ps [][]byte
			for _, p := range strings.Split(pos[0], ",") {
				ps = append(ps, []byte(p))
			}
			return r.writeMany(func(tr kv.Transaction) (kv.Future[[]queue.EntryID], error) {
				return r.q.EnqueueMany(ctx, tr, ps, o)
			})
		}
		return r.write(func(tr kv.Transaction) (kv.Future[queue.EntryID], error) {
			return r.q.Enqueue(ctx, tr, []byte(pos[0]), o)
		})
	case "receive":
		n, err := strconv.Atoi(pos[0])
		require.NoError(r.t, err)
		ls, err := r.q.Receive(ctx, r.db, queue.ReceiveOptions{Max: n})
		if err != nil {
			return result(err)
		}
		var out []string
		for _, l := range ls {
			r.leases = append(r.leases, l)
			out = append(out, fmt.Sprintf("lease %d: %s %q attempt %d expires %s", len(r.leases), l.ID, l.Payload, l.Attempts, r.rel(l.Expires.UnixMilli())))
		}
		if len(out) == 0 {
			return "nothing"
		}
		return strings.Join(out, "\n")
	case "ack":
		return result(r.q.Ack(ctx, r.db, r.lease(pos[0])))
	case "nack":
		o := &queue.NackOptions{Error: opts["error"]}
		if d, ok := opts["delay"]; ok {
			o.Delay = r.duration(d)
		}
		return result(r.q.Nack(ctx, r.db, r.lease(pos[0]), o))
	case "extend":
		_, err := r.q.Extend(ctx, r.db, r.lease(pos[0]), r.duration(pos[1]))
		return result(err)
	case "redrive":
		n, err := r.q.Redrive(ctx, r.db, queue.RedriveOptions{})
		if err != nil {
			return result(err)
		}
		return fmt.Sprintf("%d redriven", n)
	case "purge":
		return result(r.q.Purge(ctx, r.db))
	case "stats":
		st, err := r.q.Stats(ctx, r.db)
		if err != nil {
			return result(err)
		}
		return fmt.Sprintf("visible %d, delayed %d, in flight %d, dead %d, oldest visible %v", st.Visible, st.Delayed, st.InFlight, st.Dead, st.OldestVisibleAge)
	case "advance":
		r.clock.Advance(r.duration(pos[0]))
		return "now " + r.rel(r.clock.Now().UnixMilli())
	case "append":
		var o *queue.AppendOptions
		if k, ok := opts["key"]; ok {
			o = &queue.AppendOptions{IdempotencyKey: []byte(k)}
		}
		return r.write(func(tr kv.Transaction) (kv.Future[queue.EntryID], error) {
			return r.s.Append(ctx, tr, []byte(pos[0]), o)
		})
	case "advance-group":
		g, err := r.s.Group(pos[0])
		require.NoError(r.t, err)
		n, err := strconv.Atoi(pos[1])
		require.NoError(r.t, err)
		p, err := g.Read(ctx, r.db, queue.ReadOptions{Limit: n})
		require.NoError(r.t, err)
		return result(g.Advance(ctx, r.db, p.Cursor))
	case "trim":
		n, err := strconv.Atoi(pos[0])
		require.NoError(r.t, err)
		p, err := r.s.Read(ctx, r.db, queue.StreamStart, queue.ReadOptions{Limit: n})
		require.NoError(r.t, err)
		require.Len(r.t, p.Entries, n)
		return result(r.s.Trim(ctx, r.db, p.Entries[n-1].ID))
	case "dump":
		return r.dump()
	}
	r.t.Fatalf("unknown command %q", cmd)
	return ""
}

// write runs an enqueue or append in a transaction and prints the new ID, or the error.
func (r *scriptRunner) write(fn func(tr kv.Transaction) (kv.Future[queue.EntryID], error)) string {
	f, err := kv.Transact(ctx, r.db, fn)
	if err != nil {
		return "error: " + err.Error()
	}
	id, err := f.Get()
	require.NoError(r.t, err)
	return "id " + id.String()
}

// writeMany runs an EnqueueMany in a transaction and prints the new IDs, or the error.
func (r *scriptRunner) writeMany(fn func(tr kv.Transaction) (kv.Future[[]queue.EntryID], error)) string {
	f, err := kv.Transact(ctx, r.db, fn)
	if err != nil {
		return "error: " + err.Error()
	}
	ids, err := f.Get()
	require.NoError(r.t, err)
	out := "ids"
	for _, id := range ids {
		out += " " + id.String()
	}
	return out
}

// rel prints a unix millisecond time relative to the fake clock's start.
func (r *scriptRunner) rel(ms int64) string {
	return "t+" + (time.Duration(ms-newFakeClock().Now().UnixMilli()) * time.Millisecond).String()
}

// dump prints every key under the prefix as a tuple (versionstamps as IDs, times relative to
// the clock's start) and its value decoded by what the layout says it is.
func (r *scriptRunner) dump() string {
	rows, err := kv.ReadTransact(ctx, r.db, func(tr kv.ReadTransaction) ([]kv.KeyValue, error) {
		return tr.GetRange(r.prefix, kv.RangeOptions{}).GetSlice()
	})
	require.NoError(r.t, err)
	var out []string
	for _, row := range rows {
		t, err := r.prefix.Unpack(row.Key)
		require.NoError(r.t, err)
		out = append(out, r.tupleString(t)+" = "+r.value(t, row.Value))
	}
	return strings.Join(out, "\n")
}

func (r *scriptRunner) tupleString(t tuple.Tuple) string {
	var parts []string
	code, _ := t[1].(int64)
	for i, e := range t {
		switch e := e.(type) {
		case tuple.Versionstamp:
			id, err := queue.EntryIDFromVersionstamp(e)
			require.NoError(r.t, err)
			parts = append(parts, "id:"+id.String())
		case int64:
			if code == 2 && i == 3 || code == 5 && i == 2 { // schedule and expiry times
				parts = append(parts, r.rel(e))
			} else {
				parts = append(parts, strconv.FormatInt(e, 10))
			}
		default:
			parts = append(parts, tuple.Tuple{e}.String()[1:len(tuple.Tuple{e}.String())-1])
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func (r *scriptRunner) value(t tuple.Tuple, v []byte) string {
	kind, code := t[0].(string), t[1].(int64)
	switch {
	case len(v) == 0:
		return `""`
	case kind == "q" && (code == 1 || code == 3):
		m := &queuepb.Message{}
		require.NoError(r.t, proto.Unmarshal(v, m))
		s := fmt.Sprintf("%s %q prio %d enq %s", m.State, m.Payload, m.Priority, r.rel(m.EnqueuedAtMs))
		if m.VisibleAtMs != 0 {
			s += " at " + r.rel(m.VisibleAtMs)
		}
		s += fmt.Sprintf(" attempts %d", m.Attempts)
		if len(m.LeaseToken) > 0 {
			s += " leased until " + r.rel(m.LeaseExpiresMs)
		}
		if len(m.LastToken) > 0 {
			s += " nacked"
		}
		if m.LastError != "" {
			s += fmt.Sprintf(" error %q", m.LastError)
		}
		if m.DeadAtMs != 0 {
			s += " dead at " + r.rel(m.DeadAtMs)
		}
		return s
	case code == 4:
		id, err := queue.EntryIDFromBytes(v[:12])
		require.NoError(r.t, err)
		s := fmt.Sprintf("id %s until %s", id, r.rel(int64(binary.BigEndian.Uint64(v[12:20]))))
		if len(v) > 20 {
			s += fmt.Sprintf(" count %d", binary.BigEndian.Uint32(v[20:]))
		}
		return s
	case kind == "q" && code == 6 || code == 8:
		return strconv.FormatInt(int64(binary.LittleEndian.Uint64(v)), 10)
	case kind == "st" && (code == 6 || code == 7):
		return "id " + fmt.Sprintf("%x", v)
	case code == 9 && len(v) == 12:
		// The scratch key of appends: a read version (not a commit version) and the next user
		// version; only the latter is the same on every run.
		return fmt.Sprintf("read version, next user version %d", binary.BigEndian.Uint32(v[8:]))
	case kind == "st" && code == 1:
		ms, n := binary.Uvarint(v[1:])
		return fmt.Sprintf("format %d time %s %q", v[0], r.rel(int64(ms)), v[1+n:])
	}
	return fmt.Sprintf("%x", v)
}
