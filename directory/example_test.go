package directory_test

import (
	"context"
	"fmt"

	"github.com/layerkit/layerkit/directory"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/tuple"
)

func Example() {
	ctx := context.Background()
	db, err := embedded.Open("", nil) // in memory
	if err != nil {
		panic(err)
	}
	defer db.Close()

	users, err := directory.CreateOrOpen(ctx, db, []string{"app", "users"}, nil)
	if err != nil {
		panic(err)
	}
	ss, err := users.Subspace()
	if err != nil {
		panic(err)
	}
	_, err = kv.Transact(ctx, db, func(tr kv.Transaction) (struct{}, error) {
		tr.Set(ss.Pack(tuple.Tuple{"alice"}), []byte("admin"))
		return struct{}{}, nil
	})
	if err != nil {
		panic(err)
	}

	// Renaming moves no data: the directory keeps its prefix.
	moved, err := directory.Move(ctx, db, []string{"app", "users"}, []string{"app", "accounts"})
	if err != nil {
		panic(err)
	}
	ms, _ := moved.Subspace()
	fmt.Println(moved.GetPath(), string(ms.Bytes()) == string(ss.Bytes()))

	names, err := directory.List(ctx, db, []string{"app"})
	if err != nil {
		panic(err)
	}
	fmt.Println(names)
	fmt.Println(directory.Check(ctx, db))
	// Output:
	// [app accounts] true
	// [accounts]
	// <nil>
}

func ExampleDirectorySubspace_partition() {
	ctx := context.Background()
	db, err := embedded.Open("", nil)
	if err != nil {
		panic(err)
	}
	defer db.Close()

	tenant, err := directory.CreateOrOpen(ctx, db, []string{"tenant-1"}, []byte("partition"))
	if err != nil {
		panic(err)
	}
	_, err = tenant.Subspace()
	fmt.Println(err)

	orders, err := tenant.CreateOrOpen(ctx, db, []string{"orders"}, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(orders.GetPath())

	_, err = directory.Move(ctx, db, []string{"tenant-1", "orders"}, []string{"orders"})
	fmt.Println(err)
	// Output:
	// directory: the root of a directory partition cannot be used as a subspace: ("tenant-1")
	// [tenant-1 orders]
	// directory: cannot move between partitions: ("tenant-1", "orders") to ("orders")
}
