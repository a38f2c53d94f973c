package queue_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/queue"
	"github.com/layerkit/layerkit/subspace"
)

// A conversation kept as a stream, and a consumer group that counts its words exactly once:
// the count and the group's cursor commit in one transaction.
func Example_streamConsumer() {
	ctx := context.Background()
	db, err := embedded.Open("", nil) // in memory
	if err != nil {
		panic(err)
	}
	defer db.Close()

	chat, err := queue.NewStream(subspace.Sub("chats", "c-42"), nil)
	if err != nil {
		panic(err)
	}
	for _, line := range []string{"user: what is a versionstamp", "assistant: the commit's place in history", "user: thanks"} {
		if _, err := chat.Append(ctx, db, []byte(line), nil); err != nil {
			panic(err)
		}
	}

	// The consumer: read after the group's cursor, do the database work, advance the cursor,
	// all in one transaction. (Group.Consume is this loop, waiting for appends when idle.)
	counter, err := chat.Group("word-counter")
	if err != nil {
		panic(err)
	}
	words := []byte("stats/words")
	for {
		n, err := kv.Transact(ctx, db, func(tr kv.Transaction) (int, error) {
			page, err := counter.Read(ctx, tr, queue.ReadOptions{Limit: 2})
			if err != nil || len(page.Entries) == 0 {
				return 0, err
			}
			for _, e := range page.Entries {
				n := len(strings.Fields(string(e.Value))) - 1 // not the speaker
				tr.Atomic(kv.Add, words, []byte{byte(n), 0, 0, 0, 0, 0, 0, 0})
			}
			return len(page.Entries), counter.Advance(ctx, tr, page.Cursor)
		})
		if err != nil {
			panic(err)
		}
		if n == 0 {
			break
		}
		fmt.Println("consumed", n)
	}
	total, err := kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) ([]byte, error) { return tr.Get(words).Get() })
	if err != nil {
		panic(err)
	}
	fmt.Println("words:", total[0])

	// The latest two lines, newest first: a reverse read from the end.
	page, err := chat.Read(ctx, db, queue.StreamEnd, queue.ReadOptions{Limit: 2, Reverse: true})
	if err != nil {
		panic(err)
	}
	for _, e := range page.Entries {
		fmt.Println(string(e.Value))
	}
	// Output:
	// consumed 2
	// consumed 1
	// words: 10
	// user: thanks
	// assistant: the commit's place in history
}
