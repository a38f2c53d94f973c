package subspace_test

import (
	"fmt"

	"github.com/layerkit/layerkit/subspace"
	"github.com/layerkit/layerkit/tuple"
)

func Example() {
	users := subspace.Sub("app", "users")
	key := users.Pack(tuple.Tuple{42, "email"})
	fmt.Println(users)
	fmt.Printf("%x\n", key)

	t, err := users.Unpack(key)
	fmt.Println(t, err)
	fmt.Println(users.Contains(key), users.Range())
	// Output:
	// Subspace(rawPrefix=\x02app\x00\x02users\x00)
	// 026170700002757365727300152a02656d61696c00
	// (42, "email") <nil>
	// true [\x02app\x00\x02users\x00\x00, \x02app\x00\x02users\x00\xff)
}
