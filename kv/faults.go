package kv

// Faults are the probabilities with which an engine that supports fault injection makes a commit
// fail on purpose, in the spirit of FoundationDB's BUGGIFY. Layer tests run with them on to prove
// that every operation is safe to retry. The zero value injects nothing.
type Faults struct {
	// NotCommitted is the probability that a commit fails with ErrNotCommitted (1020) without
	// being applied.
	NotCommitted float64
	// UnknownApplied is the probability that a commit is applied and then reports
	// ErrCommitUnknownResult (1021).
	UnknownApplied float64
	// UnknownNotApplied is the probability that a commit is not applied and reports
	// ErrCommitUnknownResult (1021).
	UnknownNotApplied float64
}

// FaultInjector is implemented by engines that can inject commit faults (the embedded engine).
// Test suites use it to switch faults on for workloads and off for exact semantic checks.
type FaultInjector interface {
	// InjectFaults replaces the fault probabilities; it is safe to call at any time.
	InjectFaults(f Faults)
}
