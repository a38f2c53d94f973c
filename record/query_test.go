package record_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/record/internal/testpb"
	"github.com/layerkit/layerkit/tuple"
)

var update = flag.Bool("update", false, "rewrite golden files")

// library is a small deterministic data set with every kind of field filled in various ways.
func library() []*testpb.Book {
	authors := []string{"Tolkien", "Le Guin", "Herbert", "Austen", "Tolstoy"}
	titles := []string{"The Hobbit", "The Dispossessed", "Dune", "Emma", "War and Peace", "The Left Hand", "Persuasion"}
	cities := []string{"Paris", "Oslo", "Rome", ""}
	var out []*testpb.Book
	for i := int64(0); i < 42; i++ {
		b := &testpb.Book{
			Branch:    fmt.Sprintf("b%d", i%3),
			Shelf:     i % 4,
			Id:        100 + i,
			Title:     titles[i%7],
			Author:    authors[i%5],
			Year:      int32(1900 + (i*7)%80),
			Price:     float64(i) * 1.5,
			Rating:    float32(i%5) + 0.5,
			Available: i%2 == 0,
			Genre:     testpb.Genre(i % 3),
			Copies:    int64(i % 6),
			Blob:      []byte{byte(i % 4), 0xff},
		}
		for j := int64(0); j < i%4; j++ {
			b.Tags = append(b.Tags, []string{"sf", "classic", "romance", "saga"}[(i+j)%4])
		}
		if c := cities[i%4]; c != "" {
			b.Origin = &testpb.Address{City: c}
		}
		if i%3 == 0 {
			b.Isbn = proto.String(fmt.Sprintf("978-%d", i))
		}
		b.Holders = []*testpb.Address{{City: cities[(i+1)%4]}}
		out = append(out, b)
	}
	return out
}

func loadLibrary(t *testing.T, e *env) []*testpb.Book {
	books := library()
	e.must(func(st *record.Store) error {
		for _, b := range books {
			if _, err := st.SaveRecord(b); err != nil {
				return err
			}
		}
		_, err := st.SaveRecord(&testpb.Author{Id: 1, Name: "Tolkien"})
		return err
	})
	return books
}

// run executes q in one transaction and returns the books' ids in result order.
func (e *env) run(q record.Query) ([]int64, string, error) {
	var ids []int64
	var explain string
	err := e.do(func(st *record.Store) error {
		ids = ids[:0]
		p, err := st.Plan(q)
		if err != nil {
			return err
		}
		explain = p.Explain()
		recs, err := st.Execute(p, record.ExecuteOptions{}).All()
		for _, r := range recs {
			ids = append(ids, r.Message.(*testpb.Book).Id)
		}
		return err
	})
	return ids, explain, err
}

