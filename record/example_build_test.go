package record_test

import (
	"context"
	"fmt"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/record/internal/testpb"
	"github.com/layerkit/layerkit/subspace"
)

// New metadata adds an index to a store that holds books: it is checked against the old
// metadata, the store gets the index DISABLED when opened with it, BuildIndex builds it online,
// and an IN query then runs as an in-join on it.
func ExampleBuildIndex() {
	ctx := context.Background()
	db, err := embedded.Open("", nil)
	if err != nil {
		panic(err)
	}
	defer db.Close()
	library := subspace.Sub("library")
	builder := func(version int) *record.MetaDataBuilder {
		return record.NewMetaDataBuilder(testpb.File_records_proto).SetVersion(version).
			SetPrimaryKey("Book", record.Concat(record.RecordTypeKey(), record.Field("id"))).
			SetPrimaryKey("Author", record.Concat(record.RecordTypeKey(), record.Field("id")))
	}
	v1, err := builder(1).Build()
	if err != nil {
		panic(err)
	}
	v2, err := builder(2).AddIndex(record.Index{Name: "by_author", RecordTypes: []string{"Book"}, Expression: record.Field("author")}).Build()
	if err != nil {
		panic(err)
	}
	err = db.Transact(ctx, func(tr kv.Transaction) error {
		st, err := record.Open(ctx, tr, v1, library)
		if err != nil {
			return err
		}
		for i, a := range []string{"Le Guin", "Herbert", "Austen", "Le Guin"} {
			if _, err := st.SaveRecord(&testpb.Book{Id: int64(i + 1), Author: a}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		panic(err)
	}

	fmt.Println("evolution:", record.ValidateEvolution(v1, v2, record.EvolutionOptions{}))
	err = db.Transact(ctx, func(tr kv.Transaction) error {
		st, err := record.Open(ctx, tr, v2, library)
		if err != nil {
			return err
		}
		state, err := st.IndexState("by_author")
		fmt.Println("opened with v2:", state)
		return err
	})
	if err != nil {
		panic(err)
	}
	err = record.BuildIndex(ctx, db, v2, library, "by_author", record.IndexBuildOptions{
		Progress: func(p record.IndexBuildProgress) {
			fmt.Printf("built: %d of about %d records\n", p.Records, p.EstimatedTotal)
		},
	})
	if err != nil {
		panic(err)
	}
	err = db.Transact(ctx, func(tr kv.Transaction) error {
		st, err := record.Open(ctx, tr, v2, library)
		if err != nil {
			return err
		}
		cur, err := st.ExecuteQuery(record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("author").In("Le Guin", "Austen")}, record.ExecuteOptions{})
		if err != nil {
			return err
		}
		recs, err := cur.All()
		for _, r := range recs {
			b := r.Message.(*testpb.Book)
			fmt.Println(b.Author, b.Id)
		}
		return err
	})
	if err != nil {
		panic(err)
	}
	// Output:
	// evolution: <nil>
	// opened with v2: DISABLED
	// built: 4 of about 4 records
	// Austen 3
	// Le Guin 1
	// Le Guin 4
}
