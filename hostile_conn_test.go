package wssync_test

// Socket-level tests of the connection's limits against hostile or broken peers: each one
// drives a real WebSocket on loopback and asserts the outcome docs/security.md and
// docs/protocol.md ("Limits", "Close codes") promise.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wssynctest"
)

// RFC 6455 §8.1: a text frame that is not valid UTF-8 closes the connection with 1007, and
// nothing of it reaches the state (encoding/json would have turned it into U+FFFD).
func TestInvalidUTF8Closes1007(t *testing.T) {
	t.Parallel()
	for _, frame := range []string{
		"{\"type\":\"_SET:NOTES\",\"data\":{\"title\":\"a\xffb\"}}",
		"{\"type\":\"_PATCH:NOTES\",\"data\":[{\"op\":\"replace\",\"path\":\"/title\",\"value\":\"\xc3\"}]}",
		"{\"type\":\"_GET:NOTES\xed\xa0\x80\"}", // a UTF-16 surrogate, not UTF-8
	} {
		t.Run(fmt.Sprintf("%q", frame[10:20]), func(t *testing.T) {
			t.Parallel()
			_, s, url := newNotes(t)
			c := dial(t, url)
			waitType(t, c, "_SET:NOTES")
			if err := c.SendRaw([]byte(frame)); err != nil {
				t.Fatal(err)
			}
			if code := closeCode(t, c); code != wssync.CloseInvalidPayload {
				t.Fatalf("close code %d, want %d", code, wssync.CloseInvalidPayload)
			}
			if got := published(t, s).Title; got != "My Notes" {
				t.Fatalf("title = %q: the frame reached the state", got)
			}
		})
	}
}

// The handshake answer is read under the same rule: invalid UTF-8 closes it with 1007 and
// creates no session.
func TestInvalidUTF8HandshakeCloses1007(t *testing.T) {
	t.Parallel()
	m := wssync.NewManager(func(context.Context, *wssync.Session) error { return nil })
	url := serveManager(t, m)
	ws := rawDial(t, url)
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, data, err := ws.ReadMessage(); err != nil || !strings.Contains(string(data), "_REQUEST_USER_SESSION") {
		t.Fatalf("first frame %s, %v", data, err)
	}
	_ = ws.WriteMessage(websocket.TextMessage, []byte("{\"type\":\"_USER_SESSION\",\"data\":{\"user\":\"u\",\"session\":\"s\xff\"}}"))
	if code := readClose(t, ws); code != wssync.CloseInvalidPayload {
		t.Fatalf("close code %d, want %d", code, wssync.CloseInvalidPayload)
	}
	if n := m.Stats().Sessions; n != 0 {
		t.Fatalf("%d sessions created from an invalid answer", n)
	}
}

// A refused write counts toward Limits.MaxBadFrames like any refused frame: 40 writes to a
// read-only field with a limit of 5 get 5 refusals, then 1008; the state is untouched.
func TestRefusedWritesCountTowardMaxBadFrames(t *testing.T) {
	t.Parallel()
	sess, s, url := newNotes(t, wssync.WithLimits(wssync.Limits{MaxBadFrames: 5}))
	c := dial(t, url)
	waitType(t, c, "_SET:NOTES")
	for range 40 {
		if err := c.Set("NOTES", map[string]any{"notes": []string{"x"}}); err != nil {
			break // closed meanwhile
		}
	}
	if code := closeCode(t, c); code != wssync.ClosePolicyViolation {
		t.Fatalf("close code %d, want %d", code, wssync.ClosePolicyViolation)
	}
	// Five refusals, then the close. An _ERROR still queued at the close is dropped, but
	// the fifth, which ends the connection, is written before the close frame.
	if n := sess.Stats().ErrorsByCode[wssync.CodeReadOnly]; n != 5 {
		t.Fatalf("%d refusals, want 5", n)
	}
	frames := c.Frames()
	if n := countType(frames, "_ERROR"); n > 5 || n == 0 {
		t.Fatalf("%d _ERROR frames, want 1 to 5", n)
	}
	if last := frames[len(frames)-1]; last.Type != "_ERROR" {
		t.Fatalf("the last frame before the close is %s, want the refusal that closed it", last.Type)
	}
	if got := published(t, s).Notes; got != nil {
		t.Fatalf("notes = %v", got)
	}
}

