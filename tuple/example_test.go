package tuple_test

import (
	"fmt"

	"github.com/layerkit/layerkit/tuple"
)

func Example() {
	key := tuple.Tuple{"lib", 2, 5, 201}.Pack()
	fmt.Printf("%x\n", key)

	t, err := tuple.Unpack(key)
	fmt.Println(t, err)
	fmt.Printf("%T\n", t[1])

	// Compare orders tuples as their packed bytes order.
	fmt.Println(tuple.Compare(tuple.Tuple{"lib", 2}, tuple.Tuple{"lib", 10}))
	// Output:
	// 026c6962001502150515c9
	// ("lib", 2, 5, 201) <nil>
	// int64
	// -1
}

func ExampleTuple_AppendPack() {
	buf := make([]byte, 0, 64)
	for i := range 3 {
		var err error
		buf, err = tuple.Tuple{"queue", i}.AppendPack(buf[:0]) // reuses buf: no allocation
		if err != nil {
			panic(err)
		}
		fmt.Printf("%x\n", buf)
	}
	_, err := tuple.Tuple{"bad\xff"}.AppendPack(buf[:0])
	fmt.Println(err)
	// Output:
	// 0271756575650014
	// 027175657565001501
	// 027175657565001502
	// tuple: element 0: string "bad\xff" is not valid UTF-8
}

func ExampleTuple_PackWithVersionstamp() {
	key, err := tuple.Tuple{"log", tuple.IncompleteVersionstamp(0)}.PackWithVersionstamp([]byte{0x15})
	fmt.Printf("%x %v\n", key, err)
	// Output:
	// 15026c6f670033ffffffffffffffffffff000007000000 <nil>
}
