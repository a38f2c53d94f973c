package record_test

import (
	"context"
	"math/rand/v2"
	"os"
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
