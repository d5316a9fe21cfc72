package wssync_test

// Hostile clients of the identification: answers that are not ids, frames before the
// answer, connections that never answer. Identity across nodes is in backendtest
// (RunNodes: SessionIdentityAcrossNodes, ForeignClaimIgnored), run on the memory backend
// here and on a real redis-server in wsredis.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wsmemory"
	"github.com/wssync/wssync/wssynctest"
)

// handshakeClient opens a raw connection to url and reads the server's
// _REQUEST_USER_SESSION.
func handshakeClient(t *testing.T, url string, h http.Header) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.DialContext(ctxT(t), url, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, data, err := ws.ReadMessage(); err != nil || string(data) != `{"type":"_REQUEST_USER_SESSION"}` {
		t.Fatalf("first frame %q, %v; want _REQUEST_USER_SESSION", data, err)
	}
	return ws
}

func answer(t *testing.T, ws *websocket.Conn, user, session string) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"type": "_USER_SESSION", "data": map[string]string{"user": user, "session": session}})
	if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
		t.Fatal(err)
	}
}

// outcome reads ws until the server closes it or sends a frame of type want; it returns
// the close code (0 when want arrived) and the types of the frames read.
func outcome(t *testing.T, ws *websocket.Conn, want string) (code int, types []string) {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			if ce, ok := err.(*websocket.CloseError); ok {
				return ce.Code, types
			}
			t.Fatalf("read: %v (frames %v)", err, types)
		}
		var f struct{ Type string }
		_ = json.Unmarshal(data, &f)
		types = append(types, f.Type)
		if f.Type == want {
			return 0, types
		}
	}
}