// A frame nothing refused still resets the count: refused and accepted frames alternating
// never close the connection.
func TestAcceptedFrameResetsBadFrames(t *testing.T) {
	t.Parallel()
	_, s, url := newNotes(t, wssync.WithLimits(wssync.Limits{MaxBadFrames: 3}))
	c := dial(t, url)
	waitType(t, c, "_SET:NOTES")
	for i := range 10 {
		_ = c.Set("NOTES", map[string]any{"notes": []string{"x"}})
		_ = c.Patch("NOTES", wssynctest.Replace("/title", fmt.Sprint("t", i)))
	}
	if _, err := c.WaitFrame(ctxT(t), func(wssynctest.Frame) bool { return published(t, s).Title == "t9" }); err != nil {
		t.Fatalf("the alternating writes did not all arrive: %v", err)
	}
	select {
	case <-c.Done():
		t.Fatalf("closed: %v", c.CloseError())
	default:
	}
}

// 400 `_GET`s of a 64 KiB state, paced under the rate limit: the `_SET`s sent stay within
// the resync budget (burst + rate × time, plus one state) instead of one per `_GET`, and the
// client still converges.
func TestGetFloodBoundedByResyncBudget(t *testing.T) {
	t.Parallel()
	const rate, burst = 64 << 10, 256 << 10
	sess, s, url := newNotes(t, wssync.WithLimits(wssync.Limits{ResyncPerSecond: rate, ResyncBurst: burst}))
	if err := s.Update(func(n *Notes) { n.Title = strings.Repeat("x", 64<<10) }); err != nil {
		t.Fatal(err)
	}
	c := dial(t, url)
	waitType(t, c, "_SET:NOTES")
	start := time.Now()
	sent := 0
	tick := time.NewTicker(time.Second / 400)
	defer tick.Stop()
	for range 400 {
		<-tick.C
		f := []byte(`{"type":"_GET:NOTES","data":{}}`)
		if err := c.SendRaw(f); err != nil {
			t.Fatal(err)
		}
		sent += len(f)
	}
	// The last _GET is answered (merged into the deferred _SET) once the budget allows.
	_ = s.Update(func(n *Notes) { n.Title = "short" })
	want, v := s.Published()
	got, err := c.WaitVersion(ctxT(t), "NOTES", v)
	if err != nil || !jsonEqual(got, want) {
		t.Fatalf("client did not converge: %s, %v", got, err)
	}
	elapsed := time.Since(start)
	setBytes := 0
	for _, f := range c.Frames()[1:] {
		if f.Type == "_SET:NOTES" {
			setBytes += len(f.Data)
		}
	}
	bound := burst + int(rate*elapsed.Seconds()) + 2*(64<<10+64)
	t.Logf("400 _GETs (%d bytes) in %v drew %d bytes of _SET (bound %d, %.0f× the input)",
		sent, elapsed, setBytes, bound, float64(setBytes)/float64(sent))
	if setBytes > bound {
		t.Fatalf("%d bytes of _SET sent, over the budget's bound %d", setBytes, bound)
	}
	if published(t, s).Title != "short" {
		t.Fatal("state changed")
	}
	if sess.Stats().ResyncsHeld == 0 {
		t.Fatal("Stats.ResyncsHeld counted no deferred _SET")
	}
}

// An unknown event type of 512 KiB is not echoed back: the `_ERROR` is small.
func TestErrorEchoIsCut(t *testing.T) {
	t.Parallel()
	_, _, url := newNotes(t)
	c := dial(t, url)
	waitType(t, c, "_SET:NOTES")
	long := strings.Repeat("é", 256<<10)
	for _, typ := range []string{long, "_ACTION:" + long} {
		if err := c.SendRaw([]byte(`{"type":"` + typ + `"}`)); err != nil {
			t.Fatal(err)
		}
		f := waitType(t, c, "_ERROR")
		e := errorOf(t, f)
		if len(f.Data) > 2048 || len(e.Event) > 256 || !strings.HasSuffix(e.Event, "…") {
			t.Fatalf("_ERROR of %d bytes, event of %d bytes (%.40q…)", len(f.Data), len(e.Event), e.Event)
		}
	}
}