func TestFilters(t *testing.T) {
	e := newEnv(t)
	books := loadLibrary(t, e)
	in := func(s string, list ...string) bool { return slices.Contains(list, s) }
	cases := []struct {
		name   string
		filter record.Filter
		model  func(b *testpb.Book) bool
	}{
		{"equals", record.Where("author").Equals("Tolkien"), func(b *testpb.Book) bool { return b.Author == "Tolkien" }},
		{"not equals", record.Where("author").NotEquals("Tolkien"), func(b *testpb.Book) bool { return b.Author != "Tolkien" }},
		{"less than", record.Where("year").LessThan(1930), func(b *testpb.Book) bool { return b.Year < 1930 }},
		{"less or equal", record.Where("year").LessOrEqual(1935), func(b *testpb.Book) bool { return b.Year <= 1935 }},
		{"greater than", record.Where("year").GreaterThan(1960), func(b *testpb.Book) bool { return b.Year > 1960 }},
		{"greater or equal", record.Where("year").GreaterOrEqual(1963), func(b *testpb.Book) bool { return b.Year >= 1963 }},
		{"between", record.And(record.Where("year").GreaterOrEqual(1920), record.Where("year").LessThan(1950)), func(b *testpb.Book) bool { return b.Year >= 1920 && b.Year < 1950 }},
		{"starts with", record.Where("title").StartsWith("The"), func(b *testpb.Book) bool { return strings.HasPrefix(b.Title, "The") }},
		{"bytes starts with", record.Where("blob").StartsWith([]byte{2}), func(b *testpb.Book) bool { return b.Blob[0] == 2 }},
		{"is null", record.Where("isbn").IsNull(), func(b *testpb.Book) bool { return b.Isbn == nil }},
		{"not null", record.Where("isbn").NotNull(), func(b *testpb.Book) bool { return b.Isbn != nil }},
		{"in", record.Where("genre").In(testpb.Genre_FICTION, testpb.Genre_HISTORY), func(b *testpb.Book) bool { return b.Genre != 0 }},
		{"in strings", record.Where("author").In("Austen", "Tolstoy", "Nobody"), func(b *testpb.Book) bool { return in(b.Author, "Austen", "Tolstoy") }},
		{"one of them", record.WhereAny("tags").Equals("sf"), func(b *testpb.Book) bool { return slices.Contains(b.Tags, "sf") }},
		{"one of them starts with", record.WhereAny("tags").StartsWith("s"), func(b *testpb.Book) bool {
			return slices.ContainsFunc(b.Tags, func(s string) bool { return strings.HasPrefix(s, "s") })
		}},
		{"nested", record.Nested("origin", record.Where("city").Equals("Paris")), func(b *testpb.Book) bool { return b.Origin != nil && b.Origin.City == "Paris" }},
		{"nested range", record.Nested("origin", record.Where("city").GreaterThan("Oslo")), func(b *testpb.Book) bool { return b.Origin != nil && b.Origin.City > "Oslo" }},
		{"and", record.And(record.Where("author").Equals("Herbert"), record.Where("available").Equals(true)), func(b *testpb.Book) bool { return b.Author == "Herbert" && b.Available }},
		{"or", record.Or(record.Where("author").Equals("Herbert"), record.Where("copies").Equals(int64(5))), func(b *testpb.Book) bool { return b.Author == "Herbert" || b.Copies == 5 }},
		{"not", record.Not(record.Where("available").Equals(true)), func(b *testpb.Book) bool { return !b.Available }},
		{"float", record.Where("rating").GreaterThan(3.0), func(b *testpb.Book) bool { return b.Rating > 3 }},
		// A proto3 field at its default value is null, and comparisons with null are false.
		{"double", record.Where("price").LessOrEqual(9.0), func(b *testpb.Book) bool { return b.Price != 0 && b.Price <= 9 }},
		{"proto3 default is null", record.Where("shelf").IsNull(), func(b *testpb.Book) bool { return b.Shelf == 0 }},
		{"proto3 default is not a value", record.Where("shelf").LessThan(2), func(b *testpb.Book) bool { return b.Shelf == 1 }},
		{"primary key prefix", record.And(record.Where("branch").Equals("b1"), record.Where("shelf").Equals(2)), func(b *testpb.Book) bool { return b.Branch == "b1" && b.Shelf == 2 }},
		{"index equality and prefix", record.And(record.Where("year").Equals(1907), record.Where("title").StartsWith("The")), func(b *testpb.Book) bool {
			return b.Year == 1907 && strings.HasPrefix(b.Title, "The")
		}},
		{"unique index", record.Where("id").Equals(117), func(b *testpb.Book) bool { return b.Id == 117 }},
		{"deep and/or/not", record.And(record.Or(record.Where("shelf").Equals(1), record.Where("shelf").Equals(3)), record.Not(record.Nested("origin", record.Where("city").Equals("Rome")))), func(b *testpb.Book) bool {
			return (b.Shelf == 1 || b.Shelf == 3) && !(b.Origin != nil && b.Origin.City == "Rome")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, explain, err := e.run(record.Query{RecordTypes: []string{"Book"}, Filter: c.filter})
			require.NoError(t, err)
			var want []int64
			for _, b := range books {
				if c.model(b) {
					want = append(want, b.Id)
				}
			}
			slices.Sort(got)
			require.NotEmpty(t, want, "the case should select something")
			require.Equal(t, want, got, "plan %s", explain)
		})
	}
}

