package readme

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/layerkit/layerkit/directory"
	"github.com/layerkit/layerkit/docstore"
	"github.com/layerkit/layerkit/examples/readme/librarypb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/queue"
	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/subspace"
	"github.com/layerkit/layerkit/tuple"
)

// FirstProgram opens the embedded engine in memory, writes two keys of a subspace in one
// transaction and reads them back with a range read.
func FirstProgram(ctx context.Context) error {
	db, err := embedded.Open("", nil) // "": in memory; a directory path: durable on disk
	if err != nil {
		return err
	}
	defer db.Close()

	books := subspace.Sub("library", "books") // keys start with the packed tuple ("library", "books")
	err = db.Transact(ctx, func(tr kv.Transaction) error {
		tr.Set(books.Pack(tuple.Tuple{"b-2", "title"}), []byte("Dune"))
		tr.Set(books.Pack(tuple.Tuple{"b-1", "title"}), []byte("Moby-Dick"))
		return nil // the transaction commits when fn returns nil
	})
	if err != nil {
		return err
	}
	rows, err := kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) ([]kv.KeyValue, error) {
		return tr.GetRange(books, kv.RangeOptions{}).GetSlice()
	})
	if err != nil {
		return err
	}
	for _, row := range rows {
		key, err := books.Unpack(row.Key)
		if err != nil {
			return err
		}
		fmt.Println(key, string(row.Value))
	}
	return nil
}

// Tuples shows that packed tuples order as their values.
func Tuples() error {
	keys := [][]byte{
		tuple.Tuple{"shelf", 10}.Pack(),
		tuple.Tuple{"shelf", 9, "b-7"}.Pack(),
		tuple.Tuple{"shelf", 9}.Pack(),
		tuple.Tuple{"shelf", -1}.Pack(),
		tuple.Tuple{"shelf"}.Pack(),
	}
	slices.SortFunc(keys, bytes.Compare) // byte order...
	for _, k := range keys {
		t, err := tuple.Unpack(k)
		if err != nil {
			return err
		}
		fmt.Printf("%-20v %s\n", t, kv.Printable(k)) // ...is the order of the values
	}
	return nil
}

// Directories names a keyspace with a path, writes under it and renames it.
func Directories(ctx context.Context, db kv.Database) error {
	users, err := directory.CreateOrOpen(ctx, db, []string{"app", "users"}, nil)
	if err != nil {
		return err
	}
	err = db.Transact(ctx, func(tr kv.Transaction) error {
		tr.Set(users.Pack(tuple.Tuple{"alice"}), []byte("admin")) // a directory is a subspace
		return nil
	})
	if err != nil {
		return err
	}
	// Renaming moves no data: the new path names the same short prefix.
	accounts, err := directory.Move(ctx, db, []string{"app", "users"}, []string{"app", "accounts"})
	if err != nil {
		return err
	}
	names, err := directory.List(ctx, db, []string{"app"})
	if err != nil {
		return err
	}
	fmt.Println(names, bytes.Equal(accounts.Bytes(), users.Bytes()))
	return nil
}

// LibraryMetaData declares the record types of library.proto with their primary keys, and the
// indexes of the store.
func LibraryMetaData() (*record.MetaData, error) {
	return record.NewMetaDataBuilder(librarypb.File_library_proto).
		// Two record types share the store: start their primary keys with the type.
		SetPrimaryKey("Book", record.Concat(record.RecordTypeKey(), record.Field("id"))).
		SetPrimaryKey("Member", record.Concat(record.RecordTypeKey(), record.Field("id"))).
		AddIndex(record.Index{Name: "by_author", RecordTypes: []string{"Book"}, Expression: record.Field("author")}).
		AddIndex(record.Index{Name: "books_per_author", RecordTypes: []string{"Book"}, Type: record.CountIndex,
			Expression: record.GroupBy(record.Empty(), record.Field("author"))}).
		Build()
}

// Records saves records of two types in a store and queries them through an index, reading one
// aggregate.
func Records(ctx context.Context, db kv.Database) error {
	md, err := LibraryMetaData()
	if err != nil {
		return err
	}
	library, err := directory.CreateOrOpen(ctx, db, []string{"library"}, nil)
	if err != nil {
		return err
	}
	// Saves keep every index up to date in the same transaction.
	err = db.Transact(ctx, func(tr kv.Transaction) error {
		st, err := record.Open(ctx, tr, md, library)
		if err != nil {
			return err
		}
		for _, b := range []*librarypb.Book{
			{Id: 1, Title: "A Wizard of Earthsea", Author: "Ursula K. Le Guin", Year: 1968},
			{Id: 2, Title: "Dune", Author: "Frank Herbert", Year: 1965},
			{Id: 3, Title: "The Dispossessed", Author: "Ursula K. Le Guin", Year: 1974},
		} {
			if _, err := st.SaveRecord(b); err != nil {
				return err
			}
		}
		_, err = st.SaveRecord(&librarypb.Member{Id: 1, Name: "Ada"})
		return err
	})
	if err != nil {
		return err
	}
	// Queries are planned onto the indexes; this one only reads.
	_, err = kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) (struct{}, error) {
		st, err := record.OpenReadOnly(ctx, tr, md, library)
		if err != nil {
			return struct{}{}, err
		}
		plan, err := st.Plan(record.Query{RecordTypes: []string{"Book"}, Filter: record.Where("author").Equals("Ursula K. Le Guin")})
		if err != nil {
			return struct{}{}, err
		}
		fmt.Println(plan.Explain())
		cur := st.Execute(plan, record.ExecuteOptions{ReturnLimit: 10}) // cur.Continuation() resumes
		for cur.Next() {
			b := cur.Record().Message.(*librarypb.Book)
			fmt.Println(cur.Record().PrimaryKey, b.Title, b.Year)
		}
		if err := cur.Err(); err != nil {
			return struct{}{}, err
		}
		n, err := st.Count("books_per_author", tuple.Tuple{"Ursula K. Le Guin"}) // one read
		fmt.Println("books by Le Guin:", n)
		return struct{}{}, err
	})
	return err
}

