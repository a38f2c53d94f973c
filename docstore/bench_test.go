package docstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/layerkit/layerkit/docstore"
	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
)

func benchEnv(b *testing.B) (kv.Database, *docstore.DB) {
	db := testdb.OpenEmbedded(b, &embedded.Options{})
	ds, err := docstore.Open(context.Background(), db, []string{"bench"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	return db, ds
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
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += batch {
				docs := make([]any, 0, batch)
				for j := i; j < i+batch && j < b.N; j++ {
					docs = append(docs, benchDoc(j))
				}
				if _, err := c.InsertMany(ctx, db, docs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
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
		b.ResetTimer()
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
		b.ResetTimer()
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
	b.Run("fields=50,set=1", func(b *testing.B) {
		db, ds := benchEnv(b)
		c := ds.Collection("wide")
		ctx := context.Background()
		fill(b, db, c, 1000, func(i int) docstore.M { return flatDoc(i, 50) })
		writes := 0
		b.ReportAllocs()
		b.ResetTimer()
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
