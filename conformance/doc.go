// Package conformance holds the contract tests of the backend interfaces
// (dex's storage/conformance in spirit): Scheduler, ClusterDriver,
// JobRunner, LogStore and the identity providers. Every implementation runs
// the same suite from its own tests, so the embedded and AWS backends
// cannot drift apart; storetest does the same for Store. Only tests
// import it.
package conformance