// Queues enqueues a job in the transaction that saves its order, and a worker does the job and
// acknowledges it in one transaction.
func Queues(ctx context.Context, db kv.Database) error {
	jobs, err := queue.NewQueue(subspace.Sub("app", "jobs"), nil)
	if err != nil {
		return err
	}
	orders := subspace.Sub("app", "orders")
	// The order and its job commit together, or neither does.
	err = db.Transact(ctx, func(tr kv.Transaction) error {
		tr.Set(orders.Pack(tuple.Tuple{"o-1"}), []byte("placed"))
		_, err := jobs.Enqueue(ctx, tr, []byte("o-1"), &queue.EnqueueOptions{IdempotencyKey: []byte("o-1")})
		return err
	})
	if err != nil {
		return err
	}
	// A worker leases up to 10 jobs (ReceiveWait blocks on a watch until there is one), does
	// each job's database work and acknowledges it in the same transaction: exactly once.
	leases, err := jobs.ReceiveWait(ctx, db, queue.ReceiveOptions{Max: 10})
	if err != nil {
		return err
	}
	for _, l := range leases {
		err := db.Transact(ctx, func(tr kv.Transaction) error {
			tr.Set(orders.Pack(tuple.Tuple{string(l.Payload)}), []byte("shipped"))
			return jobs.Ack(ctx, tr, l)
		})
		// ErrLeaseLost after a retry of an unknown commit result: the first attempt committed
		// the work and the ack (or another consumer took the lease over); this one wrote nothing.
		if err != nil && !errors.Is(err, queue.ErrLeaseLost) {
			return err
		}
		fmt.Println("shipped", string(l.Payload), "on attempt", l.Attempts)
	}
	st, err := jobs.Stats(ctx, db) // exact counts, four reads
	if err != nil {
		return err
	}
	fmt.Println("visible", st.Visible, "in flight", st.InFlight, "dead", st.Dead)
	return nil
}

// Streams appends to a stream and reads its newest entries.
func Streams(ctx context.Context, db kv.Database) error {
	chat, err := queue.NewStream(subspace.Sub("chats", "c-42"), nil)
	if err != nil {
		return err
	}
	for _, line := range []string{"user: hello", "assistant: hi!", "user: what is a versionstamp?"} {
		if _, err := chat.Append(ctx, db, []byte(line), nil); err != nil { // appenders never conflict
			return err
		}
	}
	// The newest two entries, newest first; page.Cursor resumes the read, now or later.
	page, err := chat.Read(ctx, db, queue.StreamEnd, queue.ReadOptions{Limit: 2, Reverse: true})
	if err != nil {
		return err
	}
	for _, e := range page.Entries {
		fmt.Println(string(e.Value))
	}
	return nil
}

// Documents keeps JSON documents in a collection with a compound index, queries them with a
// MongoDB filter and updates one field.
func Documents(ctx context.Context, db kv.Database) error {
	ds, err := docstore.Open(ctx, db, []string{"app", "docs"}, nil)
	if err != nil {
		return err
	}
	users := ds.Collection("users") // created by its first write
	err = users.CreateIndex(ctx, db, docstore.Index{Name: "by_city_age", Fields: []string{"city", "age"}})
	if err != nil {
		return err
	}
	_, err = users.InsertMany(ctx, db, []any{
		docstore.M{"_id": "ada", "city": "London", "age": 36},
		docstore.M{"_id": "alan", "city": "London", "age": 41},
		`{"_id": "grace", "city": "New York", "age": 45}`,
	})
	if err != nil {
		return err
	}
	page, err := users.Find(ctx, db, `{"city": "London", "age": {"$gte": 30}}`,
		docstore.FindOptions{Sort: []string{"-age"}, Limit: 20}) // page.Continuation resumes later
	if err != nil {
		return err
	}
	fmt.Println(page.Plan)
	for _, d := range page.Docs {
		js, err := d.JSON()
		if err != nil {
			return err
		}
		fmt.Println(string(js))
	}
	// An update by _id reads and writes only the fields it names.
	_, err = users.UpdateByID(ctx, db, "ada", docstore.M{"$inc": docstore.M{"logins": 1}})
	return err
}
