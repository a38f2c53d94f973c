package fdbkv

import (
	"errors"
	"fmt"
	"time"
)

// APIVersion is the FoundationDB API version this package selects: 730, the version of
// FoundationDB 7.3, of the binding it is built against, and the only one its conformance suite
// runs. Options.APIVersion accepts nothing else (see Options.APIVersion for why).
const APIVersion = 730

// ErrUnavailable is returned by Open in a build without the fdb tag, which has no FoundationDB
// client compiled in.
var ErrUnavailable = errors.New("fdbkv: built without FoundationDB support: rebuild with -tags fdb " +
	"on a machine with the FoundationDB 7.3 client library (package foundationdb-clients)")

// Options configure Open. The zero value (or nil) gives the defaults. The binding keeps one
// database handle per cluster file, so TransactionTimeout and MaxRetryDelay apply to that shared
// handle: the last Open of the file that sets them wins.
type Options struct {
	// APIVersion is the FoundationDB API version to select: 0 or 730 (APIVersion), the one
	// version the conformance suite runs; Open refuses any other. For the record, FoundationDB's
	// upgrade guide lists nothing the kv contract uses between 700 and 730 (710 replaced a range
	// read variant, 720 removed profiling special keys); below 700 a commit partially resets
	// the transaction (its read version changes), and below 610 OnError resets the timeout and
	// retry limit and leaves a transaction usable after an error it does not retry. The version
	// is chosen once per process, by the first Open, unless the application has already selected
	// it through the binding, in which case that choice must be 730 too.
	APIVersion int
	// TransactionTimeout, when positive, is the default timeout of every transaction of the
	// database (FoundationDB's transaction_timeout database option): operations of a transaction
	// older than this, counted from its creation or Reset and across retries, fail with
	// kv.ErrTransactionTimedOut. Transaction.SetTimeout overrides it.
	TransactionTimeout time.Duration
	// MaxRetryDelay, when positive, caps the backoff FoundationDB's OnError waits between retries
	// (its transaction_max_retry_delay option; one second by default).
	MaxRetryDelay time.Duration
	// ConnectTimeout, when positive, makes Open check that the cluster answers: Open then asks
	// for a read version and fails with an error naming the coordinators if none comes within
	// ConnectTimeout. Zero skips the check; a cluster that cannot be reached then shows as
	// operations that wait until their context ends.
	ConnectTimeout time.Duration
	// Network holds FoundationDB's client network options (TLS, tracing, knobs). They take
	// effect only before the client's network starts, which the first Open of the process
	// does; Open fails if they are given once the network runs (see NetworkOptions).
	Network *NetworkOptions
}

// apiVersion returns the API version the options ask for, or an error naming what is wrong.
func (o *Options) apiVersion() (int, error) {
	if o == nil || o.APIVersion == 0 || o.APIVersion == APIVersion {
		return APIVersion, nil
	}
	return 0, fmt.Errorf("fdbkv: Options.APIVersion %d is not supported: only %d, the version the conformance suite runs (0 selects it)", o.APIVersion, APIVersion)
}

// check reports the first invalid option in o.
func (o *Options) check() error {
	if o == nil {
		return nil
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"TransactionTimeout", o.TransactionTimeout},
		{"MaxRetryDelay", o.MaxRetryDelay},
		{"ConnectTimeout", o.ConnectTimeout},
	} {
		if d.v < 0 {
			return fmt.Errorf("fdbkv: Options.%s %v is negative", d.name, d.v)
		}
	}
	if o.Network != nil {
		if _, err := o.Network.settings(); err != nil {
			return err
		}
	}
	return nil
}