// An empty or missing user id in _USER_SESSION, without an auth hook, is refused with
// 1008 before any state is sent; with an auth hook the client's user is ignored, so an
// empty one is accepted.
func TestHostileHandshakeEmptyUser(t *testing.T) {
	t.Parallel()
	var built atomic.Int32
	url := serveManager(t, wssync.NewManager(notesFactory(&built)))
	for _, data := range []string{`{"user":"","session":"s1"}`, `{"session":"s1"}`, `{"user":null,"session":"s1"}`} {
		ws := handshakeClient(t, url, nil)
		if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"_USER_SESSION","data":`+data+`}`)); err != nil {
			t.Fatal(err)
		}
		if code, types := outcome(t, ws, "_SET:NOTES"); code != wssync.ClosePolicyViolation {
			t.Errorf("answer %s: close %d after %v, want %d", data, code, types, wssync.ClosePolicyViolation)
		}
	}
	if built.Load() != 0 {
		t.Errorf("the factory ran %d times for refused answers", built.Load())
	}

	auth := func(r *http.Request) (wssync.Identity, error) { return wssync.Identity{User: "alice"}, nil }
	m := wssync.NewManager(notesFactory(&built), wssync.WithAuth(auth))
	url = serveManager(t, m)
	ws := handshakeClient(t, url, nil)
	answer(t, ws, "", "s2")
	if code, types := outcome(t, ws, "_SET:NOTES"); code != 0 {
		t.Fatalf("with an auth hook, an empty client user: close %d after %v, want the session", code, types)
	}
	if sess, ok := m.Session("s2"); !ok || sess.Identity().User != "alice" || sess.Identity().Session != "s2" {
		t.Fatalf("session %v, %v; want alice's s2", sess, ok)
	}
}

// Frames sent before the _USER_SESSION answer, of any kind and up to the read limit, are
// dropped unread, up to MaxFramesBeforeHandshake of them; one more closes with 1008; one
// over the read limit closes with 1009. A write among them changes nothing.
func TestHostileFramesBeforeHandshake(t *testing.T) {
	t.Parallel()
	const readLimit = 64 << 10
	var held sync.Map // session id → *heldNotes
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		h := &heldNotes{v: &Notes{Title: "for " + sess.Identity().User}}
		s, err := wssync.Register(sess, "NOTES", h.v)
		h.s = s
		held.Store(sess.Identity().Session, h)
		return err
	}, wssync.WithLimits(wssync.Limits{ReadLimit: readLimit}))
	url := serveManager(t, m)
	text := func(s string) func(*websocket.Conn) error {
		return func(ws *websocket.Conn) error { return ws.WriteMessage(websocket.TextMessage, []byte(s)) }
	}
	binary := func(n int) func(*websocket.Conn) error {
		return func(ws *websocket.Conn) error { return ws.WriteMessage(websocket.BinaryMessage, make([]byte, n)) }
	}
	times := func(n int, f func(*websocket.Conn) error) []func(*websocket.Conn) error {
		fs := make([]func(*websocket.Conn) error, n)
		for i := range fs {
			fs[i] = f
		}
		return fs
	}
	big := `{"type":"_GET:NOTES","data":"` + strings.Repeat("x", 5000) + `"}`
	cases := []struct {
		name   string
		before []func(*websocket.Conn) error
		code   int // 0: served
	}{
		{"Text5000", []func(*websocket.Conn) error{text(big)}, 0},
		{"TextAtReadLimit", []func(*websocket.Conn) error{text(strings.Repeat(" ", readLimit))}, 0},
		{"Binary", []func(*websocket.Conn) error{binary(10)}, 0},
		{"BinaryAtReadLimit", []func(*websocket.Conn) error{binary(readLimit)}, 0},
		{"NotJSON", []func(*websocket.Conn) error{text("hello"), text(""), text(`{"type":`)}, 0},
		{"WriteBeforeAnswer", []func(*websocket.Conn) error{text(`{"type":"_PATCH:NOTES","data":[{"op":"replace","path":"/title","value":"early"}]}`)}, 0},
		{"OtherUserSessionTooLong", []func(*websocket.Conn) error{text(`{"type":"_USER_SESSION","data":{"user":"u","session":"s"},"pad":"` + strings.Repeat("x", 5000) + `"}`)}, 0},
		{"MaxFrames", append(times(wssync.MaxFramesBeforeHandshake/2, binary(100)), times(wssync.MaxFramesBeforeHandshake/2, text(big))...), 0},
		{"OneFrameTooMany", times(wssync.MaxFramesBeforeHandshake+1, text(`{"type":"_GET:NOTES","data":{}}`)), wssync.ClosePolicyViolation},
		{"TextOverReadLimit", []func(*websocket.Conn) error{text(strings.Repeat(" ", readLimit+1))}, wssync.CloseMessageTooBig},
		{"BinaryOverReadLimit", []func(*websocket.Conn) error{binary(readLimit + 1)}, wssync.CloseMessageTooBig},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ws := handshakeClient(t, url, nil)
			for _, send := range tc.before {
				if err := send(ws); err != nil {
					break // the server may have closed already
				}
			}
			session := fmt.Sprint("s", i)
			_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"_USER_SESSION","data":{"user":"alice","session":"`+session+`"}}`))
			code, types := outcome(t, ws, "_SET:NOTES")
			if code != tc.code {
				t.Fatalf("close %d after %v, want %d", code, types, tc.code)
			}
			if tc.code != 0 {
				if _, ok := m.Session(session); ok {
					t.Fatal("a refused connection made a session")
				}
				return
			}
			v, ok := held.Load(session)
			if !ok {
				t.Fatal("no session")
			}
			h := v.(*heldNotes)
			h.s.RLock()
			got := *h.v
			h.s.RUnlock()
			if !reflect.DeepEqual(got, Notes{Title: "for alice"}) {
				t.Fatalf("the Go value is %+v after frames sent before the answer", got)
			}
		})
	}
}

