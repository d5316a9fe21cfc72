package wssync_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wssynctest"
)

// serveManager mounts m on a loopback server; it is shut down when the test ends.
func serveManager(t testing.TB, m *wssync.Manager) string {
	t.Helper()
	url := wstest.Serve(t, http.HandlerFunc(m.ServeWS))
	t.Cleanup(func() { // runs before the server's close
		ctx, cancel := context.WithTimeout(context.Background(), wstest.Timeout)
		defer cancel()
		if err := m.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return url
}

func dialAs(t testing.TB, url, user, session string, opts ...wssynctest.DialOption) *wssynctest.Client {
	t.Helper()
	return wstest.Dial(t, url, append(opts, wssynctest.WithIdentity(user, session))...)
}

// notesFactory registers a per-session Notes and counts the sessions built.
func notesFactory(built *atomic.Int32) func(context.Context, *wssync.Session) error {
	return func(ctx context.Context, sess *wssync.Session) error {
		built.Add(1)
		_, err := wssync.Register(sess, "NOTES", &Notes{Title: "for " + sess.Identity().User})
		return err
	}
}

func TestManagerHandshakeAndReconnect(t *testing.T) {
	t.Parallel()
	var built atomic.Int32
	m := wssync.NewManager(notesFactory(&built))
	url := serveManager(t, m)

	c := dialAs(t, url, "alice", "tab-1")
	waitType(t, c, "_REQUEST_USER_SESSION")
	set := waitType(t, c, "_SET:NOTES")
	if string(set.Data) != `{"title":"for alice","notes":null}` {
		t.Fatalf("state %s", set.Data)
	}
	sess, ok := m.Session("tab-1")
	if !ok || sess.Identity().User != "alice" || sess.Identity().Session != "tab-1" {
		t.Fatalf("session %v %v", sess, ok)
	}
	// Change the session's state while the client is away; a reconnect with the same ids
	// gets the same session and its full state.
	_ = c.Close()
	waitUntil(t, func() bool { return !sess.Connected() })
	if err := sess.Toast(wssync.ToastInfo, "x"); !errors.Is(err, wssync.ErrNotConnected) {
		t.Fatal(err)
	}
	c2 := dialAs(t, url, "alice", "tab-1")
	waitType(t, c2, "_SET:NOTES")
	if built.Load() != 1 {
		t.Fatalf("factory ran %d times, want 1", built.Load())
	}
	// Another tab is another session.
	c3 := dialAs(t, url, "alice", "tab-2")
	waitType(t, c3, "_SET:NOTES")
	if built.Load() != 2 || m.Stats().Sessions != 2 {
		t.Fatalf("built %d, held %d", built.Load(), m.Stats().Sessions)
	}
	// A second connection for the same session takes over.
	c4 := dialAs(t, url, "alice", "tab-2")
	waitType(t, c4, "_SET:NOTES")
	waitType(t, c3, "_DISCONNECT")
	if code := closeCode(t, c3); code != wssync.CloseReplaced {
		t.Fatalf("replaced with %d", code)
	}
}

func TestManagerSessionBoundToIdentity(t *testing.T) {
	t.Parallel()
	var built atomic.Int32
	m := wssync.NewManager(notesFactory(&built))
	url := serveManager(t, m)
	c := dialAs(t, url, "alice", "s1")
	waitType(t, c, "_SET:NOTES")
	eve := dialAs(t, url, "eve", "s1")
	if code := closeCode(t, eve); code != wssync.CloseUnauthorized {
		t.Fatalf("another identity with the same session id: close %d", code)
	}
	for _, f := range eve.Frames() {
		if strings.HasPrefix(f.Type, "_SET") {
			t.Fatal("the intruder received state")
		}
	}
	// The owner is undisturbed.
	sess, _ := m.Session("s1")
	if !sess.Connected() {
		t.Fatal("owner disconnected")
	}
}

func TestManagerAuthHook(t *testing.T) {
	t.Parallel()
	var built atomic.Int32
	auth := func(r *http.Request) (wssync.Identity, error) {
		switch tok := r.Header.Get("Authorization"); tok {
		case "Bearer alice":
			return wssync.Identity{User: "alice"}, nil
		case "Bearer bob":
			return wssync.Identity{User: "bob", Session: "bob-fixed"}, nil
		case "Bearer banned":
			return wssync.Identity{}, fmt.Errorf("account locked: %w", wssync.ErrForbidden)
		default:
			return wssync.Identity{}, errors.New("no token")
		}
	}
	m := wssync.NewManager(notesFactory(&built), wssync.WithAuth(auth))
	url := serveManager(t, m)
	for tok, status := range map[string]int{"": http.StatusUnauthorized, "Bearer banned": http.StatusForbidden} {
		_, resp, err := websocket.DefaultDialer.Dial(url, http.Header{"Authorization": {tok}})
		if err == nil || resp == nil || resp.StatusCode != status {
			t.Fatalf("token %q: err %v status %v, want %d", tok, err, resp, status)
		}
	}
	// The authenticated user binds the session; the client's claimed user is ignored.
	c := dialAs(t, url, "mallory", "tab", wssynctest.WithHeader(http.Header{"Authorization": {"Bearer alice"}}))
	if set := waitType(t, c, "_SET:NOTES"); string(set.Data) != `{"title":"for alice","notes":null}` {
		t.Fatalf("state %s", set.Data)
	}
	// bob's hook names the session: no handshake at all.
	b, err := wssynctest.Dial(ctxT(t), url, wssynctest.WithHeader(http.Header{"Authorization": {"Bearer bob"}}))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if f, _ := b.Next(ctxT(t)); f.Type != "_SET:NOTES" {
		t.Fatalf("first frame %s", f.Type)
	}
	if _, ok := m.Session("bob-fixed"); !ok {
		t.Fatal("no session bob-fixed")
	}
}

func TestManagerLimits(t *testing.T) {
	t.Parallel()
	var built atomic.Int32
	m := wssync.NewManager(notesFactory(&built), wssync.WithManagerLimits(wssync.ManagerLimits{MaxSessions: 2}), wssync.WithManagerLimits(wssync.ManagerLimits{MaxConnsPerUser: 2}))
	url := serveManager(t, m)
	a := dialAs(t, url, "u1", "a")
	waitType(t, a, "_SET:NOTES")
	b := dialAs(t, url, "u1", "b")
	waitType(t, b, "_SET:NOTES")
	// u1 has two live connections: a third is refused.
	c := dialAs(t, url, "u1", "c")
	if code := closeCode(t, c); code != wssync.ClosePolicyViolation {
		t.Fatalf("per-user limit: close %d", code)
	}
	// Two sessions held: a third session is refused, try again later.
	d := dialAs(t, url, "u2", "d")
	if code := closeCode(t, d); code != wssync.CloseTryAgainLater {
		t.Fatalf("session limit: close %d", code)
	}
}

func TestManagerAnonymousSessions(t *testing.T) {
	t.Parallel()
	var built atomic.Int32
	m := wssync.NewManager(notesFactory(&built), wssync.WithAnonymousSessions())
	url := serveManager(t, m)
	c1 := dial(t, url)
	if f, _ := c1.Next(ctxT(t)); f.Type != "_SET:NOTES" {
		t.Fatalf("first frame %s (anonymous sessions have no handshake)", f.Type)
	}
	c2 := dial(t, url)
	waitType(t, c2, "_SET:NOTES")
	if built.Load() != 2 {
		t.Fatalf("built %d sessions for two anonymous connections", built.Load())
	}
}

func TestManagerFactoryFailure(t *testing.T) {
	t.Parallel()
	m := wssync.NewManager(func(ctx context.Context, s *wssync.Session) error { return errors.New("db down") })
	url := serveManager(t, m)
	c := dialAs(t, url, "u", "s")
	if code := closeCode(t, c); code != wssync.CloseInternalError {
		t.Fatalf("close %d", code)
	}
	waitUntil(t, func() bool { return m.Stats().Sessions == 0 })
}

func TestManagerExpiry(t *testing.T) {
	t.Parallel()
	var closed atomic.Int32
	var taskEnded atomic.Int32
	factory := func(ctx context.Context, sess *wssync.Session) error {
		s, err := wssync.Register(sess, "JOB", &Job{})
		if err != nil {
			return err
		}
		sess.OnClose(func(context.Context) { closed.Add(1) })
		return wssync.Task(s, "wait", func(ctx context.Context, p struct{}) error {
			<-ctx.Done()
			taskEnded.Add(1)
			return ctx.Err()
		})
	}
	m := wssync.NewManager(factory, wssync.WithManagerLimits(wssync.ManagerLimits{SessionTTL: 100 * time.Millisecond}))
	url := serveManager(t, m)
	c := dialAs(t, url, "u", "s")
	waitType(t, c, "_SET:JOB")
	_ = c.Send("_TASK_START:JOB", map[string]any{"type": "wait"})
	waitType(t, c, "_TASK_STATUS:JOB")
	_ = c.Close()
	waitUntil(t, func() bool { return m.Stats().Sessions == 0 })
	waitUntil(t, func() bool { return closed.Load() == 1 && taskEnded.Load() == 1 })
	if st := m.Stats(); st.Sessions != 0 || st.TasksRunning != 0 || st.Connections != 0 {
		t.Fatalf("stats after expiry: %+v", st)
	}
	// A reconnect within the TTL keeps the session.
	c2 := dialAs(t, url, "u", "s2")
	waitType(t, c2, "_SET:JOB")
	_ = c2.Close()
	c3 := dialAs(t, url, "u", "s2")
	waitType(t, c3, "_SET:JOB")
	if m.Stats().SessionsTotal != 2 {
		t.Fatalf("sessions created %d, want 2", m.Stats().SessionsTotal)
	}
}

func TestManagerShutdown(t *testing.T) {
	t.Parallel()
	var taskEnded atomic.Int32
	factory := func(ctx context.Context, sess *wssync.Session) error {
		s, err := wssync.Register(sess, "JOB", &Job{})
		if err != nil {
			return err
		}
		return wssync.Task(s, "wait", func(ctx context.Context, p struct{}) error {
			<-ctx.Done()
			taskEnded.Add(1)
			return nil
		})
	}
	m := wssync.NewManager(factory)
	srv := httptest.NewServer(http.HandlerFunc(m.ServeWS))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	var clients []*wssynctest.Client
	for i := range 5 {
		c := dialAs(t, url, "u", fmt.Sprint("s", i))
		waitType(t, c, "_SET:JOB")
		_ = c.Send("_TASK_START:JOB", map[string]any{"type": "wait"})
		waitType(t, c, "_TASK_STATUS:JOB")
		clients = append(clients, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		if code := closeCode(t, c); code != wssync.CloseGoingAway {
			t.Fatalf("close %d, want 1001", code)
		}
	}
	if taskEnded.Load() != 5 {
		t.Fatalf("%d tasks ended before Shutdown returned", taskEnded.Load())
	}
	_, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("after shutdown: %v %v", err, resp)
	}
}

// A burst passes; the frame after it is dropped and answered with one rate_limited; a
// client that has more than another burst dropped is closed. The rate refills one token
// in a thousand seconds, so what the client sends decides, not how fast a loaded machine
// lets it send.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	const burst = 20
	_, _, url := newNotes(t, wssync.WithLimits(wssync.Limits{RatePerSecond: 0.001, RateBurst: burst}))
	c := dial(t, url)
	waitType(t, c, "_SET:NOTES")
	for range burst + 1 {
		_ = c.Get("NOTES")
	}
	if e := errorOf(t, waitType(t, c, "_ERROR")); e.Code != wssync.CodeRateLimited {
		t.Fatalf("got %+v", e)
	}
	for range 2 * burst {
		if c.Get("NOTES") != nil {
			break
		}
	}
	if code := closeCode(t, c); code != wssync.CloseRateLimited {
		t.Fatalf("close %d", code)
	}
	errs := 0
	for _, f := range c.Frames() {
		if f.Type == "_ERROR" {
			errs++
		}
	}
	if errs != 1 {
		t.Fatalf("%d _ERROR frames in one overload, want one rate_limited (frames: %s)", errs, frameTypes(c.Frames()))
	}
}

func TestOriginCheck(t *testing.T) {
	t.Parallel()
	sess := wssync.NewSession(wssync.WithAllowedOrigins("https://app.example"))
	url := serve(t, sess)
	for origin, ok := range map[string]bool{"": true, "https://evil.example": false, "https://app.example": true} {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		ws, resp, err := websocket.DefaultDialer.Dial(url, h)
		if ok != (err == nil) {
			t.Fatalf("origin %q: err %v resp %v", origin, err, resp)
		}
		if err == nil {
			_ = ws.Close()
		} else if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("origin %q: status %d", origin, resp.StatusCode)
		}
	}
	// Same origin is accepted by default.
	h := http.Header{"Origin": {"http://" + strings.TrimPrefix(url, "ws://")}}
	ws, _, err := websocket.DefaultDialer.Dial(url, h)
	if err != nil {
		t.Fatalf("same origin refused: %v", err)
	}
	_ = ws.Close()
}