func TestFilterErrors(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		q    record.Query
		want string
	}{
		{record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("title").Equals(5)}, `filter on field "title" of Book: want string, got int`},
		{record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("year").Equals("x")}, `want int64, got string`},
		{record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("nope").Equals(1)}, `Book has no field "nope"`},
		{record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("tags").Equals("x")}, `the field is repeated, use WhereAny`},
		{record.Query{RecordTypes: []string{"Book"}, Filter: record.WhereAny("title").Equals("x")}, `WhereAny needs a repeated field`},
		{record.Query{RecordTypes: []string{"Book"}, Filter: record.WhereAny("tags").IsNull()}, `is repeated, so it is never null`},
		{record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("year").StartsWith(1)}, `startsWith needs a string or bytes field`},
		{record.Query{RecordTypes: []string{"Book"}, Filter: record.Nested("title", record.Where("x").Equals(1))}, `want a singular message field`},
		{record.Query{RecordTypes: []string{"Magazine"}}, `unknown record type "Magazine"`},
		{record.Query{RecordTypes: []string{"Book"}, Sort: record.Field("price")}, `no index of Book provides sort price`},
		{record.Query{RecordTypes: []string{"Book"}, Sort: record.FanOut("tags")}, `fans out`},
	}
	for _, c := range cases {
		_, _, err := e.run(c.q)
		require.ErrorContains(t, err, c.want)
		if strings.Contains(c.want, "provides sort") {
			require.ErrorIs(t, err, record.ErrSortNotSupported)
		} else {
			require.ErrorIs(t, err, record.ErrInvalidQuery)
		}
	}
}

