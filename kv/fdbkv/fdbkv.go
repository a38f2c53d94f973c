//go:build fdb

package fdbkv

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/apple/foundationdb/bindings/go/src/fdb"
	"github.com/layerkit/layerkit/kv"
)

var (
	// api is this process's choice of API version (FoundationDB allows one).
	api versionChoice
	// openMu serializes the network start and OpenDatabase: the binding keeps its cache of open
	// databases in a plain map.
	openMu sync.Mutex
	// network records how this process's client network was started.
	network networkState
)

// Open connects to the FoundationDB cluster named by clusterFile ("" for the client's default
// cluster file: $FDB_CLUSTER_FILE, ./fdb.cluster or /etc/foundationdb/fdb.cluster) and returns it
// as a kv.Database. It first reads and checks the cluster file (a *ClusterFileError names the
// path and the problem). The first Open of the process selects the API version, sets
// Options.Network and starts the client's network thread. With Options.ConnectTimeout it also
// checks that the cluster answers. The database is safe for concurrent use and lives until the
// process exits.
func Open(clusterFile string, opts *Options) (kv.Database, error) {
	v, err := opts.apiVersion()
	if err != nil {
		return nil, err
	}
	if err := opts.check(); err != nil {
		return nil, err
	}
	cf, err := readClusterFile(clusterFile)
	if err != nil {
		return nil, err
	}
	if err := api.choose(v, selectAPIVersion); err != nil {
		return nil, err
	}
	var want []networkSetting
	if opts != nil {
		want, _ = opts.Network.settings() // checked above
	}
	openMu.Lock()
	err = network.start(want, startNetwork)
	var db fdb.Database
	if err == nil {
		db, err = fdb.OpenDatabase(clusterFile)
		if err != nil {
			err = fmt.Errorf("fdbkv: open cluster file %s: %w", cf.path, convertErr(err))
		}
	}
	openMu.Unlock()
	if err != nil {
		return nil, err
	}
	if opts != nil && opts.TransactionTimeout > 0 {
		if err := db.Options().SetTransactionTimeout(timeoutMillis(opts.TransactionTimeout)); err != nil {
			return nil, fmt.Errorf("fdbkv: set transaction timeout %v: %w", opts.TransactionTimeout, convertErr(err))
		}
	}
	if opts != nil && opts.MaxRetryDelay > 0 {
		if err := db.Options().SetTransactionMaxRetryDelay(timeoutMillis(opts.MaxRetryDelay)); err != nil {
			return nil, fmt.Errorf("fdbkv: set max retry delay %v: %w", opts.MaxRetryDelay, convertErr(err))
		}
	}
	d := &database{db: db}
	if opts != nil && opts.ConnectTimeout > 0 {
		if err := d.probe(cf, opts.ConnectTimeout); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// FromDatabase returns db, a database the application opened through the binding itself (with
// fdb.OpenDatabase or fdb.OpenWithConnectionString, after selecting API version 730), as a
// kv.Database, so that layerkit's layers share the application's handle.
func FromDatabase(db fdb.Database) (kv.Database, error) {
	if v, err := fdb.GetAPIVersion(); err != nil || v != APIVersion {
		return nil, fmt.Errorf("fdbkv: FromDatabase needs FoundationDB API version %d selected (fdb.APIVersion(%d)); selected: %d", APIVersion, APIVersion, v)
	}
	return &database{db: db}, nil
}

// selectAPIVersion selects v through the binding, or explains why the application's own choice
// stands in the way.
func selectAPIVersion(v int) error {
	if cur, err := fdb.GetAPIVersion(); err == nil && cur != v {
		return fmt.Errorf("the application already selected API version %d through the binding, and a process has only one", cur)
	}
	return fdb.APIVersion(v)
}

// startNetwork sets the network options and starts the client's network, or finds it started
// by the application through the binding.
func startNetwork(want []networkSetting) error {
	for _, s := range want {
		if err := setNetworkOption(s); err != nil {
			return fmt.Errorf("fdbkv: set network option %s: %w", s.name, convertErr(err))
		}
	}
	// StartNetwork is the one call that tells whether the network already runs: it fails with
	// network_already_setup (2009) then, where OpenDatabase would silently carry on and leave
	// the options above without effect.
	err := fdb.StartNetwork() // deprecated in favour of OpenDatabase, which cannot report it
	var fe fdb.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fe) && fe.Code == 2009:
		if len(want) > 0 {
			return fmt.Errorf("fdbkv: Options.Network cannot take effect: the application already started the FoundationDB client network through the binding; set network options before anything opens a database")
		}
		return nil
	default:
		return fmt.Errorf("fdbkv: start the FoundationDB client network: %w", convertErr(err))
	}
}

