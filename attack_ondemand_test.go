package wssync_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wssynctest"
)

// Attacks on the connection's goroutines on demand (conn.go, inqueue.go, outqueue.go,
// connwork.go): the dispatcher and the writer start when there is work and end when there
// is none, pings and resync grants run on timers, the close frame on its own goroutine.
// A lost wake-up leaves a frame queued with no goroutine to write it; these tests count
// that every frame arrives, exactly once and in order. Real WebSockets over loopback.

// hammerState is the object both sessions share in the hammer, and each one's own.
type hammerState struct {
	N int `sync:"n"` // server-side Updates
	A int `sync:"a"` // actions
}

// hammerPush is one server push of the hammer: pusher g's i-th.
type hammerPush struct {
	G int `json:"g"`
	I int `json:"i"`
}

// TestAttackOnDemandHammer: two sessions share an object and each has its own; their
// clients send actions on both (answered with a _RESULT each) and _PING events while
// several server goroutines Update both objects and push events to both sessions, with
// pings every few milliseconds. Every result, push and patch must arrive exactly once, in
// order: results by request, pushes per pusher, patches by version with no gap, and the
// client ends at the server's state and version. A lost wake-up shows as a client that
// waits forever for the rest.
func TestAttackOnDemandHammer(t *testing.T) {
	for _, ping := range []time.Duration{time.Millisecond, 3 * time.Millisecond, 5 * time.Millisecond} {
		t.Run(ping.String(), func(t *testing.T) {
			t.Parallel()
			hammer(t, ping)
		})
	}
}

