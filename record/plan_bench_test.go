package record_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/layerkit/layerkit/record"
)

// benchPlan plans q once and runs it b.N times, 100 to a transaction, checking each run returns
// want records.
func benchPlan(b *testing.B, s *benchStore, q record.Query, want int, explain string) {
	var plan *record.Plan
	s.do(b, func(st *record.Store) error {
		var err error
		plan, err = st.Plan(q)
		return err
	})
	if plan.Explain() != explain {
		b.Fatalf("plan %s, want %s", plan.Explain(), explain)
	}
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b, cpuTime())
	for i := 0; i < b.N; i += 100 {
		s.do(b, func(st *record.Store) error {
			for j := i; j < min(i+100, b.N); j++ {
				recs, err := st.Execute(plan, record.ExecuteOptions{}).All()
				if err != nil {
					return err
				}
				if len(recs) != want {
					return fmt.Errorf("got %d records, want %d", len(recs), want)
				}
			}
			return nil
		})
	}
}

func BenchmarkMultiScanQuery(b *testing.B) {
	b.Run("kind=covering,entries=100", func(b *testing.B) {
		s := newBenchStore(b)
		s.fill(b, 20_000) // 200 years, 100 books each
		benchPlan(b, s, record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("year").Equals(1850), RequiredFields: []record.KeyExpression{record.Field("year"), record.Field("id")}},
			100, `Covering(IndexScan(by_year eq=(1850)) -> [year, id])`)
	})
	b.Run("kind=fetch,entries=100", func(b *testing.B) {
		// The same scan loading the records, for comparison.
		s := newBenchStore(b)
		s.fill(b, 20_000)
		benchPlan(b, s, record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("year").Equals(1850)}, 100, `IndexScan(by_year eq=(1850)) | Fetch`)
	})
	b.Run("kind=or-union,results=20", func(b *testing.B) {
		s := newBenchStore(b)
		s.fill(b, 1000) // 100 authors, 10 books each
		benchPlan(b, s, record.Query{RecordTypes: []string{"Book"}, Filter: record.Or(record.Where("author").Equals("Author 7"), record.Where("author").Equals("Author 8"))},
			20, `Union[pk](IndexScan(by_author eq=("Author 7")) ∪ IndexScan(by_author eq=("Author 8"))) | Fetch`)
	})
	b.Run("kind=in-join,results=20", func(b *testing.B) {
		s := newBenchStore(b)
		s.fill(b, 1000)
		benchPlan(b, s, record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("author").In("Author 7", "Author 8")},
			20, `InJoin[author in ("Author 7", "Author 8")](IndexScan(by_author eq=($author))) | Fetch`)
	})
	b.Run("kind=intersection,results=10", func(b *testing.B) {
		s := newBenchStore(b)
		s.fill(b, 2000) // author i%100, year 1800+i%200: each (author, year) pair 10 times
		benchPlan(b, s, record.Query{RecordTypes: []string{"Book"}, Filter: record.And(record.Where("author").Equals("Author 7"), record.Where("year").Equals(1807))},
			10, `Intersection[pk](IndexScan(by_author eq=("Author 7")) ∩ IndexScan(by_year eq=(1807))) | Fetch`)
	})
}

// BenchmarkBuildIndex builds an index online over 200,000 records of about 1 KB with the
// default options, on the in-memory engine (RECORD_BENCH_BUILD_RECORDS sets another count). The
// scan sub-benchmark only reads the same records page by page, for the ratio.
func BenchmarkBuildIndex(b *testing.B) {
	n := 200_000
	if s := os.Getenv("RECORD_BENCH_BUILD_RECORDS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	s := newBenchStore(b)
	s.fill(b, int64(n))
	b.Run(fmt.Sprintf("records=%d,size=1KB", n), func(b *testing.B) {
		b.ReportAllocs()
		var cpu time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			s.do(b, func(st *record.Store) error { return st.SetIndexState("by_title", record.Disabled) })
			b.StartTimer()
			start := cpuTime()
			if err := record.BuildIndex(context.Background(), s.db, s.md, s.prefix, "by_title", record.IndexBuildOptions{}); err != nil {
				b.Fatal(err)
			}
			cpu += cpuTime() - start
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(n*b.N), "cpu-ns/record")
	})
	b.Run(fmt.Sprintf("records=%d,size=1KB,scan-only", n), func(b *testing.B) {
		b.ReportAllocs()
		start := cpuTime()
		q := record.Query{RecordTypes: []string{"Book"}}
		for i := 0; i < b.N; i++ {
			var cont []byte
			read := 0
			for first := true; first || cont != nil; first = false {
				s.do(b, func(st *record.Store) error {
					cur, err := st.ExecuteQuery(q, record.ExecuteOptions{Continuation: cont, ReturnLimit: 10_000})
					if err != nil {
						return err
					}
					recs, err := cur.All()
					read += len(recs)
					cont = cur.Continuation()
					return err
				})
			}
			if read != n {
				b.Fatalf("read %d records, want %d", read, n)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
		b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(n*b.N), "cpu-ns/record")
	})
}