// setNetworkOption sets one network option through the binding's setter of that name.
func setNetworkOption(s networkSetting) error {
	set, ok := networkSetters[s.name]
	if !ok {
		return fmt.Errorf("no such network option")
	}
	return set(fdb.Options(), s.value)
}

// networkSetters are the binding's setters of the options NetworkOptions offers.
var networkSetters = map[string]func(fdb.NetworkOptions, string) error{
	"tls_cert_path":   fdb.NetworkOptions.SetTLSCertPath,
	"tls_key_path":    fdb.NetworkOptions.SetTLSKeyPath,
	"tls_ca_path":     fdb.NetworkOptions.SetTLSCaPath,
	"tls_password":    fdb.NetworkOptions.SetTLSPassword,
	"trace_enable":    fdb.NetworkOptions.SetTraceEnable,
	"trace_format":    fdb.NetworkOptions.SetTraceFormat,
	"trace_log_group": fdb.NetworkOptions.SetTraceLogGroup,
	"knob":            fdb.NetworkOptions.SetKnob,
	"tls_verify_peers": func(o fdb.NetworkOptions, v string) error {
		return o.SetTLSVerifyPeers([]byte(v))
	},
	"external_client_directory": fdb.NetworkOptions.SetExternalClientDirectory,
}

// probe asks for a read version, bounded by timeout, and reports a cluster that does not answer.
func (d *database) probe(cf clusterFile, timeout time.Duration) error {
	tr, err := d.db.CreateTransaction()
	if err != nil {
		return fmt.Errorf("fdbkv: probe the cluster at %s: %w", cf.coordinatorList(), convertErr(err))
	}
	defer tr.Cancel()
	if err := tr.Options().SetTimeout(timeoutMillis(timeout)); err != nil {
		return fmt.Errorf("fdbkv: probe the cluster at %s: %w", cf.coordinatorList(), convertErr(err))
	}
	_, err = tr.GetReadVersion().Get()
	if err == nil {
		return nil
	}
	err = convertErr(err)
	if errors.Is(err, kv.ErrTransactionTimedOut) {
		return fmt.Errorf("fdbkv: cannot reach the cluster at %s (cluster file %s): no read version within %v; check that the coordinators run, that this host reaches them, and that the database is configured: %w",
			cf.coordinatorList(), cf.path, timeout, err)
	}
	return fmt.Errorf("fdbkv: cannot reach the cluster at %s (cluster file %s): %w", cf.coordinatorList(), cf.path, err)
}

// database is a kv.Database over an fdb.Database. It is safe for concurrent use.
type database struct {
	db fdb.Database
}

var _ kv.Database = (*database)(nil)

// CreateTransaction starts a FoundationDB transaction. Its calls are not bound to any context;
// Transact and ReadTransact bind theirs (see transaction.Transact).
func (d *database) CreateTransaction() (kv.Transaction, error) {
	tr, err := d.db.CreateTransaction()
	if err != nil {
		return nil, convertErr(err)
	}
	return newTransaction(tr), nil
}

// Transact runs fn in kv's retry loop, which commits and hands errors to FoundationDB's OnError.
// The loop's transaction is bound to ctx: when ctx ends, its blocked reads, commit or backoff
// return ctx's error.
func (d *database) Transact(ctx context.Context, fn func(kv.Transaction) error, opts ...kv.TransactOption) error {
	return d.run(ctx, false, fn, opts)
}

// ReadTransact runs fn in kv's retry loop without committing, bound to ctx as Transact is.
func (d *database) ReadTransact(ctx context.Context, fn func(kv.ReadTransaction) error, opts ...kv.TransactOption) error {
	return d.run(ctx, true, func(tr kv.Transaction) error { return fn(tr) }, opts)
}

// run is kv's retry loop with its one transaction bound to ctx from the first attempt until the
// loop returns (so that a ctx ending after a successful commit does not cancel the watches the
// transaction set).
func (d *database) run(ctx context.Context, readOnly bool, fn func(kv.Transaction) error, opts []kv.TransactOption) error {
	release := func() {}
	bound := false
	err := kv.RunTransact(ctx, d, readOnly, func(tr kv.Transaction) error {
		if !bound {
			if t, ok := tr.(*transaction); ok {
				release, bound = t.intr.bind(ctx), true
			}
		}
		return fn(tr)
	}, opts...)
	release()
	return err
}

// convertErr turns the binding's errors into kv errors with the same code; other errors pass
// unchanged.
func convertErr(err error) error {
	if err == nil {
		return nil
	}
	var fe fdb.Error
	if errors.As(err, &fe) {
		return codeError(fe.Code, fe.Error)
	}
	return err
}