// Connections waiting for their _USER_SESSION answer are capped: over the cap the upgrade
// is refused with 503; a freed slot is taken again. Connections that need no handshake do
// not count.
func TestHostilePendingHandshakesCapped(t *testing.T) {
	t.Parallel()
	const limit = 3
	var built atomic.Int32
	auth := func(r *http.Request) (wssync.Identity, error) {
		if r.Header.Get("Authorization") == "fixed" {
			return wssync.Identity{User: "fixed", Session: "fixed"}, nil
		}
		return wssync.Identity{User: "u"}, nil
	}
	m := wssync.NewManager(notesFactory(&built), wssync.WithAuth(auth), wssync.WithManagerLimits(wssync.ManagerLimits{MaxPendingHandshakes: limit}))
	url := serveManager(t, m)
	var silent []*websocket.Conn
	for range limit {
		silent = append(silent, handshakeClient(t, url, nil))
	}
	waitUntil(t, func() bool { return wssync.PendingHandshakes(m) == limit })
	_, resp, err := websocket.DefaultDialer.DialContext(ctxT(t), url, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("connection over the cap: %v, %v; want HTTP 503", err, resp)
	}
	// A connection whose auth hook names the session has no handshake: served.
	fixed, err := wssynctest.Dial(ctxT(t), url, wssynctest.WithHeader(http.Header{"Authorization": {"fixed"}}))
	if err != nil {
		t.Fatal(err)
	}
	defer fixed.Close()
	waitType(t, fixed, "_SET:NOTES")

	// One silent client answers, another goes away: two slots free again.
	answer(t, silent[0], "", "s0")
	if code, types := outcome(t, silent[0], "_SET:NOTES"); code != 0 {
		t.Fatalf("the answer of a pending handshake: close %d after %v", code, types)
	}
	_ = silent[1].Close()
	waitUntil(t, func() bool { return wssync.PendingHandshakes(m) == limit-2 })
	for i := range 2 {
		ws := handshakeClient(t, url, nil)
		answer(t, ws, "", fmt.Sprint("late", i))
		if code, types := outcome(t, ws, "_SET:NOTES"); code != 0 {
			t.Fatalf("a connection after slots were freed: close %d after %v", code, types)
		}
	}
	if n := wssync.PendingHandshakes(m); n != 1 {
		t.Fatalf("%d pending handshakes, want 1 (silent[2])", n)
	}
}

// The memory a pending handshake holds on the server: heap and goroutine stacks, measured
// over handshakes connections that never answer, whose client ends are bare TCP sockets
// (a net.TCPConn each). Not parallel, so no other test's memory is counted.
//
//	go test -run TestHostilePendingHandshakeMemory -v -count=1 .
func TestHostilePendingHandshakeMemory(t *testing.T) {
	const handshakes = 500
	const bound = 32 << 10 // docs/security.md states it
	var built atomic.Int32
	m := wssync.NewManager(notesFactory(&built), wssync.WithManagerLimits(wssync.ManagerLimits{HandshakeTimeout: time.Minute}))
	url := serveManager(t, m)
	addr := strings.TrimPrefix(url, "ws://")

	mem := func() (heap, stacks uint64) {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc, ms.StackInuse
	}
	// One connection first, so the server's one-off allocations are not counted.
	warm := rawUpgrade(t, addr)
	waitUntil(t, func() bool { return wssync.PendingHandshakes(m) == 1 })
	heap0, stacks0 := mem()
	conns := make([]net.Conn, 0, handshakes)
	for range handshakes {
		conns = append(conns, rawUpgrade(t, addr))
	}
	waitUntil(t, func() bool { return wssync.PendingHandshakes(m) == handshakes+1 })
	heap1, stacks1 := mem()
	per := (float64(heap1) - float64(heap0) + float64(stacks1) - float64(stacks0)) / handshakes
	t.Logf("%d pending handshakes: heap %+d B, stacks %+d B: %.1f KiB each (bound %d KiB)",
		handshakes, int64(heap1-heap0), int64(stacks1-stacks0), per/1024, bound>>10)
	if per > bound {
		t.Errorf("a pending handshake holds %.1f KiB, over the bound of %d KiB", per/1024, bound>>10)
	}
	for _, c := range append(conns, warm) {
		_ = c.Close()
	}
	waitUntil(t, func() bool { return wssync.PendingHandshakes(m) == 0 })
}

