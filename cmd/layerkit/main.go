// Command layerkit looks inside a layerkit database: its directory tree, raw keys, record
// stores, indexes and consistency, and measures the engine's throughput. Run
// `go run ./cmd/layerkit --help` for the commands.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/layerkit/layerkit/cmd/layerkit/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
