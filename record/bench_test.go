package record_test

import (
	"bytes"
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/record/internal/testpb"
	"github.com/layerkit/layerkit/subspace"
	"github.com/layerkit/layerkit/tuple"
)

// benchMetaData has books keyed by (branch, shelf, id) with three value indexes.
func benchMetaData(b *testing.B) *record.MetaData {
	md, err := record.NewMetaDataBuilder(testpb.File_records_proto).
		SetPrimaryKey("Book", record.Concat(record.Field("branch"), record.Field("shelf"), record.Field("id"))).
		SetPrimaryKey("Author", record.Field("id")).
		AddIndex(record.Index{Name: "by_author", RecordTypes: []string{"Book"}, Expression: record.Field("author")}).
		AddIndex(record.Index{Name: "by_year", RecordTypes: []string{"Book"}, Expression: record.Field("year")}).
		AddIndex(record.Index{Name: "by_title", RecordTypes: []string{"Book"}, Expression: record.Field("title")}).
		Build()
	if err != nil {
		b.Fatal(err)
	}
	return md
}

// benchBook is a book of about 1 KB.
func benchBook(i int64) *testpb.Book {
	return &testpb.Book{
		Branch: fmt.Sprintf("branch-%03d", i%700), Shelf: i % 50, Id: i,
		Title: fmt.Sprintf("Title %d", i), Author: fmt.Sprintf("Author %d", i%100), Year: int32(1800 + i%200),
		Blob: bytes.Repeat([]byte{'x'}, 920),
	}
}

type benchStore struct {
	db     kv.Database
	md     *record.MetaData
	prefix subspace.Subspace
}

func newBenchStore(b *testing.B) *benchStore {
	return newBenchStoreWith(b, benchMetaData(b))
}

func newBenchStoreWith(b *testing.B, md *record.MetaData) *benchStore {
	db := testdb.OpenEmbedded(b, &embedded.Options{})
	return &benchStore{db: db, md: md, prefix: subspace.Sub("bench")}
}

func (s *benchStore) do(b *testing.B, fn func(st *record.Store) error) {
	err := s.db.Transact(context.Background(), func(tr kv.Transaction) error {
		st, err := record.Open(context.Background(), tr, s.md, s.prefix)
		if err != nil {
			return err
		}
		return fn(st)
	})
	if err != nil {
		b.Fatal(err)
	}
}

func (s *benchStore) fill(b *testing.B, n int64) {
	for i := int64(0); i < n; i += 100 {
		s.do(b, func(st *record.Store) error {
			for j := i; j < min(i+100, n); j++ {
				if _, err := st.SaveRecord(benchBook(j)); err != nil {
					return err
				}
			}
			return nil
		})
	}
}

// countingTx counts the keys and bytes a transaction writes.
type countingTx struct {
	kv.Transaction
	keys, bytes int
}

func (c *countingTx) Set(k, v []byte) { c.keys++; c.bytes += len(k) + len(v); c.Transaction.Set(k, v) }

// cpuTime is the CPU time the process has used (user and system, every thread).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per operation since start as cpu-ns/op: on a machine shared
// with other work, wall time per operation includes waiting for a core, CPU time does not.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