// Sustained overload at twice the limit: one `rate_limited`, then close 4002.
func TestSustainedOverloadCloses4002(t *testing.T) {
	t.Parallel()
	const rate, burst = 50, 50
	_, _, url := newNotes(t, wssync.WithLimits(wssync.Limits{RatePerSecond: rate, RateBurst: burst}))
	c := dial(t, url)
	waitType(t, c, "_SET:NOTES")
	tick := time.NewTicker(time.Second / (2 * rate))
	defer tick.Stop()
	stop := time.After(10 * time.Second) // 10× what the limit needs to close
	noop := []byte(`{"type":"_SET:NOTES","data":{"title":"My Notes"}}`)
loop:
	for {
		select {
		case <-c.Done():
			break loop
		case <-stop:
			t.Fatal("never closed")
		case <-tick.C:
			_ = c.SendRaw(noop)
		}
	}
	if code := closeCode(t, c); code != wssync.CloseRateLimited {
		t.Fatalf("close code %d, want %d", code, wssync.CloseRateLimited)
	}
	if n := countType(c.Frames(), "_ERROR"); n != 1 {
		t.Fatalf("%d rate_limited errors, want 1", n)
	}
}

// A client that keeps under the rate after an overload ends the episode: a later overload
// is answered with `rate_limited` again rather than counted toward the close.
func TestOverloadEpisodeEnds(t *testing.T) {
	t.Parallel()
	const rate, burst = 200, 20
	_, _, url := newNotes(t, wssync.WithLimits(wssync.Limits{RatePerSecond: rate, RateBurst: burst}))
	c := dial(t, url)
	waitType(t, c, "_SET:NOTES")
	noop := []byte(`{"type":"_SET:NOTES","data":{"title":"My Notes"}}`)
	for episode := range 2 {
		for range burst + 5 { // 5 over the burst: dropped, not enough to close
			_ = c.SendRaw(noop)
		}
		if e := errorOf(t, waitType(t, c, "_ERROR")); e.Code != wssync.CodeRateLimited {
			t.Fatalf("episode %d: %+v", episode, e)
		}
		time.Sleep(2 * time.Second * burst / rate) // twice the refill time of the burst
	}
	select {
	case <-c.Done():
		t.Fatalf("closed: %v", c.CloseError())
	default:
	}
}

// A peer that stops reading, sent far more than its queue holds: closed as a slow consumer
// (4001), counted once in Stats.SlowCloses however many frames are pushed after that.
func TestSlowCloseCountedOnce(t *testing.T) {
	t.Parallel()
	sess, _, url := newNotes(t, wssync.WithLimits(wssync.Limits{MaxQueuedFrames: 4, MaxQueuedBytes: 1 << 20}))
	ws := rawDial(t, url) // never reads
	waitUntil(t, sess.Connected)
	msg := strings.Repeat("x", 32<<10)
	for range 500 {
		if err := sess.Toast(wssync.ToastInfo, msg); err != nil {
			break
		}
	}
	waitUntil(t, func() bool { return !sess.Connected() })
	if n := sess.Stats().SlowCloses; n != 1 {
		t.Fatalf("SlowCloses = %d, want 1", n)
	}
	_ = ws.Close()
}

