// Package kvtest is the conformance suite of the kv contract: every engine (kv/embedded,
// kv/fdbkv) runs it from its own tests, and it proves that the engine behaves as FoundationDB
// does, point by point, and stays correct under FoundationDB's correctness workloads.
//
// # Basics
//
// An engine's test calls [Run] with a function that opens an empty database:
//
//	func TestConformance(t *testing.T) {
//		kvtest.Run(t, func(t *testing.T) kv.Database {
//			db, err := embedded.Open("", nil)
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { db.Close() })
//			return db
//		})
//	}
//
// Run has one subtest per semantic point of the contract (grouped as ReadWrite, Range,
// Selector, ReadYourWrites, Conflict, Atomic, Versionstamp, MetadataVersion, Version, Limit,
// Lifecycle, Window, Watch, Transact, Error) and the workloads (Workload/Cycle, Workload/Bank, Workload/Versionstamps,
// Workload/Watches, Workload/Model). A single point can be run with
// go test -run 'TestConformance/Conflict/LimitedRangeRead'.
//
// The workloads switch on fault injection when the database implements [kv.FaultInjector]
// (injected 1020 and 1021, applied and not), so they also prove that the contract's retry loop
// and idempotent transaction design keep invariants intact. Subtests that check exact semantics
// switch faults off.
//
// # Caveats
//
// open is called once per subtest, from many subtests in parallel, and must return an empty
// database that no other running subtest uses. An engine over a shared store must serialize
// the subtests itself (for example by clearing the store and holding a lock until the subtest's
// cleanup).
//
// The model-based random test (Workload/Model) prints its seed when it fails; set
// LAYERKIT_KVTEST_SEED to that seed to replay it. LAYERKIT_SOAK=1 runs the workloads and the
// model test for many more iterations. Window/FiveSeconds sleeps once just past the five-second
// transaction window (in parallel with the other subtests) and then checks each rule of the
// window as its own subtest; it is skipped with -short.
package kvtest
