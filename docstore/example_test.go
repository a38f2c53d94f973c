package docstore_test

import (
	"context"
	"fmt"

	"github.com/layerkit/layerkit/docstore"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/queue"
)

// Tabs of an editor's sessions: documents in, an index, a query with a sort and a projection, a
// partial update, and the change feed.
func Example() {
	ctx := context.Background()
	db, err := embedded.Open("", nil) // in memory
	if err != nil {
		panic(err)
	}
	defer db.Close()

	ds, err := docstore.Open(ctx, db, []string{"ide"}, nil)
	if err != nil {
		panic(err)
	}
	tabs, err := ds.CreateCollection(ctx, db, "tabs", docstore.CollectionOptions{ChangeFeed: true})
	if err != nil {
		panic(err)
	}
	if err := tabs.CreateIndex(ctx, db, docstore.Index{Name: "by_session", Fields: []string{"session", "order"}}); err != nil {
		panic(err)
	}
	_, err = tabs.InsertMany(ctx, db, []any{
		docstore.M{"_id": "t1", "session": "s1", "order": 2, "path": "main.go", "cursor": docstore.M{"line": 10, "col": 4}},
		docstore.M{"_id": "t2", "session": "s1", "order": 1, "path": "go.mod"},
		`{"_id": "t3", "session": "s2", "order": 1, "path": "README.md", "pinned": true}`,
	})
	if err != nil {
		panic(err)
	}

	// The tabs of session s1 in order: the index gives both the filter and the sort.
	opts := docstore.FindOptions{Sort: []string{"order"}, Projection: docstore.M{"path": 1, "_id": 0}}
	page, err := tabs.Find(ctx, db, `{"session": "s1"}`, opts)
	if err != nil {
		panic(err)
	}
	fmt.Println(page.Plan)
	for _, d := range page.Docs {
		js, _ := d.JSON()
		fmt.Println(string(js))
	}

	// Moving the cursor writes only the two fields it sets.
	if _, err := tabs.UpdateByID(ctx, db, "t1", docstore.M{"$set": docstore.M{"cursor.line": 42, "cursor.col": 1}}); err != nil {
		panic(err)
	}
	t1, err := tabs.Get(ctx, db, "t1")
	if err != nil {
		panic(err)
	}
	line, _ := t1.Get("cursor.line")
	fmt.Println("t1 cursor line:", line)

	// Every change is in the feed, in commit order.
	feed, err := tabs.ChangeFeed(ctx, db)
	if err != nil {
		panic(err)
	}
	changes, _, err := feed.Read(ctx, db, queue.StreamStart, 10)
	if err != nil {
		panic(err)
	}
	for _, ch := range changes {
		fmt.Println(ch.Op, ch.ID, ch.Paths)
	}
	// Output:
	// IndexScan(by_session: session = "s1") | Fetch | Filter({"session": {"$eq": "s1"}})
	// {"path":"go.mod"}
	// {"path":"main.go"}
	// t1 cursor line: 42
	// insert t1 []
	// insert t2 []
	// insert t3 []
	// update t1 [cursor.col cursor.line]
}