// An action that runs far longer than the pong timeout does not starve keepalive: the
// reader keeps reading pongs while the dispatcher runs the handler. Frames sent meanwhile,
// more than the inbound queue holds, wait (the server stops reading) and are then handled
// in order, after the action: handlers stay serialized per session.
func TestLongActionKeepsConnectionAlive(t *testing.T) {
	t.Parallel()
	// Long enough that a loaded machine under -race still answers a ping in time; the
	// action still runs three pong timeouts.
	const pongTimeout = time.Second
	sess := wssync.NewSession(wssync.WithLimits(wssync.Limits{PingInterval: pongTimeout / 5, PongTimeout: pongTimeout}))
	s, err := wssync.Register(sess, "NOTES", &Notes{})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{}, 1)
	var order []string
	var mu sync.Mutex
	record := func(v string) {
		mu.Lock()
		order = append(order, v)
		mu.Unlock()
	}
	if err := wssync.Action(s, "slow", func(ctx context.Context, _ struct{}) error {
		record("slow")
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := wssync.Action(s, "quick", func(_ context.Context, p struct {
		N int `json:"n"`
	}) error {
		record(fmt.Sprint(p.N))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c := dial(t, serve(t, sess))
	waitType(t, c, "_SET:NOTES")
	call := func(id string, data map[string]any) {
		t.Helper()
		if err := c.SendFrame(map[string]any{"type": "_ACTION:NOTES", "id": id, "data": data}); err != nil {
			t.Fatal(err)
		}
	}
	// The action alone, the client sending nothing meanwhile but pongs.
	call("slow", map[string]any{"type": "slow"})
	time.Sleep(3 * pongTimeout) // the action runs three pong timeouts
	release <- struct{}{}
	waitType(t, c, "_RESULT")
	_ = c.Get("NOTES") // a round trip after the action: the connection is still served
	if _, err := c.WaitFrame(ctxT(t), func(f wssynctest.Frame) bool { return f.Type == "_SET:NOTES" }); err != nil {
		t.Fatalf("dropped after a long action: %v (close: %v)", err, c.CloseError())
	}
	mu.Lock()
	order = nil
	mu.Unlock()

	// Again, with more calls queued behind it than the inbound queue holds.
	call("slow", map[string]any{"type": "slow"})
	const quick = 100
	for i := range quick {
		call(fmt.Sprint(i), map[string]any{"type": "quick", "n": i})
	}
	time.Sleep(3 * pongTimeout)
	release <- struct{}{}
	if _, err := c.WaitFrame(ctxT(t), func(f wssynctest.Frame) bool { return f.Type == "_RESULT" && f.ID == fmt.Sprint(quick-1) }); err != nil {
		t.Fatalf("the queued calls were not all answered: %v (closed: %v)", err, c.CloseError())
	}
	var ids []string
	for _, f := range c.Frames() {
		if f.Type == "_RESULT" {
			ids = append(ids, f.ID)
		}
	}
	ids = ids[1:] // the first action's
	want := []string{"slow"}
	for i := range quick {
		want = append(want, fmt.Sprint(i))
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(ids, ",") != strings.Join(want, ",") || strings.Join(order, ",") != strings.Join(want, ",") {
		t.Fatalf("results %v, handlers ran %v, want %v", ids, order, want)
	}
}

// Shutdown with a peer that stopped reading and whose socket buffer is full finishes well
// within its context: the blocked write is cut off after the close grace.
func TestShutdownWithStalledPeer(t *testing.T) {
	t.Parallel()
	m := wssync.NewManager(func(_ context.Context, sess *wssync.Session) error {
		_, err := wssync.Register(sess, "NOTES", &Notes{})
		return err
	}, wssync.WithAnonymousSessions(), wssync.WithLimits(wssync.Limits{MaxQueuedFrames: 1024, MaxQueuedBytes: 64 << 20}))
	url := serveManager(t, m)
	ws := rawDial(t, url) // never reads
	var sess *wssync.Session
	waitUntil(t, func() bool {
		all := m.Sessions()
		if len(all) == 1 && all[0].Connected() {
			sess = all[0]
		}
		return sess != nil
	})
	msg := strings.Repeat("x", 64<<10)
	// Fill the socket buffers until frames stay queued: the writer is blocked in a write.
	waitUntil(t, func() bool {
		_ = sess.Toast(wssync.ToastInfo, msg)
		frames, _, _, _ := wssync.QueueStats(sess)
		return frames > 8
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // half the write timeout
	defer cancel()
	if err := m.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	_ = ws.Close()
}

// published decodes the last published state of s.
func published(t testing.TB, s *wssync.Synced[Notes]) Notes {
	t.Helper()
	raw, _ := s.Published()
	var n Notes
	if err := json.Unmarshal(raw, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// readClose reads ws until it ends and returns the server's close code.
func readClose(t testing.TB, ws *websocket.Conn) int {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		t.Fatalf("connection ended without a close frame: %v", err)
	}
}

func countType(fs []wssynctest.Frame, typ string) int {
	n := 0
	for _, f := range fs {
		if f.Type == typ {
			n++
		}
	}
	return n
}

// The server's heap per hostile connection, for docs/security.md ("Memory per
// connection"): silent peers (connected, never reading or sending), peers that stopped
// reading with a full send queue, and flooders sending frames at the read limit while their
// session's handler is busy (so their inbound queues are full). The figures include the
// in-process test clients, so they overstate the server's share. Run with
//
//	go test -run TestHostileConnMemory -v .
func TestHostileConnMemory(t *testing.T) {
	const (
		readLimit = 64 << 10
		queue     = 256 << 10
		n         = 20
	)
	heap := func() int64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc)
	}
	release := make(chan struct{})
	defer close(release)
	m := wssync.NewManager(func(_ context.Context, sess *wssync.Session) error {
		s, err := wssync.Register(sess, "NOTES", &Notes{Title: "My Notes"})
		if err != nil {
			return err
		}
		return wssync.Action(s, "block", func(ctx context.Context, _ struct{}) error {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		})
	}, wssync.WithAnonymousSessions(), wssync.WithLimits(wssync.Limits{ReadLimit: readLimit}), wssync.WithLimits(wssync.Limits{MaxQueuedFrames: 1024, MaxQueuedBytes: queue}),
		wssync.WithLimits(wssync.Limits{RatePerSecond: -1}))
	url := serveManager(t, m)
	dialer := websocket.Dialer{ReadBufferSize: 1024, WriteBufferSize: 1024}
	open := func() *websocket.Conn {
		ws, _, err := dialer.DialContext(ctxT(t), url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ws.Close() })
		return ws
	}
	connected := func(want int) {
		waitUntil(t, func() bool { return m.Stats().Connections == int64(want) })
	}
	perConn := func(name string, before int64, limit int64) {
		growth := (heap() - before) / n
		t.Logf("%-40s %7.1f KiB per connection (bound %d KiB)", name, float64(growth)/1024, limit>>10)
		if growth > limit {
			t.Errorf("%s: %d bytes per connection, over %d", name, growth, limit)
		}
	}
	const overhead = 64 << 10 // goroutines, buffers and the session of one connection

	before := heap()
	for range n {
		open()
	}
	connected(n)
	perConn("silent peer", before, overhead)

	before = heap()
	var stalled []*wssync.Session
	for range n {
		open()
	}
	connected(2 * n)
	for _, s := range m.Sessions() {
		if f, _, _, _ := wssync.QueueStats(s); f == 0 && len(stalled) < n {
			stalled = append(stalled, s)
		}
	}
	// Fill the socket buffers (the kernel's, which grow), then the queue to its bound,
	// until the queue stays full.
	msg := strings.Repeat("x", 16<<10)
	full := func(s *wssync.Session) bool {
		_, b, _, ok := wssync.QueueStats(s)
		return !ok || b+len(msg)+64 > queue
	}
	waitUntil(t, func() bool {
		all := true
		for _, s := range stalled {
			for !full(s) && s.Toast(wssync.ToastInfo, msg) == nil {
				all = false
			}
		}
		if !all {
			time.Sleep(20 * time.Millisecond)
		}
		return all
	})
	perConn("stopped reading, send queue full", before, queue+overhead+32<<10) // + the frame in the blocked write

	before = heap()
	pad := strings.Repeat("x", readLimit-100)
	frame := []byte(`{"type":"_ACTION:NOTES","data":{"type":"block","pad":"` + pad + `"}}`)
	var flooders sync.WaitGroup
	for range n {
		ws := open()
		flooders.Add(1)
		go func() {
			defer flooders.Done()
			_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"_ACTION:NOTES","data":{"type":"block"}}`))
			_ = ws.SetWriteDeadline(time.Now().Add(2 * time.Second))
			for ws.WriteMessage(websocket.TextMessage, frame) == nil { // until the server stops reading
			}
		}()
	}
	flooders.Wait()
	perConn("flooder, inbound queue full", before, 2*readLimit+overhead)
}
