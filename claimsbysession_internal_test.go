package wssync

import (
	"sync"
	"sync/atomic"
	"testing"
)

// A session's claim watch starts once however many connections race to start it, ends with
// the session, and a watch started after the session closed is stopped at once: none
// outlives its session.
func TestSessionClaimWatch(t *testing.T) {
	var started, stopped atomic.Int32
	watch := func() func() {
		started.Add(1)
		return func() { stopped.Add(1) }
	}

	var w sessionClaimWatch
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { w.start(watch) })
	}
	wg.Wait()
	if started.Load() != 1 || stopped.Load() != 0 {
		t.Fatalf("8 racing starts: %d watches started, %d stopped; want 1, 0", started.Load(), stopped.Load())
	}
	w.end()
	w.end()
	if stopped.Load() != 1 {
		t.Fatalf("after end: %d watches stopped, want 1", stopped.Load())
	}

	var late sessionClaimWatch
	late.end() // the session closed before its first connection was claimed
	late.start(watch)
	if started.Load() != 2 || stopped.Load() != 2 {
		t.Fatalf("a start after end: %d started, %d stopped; want it stopped at once", started.Load(), stopped.Load())
	}
}
