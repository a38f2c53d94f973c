package main

import (
	"fmt"
	"math/rand/v2"

	"github.com/layerkit/layerkit/examples/catalogue/catalogpb"
)

// generation is how a catalogue was generated: the same values give the same books. A
// catalogue on disk keeps it in its store header (see stored.go), so that a later run finds
// the books it expects.
type generation struct {
	Books    int   `json:"books"`
	Branches int   `json:"branches"`
	Seed     int64 `json:"seed"`
	// Loaded is false while the books are being loaded: a run stopped part way leaves it so, and
	// the next run finishes the load.
	Loaded bool `json:"loaded"`
}

// generator makes a deterministic catalogue.
type generator struct {
	gen generation
	rng *rand.Rand
}

func newGenerator(gen generation) *generator {
	return &generator{gen: gen, rng: rand.New(rand.NewPCG(uint64(gen.Seed), 0x1ab))}
}

var (
	givenNames = []string{"Ada", "Miles", "Henry", "Ethel", "Patrick", "Judith", "Les", "Christina", "Tim", "Kate", "David", "Helen", "Peter", "Ruth", "Thomas", "Alexis"}
	surnames   = []string{"Franklin", "Lawson", "Richardson", "Turner", "White", "Wright", "Murray", "Stead", "Winton", "Grenville", "Malouf", "Garner", "Carey", "Park", "Keneally", "Wright"}
	words      = []string{"River", "Harvest", "Shadow", "Island", "Season", "Country", "Secret", "Light", "Voyage", "Garden", "Storm", "Letters", "Silence", "Road", "Fire", "Tide"}
)

// books returns the catalogue: book i has the id B%07d of i, on the shelf the generator put it.
func (g *generator) books() []*catalogpb.Book {
	out := make([]*catalogpb.Book, g.gen.Books)
	for i := range out {
		author := fmt.Sprintf("%s %s", givenNames[g.rng.IntN(len(givenNames))], surnames[g.rng.IntN(len(surnames))])
		if g.rng.IntN(4) == 0 { // a long tail of less common authors
			author = fmt.Sprintf("%s %c. %s", givenNames[g.rng.IntN(len(givenNames))], 'A'+rune(g.rng.IntN(26)), surnames[g.rng.IntN(len(surnames))])
		}
		out[i] = &catalogpb.Book{
			Branch: fmt.Sprintf("BR-%03d", g.rng.IntN(g.gen.Branches)),
			Shelf:  fmt.Sprintf("%03d", 50*g.rng.IntN(20)), // 20 shelves (Dewey classes) a branch
			BookId: fmt.Sprintf("B%07d", i),
			Title:  fmt.Sprintf("The %s of the %s", words[g.rng.IntN(len(words))], words[g.rng.IntN(len(words))]),
			Author: author,
			Year:   int32(1850 + g.rng.IntN(175)),
			Isbn:   fmt.Sprintf("978-0-%05d-%03d-%d", g.rng.IntN(100000), g.rng.IntN(1000), g.rng.IntN(10)),
		}
	}
	return out
}

func mostFrequentAuthor(books []*catalogpb.Book) string {
	n := map[string]int{}
	best := ""
	for _, b := range books {
		n[b.Author]++
		if n[b.Author] > n[best] || (n[b.Author] == n[best] && b.Author < best) {
			best = b.Author
		}
	}
	return best
}