func TestSorts(t *testing.T) {
	e := newEnv(t)
	books := loadLibrary(t, e)
	byYear := slices.Clone(books)
	slices.SortStableFunc(byYear, func(a, b *testpb.Book) int {
		if a.Year != b.Year {
			return int(a.Year - b.Year)
		}
		if a.Title != b.Title {
			return strings.Compare(a.Title, b.Title)
		}
		return tuple.Compare(tuple.Tuple{a.Branch, a.Shelf, a.Id}, tuple.Tuple{b.Branch, b.Shelf, b.Id})
	})
	var want []int64
	for _, b := range byYear {
		want = append(want, b.Id)
	}
	got, explain, err := e.run(record.Query{RecordTypes: []string{"Book"}, Sort: record.Field("year")})
	require.NoError(t, err)
	require.Equal(t, "IndexScan(by_year_title) | Fetch", explain)
	require.Equal(t, want, got)
	got, _, err = e.run(record.Query{RecordTypes: []string{"Book"}, Sort: record.Field("year"), Reverse: true})
	require.NoError(t, err)
	slices.Reverse(want)
	require.Equal(t, want, got)

	// An in-memory sort, within its bound and over it.
	byPrice := slices.Clone(books)
	slices.SortStableFunc(byPrice, func(a, b *testpb.Book) int { return -cmpFloat(a.Price, b.Price) })
	got, explain, err = e.run(record.Query{RecordTypes: []string{"Book"}, Sort: record.Field("price"), Reverse: true, InMemorySortLimit: 100})
	require.NoError(t, err)
	require.Equal(t, "Scan(records eq=(1)) | Sort(price desc, limit=100)", explain)
	require.Len(t, got, len(books))
	for i, b := range byPrice {
		require.Equal(t, b.Id, got[i])
	}
	_, _, err = e.run(record.Query{RecordTypes: []string{"Book"}, Sort: record.Field("price"), InMemorySortLimit: 10})
	require.ErrorIs(t, err, record.ErrSortBoundExceeded)
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// The planner's choices, one line per query, compared with testdata/explain.golden (rewrite it
// with -update after checking the differences).
func TestExplainGolden(t *testing.T) {
	e := newEnv(t)
	queries := []struct {
		name string
		q    record.Query
	}{
		{"all records", record.Query{}},
		{"all books", record.Query{RecordTypes: []string{"Book"}}},
		{"all books backwards", record.Query{RecordTypes: []string{"Book"}, Reverse: true}},
		{"equality on index", record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("author").Equals("Tolkien")}},
		{"equality plus residual", record.Query{RecordTypes: []string{"Book"}, Filter: record.And(record.Where("author").Equals("Tolkien"), record.Where("price").GreaterThan(3.0))}},
		{"longest equality prefix wins", record.Query{RecordTypes: []string{"Book"}, Filter: record.And(record.Where("title").Equals("Dune"), record.Where("year").Equals(1965), record.Where("author").Equals("Herbert"))}},
		{"equality then range", record.Query{RecordTypes: []string{"Book"}, Filter: record.And(record.Where("year").Equals(1965), record.Where("title").GreaterOrEqual("D"), record.Where("title").LessThan("E"))}},
		{"range only", record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("year").GreaterThan(1950)}},
		{"prefix", record.Query{RecordTypes: []string{"Book"}, Filter: record.And(record.Where("year").Equals(1965), record.Where("title").StartsWith("Du"))}},
		{"primary key prefix", record.Query{RecordTypes: []string{"Book"}, Filter: record.And(record.Where("branch").Equals("b1"), record.Where("shelf").Equals(2))}},
		{"primary key range", record.Query{RecordTypes: []string{"Book"}, Filter: record.And(record.Where("branch").Equals("b1"), record.Where("shelf").LessThan(2))}},
		{"fan-out equality", record.Query{RecordTypes: []string{"Book"}, Filter: record.WhereAny("tags").Equals("sf")}},
		{"fan-out range is not used", record.Query{RecordTypes: []string{"Book"}, Filter: record.WhereAny("tags").GreaterThan("m")}},
		{"nested equality", record.Query{RecordTypes: []string{"Book"}, Filter: record.Nested("origin", record.Where("city").Equals("Oslo"))}},
		{"equal equality scans intersect", record.Query{RecordTypes: []string{"Book"}, Filter: record.And(record.Where("author").Equals("Austen"), record.Nested("origin", record.And(record.Where("city").Equals("Rome"), record.Where("street").Equals("Via Appia"))))}},
		{"equal scores go to the first index", record.Query{RecordTypes: []string{"Book"}, Filter: record.And(record.Where("author").Equals("Austen"), record.Where("id").GreaterThan(3))}},
		{"or of indexed equalities is a union", record.Query{RecordTypes: []string{"Book"}, Filter: record.Or(record.Where("author").Equals("A"), record.Where("author").Equals("B"))}},
		{"or with an unindexed branch is a residual", record.Query{RecordTypes: []string{"Book"}, Filter: record.Or(record.Where("author").Equals("A"), record.Where("price").GreaterThan(3.0))}},
		{"union branches keep their own filter", record.Query{RecordTypes: []string{"Book"}, Filter: record.Or(record.And(record.Where("author").Equals("A"), record.Where("price").GreaterThan(3.0)), record.WhereAny("tags").Equals("sf"))}},
		{"union under an and narrowed by nothing else", record.Query{RecordTypes: []string{"Book"}, Filter: record.And(record.Where("price").LessThan(9.0), record.Or(record.Where("author").Equals("A"), record.Nested("origin", record.Where("city").Equals("Oslo"))))}},
		{"an indexed and beats a union", record.Query{RecordTypes: []string{"Book"}, Filter: record.And(record.Where("author").Equals("C"), record.Or(record.Where("year").Equals(1), record.WhereAny("tags").Equals("sf")))}},
		{"in is an in-join", record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("author").In("B", "A", "B")}},
		{"in on an unindexed field is a residual", record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("price").In(1.0, 2.0)}},
		{"in sorted by its column", record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("author").In("A", "B"), Sort: record.Field("author"), Reverse: true}},
		{"in on the primary key", record.Query{RecordTypes: []string{"Book"}, Filter: record.And(record.Where("branch").In("b1", "b2"), record.Where("shelf").Equals(2))}},
		{"in then equality", record.Query{RecordTypes: []string{"Book"}, Filter: record.And(record.Where("year").In(1965, 1966), record.Where("title").Equals("Dune"))}},
		{"covering", record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("year").Equals(1965), RequiredFields: []record.KeyExpression{record.Field("title"), record.Field("id")}}},
		{"covering with a filter on the entry", record.Query{RecordTypes: []string{"Book"}, Filter: record.And(record.Where("year").Equals(1965), record.Where("title").NotEquals("Dune")), RequiredFields: []record.KeyExpression{record.Field("title")}}},
		{"not covering: a field outside the index", record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("year").Equals(1965), RequiredFields: []record.KeyExpression{record.Field("author")}}},
		{"sort by index", record.Query{RecordTypes: []string{"Book"}, Sort: record.Field("year")}},
		{"sort reverse", record.Query{RecordTypes: []string{"Book"}, Sort: record.Concat(record.Field("year"), record.Field("title")), Reverse: true}},
		{"sort after equality", record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("year").Equals(1965), Sort: record.Field("title")}},
		{"sort beats a better filter", record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("author").Equals("Herbert"), Sort: record.Field("year")}},
		{"sort by primary key", record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("branch").Equals("b2"), Sort: record.Field("shelf"), Reverse: true}},
		{"in-memory sort", record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("author").Equals("Herbert"), Sort: record.Field("price"), InMemorySortLimit: 500}},
		{"other type", record.Query{RecordTypes: []string{"Author"}, Filter: record.Where("name").StartsWith("Tol")}},
		{"several types", record.Query{RecordTypes: []string{"Book", "Author"}, Filter: record.Where("id").Equals(3)}},
		{"unique index", record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("id").Equals(3)}},
	}
	var out strings.Builder
	explainAll := func(e *env, queries []struct {
		name string
		q    record.Query
	}) {
		for _, c := range queries {
			var explain string
			err := e.do(func(st *record.Store) error {
				p, err := st.Plan(c.q)
				if err != nil {
					return err
				}
				explain = p.Explain()
				return nil
			})
			require.NoError(t, err, c.name)
			fmt.Fprintf(&out, "# %s\n%s\n\n", c.name, explain)
		}
	}
	explainAll(e, queries)
	// With indexes on year and on (author, year) as well.
	out.WriteString("## planner metadata\n\n")
	explainAll(newEnvWith(t, plannerMetaData(t)), []struct {
		name string
		q    record.Query
	}{
		{"two single-column equalities intersect", record.Query{RecordTypes: []string{"Book"}, Filter: record.And(record.WhereAny("tags").Equals("sf"), record.Where("year").Equals(1965), record.Where("price").GreaterThan(1.0))}},
		{"a compound index beats an intersection", record.Query{RecordTypes: []string{"Book"}, Filter: record.And(record.Where("year").Equals(1965), record.Where("author").Equals("A"))}},
		{"three-way intersection", record.Query{RecordTypes: []string{"Book"}, Filter: record.And(record.Where("year").Equals(1965), record.WhereAny("tags").Equals("sf"), record.Nested("origin", record.Where("city").Equals("Oslo")))}},
		{"intersection in sort order", record.Query{RecordTypes: []string{"Book"}, Filter: record.And(record.WhereAny("tags").Equals("sf"), record.Nested("origin", record.Where("city").Equals("Oslo"))), Reverse: true}},
		{"in sorted by another column is an in-union", record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("author").In("A", "B"), Sort: record.Field("year")}},
		{"in sorted by its column then another is an in-join", record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("author").In("A", "B"), Sort: record.Concat(record.Field("author"), record.Field("year"))}},
		{"union in sort order", record.Query{RecordTypes: []string{"Book"}, Filter: record.Or(record.Where("author").Equals("A"), record.Where("author").Equals("B")), Sort: record.Field("year"), Reverse: true}},
		{"union in sort order needs every branch in it", record.Query{RecordTypes: []string{"Book"}, Filter: record.Or(record.Where("author").Equals("A"), record.WhereAny("tags").Equals("sf")), Sort: record.Field("year")}},
		{"union of an in-union and a scan", record.Query{RecordTypes: []string{"Book"}, Filter: record.Or(record.Where("author").In("A", "B"), record.Where("year").Equals(1999))}},
		{"covering union", record.Query{RecordTypes: []string{"Book"}, Filter: record.Or(record.Where("author").Equals("A"), record.Where("author").Equals("B")), RequiredFields: []record.KeyExpression{record.Field("author"), record.Field("branch")}}},
		{"covering in-union", record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("author").In("A", "B"), Sort: record.Field("year"), RequiredFields: []record.KeyExpression{record.Field("year")}}},
		{"a covering index beats an equal primary-key scan", record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("branch").Equals("b1"), RequiredFields: []record.KeyExpression{record.Field("price")}}},
		{"without required fields the primary-key scan stays", record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("branch").Equals("b1")}},
		{"not covering: the primary-key scan stays", record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("branch").Equals("b1"), RequiredFields: []record.KeyExpression{record.Field("title")}}},
	})
	path := filepath.Join("testdata", "explain.golden")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(out.String()), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), out.String())
}
