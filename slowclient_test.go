package wssync_test

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wssync/wssync"
)

type Ticker struct {
	N       int    `sync:"n"`
	Payload string `sync:"payload"`
}

// A client that stops reading while the server syncs 10,000 times: Sync never blocks, the
// connection's queue stays within its bounds, the heap does not grow with the number of
// syncs, and once the client reads again it converges to the final state.
func TestSlowClientMemoryBounded(t *testing.T) {
	const syncs = 10_000
	const maxFrames, maxBytes = 64, 256 << 10
	sess := wssync.NewSession(wssync.WithLimits(wssync.Limits{MaxQueuedFrames: maxFrames, MaxQueuedBytes: maxBytes}), wssync.WithLimits(wssync.Limits{WriteTimeout: time.Minute}))
	s, err := wssync.Register(sess, "T", &Ticker{})
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, serve(t, sess))
	waitType(t, c, "_SET:T")
	c.Pause()

	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	pad := strings.Repeat("x", 4096) // 10,000 × 4 KiB ≫ loopback socket buffers
	var maxQ, maxB int
	start := time.Now()
	for i := range syncs {
		if err := s.Update(func(v *Ticker) { v.N = i + 1; v.Payload = pad[:4000+i%96] }); err != nil {
			t.Fatal(err)
		}
		if f, b, _, ok := wssync.QueueStats(sess); ok {
			maxQ, maxB = max(maxQ, f), max(maxB, b)
		}
	}
	elapsed := time.Since(start)
	after := heap()
	growth := int64(after) - int64(before)
	t.Logf("%d syncs in %v; queue peaked at %d frames / %d bytes; heap %+d bytes", syncs, elapsed, maxQ, maxB, growth)
	if maxQ > maxFrames || maxB > maxBytes {
		t.Fatalf("queue exceeded its bounds: %d frames, %d bytes", maxQ, maxB)
	}
	if growth > 8<<20 {
		t.Fatalf("heap grew by %d bytes while the client was not reading", growth)
	}
	if !sess.Connected() {
		t.Fatal("the slow client was dropped; it should have been resynchronised")
	}

	c.Resume()
	want, v := s.Published()
	got, err := c.WaitVersion(ctxT(t), "T", v)
	if err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(got, want) {
		t.Fatalf("client converged to %.80s…, want %.80s…", got, want)
	}
	if err := c.Errs(); err != nil {
		t.Fatal(err)
	}
	frames := len(c.Frames())
	t.Logf("client received %d frames for %d syncs", frames, syncs)
	if frames >= syncs {
		t.Fatalf("no patch was coalesced: %d frames", frames)
	}
}
