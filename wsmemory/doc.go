// Package wsmemory implements wssync.Backend, wssync.SessionStore and the presence store of
// the package wspresence in memory, for several nodes of one process: tests, examples, a
// development setup without Redis. Every node is given the same *Backend, as every process
// would be given the same Redis:
//
//	store := wsmemory.New()
//	board, err := wssync.NewShared("BOARD", &Board{}, wssync.WithBackend(store))
//	m := wssync.NewManager(factory, wssync.WithSessionStore(store))
//	lobby, err := wspresence.New(store, "lobby", "LOBBY")
//
// # Versions
//
// A key's first commit makes version 1, and every later commit adds one. After Wipe, a key
// created again starts above every version it had before, as wssync.Backend requires of a
// backend that can lose its data.
//
// # Faults
//
// A Backend can simulate what a real transport does to its callers, so the fault handling of
// wssync can be tested in one process: Interrupt (a broken pub/sub connection: queued
// deliveries are dropped and every subscriber is told to reload), SetUnavailable (an outage:
// every call fails with ErrUnavailable), LoseNext (deliveries dropped silently, as a pub/sub
// transport may) and Wipe (a store restarted without its data). WithClaimsBySession makes it
// announce each claim to the watchers of its session only (wssync.ClaimsBySession), as
// wsredis does with sharded pub/sub.
//
// # Concurrency
//
// All methods are safe for concurrent use and never block on a subscriber: each
// subscription (Subscribe, WatchClaims, WatchSessionClaims, WatchPresence) has its own goroutine that calls its
// function, one call at a time, until its stop function is called.
package wsmemory
