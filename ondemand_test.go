package wssync_test

import (
	"context"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wssynctest"
)

// connGoroutines counts the running goroutines whose stack holds fn.
func connGoroutines(fn string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, fn) {
			count++
		}
	}
	return count
}

// otherConnGoroutine returns the stack of a goroutine in connection code other than a reader.
func otherConnGoroutine() string {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "wssync.(*conn).") && !strings.Contains(g, "wssync.(*conn).readLoop") {
			return g
		}
	}
	return "(none)"
}

// TestIdleConnectionKeepsOnlyItsReader: once a connection has been sent its state and has
// nothing to do, only its reader runs: no dispatcher, no writer, no timer goroutine. Work
// for it (an action, a Sync, keepalive pings) runs goroutines that end again, and the
// connection keeps working.
func TestIdleConnectionKeepsOnlyItsReader(t *testing.T) {
	const n = 20
	type state struct {
		N int `sync:"n"`
	}
	sess := make([]*wssync.Session, n)
	objs := make([]*wssync.Synced[state], n)
	var calls atomic.Int32
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	clients := make([]*wssynctest.Client, n)
	for i := range n {
		sess[i] = wssync.NewSession(wssync.WithLimits(wssync.Limits{PingInterval: 20 * time.Millisecond}))
		defer sess[i].Close()
		s, err := wssync.Register(sess[i], "C", &state{})
		if err != nil {
			t.Fatal(err)
		}
		objs[i] = s
		_ = wssync.Action(s, "inc", func(ctx context.Context, p struct{}) error {
			calls.Add(1)
			return s.Update(func(st *state) { st.N++ })
		})
		url := serve(t, sess[i])
		c, err := wssynctest.Dial(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.WaitFrame(ctx, func(f wssynctest.Frame) bool { return f.Type == "_SET:C" }); err != nil {
			t.Fatal(err)
		}
		clients[i] = c
	}
	settled := func(what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			// Only readers: a ping's timer callback may be caught writing, so wait for it.
			readers, all := connGoroutines("wssync.(*conn).readLoop"), connGoroutines("wssync.(*conn).")
			if readers == n && all == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d goroutines in connection code (%d readers) for %d idle connections, want only a reader each; one of the others:\n%s",
					what, all, readers, n, otherConnGoroutine())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	settled("after connecting")
	time.Sleep(100 * time.Millisecond) // several keepalive pings
	settled("after keepalive pings")
	for i, c := range clients {
		if err := c.Send("_ACTION:C", map[string]any{"type": "inc"}); err != nil {
			t.Fatal(err)
		}
		if _, err := wssynctest.WaitState(ctx, c, "C", func(s state) bool { return s.N == 1 }); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	settled("after an action each")
	for i := range n {
		_ = objs[i].Update(func(st *state) { st.N = 10 })
	}
	for i, c := range clients {
		if _, err := wssynctest.WaitState(ctx, c, "C", func(s state) bool { return s.N == 10 }); err != nil {
			t.Fatalf("client %d after Update: %v", i, err)
		}
	}
	settled("after a server-side Update each")
	if calls.Load() != n {
		t.Errorf("%d actions ran, want %d", calls.Load(), n)
	}
}

// TestIdleConnectionIsPinged: the keepalive ping no longer comes from a writer goroutine
// but from a timer; a client that answers no pings is still pinged on time, and an idle
// one that answers stays connected past several pong timeouts.
func TestIdleConnectionIsPinged(t *testing.T) {
	sess := wssync.NewSession(wssync.WithLimits(wssync.Limits{PingInterval: 10 * time.Millisecond, PongTimeout: 200 * time.Millisecond}))
	defer sess.Close()
	url := serve(t, sess)
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	var pings atomic.Int32
	ws.SetPingHandler(func(data string) error {
		pings.Add(1)
		return ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	_ = ws.SetReadDeadline(time.Now().Add(time.Second)) // five pong timeouts
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			if ne, ok := err.(interface{ Timeout() bool }); !ok || !ne.Timeout() {
				t.Fatalf("an idle client answering pings was disconnected: %v", err)
			}
			break
		}
	}
	if pings.Load() < 5 {
		t.Errorf("%d pings in a second at a 10 ms interval", pings.Load())
	}
}
