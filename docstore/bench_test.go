package docstore_test

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/layerkit/layerkit/docstore"
	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/tuple"
)

func benchEnv(b *testing.B) (kv.Database, *docstore.DB) {
	db := testdb.OpenEmbedded(b, &embedded.Options{})
	ds, err := docstore.Open(context.Background(), db, []string{"bench"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	return db, ds
}

// cpuMeter reports the process's CPU time per operation (user and system, every goroutine:
// the engine's and the garbage collector's too). On a machine shared with other work, wall time
// per operation swings with the load; CPU time per operation much less.
type cpuMeter struct {
	b     *testing.B
	start time.Duration
}

func startCPU(b *testing.B) *cpuMeter {
	b.ResetTimer()
	return &cpuMeter{b: b, start: processCPU()}
}

func (m *cpuMeter) stop() {
	m.b.StopTimer()
	m.b.ReportMetric(float64(processCPU()-m.start)/float64(m.b.N), "cpu-ns/op")
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// fill inserts n documents made by mk, 500 per transaction.
func fill(b *testing.B, db kv.Database, c *docstore.Collection, n int, mk func(i int) docstore.M) {
	var docs []any
	for i := 0; i < n; i++ {
		docs = append(docs, mk(i))
		if len(docs) == 500 || i == n-1 {
			if _, err := c.InsertMany(context.Background(), db, docs); err != nil {
				b.Fatal(err)
			}
			docs = nil
		}
	}
}

// flatDoc is a document of n fields: the _id and n-1 short strings f00, f01…
func flatDoc(i, n int) docstore.M {
	d := docstore.M{"_id": i}
	for f := 0; f < n-1; f++ {
		d[fmt.Sprintf("f%02d", f)] = fmt.Sprintf("value %d of %d", f, i)
	}
	return d
}

// benchDoc is a document of about 1 KB: 14 fields, one of them a long text.
func benchDoc(i int) docstore.M {
	return docstore.M{
		"_id": i, "name": fmt.Sprintf("user %d", i), "email": fmt.Sprintf("user%d@example.com", i),
		"age": 20 + i%50, "city": fmt.Sprintf("city-%d", i%100), "score": float64(i%1000) / 7,
		"active": i%2 == 0, "created": time.Unix(int64(1_700_000_000+i), 0),
		"tags":    docstore.A{"a", "b", fmt.Sprint("t", i%10)},
		"address": docstore.M{"street": fmt.Sprintf("%d Main St", i), "zip": fmt.Sprintf("%05d", i%100000)},
		"bio":     strings.Repeat("lorem ipsum ", 68),
	}
}

// BenchmarkInsert inserts 1 KB documents into a collection with two secondary indexes (one
// unique, one compound), one per transaction or 100 per transaction.
func BenchmarkInsert(b *testing.B) {
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("size=1KB,indexes=2,batch=%d", batch), func(b *testing.B) {
			db, ds := benchEnv(b)
			c := ds.Collection("users")
			ctx := context.Background()
			for _, ix := range []docstore.Index{{Name: "email", Fields: []string{"email"}, Unique: true}, {Name: "city_age", Fields: []string{"city", "age"}}} {
				if err := c.CreateIndex(ctx, db, ix); err != nil {
					b.Fatal(err)
				}
			}
			writes := 0
			b.ReportAllocs()
			cpu := startCPU(b)
			defer cpu.stop()
			for i := 0; i < b.N; i += batch {
				docs := make([]any, 0, batch)
				for j := i; j < i+batch && j < b.N; j++ {
					docs = append(docs, benchDoc(j))
				}
				err := db.Transact(ctx, func(tr kv.Transaction) error {
					ct := &countingTx{Transaction: tr}
					_, err := c.InsertMany(ctx, ct, docs)
					writes += ct.writes
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
			b.ReportMetric(float64(writes)/float64(b.N), "keys-written/op")
		})
	}
}

// BenchmarkGet reads a document of 10 fields by _id, each read its own transaction.
func BenchmarkGet(b *testing.B) {
	b.Run("fields=10,docs=10000", func(b *testing.B) {
		db, ds := benchEnv(b)
		c := ds.Collection("things")
		ctx := context.Background()
		fill(b, db, c, 10000, func(i int) docstore.M { return flatDoc(i, 10) })
		b.ReportAllocs()
		cpu := startCPU(b)
		defer cpu.stop()
		for i := 0; i < b.N; i++ {
			d, err := c.Get(ctx, db, (i*7919)%10000)
			if err != nil || len(d.Map()) != 10 {
				b.Fatal(err, d)
			}
		}
	})
}

// BenchmarkFind runs an indexed equality query that returns 10 documents.
func BenchmarkFind(b *testing.B) {
	b.Run("kind=index-equality,results=10,docs=10000", func(b *testing.B) {
		db, ds := benchEnv(b)
		c := ds.Collection("things")
		ctx := context.Background()
		if err := c.CreateIndex(ctx, db, docstore.Index{Name: "group", Fields: []string{"group"}}); err != nil {
			b.Fatal(err)
		}
		fill(b, db, c, 10000, func(i int) docstore.M {
			return docstore.M{"_id": i, "group": i % 1000, "name": fmt.Sprint("n", i), "v": i}
		})
		b.ReportAllocs()
		cpu := startCPU(b)
		defer cpu.stop()
		for i := 0; i < b.N; i++ {
			page, err := c.Find(ctx, db, docstore.M{"group": (i * 7) % 1000}, docstore.FindOptions{})
			if err != nil || len(page.Docs) != 10 {
				b.Fatal(err, len(page.Docs))
			}
		}
	})
}

// countingTx counts the keys a transaction writes.
type countingTx struct {
	kv.Transaction
	writes int
}

func (c *countingTx) Set(k, v []byte)       { c.writes++; c.Transaction.Set(k, v) }
func (c *countingTx) Clear(k []byte)        { c.writes++; c.Transaction.Clear(k) }
func (c *countingTx) ClearRange(r kv.Range) { c.writes++; c.Transaction.ClearRange(r) }
func (c *countingTx) Atomic(op kv.MutationType, key, param []byte) {
	c.writes++
	c.Transaction.Atomic(op, key, param)
}
func (c *countingTx) Transact(_ context.Context, fn func(kv.Transaction) error, _ ...kv.TransactOption) error {
	return fn(c)
}
func (c *countingTx) ReadTransact(_ context.Context, fn func(kv.ReadTransaction) error, _ ...kv.TransactOption) error {
	return fn(c)
}

// BenchmarkUpdate sets one field of a 50-field document by _id, each update its own
// transaction, and reports the keys written per update.
func BenchmarkUpdate(b *testing.B) {
	for _, feed := range []bool{false, true} {
		name := "fields=50,set=1,feed=off"
		if feed {
			name = "fields=50,set=1,feed=on"
		}
		b.Run(name, func(b *testing.B) {
			db, ds := benchEnv(b)
			ctx := context.Background()
			c, err := ds.CreateCollection(ctx, db, "wide", docstore.CollectionOptions{ChangeFeed: feed})
			if err != nil {
				b.Fatal(err)
			}
			fill(b, db, c, 1000, func(i int) docstore.M { return flatDoc(i, 50) })
			writes := 0
			b.ReportAllocs()
			cpu := startCPU(b)
			defer cpu.stop()
			for i := 0; i < b.N; i++ {
				err := db.Transact(ctx, func(tr kv.Transaction) error {
					ct := &countingTx{Transaction: tr}
					res, err := c.UpdateByID(ctx, ct, i%1000, docstore.M{"$set": docstore.M{"f17": i}})
					if err == nil && res.Modified != 1 {
						err = fmt.Errorf("modified %d", res.Modified)
					}
					writes = ct.writes
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(writes), "keys-written/op")
		})
	}
}

// The raw-kv baselines below do, on the same engine, the reads and writes docstore's operation
// does (the same number of keys, of about the same sizes), without docstore: the ratio of the
// two is docstore's own cost, whatever the load of the machine.

func rawKey(prefix string, parts ...any) []byte {
	return tuple.Tuple(append([]any{prefix}, parts...)).Pack()
}

// rawFill writes n raw "documents" of fields keys each (a root and fields-1 values of 16
// bytes), a header key and a revision key per document.
func rawFill(b *testing.B, db kv.Database, n, fields int) {
	for start := 0; start < n; start += 500 {
		err := db.Transact(context.Background(), func(tr kv.Transaction) error {
			tr.Set(rawKey("raw", "header"), make([]byte, 200))
			for i := start; i < start+500 && i < n; i++ {
				tr.Set(rawKey("raw", "doc", i), []byte{'o'})
				for f := 1; f < fields; f++ {
					tr.Set(rawKey("raw", "doc", i, fmt.Sprintf("f%02d", f)), []byte("svalue 1 of 1234"))
				}
				tr.Set(rawKey("raw", "rev", i), make([]byte, 10))
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawBaseline(b *testing.B) {
	ctx := context.Background()
	// The insert of BenchmarkInsert's document: 16 keys in the current layout (the root, nine
	// whole fields, the object "address" as a marker and two fields, the revision, two index
	// entries); 19 when every array element had a key of its own.
	for _, fields := range []int{12, 15} {
		b.Run(fmt.Sprintf("op=insert,keys=%d,batch=100", fields+4), func(b *testing.B) {
			db, _ := benchEnv(b)
			val := []byte("svalue 1 of 12345678901234567890")
			bio := make([]byte, 820)
			b.ReportAllocs()
			cpu := startCPU(b)
			defer cpu.stop()
			for i := 0; i < b.N; i += 100 {
				err := db.Transact(ctx, func(tr kv.Transaction) error {
					for j := i; j < i+100 && j < b.N; j++ {
						tr.Get(rawKey("raw", "doc", j))                                        // existence
						tr.GetRange(tuple.Tuple{"raw", "email", j}, kv.RangeOptions{Limit: 2}) // unique check
						for f := 0; f < fields; f++ {
							tr.Set(rawKey("raw", "doc", j, fmt.Sprintf("f%02d", f)), val)
						}
						tr.Set(rawKey("raw", "doc", j, "bio"), bio)
						tr.Set(rawKey("raw", "email", j), nil)
						tr.Set(rawKey("raw", "city", j%100, j), nil)
						tr.Atomic(kv.SetVersionstampedValue, rawKey("raw", "rev", j), make([]byte, 14))
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
		})
	}
	b.Run("op=get,fields=10", func(b *testing.B) {
		db, _ := benchEnv(b)
		rawFill(b, db, 10000, 11)
		b.ReportAllocs()
		cpu := startCPU(b)
		defer cpu.stop()
		for i := 0; i < b.N; i++ {
			id := (i * 7919) % 10000
			_, err := kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) (int, error) {
				h := tr.Get(rawKey("raw", "header"))
				r := tr.Get(rawKey("raw", "rev", id))
				rows, err := tr.GetRange(tuple.Tuple{"raw", "doc", id}, kv.RangeOptions{}).GetSlice()
				if _, err := h.Get(); err != nil {
					return 0, err
				}
				if _, err := r.Get(); err != nil {
					return 0, err
				}
				return len(rows), err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=find,results=10", func(b *testing.B) {
		db, _ := benchEnv(b)
		rawFill(b, db, 10000, 5)
		err := db.Transact(ctx, func(tr kv.Transaction) error {
			for i := 0; i < 10000; i++ {
				tr.Set(rawKey("raw", "ix", i%1000, i), nil)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		cpu := startCPU(b)
		defer cpu.stop()
		for i := 0; i < b.N; i++ {
			g := (i * 7) % 1000
			_, err := kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) (int, error) {
				if _, err := tr.Get(rawKey("raw", "header")).Get(); err != nil {
					return 0, err
				}
				if _, err := tr.Get(rawKey("raw", "multikey")).Get(); err != nil {
					return 0, err
				}
				entries, err := tr.GetRange(tuple.Tuple{"raw", "ix", g}, kv.RangeOptions{}).GetSlice()
				if err != nil {
					return 0, err
				}
				for _, e := range entries {
					t, err := tuple.Unpack(e.Key)
					if err != nil {
						return 0, err
					}
					if _, err := tr.GetRange(tuple.Tuple{"raw", "doc", t[3]}, kv.RangeOptions{}).GetSlice(); err != nil {
						return 0, err
					}
				}
				return len(entries), nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=update,fields=50,set=1", func(b *testing.B) {
		db, _ := benchEnv(b)
		rawFill(b, db, 1000, 50)
		b.ReportAllocs()
		cpu := startCPU(b)
		defer cpu.stop()
		for i := 0; i < b.N; i++ {
			id := i % 1000
			err := db.Transact(ctx, func(tr kv.Transaction) error {
				h := tr.Get(rawKey("raw", "header"))
				root := tr.Get(rawKey("raw", "doc", id))
				field := tr.GetRange(tuple.Tuple{"raw", "doc", id, "f17"}, kv.RangeOptions{})
				if _, err := h.Get(); err != nil {
					return err
				}
				if _, err := root.Get(); err != nil {
					return err
				}
				if _, err := field.GetSlice(); err != nil {
					return err
				}
				tr.Set(rawKey("raw", "doc", id, "f17"), []byte{'i', byte(i)})
				tr.Atomic(kv.SetVersionstampedValue, rawKey("raw", "rev", id), make([]byte, 14))
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
