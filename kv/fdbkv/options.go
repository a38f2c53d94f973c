package fdbkv

import (
	"errors"
	"fmt"
	"time"
)

// DefaultAPIVersion is the FoundationDB API version Open selects when Options.APIVersion is 0:
// 730, the version of FoundationDB 7.3 and of the binding this package is built against.
const DefaultAPIVersion = 730

// minAPIVersion is the oldest API version with the semantics this package relies on: 4-byte
// versionstamp offsets (520) and timeouts and retry limits that survive OnError (610).
const minAPIVersion = 610

// ErrUnavailable is returned by Open in a build without the fdb tag, which has no FoundationDB
// client compiled in.
var ErrUnavailable = errors.New("fdbkv: built without FoundationDB support: rebuild with -tags fdb " +
	"on a machine with the FoundationDB 7.3 client library (package foundationdb-clients)")

// Options configure Open. The zero value (or nil) gives the defaults. The binding keeps one
// database handle per cluster file, so TransactionTimeout and MaxRetryDelay apply to that shared
// handle: the last Open of the file that sets them wins.
type Options struct {
	// APIVersion is the FoundationDB API version to select; 0 means DefaultAPIVersion. The
	// version is chosen once per process, by the first Open, and the installed client library
	// must support it.
	APIVersion int
	// TransactionTimeout, when positive, is the default timeout of every transaction of the
	// database (FoundationDB's transaction_timeout database option): operations of a transaction
	// older than this, counted from its creation or Reset and across retries, fail with
	// kv.ErrTransactionTimedOut. Transaction.SetTimeout overrides it.
	TransactionTimeout time.Duration
	// MaxRetryDelay, when positive, caps the backoff FoundationDB's OnError waits between retries
	// (its transaction_max_retry_delay option; one second by default).
	MaxRetryDelay time.Duration
}

// apiVersion returns the API version the options ask for, or an error naming what is wrong.
func (o *Options) apiVersion() (int, error) {
	v := DefaultAPIVersion
	if o != nil && o.APIVersion != 0 {
		v = o.APIVersion
	}
	if v < minAPIVersion || v > DefaultAPIVersion {
		return 0, fmt.Errorf("fdbkv: Options.APIVersion %d is not supported: want %d to %d", v, minAPIVersion, DefaultAPIVersion)
	}
	return v, nil
}

// check reports the first invalid duration in o.
func (o *Options) check() error {
	if o == nil {
		return nil
	}
	if o.TransactionTimeout < 0 {
		return fmt.Errorf("fdbkv: Options.TransactionTimeout %v is negative", o.TransactionTimeout)
	}
	if o.MaxRetryDelay < 0 {
		return fmt.Errorf("fdbkv: Options.MaxRetryDelay %v is negative", o.MaxRetryDelay)
	}
	return nil
}