// rawUpgrade opens a WebSocket to addr over a bare TCP connection, reads the upgrade
// response, and leaves the server's _REQUEST_USER_SESSION unread.
func rawUpgrade(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReaderSize(c, 16), nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v, %v", resp, err)
	}
	return c
}

// heldNotes is a session's Notes as its factory registered them.
type heldNotes struct {
	v *Notes
	s *wssync.Synced[Notes]
}

// slowBind is a session store whose BindSession for one user waits until released, so a
// test can hold that user's first sight of a session open.
type slowBind struct {
	*wsmemory.Backend
	user    string
	entered chan struct{}
	release chan struct{}
}

func (s *slowBind) BindSession(ctx context.Context, id, user string, ttl time.Duration) (string, uint64, error) {
	if user == s.user {
		s.entered <- struct{}{}
		select {
		case <-s.release:
		case <-ctx.Done():
		}
	}
	return s.Backend.BindSession(ctx, id, user, ttl)
}

// An intruder whose connection is still being checked against the store does not make
// the owner's own connection to that node fail: the owner's waits for the check, the
// intruder gets 4004, the owner is served.
func TestHostileIntruderBeingCheckedDoesNotRefuseOwner(t *testing.T) {
	t.Parallel()
	store := wsmemory.New()
	slow := &slowBind{Backend: store, user: "bob", entered: make(chan struct{}, 1), release: make(chan struct{})}
	var built atomic.Int32
	nodeB := serveManager(t, wssync.NewManager(notesFactory(&built), wssync.WithSessionStore(store)))
	nodeA := serveManager(t, wssync.NewManager(notesFactory(&built), wssync.WithSessionStore(slow)))

	alice := dialAs(t, nodeB, "alice", "s")
	waitType(t, alice, "_SET:NOTES")
	bob := dialAs(t, nodeA, "bob", "s")
	wstest.Receive(t, slow.entered, "bob's claim check") // node A is checking bob's claim to s
	aliceOnA, err := wssynctest.Dial(ctxT(t), nodeA, wssynctest.WithIdentity("alice", "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer aliceOnA.Close()
	time.Sleep(100 * time.Millisecond) // let node A take alice's connection while bob's is checked
	close(slow.release)
	if code := closeCode(t, bob); code != wssync.CloseUnauthorized {
		t.Fatalf("bob: close %d, want %d", code, wssync.CloseUnauthorized)
	}
	if set := waitType(t, aliceOnA, "_SET:NOTES"); string(set.Data) != `{"title":"for alice","notes":null}` {
		t.Fatalf("alice on node A: %s", set.Data)
	}
}

// Shutdown does not wait out the handshake timeout of connections that never answer: they
// are closed with 1001 at once, and Shutdown returns.
func TestHostileShutdownEndsPendingHandshakes(t *testing.T) {
	t.Parallel()
	var built atomic.Int32
	m := wssync.NewManager(notesFactory(&built), wssync.WithManagerLimits(wssync.ManagerLimits{HandshakeTimeout: time.Hour}))
	srv := httptest.NewServer(http.HandlerFunc(m.ServeWS))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	silent := []*websocket.Conn{handshakeClient(t, url, nil), handshakeClient(t, url, nil)}
	waitUntil(t, func() bool { return wssync.PendingHandshakes(m) == len(silent) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with connections in the handshake: %v", err)
	}
	for i, ws := range silent {
		if code, types := outcome(t, ws, "_SET:NOTES"); code != wssync.CloseGoingAway {
			t.Errorf("connection %d: close %d after %v, want %d", i, code, types, wssync.CloseGoingAway)
		}
	}
}
