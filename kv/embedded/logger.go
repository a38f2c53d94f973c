package embedded

import (
	"context"
	"fmt"
	"log/slog"
)

// pebbleLogger sends Pebble's log lines to a slog.Logger, or drops them when there is none, so
// that by default nothing reaches stdout or stderr.
type pebbleLogger struct {
	l *slog.Logger
}

func newLogger(l *slog.Logger) pebbleLogger { return pebbleLogger{l} }

func (p pebbleLogger) Infof(format string, args ...any) {
	if p.l != nil {
		p.l.Info(fmt.Sprintf(format, args...), slog.String("component", "pebble"))
	}
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	if p.l != nil {
		p.l.Error(fmt.Sprintf(format, args...), slog.String("component", "pebble"))
	}
}

// Fatalf is called by Pebble when it cannot go on: a write of its manifest or write-ahead log
// failed, or one of its own invariants broke. Pebble expects it not to return, since its state
// is then undefined, so it panics. Damaged files do not come here: the event listener
// (storage.go) turns them into errors.
func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if p.l != nil {
		p.l.Log(context.Background(), slog.LevelError+4, msg, slog.String("component", "pebble"))
	}
	panic("embedded: pebble: " + msg)
}
