package wssync_test

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"slices"
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

// TestLongHandlerHandsReadingOver: a handler runs on the reader when nothing is queued, so
// while it runs long, a ping hands the reading to another goroutine. Keepalive holds
// (the handler outlasts PongTimeout many times), frames sent meanwhile are read, and
// handled after it, in order, exactly once; a frame that closes the connection is acted on
// while the handler still runs; and the reading goes back, leaving one goroutine.
func TestLongHandlerHandsReadingOver(t *testing.T) {
	type state struct {
		Log []string `sync:"log"`
	}
	sess := wssync.NewSession(wssync.WithLimits(wssync.Limits{PingInterval: 10 * time.Millisecond, PongTimeout: 60 * time.Millisecond}))
	defer sess.Close()
	s, err := wssync.Register(sess, "S", &state{Log: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}, 1), make(chan struct{})
	_ = wssync.Action(s, "block", func(ctx context.Context, p struct{}) error {
		entered <- struct{}{}
		<-release
		return s.Update(func(st *state) { st.Log = append(st.Log, "block") })
	})
	_ = wssync.Action(s, "add", func(ctx context.Context, p struct {
		Text string `json:"text"`
	}) error {
		return s.Update(func(st *state) { st.Log = append(st.Log, p.Text) })
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := wssynctest.Dial(ctx, serve(t, sess)) // reads all the time: answers pings
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WaitFrame(ctx, func(f wssynctest.Frame) bool { return f.Type == "_SET:S" }); err != nil {
		t.Fatal(err)
	}
	_ = c.Send("_ACTION:S", map[string]any{"type": "block"})
	<-entered
	deadline := time.Now().Add(10 * time.Second)
	for connGoroutines("wssync.(*conn).readOn") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no goroutine took the reading over from a handler running for 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, text := range []string{"a", "b", "c"} {
		_ = c.Send("_ACTION:S", map[string]any{"type": "add", "text": text})
	}
	time.Sleep(300 * time.Millisecond) // five PongTimeouts with the handler still running
	select {
	case <-c.Done():
		t.Fatalf("the connection closed while a handler ran: %v", c.CloseError())
	default:
	}
	close(release)
	got, err := wssynctest.WaitState(ctx, c, "S", func(st state) bool { return len(st.Log) >= 4 })
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"block", "a", "b", "c"}; !slices.Equal(got.Log, want) {
		t.Fatalf("log %v, want %v: frames read during the handler run after it, in order, once", got.Log, want)
	}
	// The next frame takes the reading back: one goroutine again.
	_ = c.Send("_ACTION:S", map[string]any{"type": "add", "text": "d"})
	if _, err := wssynctest.WaitState(ctx, c, "S", func(st state) bool { return len(st.Log) == 5 }); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for connGoroutines("wssync.(*conn).") != 1 || connGoroutines("wssync.(*conn).readLoop") != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the reading was not given back: %d goroutines in connection code:\n%s", connGoroutines("wssync.(*conn)."), otherConnGoroutine())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestInvalidFrameDuringLongHandlerClosesAtOnce: a frame that closes the connection, sent
// while a handler runs on the reader, is read and acted on while the handler still runs.
func TestInvalidFrameDuringLongHandlerClosesAtOnce(t *testing.T) {
	sess := wssync.NewSession(wssync.WithLimits(wssync.Limits{PingInterval: 10 * time.Millisecond}))
	defer sess.Close()
	entered, release := make(chan struct{}, 1), make(chan struct{})
	defer close(release)
	if err := wssync.On(sess, "block", func(ctx context.Context, _ json.RawMessage) error {
		entered <- struct{}{}
		<-release
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ws, _, err := websocket.DefaultDialer.Dial(serve(t, sess), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.WriteJSON(map[string]any{"type": "block"})
	<-entered
	_ = ws.WriteMessage(websocket.TextMessage, []byte{0xff, 0xfe})
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != wssync.CloseInvalidPayload {
			t.Fatalf("read ended with %v while the handler still ran, want close %d", err, wssync.CloseInvalidPayload)
		}
		return
	}
}