func hammer(t *testing.T, ping time.Duration) {
	const (
		nClients = 2
		actions  = 150 // per client and object
		pushers  = 3
		pushes   = 100 // per pusher and session
		updaters = 3
		updates  = 100 // per updater and object
	)
	shared, err := wssync.NewShared("S", &hammerState{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(shared.Unregister)
	if err := wssync.ActionResult(shared, "inc", func(ctx context.Context, _ struct{}) (int, error) {
		var a int
		err := shared.Update(func(s *hammerState) { s.A++; a = s.A })
		return a, err
	}); err != nil {
		t.Fatal(err)
	}
	limits := wssync.Limits{PingInterval: ping, PongTimeout: 10 * time.Second, RatePerSecond: 1e6, RateBurst: 1e6,
		MaxQueuedFrames: 1 << 14, MaxQueuedBytes: 64 << 20}
	sess := make([]*wssync.Session, nClients)
	own := make([]*wssync.Synced[hammerState], nClients)
	clients := make([]*wssynctest.Client, nClients)
	for i := range nClients {
		sess[i] = wssync.NewSession(wssync.WithLimits(limits))
		if err := shared.Join(sess[i]); err != nil {
			t.Fatal(err)
		}
		o, err := wssync.Register(sess[i], "P", &hammerState{})
		if err != nil {
			t.Fatal(err)
		}
		own[i] = o
		if err := wssync.ActionResult(o, "inc", func(ctx context.Context, _ struct{}) (int, error) {
			var a int
			err := o.Update(func(s *hammerState) { s.A++; a = s.A })
			return a, err
		}); err != nil {
			t.Fatal(err)
		}
		clients[i] = dial(t, serve(t, sess[i]))
		for _, key := range []string{"S", "P"} {
			if _, err := wssynctest.WaitState(ctxT(t), clients[i], key, func(hammerState) bool { return true }); err != nil {
				t.Fatal(err)
			}
		}
	}

	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() { // the client: actions on both objects, interleaved with _PING events
			defer wg.Done()
			for k := range actions {
				for _, key := range []string{"S", "P"} {
					id := fmt.Sprintf("%s%d", key, k)
					if err := c.SendFrame(map[string]any{"type": "_ACTION:" + key, "id": id, "data": map[string]any{"type": "inc"}}); err != nil {
						t.Errorf("client %d: %v", i, err)
						return
					}
				}
				if k%10 == 0 {
					_ = c.Send("ping", k)
				}
			}
		}()
	}
	for g := range pushers {
		for i, s := range sess {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range pushes {
					if err := s.Send("push", hammerPush{G: g, I: k}); err != nil {
						t.Errorf("push to session %d: %v", i, err)
						return
					}
				}
			}()
		}
	}
	for range updaters {
		for _, o := range append([]*wssync.Synced[hammerState]{shared}, own...) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range updates {
					if err := o.Update(func(s *hammerState) { s.N++ }); err != nil {
						t.Errorf("Update: %v", err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()

	for i, c := range clients { // every action handled: the versions are final
		for deadline := time.Now().Add(20 * time.Second); countType(c.Frames(), "_RESULT") < 2*actions; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) || c.CloseError() != nil {
				t.Fatalf("client %d: results incomplete after 20 s (close: %v); %s", i, c.CloseError(), hammerSummary(c.Frames()))
			}
		}
	}
	for i, c := range clients {
		want := func() map[string]uint64 { return map[string]uint64{"S": shared.Version(), "P": own[i].Version()} }
		checkHammerClient(t, i, c, want, actions, pushers, pushes, updaters*updates)
	}
}

// checkHammerClient waits until client i has every frame the hammer owes it, then checks
// their order and count.
func checkHammerClient(t *testing.T, i int, c *wssynctest.Client, versions func() map[string]uint64, actions, pushers, pushes, updates int) {
	t.Helper()
	complete := func(fs []wssynctest.Frame) bool {
		results, got := 0, 0
		for _, f := range fs {
			switch f.Type {
			case "_RESULT":
				results++
			case "push":
				got++
			}
		}
		return results >= 2*actions && got >= pushers*pushes && pongs(fs) >= (actions+9)/10
	}
	deadline := time.Now().Add(20 * time.Second)
	var want map[string]uint64
	for {
		fs := c.Frames()
		// Once every result is in, every action has been handled and published: the
		// server's versions are final (the other client's actions done too, see hammer).
		want = versions()
		_, vS, _ := c.State("S")
		_, vP, _ := c.State("P")
		if complete(fs) && vS >= want["S"] && vP >= want["P"] {
			break
		}
		if time.Now().After(deadline) || c.CloseError() != nil {
			t.Fatalf("client %d: incomplete after 20 s (close: %v): S at v%d of v%d, P at v%d of v%d; %s",
				i, c.CloseError(), vS, want["S"], vP, want["P"], hammerSummary(fs))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := c.Errs(); err != nil {
		t.Fatalf("client %d: protocol errors: %v", i, err)
	}
	fs := c.Frames()
	// Results: exactly one per request. The own object's counter counts this client's
	// actions only, so its k-th result is k+1 (handled once, in arrival order); the shared
	// one's results grow.
	seen := map[string]int{}
	lastS := 0
	nextPush := make([]int, pushers)
	lastV := map[string]uint64{}
	nextPong := 0
	for _, f := range fs {
		switch {
		case f.Type == "_ERROR":
			t.Fatalf("client %d: %s", i, f.Data)
		case f.Type == "_RESULT":
			seen[f.ID]++
			if seen[f.ID] > 1 {
				t.Fatalf("client %d: _RESULT %s arrived twice", i, f.ID)
			}
			if len(f.Error) > 0 && string(f.Error) != "null" {
				t.Fatalf("client %d: _RESULT %s is an error: %s", i, f.ID, f.Error)
			}
			var v int
			if err := json.Unmarshal(f.Data, &v); err != nil {
				t.Fatalf("client %d: _RESULT %s: %s: %v", i, f.ID, f.Data, err)
			}
			var k int
			switch {
			case strings.HasPrefix(f.ID, "P"):
				fmt.Sscan(f.ID[1:], &k)
				if v != k+1 {
					t.Fatalf("client %d: own action %s returned %d, want %d (handled out of order or twice)", i, f.ID, v, k+1)
				}
			case strings.HasPrefix(f.ID, "S"):
				if v <= lastS {
					t.Fatalf("client %d: shared action %s returned %d after %d", i, f.ID, v, lastS)
				}
				lastS = v
			}
		case f.Type == "pong":
			var k int
			if err := json.Unmarshal(f.Data, &k); err != nil || k != nextPong {
				t.Fatalf("client %d: pong %s where %d was due", i, f.Data, nextPong)
			}
			nextPong += 10
		case f.Type == "push":
			var p hammerPush
			if err := json.Unmarshal(f.Data, &p); err != nil {
				t.Fatal(err)
			}
			if p.I != nextPush[p.G] {
				t.Fatalf("client %d: push %d of pusher %d arrived where %d was due", i, p.I, p.G, nextPush[p.G])
			}
			nextPush[p.G]++
		case strings.HasPrefix(f.Type, "_PATCH:") || strings.HasPrefix(f.Type, "_SET:"):
			key := f.Type[strings.IndexByte(f.Type, ':')+1:]
			if f.V == nil {
				t.Fatalf("client %d: %s without a version", i, f.Type)
			}
			if strings.HasPrefix(f.Type, "_PATCH:") && *f.V != lastV[key]+1 {
				t.Fatalf("client %d: %s v%d after v%d", i, f.Type, *f.V, lastV[key])
			}
			lastV[key] = *f.V
		}
	}
	if want := (actions + 9) / 10; nextPong != 10*want {
		t.Fatalf("client %d: pongs up to %d, want %d", i, nextPong/10, want)
	}
	if len(seen) != 2*actions {
		t.Fatalf("client %d: %d distinct results, want %d", i, len(seen), 2*actions)
	}
	for key, v := range want {
		if lastV[key] != v {
			t.Fatalf("client %d: %s ends at v%d, server at v%d", i, key, lastV[key], v)
		}
	}
	var p hammerState
	if err := c.Decode("P", &p); err != nil {
		t.Fatal(err)
	}
	if p.A != actions || p.N != updates {
		t.Fatalf("client %d: own object at %+v, want A=%d N=%d", i, p, actions, updates)
	}
}

// pongs counts the pong frames in fs.
func pongs(fs []wssynctest.Frame) int { return countType(fs, "pong") }

// hammerSummary counts the frames by type, for a failure message.
func hammerSummary(fs []wssynctest.Frame) string {
	n := map[string]int{}
	for _, f := range fs {
		n[f.Type]++
	}
	return fmt.Sprint(n)
}

// TestAttackOnDemandDispatcherOrder: a client sends frames in bursts with gaps, so its
// dispatcher ends and is started again many times; a second client takes the session over
// midway and does the same. Handlers never overlap (also across the replaced connection),
// each connection's frames are handled exactly once in arrival order (the replaced one's
// up to where it stopped), its OnConnect runs before its first handler and its
// OnDisconnect after its last.
func TestAttackOnDemandDispatcherOrder(t *testing.T) {
	t.Parallel()
	const n = 400
	sess := wssync.NewSession(wssync.WithLimits(wssync.Limits{PingInterval: 2 * time.Millisecond, RatePerSecond: 1e6, RateBurst: 1e6}))
	var (
		mu       sync.Mutex
		log      []string
		inflight atomic.Int32
		overlaps atomic.Int32
	)
	record := func(s string) {
		mu.Lock()
		log = append(log, s)
		mu.Unlock()
	}
	enter := func() {
		if inflight.Add(1) != 1 {
			overlaps.Add(1)
		}
	}
	sess.OnConnect(func(context.Context) { enter(); record("connect"); inflight.Add(-1) })
	disconnected := make(chan struct{}, 2)
	sess.OnDisconnect(func(context.Context) { record("disconnect"); disconnected <- struct{}{} })
	type hp struct {
		C string `json:"c"`
		I int    `json:"i"`
	}
	if err := wssync.On(sess, "h", func(ctx context.Context, p hp) error {
		enter()
		defer inflight.Add(-1)
		if p.I%13 == 0 {
			time.Sleep(time.Millisecond) // let frames queue up behind it
		}
		record(fmt.Sprintf("%s%d", p.C, p.I))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	url := serve(t, sess)
	send := func(c *wssynctest.Client, name string, from, to int) {
		for i := from; i < to; i++ {
			if err := c.Send("h", hp{C: name, I: i}); err != nil {
				return // the replaced client's socket is gone
			}
			if i%20 == 19 {
				time.Sleep(2 * time.Millisecond) // the queue empties: the dispatcher ends
			}
		}
	}
	a := dial(t, url)
	waitUntil(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(log) == 1
	})
	send(a, "A", 0, n/2)
	waitUntil(t, func() bool { // what A sent so far is handled; what it sends next may be dropped
		mu.Lock()
		defer mu.Unlock()
		return log[len(log)-1] == fmt.Sprintf("A%d", n/2-1)
	})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); send(a, "A", n/2, n) }() // goes on while B takes over
	b := dial(t, url)
	send(b, "B", 0, n)
	wg.Wait()
	waitUntil(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(log) > 0 && log[len(log)-1] == fmt.Sprintf("B%d", n-1)
	})
	_ = b.Close()
	<-disconnected
	<-disconnected

	if overlaps.Load() != 0 {
		t.Errorf("%d handlers ran while another of the session ran", overlaps.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	next := map[string]int{}
	connects, disconnects := 0, 0
	lastA := -1
	for pos, e := range log {
		switch e {
		case "connect":
			connects++
			continue
		case "disconnect":
			disconnects++
			if disconnects == 1 && lastA < 0 {
				t.Fatalf("A's OnDisconnect ran before any of its handlers: %v", log[:pos+1])
			}
			continue
		}
		c := e[:1]
		var i int
		fmt.Sscan(e[1:], &i)
		if i != next[c] {
			t.Fatalf("%s handled where %s%d was due (at %d of %d)", e, c, next[c], pos, len(log))
		}
		next[c]++
		switch c {
		case "A":
			if connects != 1 || disconnects != 0 {
				t.Fatalf("%s handled after %d OnConnects and %d OnDisconnects", e, connects, disconnects)
			}
			lastA = pos
		case "B":
			if connects != 2 {
				t.Fatalf("%s handled before B's OnConnect (%d OnConnects)", e, connects)
			}
		}
	}
	if next["A"] < n/2 || next["B"] != n || connects != 2 || disconnects != 2 {
		t.Fatalf("handled A up to %d (want at least %d) and B up to %d (want %d); %d OnConnects, %d OnDisconnects",
			next["A"], n/2, next["B"], n, connects, disconnects)
	}
}

// TestAttackOnDemandLongHandlerKeepalive: a handler that runs for three pong timeouts
// does not stop keepalive. The server goes on pinging (from its timer, not a writer), the
// reader goes on reading the client's pongs, and the connection survives to deliver the
// handler's result; then it is idle again and still alive.
func TestAttackOnDemandLongHandlerKeepalive(t *testing.T) {
	t.Parallel()
	const pong = time.Second // 400 ms lost the connection twice in a loaded -race suite run
	sess := wssync.NewSession(wssync.WithLimits(wssync.Limits{PingInterval: 10 * time.Millisecond, PongTimeout: pong}))
	type st struct {
		N int `sync:"n"`
	}
	o, err := wssync.Register(sess, "L", &st{})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	if err := wssync.ActionResult(o, "long", func(ctx context.Context, _ struct{}) (string, error) {
		<-release
		return "done", o.Update(func(s *st) { s.N = 1 })
	}); err != nil {
		t.Fatal(err)
	}
	ws := rawDial(t, serve(t, sess))
	var pings atomic.Int32
	ws.SetPingHandler(func(data string) error {
		pings.Add(1)
		return ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	frames := make(chan wssynctest.Frame, 64)
	readErr := make(chan error, 1)
	go func() {
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				readErr <- err
				close(frames)
				return
			}
			var f wssynctest.Frame
			_ = json.Unmarshal(data, &f)
			frames <- f
		}
	}()
	next := func(typ string) wssynctest.Frame {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case f, ok := <-frames:
				if !ok {
					t.Fatalf("connection ended waiting for %s: %v", typ, <-readErr)
				}
				if f.Type == typ {
					return f
				}
			case <-timeout:
				t.Fatalf("no %s within 10 s", typ)
			}
		}
	}
	next("_SET:L")
	if err := ws.WriteJSON(map[string]any{"type": "_ACTION:L", "id": "x", "data": map[string]any{"type": "long"}}); err != nil {
		t.Fatal(err)
	}
	before := pings.Load()
	time.Sleep(3 * pong) // the handler holds the dispatcher that long
	during := pings.Load() - before
	close(release)
	if r := next("_RESULT"); string(r.Data) != `"done"` { // after the action's _PATCH:L
		t.Fatalf("result %s", r.Data)
	}
	if during < 5 {
		t.Errorf("%d pings while a handler ran for %v at a 10 ms interval", during, 3*pong)
	}
	before = pings.Load()
	time.Sleep(3 * pong)
	select {
	case err := <-readErr:
		t.Fatalf("connection ended after the long handler: %v", err)
	default:
	}
	if pings.Load() == before {
		t.Errorf("no pings after the long handler")
	}
	_ = ws.Close()
}

// closeCodeOrPong is closeCode for a client pinged every millisecond: gorilla's client
// answers a ping read before the close frame, and when the server has closed the socket
// right after that frame the pong's write fails and ends the read before the close frame
// is seen. It returns 0 then.
func closeCodeOrPong(t *testing.T, c *wssynctest.Client) int {
	t.Helper()
	err := wstest.WaitClosed(t, c)
	var ce *websocket.CloseError
	switch {
	case errors.As(err, &ce):
		return ce.Code
	case strings.Contains(err.Error(), "write: "):
		return 0
	}
	t.Fatalf("connection ended without a close frame: %v", err)
	return 0
}

// waitConnGoroutines waits until exactly want goroutines run connection code (readers
// included), and fails with one of the others' stacks if that takes more than ten seconds
// (a closing connection may wait closeGrace, one second, for a peer that does not read).
func waitConnGoroutines(t *testing.T, want int, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := connGoroutines("wssync.(*conn).")
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d goroutines in connection code, want %d; one of them:\n%s", what, n, want, anyConnGoroutine())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// anyConnGoroutine returns the stack of a goroutine in connection code.
func anyConnGoroutine() string {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "wssync.(*conn).") {
			return g
		}
	}
	return "(none)"
}

// TestAttackOnDemandNoGoroutineOutlivesItsConnection: however a connection ends, every
// goroutine in its code ends with it: the reader, the dispatcher, the writer, the
// farewell and the timers' callbacks. Each case leaves the connection busy (a
// dispatcher or writer running, pings every millisecond) when it ends. Not parallel: it
// counts every connection goroutine of the process.
func TestAttackOnDemandNoGoroutineOutlivesItsConnection(t *testing.T) {
	type st struct {
		N int    `sync:"n"`
		S string `sync:"s"`
	}
	fast := wssync.Limits{PingInterval: time.Millisecond, PongTimeout: 10 * time.Second}
	// newSess makes a session with an object, an action that updates it and an event
	// that pushes n frames of size bytes.
	newSess := func(t *testing.T, l wssync.Limits) (*wssync.Session, *wssync.Synced[st]) {
		sess := wssync.NewSession(wssync.WithLimits(l))
		o, err := wssync.Register(sess, "K", &st{})
		if err != nil {
			t.Fatal(err)
		}
		_ = wssync.Action(o, "inc", func(ctx context.Context, _ struct{}) error {
			return o.Update(func(s *st) { s.N++ })
		})
		_ = wssync.On(sess, "flood", func(ctx context.Context, p struct {
			N    int `json:"n"`
			Size int `json:"size"`
		}) error {
			s, _ := wssync.SessionFrom(ctx)
			for range p.N {
				if s.Send("x", strings.Repeat("x", p.Size)) != nil {
					break
				}
			}
			return nil
		})
		return sess, o
	}
	busy := func(t *testing.T, c *wssynctest.Client, o *wssync.Synced[st]) {
		for range 20 {
			_ = c.Send("_ACTION:K", map[string]any{"type": "inc"})
			_ = o.Update(func(s *st) { s.S += "y" })
		}
	}
	waitConnGoroutines(t, 0, "before the test")

	t.Run("client closes", func(t *testing.T) {
		sess, o := newSess(t, fast)
		defer sess.Close()
		c := dial(t, serve(t, sess))
		waitType(t, c, "_SET:K")
		busy(t, c, o)
		_ = c.Close()
		waitConnGoroutines(t, 0, "after the client closed")
	})
	t.Run("replaced", func(t *testing.T) {
		sess, o := newSess(t, fast)
		defer sess.Close()
		url := serve(t, sess)
		a := dial(t, url)
		waitType(t, a, "_SET:K")
		busy(t, a, o)
		b := dial(t, url)
		if code := closeCodeOrPong(t, a); code != wssync.CloseReplaced && code != 0 {
			t.Fatalf("replaced connection closed with %d", code)
		}
		waitType(t, b, "_SET:K")
		waitConnGoroutines(t, 1, "after the replace (the newer connection's reader stays)")
		busy(t, b, o)
		_ = b.Close()
		waitConnGoroutines(t, 0, "after the newer client closed")
	})
	t.Run("slow consumer that never reads again", func(t *testing.T) {
		l := fast
		l.MaxQueuedFrames = 32
		sess, _ := newSess(t, l)
		defer sess.Close()
		c := dial(t, serve(t, sess))
		waitType(t, c, "_SET:K")
		c.Pause()
		_ = c.Send("flood", map[string]any{"n": 5000, "size": 8 << 10})
		wstest.Eventually(t, "a slow-consumer close", func() bool { return sess.Stats().SlowCloses == 1 })
		waitConnGoroutines(t, 0, "after the slow consumer was closed (it still does not read)")
		_ = c.Close()
	})
	t.Run("rate limited", func(t *testing.T) {
		l := fast
		l.RatePerSecond, l.RateBurst = 20, 20
		sess, o := newSess(t, l)
		defer sess.Close()
		c := dial(t, serve(t, sess))
		waitType(t, c, "_SET:K")
		for range 200 {
			_ = c.Send("_ACTION:K", map[string]any{"type": "inc"})
		}
		_ = o.Update(func(s *st) { s.S = "z" })
		if code := closeCodeOrPong(t, c); code != wssync.CloseRateLimited && code != 0 {
			t.Fatalf("flooder closed with %d", code)
		}
		waitConnGoroutines(t, 0, "after the rate-limit close")
	})
	t.Run("session Close", func(t *testing.T) {
		sess, o := newSess(t, fast)
		c := dial(t, serve(t, sess))
		waitType(t, c, "_SET:K")
		busy(t, c, o)
		sess.Close()
		if code := closeCodeOrPong(t, c); code != wssync.CloseSessionClosed && code != wssync.CloseGoingAway && code != 0 {
			t.Fatalf("closed with %d", code)
		}
		waitConnGoroutines(t, 0, "after Session.Close")
	})
	t.Run("Manager.Shutdown", func(t *testing.T) {
		m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
			o, err := wssync.Register(sess, "K", &st{})
			if err != nil {
				return err
			}
			return wssync.Action(o, "inc", func(ctx context.Context, _ struct{}) error {
				return o.Update(func(s *st) { s.N++ })
			})
		}, wssync.WithLimits(fast))
		url := wstest.Serve(t, http.HandlerFunc(m.ServeWS))
		cs := make([]*wssynctest.Client, 5)
		for i := range cs {
			cs[i] = dialAs(t, url, fmt.Sprint("u", i), fmt.Sprint("t", i))
			waitType(t, cs[i], "_SET:K")
			for range 10 {
				_ = cs[i].Send("_ACTION:K", map[string]any{"type": "inc"})
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		waitConnGoroutines(t, 0, "after Manager.Shutdown")
	})
	t.Run("peer stops reading while the server writes", func(t *testing.T) {
		l := fast
		l.WriteTimeout = 200 * time.Millisecond
		l.MaxQueuedFrames, l.MaxQueuedBytes = 1<<14, 256<<20
		sess, _ := newSess(t, l)
		defer sess.Close()
		ws := rawDial(t, serve(t, sess)) // never reads
		if err := ws.WriteJSON(map[string]any{"type": "flood", "data": map[string]any{"n": 2000, "size": 64 << 10}}); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, func() bool { return !sess.Connected() || sess.Stats().SlowCloses > 0 })
		waitConnGoroutines(t, 0, "after a peer that stopped reading was dropped")
		_ = ws.Close()
	})
	t.Run("peer answers no pings", func(t *testing.T) {
		l := fast
		l.PongTimeout = 200 * time.Millisecond
		sess, _ := newSess(t, l)
		defer sess.Close()
		ws := rawDial(t, serve(t, sess)) // never reads, so never answers a ping
		waitUntil(t, func() bool { return !sess.Connected() })
		waitConnGoroutines(t, 0, "after a dead peer was dropped")
		_ = ws.Close()
	})
}

