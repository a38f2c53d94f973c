package record_test

import (
	"context"
	"fmt"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/record/internal/testpb"
	"github.com/layerkit/layerkit/subspace"
	"github.com/layerkit/layerkit/tuple"
)

// Books on shelves, an index by author, and a query that uses it.
func Example() {
	ctx := context.Background()
	db, err := embedded.Open("", nil) // in memory
	if err != nil {
		panic(err)
	}
	defer db.Close()

	md, err := record.NewMetaDataBuilder(testpb.File_records_proto).
		SetPrimaryKey("Book", record.Concat(record.Field("branch"), record.Field("shelf"), record.Field("id"))).
		SetPrimaryKey("Author", record.Field("id")).
		AddIndex(record.Index{Name: "by_author", RecordTypes: []string{"Book"}, Expression: record.Field("author")}).
		Build()
	if err != nil {
		panic(err)
	}
	library := subspace.Sub("library")

	err = db.Transact(ctx, func(tr kv.Transaction) error {
		st, err := record.Open(ctx, tr, md, library)
		if err != nil {
			return err
		}
		for i, a := range []string{"Le Guin", "Herbert", "Le Guin"} {
			if _, err := st.SaveRecord(&testpb.Book{Branch: "central", Shelf: 1, Id: int64(i + 1), Author: a, Title: fmt.Sprint("book ", i+1)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		panic(err)
	}

	err = db.Transact(ctx, func(tr kv.Transaction) error {
		st, err := record.Open(ctx, tr, md, library)
		if err != nil {
			return err
		}
		plan, err := st.Plan(record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("author").Equals("Le Guin")})
		if err != nil {
			return err
		}
		fmt.Println(plan.Explain())
		cur := st.Execute(plan, record.ExecuteOptions{})
		for cur.Next() {
			b := cur.Record().Message.(*testpb.Book)
			fmt.Println(cur.Record().PrimaryKey, b.Title)
		}
		return cur.Err()
	})
	if err != nil {
		panic(err)
	}
	// Output:
	// IndexScan(by_author eq=("Le Guin")) | Fetch
	// ("central", 1, 1) book 1
	// ("central", 1, 3) book 3
}

// Books per author, kept by a COUNT index and read in one read; a proto3 field at its default
// value is null in keys, as in the Java Record Layer, unless the key uses FieldNotNull.
func ExampleStore_Count() {
	ctx := context.Background()
	db, err := embedded.Open("", nil)
	if err != nil {
		panic(err)
	}
	defer db.Close()
	md, err := record.NewMetaDataBuilder(testpb.File_records_proto).
		SetPrimaryKey("Book", record.Concat(record.RecordTypeKey(), record.FieldNotNull("shelf"), record.Field("id"))).
		SetPrimaryKey("Author", record.Concat(record.RecordTypeKey(), record.Field("id"))).
		AddIndex(record.Index{Name: "books_per_author", RecordTypes: []string{"Book"}, Type: record.CountIndex,
			Expression: record.GroupBy(record.Empty(), record.Field("author"))}).
		Build()
	if err != nil {
		panic(err)
	}
	library := subspace.Sub("library")
	err = db.Transact(ctx, func(tr kv.Transaction) error {
		st, err := record.Open(ctx, tr, md, library)
		if err != nil {
			return err
		}
		for i, a := range []string{"Le Guin", "Herbert", "Le Guin"} {
			rec, err := st.SaveRecord(&testpb.Book{Shelf: 0, Id: int64(i), Author: a})
			if err != nil {
				return err
			}
			fmt.Println(rec.PrimaryKey) // shelf 0 kept (FieldNotNull), id 0 null (Field)
		}
		return nil
	})
	if err != nil {
		panic(err)
	}
	_, err = kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) (any, error) {
		st, err := record.OpenReadOnly(ctx, tr, md, library)
		if err != nil {
			return nil, err
		}
		n, err := st.Count("books_per_author", tuple.Tuple{"Le Guin"})
		fmt.Println("Le Guin:", n)
		return nil, err
	})
	if err != nil {
		panic(err)
	}
	// Output:
	// (1, 0, <nil>)
	// (1, 0, 1)
	// (1, 0, 2)
	// Le Guin: 2
}
