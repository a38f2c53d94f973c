package record_test

import (
	"context"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/record/internal/testpb"
	"github.com/layerkit/layerkit/subspace"
)

// testMetaData is the schema most tests use: books and authors share the record extent, kept
// apart by the record type key at the start of their primary keys.
func testMetaData(t testing.TB) *record.MetaData {
	t.Helper()
	md, err := testBuilder().Build()
	require.NoError(t, err)
	return md
}

func testBuilder() *record.MetaDataBuilder {
	return record.NewMetaDataBuilder(testpb.File_records_proto).
		SetPrimaryKey("Book", record.Concat(record.RecordTypeKey(), record.Field("branch"), record.Field("shelf"), record.Field("id"))).
		SetPrimaryKey("Author", record.Concat(record.RecordTypeKey(), record.Field("id"))).
		AddIndex(record.Index{Name: "by_author", RecordTypes: []string{"Book"}, Expression: record.Field("author")}).
		AddIndex(record.Index{Name: "by_id", RecordTypes: []string{"Book"}, Expression: record.Field("id"), Unique: true}).
		AddIndex(record.Index{Name: "by_year_title", RecordTypes: []string{"Book"}, Expression: record.Concat(record.Field("year"), record.Field("title"))}).
		AddIndex(record.Index{Name: "by_tag", RecordTypes: []string{"Book"}, Expression: record.FanOut("tags")}).
		AddIndex(record.Index{Name: "by_city", RecordTypes: []string{"Book"}, Expression: record.Nest("origin", record.Field("city"))}).
		AddIndex(record.Index{Name: "by_holder_city", RecordTypes: []string{"Book"}, Expression: record.NestFanOut("holders", record.Field("city"))}).
		AddIndex(record.Index{Name: "author_name", RecordTypes: []string{"Author"}, Expression: record.Field("name")})
}

// plannerMetaData adds single-column and compound indexes to the test schema, for plans that
// intersect or merge scans.
func plannerMetaData(t testing.TB) *record.MetaData {
	t.Helper()
	md, err := testBuilder().
		AddIndex(record.Index{Name: "by_year", RecordTypes: []string{"Book"}, Expression: record.Field("year")}).
		AddIndex(record.Index{Name: "by_author_year", RecordTypes: []string{"Book"}, Expression: record.Concat(record.Field("author"), record.Field("year"))}).
		AddIndex(record.Index{Name: "by_branch_price", RecordTypes: []string{"Book"}, Expression: record.Concat(record.Field("branch"), record.Field("price"))}).
		Build()
	require.NoError(t, err)
	return md
}

// env is a test database with a record store prefix; the consistency checker runs on it when the
// test ends.
type env struct {
	t      testing.TB
	db     kv.Database
	md     *record.MetaData
	prefix subspace.Subspace
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvWith(t, testMetaData(t))
}

func newEnvWith(t testing.TB, md *record.MetaData) *env {
	t.Helper()
	db := testdb.Open(t)
	e := &env{t: t, db: db, md: md, prefix: subspace.Sub("app", "store")}
	testdb.Check(t, db, "record", func(ctx context.Context, db kv.Database) error {
		return record.Check(e.md, e.prefix)(ctx, db)
	})
	return e
}

// do runs fn with the store opened in a retried transaction.
func (e *env) do(fn func(st *record.Store) error) error {
	e.t.Helper()
	return e.db.Transact(context.Background(), func(tr kv.Transaction) error {
		st, err := record.Open(context.Background(), tr, e.md, e.prefix)
		if err != nil {
			return err
		}
		return fn(st)
	})
}

func (e *env) must(fn func(st *record.Store) error) {
	e.t.Helper()
	require.NoError(e.t, e.do(fn))
}

func book(branch string, shelf, id int64, title, author string, year int32, tags ...string) *testpb.Book {
	return &testpb.Book{Branch: branch, Shelf: shelf, Id: id, Title: title, Author: author, Year: year, Tags: tags}
}

// dump returns every key and value under the env's prefix.
func (e *env) dump() []kv.KeyValue {
	e.t.Helper()
	rows, err := kv.ReadTransact(context.Background(), e.db, func(tr kv.ReadTransaction) ([]kv.KeyValue, error) {
		return tr.GetRange(e.prefix.Range(), kv.RangeOptions{}).GetSlice()
	})
	require.NoError(e.t, err)
	return rows
}

// seededRand returns a random source for a model test, seeded from RECORD_SEED or at random, and
// logs the seed so a failure can be replayed.
func seededRand(t testing.TB, stream uint64) *rand.Rand {
	seed := rand.Uint64()
	if s := os.Getenv("RECORD_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d", seed)
	return rand.New(rand.NewPCG(seed, stream))
}

// churn models the books a paging test inserts and deletes between pages.
type churn struct {
	live          map[int64]*testpb.Book
	deletedAfter  map[int64]int  // id → the page after which it was deleted
	aheadInserted map[int64]bool // inserted after the last book returned, in the plan's order
}

func newChurn(live map[int64]*testpb.Book) *churn {
	return &churn{live: live, deletedAfter: map[int64]int{}, aheadInserted: map[int64]bool{}}
}

// apply saves ins and deletes two random live books in one transaction, after page n whose
// last book was last (cmp orders books as the plan does). The changes are decided before the
// transaction, which may run more than once, and the model is updated after it committed.
func (ch *churn) apply(e *env, rng *rand.Rand, n int, last *testpb.Book, ins []*testpb.Book, cmp func(a, b *testpb.Book) int) {
	e.t.Helper()
	ids := make([]int64, 0, len(ch.live))
	for id := range ch.live {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var del []*testpb.Book
	for k := 0; k < 2 && len(ids) > 0; k++ {
		j := rng.IntN(len(ids))
		del = append(del, ch.live[ids[j]])
		ids = slices.Delete(ids, j, j+1)
	}
	e.must(func(st *record.Store) error {
		for _, b := range ins {
			if _, err := st.SaveRecord(b); err != nil {
				return err
			}
		}
		for _, b := range del {
			if _, err := st.Delete(bookPK(b.Branch, b.Shelf, b.Id)); err != nil {
				return err
			}
		}
		return nil
	})
	for _, b := range ins {
		ch.live[b.Id] = b
		if last == nil || cmp(b, last) > 0 {
			ch.aheadInserted[b.Id] = true
		}
	}
	for _, b := range del {
		delete(ch.live, b.Id)
		ch.deletedAfter[b.Id] = n
	}
}
