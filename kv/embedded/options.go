package embedded

import (
	"log/slog"
	"time"

	"github.com/layerkit/layerkit/kv"
)

// Options configure an embedded database. The zero value (or nil) gives the defaults.
type Options struct {
	// NoSync turns off the fsync of each commit group on a database on disk; an acknowledged
	// commit may then be lost by a machine crash (not by a process crash). In-memory databases
	// never sync.
	NoSync bool
	// TransactionWindow is how long a read version lives: after it, reads that need the
	// database and commits that write fail with kv.ErrTransactionTooOld (1007). Zero means five
	// seconds, as in FoundationDB.
	TransactionWindow time.Duration
	// Faults are the commit faults to inject (none by default). They can be changed later with
	// DB.InjectFaults.
	Faults kv.Faults
	// FaultSeed seeds the fault injection's random source so a failing run can be replayed; zero
	// picks a random seed.
	FaultSeed uint64
	// Logger receives the storage engine's log lines. Nil discards them: nothing is printed to
	// stdout or stderr by default.
	Logger *slog.Logger
}
