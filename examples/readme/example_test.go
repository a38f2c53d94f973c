package readme_test

import (
	"context"
	"fmt"

	"github.com/layerkit/layerkit/examples/readme"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
)

// onNewDatabase runs a snippet on a new in-memory database and prints its error, if any, so
// that the example's output shows it.
func onNewDatabase(snippet func(context.Context, kv.Database) error) {
	ctx := context.Background()
	db, err := embedded.Open("", nil)
	if err != nil {
		fmt.Println("open:", err)
		return
	}
	defer db.Close()
	if err := snippet(ctx, db); err != nil {
		fmt.Println("error:", err)
	}
}

func ExampleFirstProgram() {
	if err := readme.FirstProgram(context.Background()); err != nil {
		fmt.Println("error:", err)
	}
	// Output:
	// ("b-1", "title") Moby-Dick
	// ("b-2", "title") Dune
}

func ExampleTuples() {
	if err := readme.Tuples(); err != nil {
		fmt.Println("error:", err)
	}
	// Output:
	// ("shelf")            \x02shelf\x00
	// ("shelf", -1)        \x02shelf\x00\x13\xfe
	// ("shelf", 9)         \x02shelf\x00\x15\x09
	// ("shelf", 9, "b-7")  \x02shelf\x00\x15\x09\x02b-7\x00
	// ("shelf", 10)        \x02shelf\x00\x15\x0a
}

func ExampleDirectories() {
	onNewDatabase(readme.Directories)
	// Output:
	// [accounts] true
}

func ExampleRecords() {
	onNewDatabase(readme.Records)
	// Output:
	// IndexScan(by_author eq=("Ursula K. Le Guin")) | Fetch
	// (1, 1) A Wizard of Earthsea 1968
	// (1, 3) The Dispossessed 1974
	// books by Le Guin: 2
}

func ExampleQueues() {
	onNewDatabase(readme.Queues)
	// Output:
	// shipped o-1 on attempt 1
	// visible 0 in flight 0 dead 0
}

func ExampleStreams() {
	onNewDatabase(readme.Streams)
	// Output:
	// user: what is a versionstamp?
	// assistant: hi!
}

func ExampleDocuments() {
	onNewDatabase(readme.Documents)
	// Output:
	// IndexScan(by_city_age: city = "London", age >= 30 reverse) | Fetch | Filter({"$and": [{"age": {"$gte": 30}}, {"city": {"$eq": "London"}}]})
	// {"_id":"alan","age":41,"city":"London"}
	// {"_id":"ada","age":36,"city":"London"}
}
