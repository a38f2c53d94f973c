package embedded_test

import (
	"context"
	"fmt"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
)

// Open an in-memory database, write in one transaction and read back in another.
func Example() {
	db, err := embedded.Open("", nil)
	if err != nil {
		panic(err)
	}
	defer db.Close()
	ctx := context.Background()

	_, err = kv.Transact(ctx, db, func(tr kv.Transaction) (struct{}, error) {
		tr.Set([]byte("hello"), []byte("world"))
		tr.Atomic(kv.Add, []byte("visits"), []byte{1, 0, 0, 0})
		return struct{}{}, nil
	})
	if err != nil {
		panic(err)
	}
	rows, err := kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) ([]kv.KeyValue, error) {
		return tr.GetRange(kv.Range{Begin: []byte(""), End: []byte{0xff}}, kv.RangeOptions{}).GetSlice()
	})
	if err != nil {
		panic(err)
	}
	for _, r := range rows {
		fmt.Printf("%s = %q\n", r.Key, r.Value)
	}
	// Output:
	// hello = "world"
	// visits = "\x01\x00\x00\x00"
}
