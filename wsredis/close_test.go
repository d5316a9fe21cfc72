package wsredis_test

import (
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/redistest"
	"github.com/wssync/wssync/wsredis"
)

// hubGoroutines returns the stacks of goroutines running this package's code.
func hubGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "wsredis.(*hub)") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

// exitedHubGoroutines waits until no goroutine runs this package's code, at most a second,
// and returns the stacks of those left. A goroutine that called its WaitGroup's Done in a
// deferred call may still be listed for a moment afterwards, at its function's last line.
func exitedHubGoroutines() string {
	deadline := time.Now().Add(time.Second)
	for {
		g := hubGoroutines()
		if g == "" || time.Now().After(deadline) {
			return g
		}
		time.Sleep(time.Millisecond)
	}
}

// TestClose checks that Close ends the backend's goroutine before it returns, that nothing
// is delivered after it, and that the backend is inert afterwards. It does not run in
// parallel: it looks at every goroutine of the process.
func TestClose(t *testing.T) {
	srv := redistest.Start(t)
	ctx := testContext(t)
	b := newBackend(t, srv.Addr(), wsredis.Options{})
	other := newBackend(t, srv.Addr(), wsredis.Options{}) // commits only: no goroutine
	admin := srv.Client(t)

	var afterClose atomic.Bool
	var late atomic.Int32
	deliver := func(wssync.Change) {
		if afterClose.Load() {
			late.Add(1)
		}
	}
	stops := []func(){
		b.Subscribe("A", deliver),
		b.Subscribe("A", deliver),
		b.Subscribe("B", deliver),
		b.WatchPresence("lobby", func() { deliver(wssync.Change{}) }),
	}
	if hubGoroutines() == "" {
		t.Fatal("no goroutine of the backend while subscribed")
	}

	b.Close()
	afterClose.Store(true)
	if g := exitedHubGoroutines(); g != "" {
		t.Errorf("goroutines of the backend outlived Close:\n%s", g)
	}
	b.Close() // harmless

	// Commits still reach Redis through the other backend, and their messages reach a
	// subscriber of the channel that starts no goroutine either; the closed backend
	// delivers nothing.
	probe := admin.Subscribe(ctx, "wssync:{A}:changes")
	defer probe.Close()
	if _, err := probe.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	if err := other.Commit(ctx, "A", wssync.Proposal{Base: 0, State: []byte(`{}`), Patch: []byte(`[]`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := probe.ReceiveMessage(ctx); err != nil {
		t.Fatal(err)
	}
	if err := other.SetPresence(ctx, "lobby", map[string][]byte{"x": nil}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if n := late.Load(); n != 0 {
		t.Errorf("%d deliveries after Close", n)
	}

	// After Close, Subscribe returns at once and starts nothing; stop is harmless.
	start := time.Now()
	stop := b.Subscribe("C", deliver)
	if d := time.Since(start); d > time.Second {
		t.Errorf("Subscribe after Close took %v", d)
	}
	stop()
	for _, stop := range stops {
		stop()
	}
	if g := exitedHubGoroutines(); g != "" {
		t.Errorf("Subscribe after Close started goroutines:\n%s", g)
	}
}

// TestCloseWhileRetrying closes a backend whose Redis is down, while it backs off.
func TestCloseWhileRetrying(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	var logs logBuffer
	b := newBackend(t, srv.Addr(), wsredis.Options{MinBackoff: time.Second, MaxBackoff: time.Minute, Logger: logs.logger()})
	t.Cleanup(b.Subscribe("K", func(wssync.Change) {}))
	srv.Stop()
	logs.waitLog(t, "subscribing failed", 1)
	done := make(chan struct{})
	go func() {
		b.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatal("Close did not return while the backend was backing off")
	}
}

// TestCloseWhileSubscribing closes a backend while a Subscribe waits for Redis, which is
// frozen: Subscribe returns.
func TestCloseWhileSubscribing(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	b := newBackend(t, srv.Addr(), wsredis.Options{OpTimeout: time.Minute})
	t.Cleanup(b.Subscribe("K", func(wssync.Change) {}))
	srv.Pause()
	t.Cleanup(srv.Resume)
	returned := make(chan func())
	go func() { returned <- b.Subscribe("L", func(wssync.Change) {}) }()
	select {
	case stop := <-returned:
		stop()
		t.Fatal("Subscribe returned while Redis was frozen; the test needs it waiting")
	case <-time.After(100 * time.Millisecond):
	}
	b.Close()
	select {
	case stop := <-returned:
		stop()
	case <-time.After(waitTimeout):
		t.Fatal("Subscribe did not return after Close")
	}
}