func BenchmarkSave(b *testing.B) {
	b.Run("size=1KB,indexes=3,batch=100", func(b *testing.B) {
		s := newBenchStore(b)
		// Measure what one batch writes, outside the timed loop.
		var keys, nbytes, size int
		err := s.db.Transact(context.Background(), func(tr kv.Transaction) error {
			ct := &countingTx{Transaction: tr}
			st, err := record.Open(context.Background(), ct, s.md, s.prefix)
			if err != nil {
				return err
			}
			ct.keys, ct.bytes = 0, 0
			for j := int64(0); j < 100; j++ {
				rec, err := st.SaveRecord(benchBook(-1 - j))
				if err != nil {
					return err
				}
				size = rec.Size
			}
			keys, nbytes = ct.keys, ct.bytes
			tr.Cancel()
			return nil
		})
		if err != nil && !kvCancelled(err) {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i += 100 {
			s.do(b, func(st *record.Store) error {
				for j := i; j < min(i+100, b.N); j++ {
					if _, err := st.SaveRecord(benchBook(int64(j))); err != nil {
						return err
					}
				}
				return nil
			})
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
		b.ReportMetric(float64(keys)/100, "keys/record")
		b.ReportMetric(float64(nbytes)/100, "written-bytes/record")
		b.ReportMetric(float64(size), "record-bytes")
	})
}

func kvCancelled(err error) bool {
	return err != nil && bytes.Contains([]byte(err.Error()), []byte("cancelled"))
}

func BenchmarkLoad(b *testing.B) {
	b.Run("by=primary-key,records=10000", func(b *testing.B) {
		s := newBenchStore(b)
		const n = 10_000
		s.fill(b, n)
		b.ReportAllocs()
		b.ResetTimer()
		defer reportCPU(b, cpuTime())
		for i := 0; i < b.N; i += 1000 {
			s.do(b, func(st *record.Store) error {
				for j := i; j < min(i+1000, b.N); j++ {
					id := int64(j*7919) % n
					pk, err := st.MetaData().RecordType("Book").PrimaryKeyOf(fmt.Sprintf("branch-%03d", id%700), id%50, id)
					if err != nil {
						return err
					}
					rec, err := st.Load(pk)
					if err != nil {
						return err
					}
					if rec == nil {
						return fmt.Errorf("record %d missing", id)
					}
				}
				return nil
			})
		}
	})
}

func BenchmarkQuery(b *testing.B) {
	b.Run("kind=index-equality,results=10", func(b *testing.B) {
		s := newBenchStore(b)
		s.fill(b, 1000) // 100 authors, 10 books each
		var plan *record.Plan
		s.do(b, func(st *record.Store) error {
			var err error
			plan, err = st.Plan(record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("author").Equals("Author 7")})
			return err
		})
		b.ReportAllocs()
		b.ResetTimer()
		defer reportCPU(b, cpuTime())
		for i := 0; i < b.N; i += 1000 {
			s.do(b, func(st *record.Store) error {
				for j := i; j < min(i+1000, b.N); j++ {
					recs, err := st.Execute(plan, record.ExecuteOptions{}).All()
					if err != nil {
						return err
					}
					if len(recs) != 10 {
						return fmt.Errorf("got %d records, want 10", len(recs))
					}
				}
				return nil
			})
		}
	})
}

// BenchmarkOpen is the cost of opening a store in a transaction (a header read and an index
// state range read), paid once per transaction.
func BenchmarkOpen(b *testing.B) {
	b.Run("indexes=3", func(b *testing.B) {
		s := newBenchStore(b)
		s.fill(b, 100)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i += 1000 {
			err := s.db.Transact(context.Background(), func(tr kv.Transaction) error {
				for j := i; j < min(i+1000, b.N); j++ {
					if _, err := record.Open(context.Background(), tr, s.md, s.prefix); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkAggregate reads one group of an aggregate index: one key, one read.
func BenchmarkAggregate(b *testing.B) {
	md, err := record.NewMetaDataBuilder(testpb.File_records_proto).
		SetPrimaryKey("Book", record.Concat(record.Field("branch"), record.Field("shelf"), record.Field("id"))).
		SetPrimaryKey("Author", record.Field("id")).
		AddIndex(record.Index{Name: "count_by_author", RecordTypes: []string{"Book"}, Type: record.CountIndex, Expression: record.GroupBy(record.Empty(), record.Field("author"))}).
		AddIndex(record.Index{Name: "sum_year_by_author", RecordTypes: []string{"Book"}, Type: record.SumIndex, Expression: record.GroupBy(record.Field("year"), record.Field("author"))}).
		Build()
	if err != nil {
		b.Fatal(err)
	}
	s := newBenchStoreWith(b, md)
	s.fill(b, 10_000) // 100 authors, 100 books each
	for _, op := range []string{"count", "sum"} {
		b.Run("op="+op+",groups=100,records=10000", func(b *testing.B) {
			b.ReportAllocs()
			b.ResetTimer()
			defer reportCPU(b, cpuTime())
			for i := 0; i < b.N; i += 1000 {
				s.do(b, func(st *record.Store) error {
					for j := i; j < min(i+1000, b.N); j++ {
						group := tuple.Tuple{fmt.Sprintf("Author %d", j%100)}
						var n int64
						var err error
						if op == "count" {
							n, err = st.Count("count_by_author", group)
						} else {
							n, err = st.Sum("sum_year_by_author", group)
						}
						if err != nil {
							return err
						}
						if n == 0 {
							return fmt.Errorf("group %v is empty", group)
						}
					}
					return nil
				})
			}
		})
	}
}

// BenchmarkChangesSince reads a page of 100 records changed since a version, through a VERSION
// index: one index range read and 100 record loads issued together.
func BenchmarkChangesSince(b *testing.B) {
	md, err := record.NewMetaDataBuilder(testpb.File_records_proto).SetStoreRecordVersions(true).
		SetPrimaryKey("Book", record.Concat(record.Field("branch"), record.Field("shelf"), record.Field("id"))).
		SetPrimaryKey("Author", record.Field("id")).
		AddIndex(record.Index{Name: "changes", RecordTypes: []string{"Book"}, Type: record.VersionIndex, Expression: record.VersionKey()}).
		Build()
	if err != nil {
		b.Fatal(err)
	}
	s := newBenchStoreWith(b, md)
	const n = 10_000
	s.fill(b, n)
	var since tuple.Versionstamp
	s.do(b, func(st *record.Store) error {
		cur, err := st.ChangesSince("changes", nil, nil, record.ExecuteOptions{ReturnLimit: n / 2})
		if err != nil {
			return err
		}
		recs, err := cur.All()
		if err != nil {
			return err
		}
		since = *recs[len(recs)-1].Version
		return nil
	})
	b.Run("page=100,records=10000", func(b *testing.B) {
		b.ReportAllocs()
		b.ResetTimer()
		defer reportCPU(b, cpuTime())
		for i := 0; i < b.N; i += 100 {
			s.do(b, func(st *record.Store) error {
				for j := i; j < min(i+100, b.N); j++ {
					cur, err := st.ChangesSince("changes", nil, &since, record.ExecuteOptions{ReturnLimit: 100})
					if err != nil {
						return err
					}
					recs, err := cur.All()
					if err != nil {
						return err
					}
					if len(recs) != 100 {
						return fmt.Errorf("page of %d records, want 100", len(recs))
					}
				}
				return nil
			})
		}
	})
}
