package wssync

import (
	"sync"
	"testing"
	"time"
)

func TestConnWorkWaitsForEveryGoroutine(t *testing.T) {
	var w connWork
	release := make(chan struct{})
	ended := make(chan int, 3)
	for i := range 3 {
		if !w.start(func() { <-release; ended <- i }) {
			t.Fatal("start refused before wait")
		}
	}
	waited := make(chan struct{})
	go func() { w.wait(); close(waited) }()
	select {
	case <-waited:
		t.Fatal("wait returned while goroutines were still running")
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		t.Fatal("wait did not return once every goroutine had left")
	}
	if len(ended) != 3 {
		t.Fatalf("wait returned with %d of 3 goroutines ended", len(ended))
	}
}

func TestConnWorkRefusesAfterWait(t *testing.T) {
	var w connWork
	w.wait() // nothing running: returns at once
	if w.start(func() { t.Error("a goroutine ran after wait") }) {
		t.Error("start after wait reported true")
	}
	if w.enter() {
		t.Error("enter after wait reported true")
	}
}

// An entered timer callback holds wait up like a started goroutine.
func TestConnWorkEnterHoldsWait(t *testing.T) {
	var w connWork
	if !w.enter() {
		t.Fatal("enter refused")
	}
	waited := make(chan struct{})
	go func() { w.wait(); close(waited) }()
	select {
	case <-waited:
		t.Fatal("wait returned while an entered callback had not left")
	case <-time.After(20 * time.Millisecond):
	}
	w.leave()
	<-waited
}

// A starter's start allocates nothing: the writer starts after every idle spell, once per
// fan-out on every connection.
func TestConnWorkStarterAllocatesNothing(t *testing.T) {
	var w connWork
	var done sync.WaitGroup
	start := w.starter(func() { done.Done() })
	allocs := testing.AllocsPerRun(200, func() {
		done.Add(1)
		start()
		done.Wait()
	})
	w.wait()
	if allocs != 0 {
		t.Fatalf("%v allocations per start", allocs)
	}
}