// TestAttackOnDemandFullInboundQueueKeepalive: while a handler runs for several pong
// timeouts, the client sends more frames than the inbound queue holds, so the reader
// stops reading (its pongs wait in the socket) and waits for room. The connection must
// survive that, and every frame must then be handled once, in order.
func TestAttackOnDemandFullInboundQueueKeepalive(t *testing.T) {
	t.Parallel()
	const pong = 400 * time.Millisecond
	const n = 100 // over maxInboundFrames (32)
	sess := wssync.NewSession(wssync.WithLimits(wssync.Limits{PingInterval: 10 * time.Millisecond, PongTimeout: pong}))
	release := make(chan struct{})
	if err := wssync.On(sess, "block", func(ctx context.Context, _ struct{}) error {
		<-release
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c := dial(t, serve(t, sess))
	if err := c.Send("block", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := c.Send("ping", i); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(3 * pong)
	close(release)
	for deadline := time.Now().Add(10 * time.Second); pongs(c.Frames()) < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) || c.CloseError() != nil {
			t.Fatalf("%d of %d pongs (close: %v)", pongs(c.Frames()), n, c.CloseError())
		}
	}
	next := 0
	for _, f := range c.Frames() {
		if f.Type != "pong" {
			continue
		}
		var i int
		if err := json.Unmarshal(f.Data, &i); err != nil || i != next {
			t.Fatalf("pong %s where %d was due", f.Data, next)
		}
		next++
	}
	time.Sleep(2 * pong)
	if err := c.CloseError(); err != nil {
		t.Fatalf("connection ended after the queue drained: %v", err)
	}
}

// TestAttackOnDemandHeldResyncReachesAnIdleConnection: _SETs the resync budget holds
// back are queued later by its timer, on a connection whose writer has ended meanwhile;
// the timer's push must start a writer, so the last _SET asked for arrives.
func TestAttackOnDemandHeldResyncReachesAnIdleConnection(t *testing.T) {
	t.Parallel()
	type big struct {
		S string `sync:"s"`
	}
	sess := wssync.NewSession(wssync.WithLimits(wssync.Limits{
		ResyncPerSecond: 40 << 10, // a 4 KiB _SET every 100 ms
		ResyncBurst:     4 << 10,
	}))
	o, err := wssync.Register(sess, "K", &big{S: strings.Repeat("k", 4000)})
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, serve(t, sess))
	waitType(t, c, "_SET:K")
	const asks = 5
	for round := range asks {
		for range 2 { // the second waits for the budget
			if err := c.Get("K"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		// Meanwhile the connection goes idle: no writer runs when the timer grants.
		time.Sleep(150 * time.Millisecond)
		_ = o.Update(func(b *big) { b.S = fmt.Sprint(round) })
	}
	if err := c.Get("K"); err != nil {
		t.Fatal(err)
	}
	want := o.Version()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		last := -1
		fs := c.Frames()
		for i, f := range fs {
			if f.Type == "_SET:K" && f.V != nil && *f.V == want {
				last = i
			}
		}
		if last >= 0 && countType(fs, "_SET:K") >= 1+asks/2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no _SET:K at v%d after the last _GET (held %d); frames %s", want, sess.Stats().ResyncsHeld, hammerSummary(fs))
		}
	}
	if sess.Stats().ResyncsHeld == 0 {
		t.Fatalf("no _SET was held back: the budget's timer was not exercised")
	}
}
