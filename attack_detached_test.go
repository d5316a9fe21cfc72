package wssync_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
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

// Attacks on WithDetachedConnections: ServeWS returns after the upgrade and the handshake
// and the connection run on goroutines of their own, counted by the Manager. Real
// WebSockets over loopback; the package's leak check runs after the tests.

// Shutdown racing clients that connect in a loop, each caught anywhere between the
// upgrade, the handshake and the state: Shutdown returns, every session whose client
// connected has run its OnDisconnect hooks by then, and later upgrades get 503.
//
// A connection closed before its OnConnect hooks ran runs no OnDisconnect either (blocking
// ServeWS as detached): the hooks that count live connections stay even.
func TestAttackDetachedShutdownRacesConnects(t *testing.T) {
	t.Parallel()
	for _, detached := range []bool{true, false} {
		t.Run(fmt.Sprint("detached=", detached), func(t *testing.T) {
			t.Parallel()
			shutdownRacesConnects(t, detached)
		})
	}
}

func shutdownRacesConnects(t *testing.T, detached bool) {
	var opts []wssync.ManagerOption
	if detached {
		opts = append(opts, wssync.WithDetachedConnections())
	}
	var connected, disconnected atomic.Int32
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		sess.OnConnect(func(context.Context) { connected.Add(1) })
		sess.OnDisconnect(func(context.Context) { disconnected.Add(1) })
		_, err := wssync.Register(sess, "NOTES", &Notes{Title: "t"})
		return err
	}, opts...)
	srv := httptest.NewServer(http.HandlerFunc(m.ServeWS))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sets atomic.Int32
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				c, err := wssynctest.Dial(ctx, url, wssynctest.WithIdentity("u", fmt.Sprintf("s%d-%d", g, i%3)))
				if err == nil {
					if _, err := c.WaitFrame(ctx, func(f wssynctest.Frame) bool { return f.Type == "_SET:NOTES" }); err == nil {
						sets.Add(1)
					}
					_ = c.Close()
				}
				cancel()
			}
		}()
	}
	wstest.Eventually(t, "a few connections served", func() bool { return sets.Load() >= 10 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if c, d := connected.Load(), disconnected.Load(); c != d {
		t.Errorf("after Shutdown returned, %d connections had connected and %d disconnected", c, d)
	}
	close(stop)
	wg.Wait()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("upgrade after Shutdown: %d, want 503", resp.StatusCode)
	}
}

// A client that upgrades and never answers the handshake holds its pending slot, on the
// detached goroutine, until the handshake timeout: meanwhile the next upgrade is refused
// with 503 (MaxPendingHandshakes 1); the silent client is then closed with 1008 and its
// slot is free again.
func TestAttackDetachedSilentHandshakeFreesItsSlot(t *testing.T) {
	t.Parallel()
	m := wssync.NewManager(notesFactory(new(atomic.Int32)), wssync.WithDetachedConnections(),
		wssync.WithManagerLimits(wssync.ManagerLimits{MaxPendingHandshakes: 1, HandshakeTimeout: 300 * time.Millisecond}))
	srv := httptest.NewServer(http.HandlerFunc(m.ServeWS))
	defer srv.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = m.Shutdown(ctx)
	}()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	silent, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	_, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second upgrade while one handshake is pending: %v, %v; want 503", err, resp)
	}
	_ = silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := silent.ReadMessage()
		if err == nil {
			continue // _REQUEST_USER_SESSION
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != wssync.ClosePolicyViolation {
			t.Fatalf("silent client: %v, want close %d", err, wssync.ClosePolicyViolation)
		}
		break
	}
	var c *wssynctest.Client
	wstest.EventuallyNil(t, 3*time.Second, "an upgrade once the slot is free", func() error {
		var err error
		c, err = wssynctest.Dial(ctxT(t), url, wssynctest.WithIdentity("u", "s"))
		return err
	})
	defer c.Close()
	waitType(t, c, "_SET:NOTES")
}

// The per-user connection limit counts detached connections: over it the upgrade is
// refused with 429, and a connection's end frees its place.
func TestAttackDetachedPerUserLimit(t *testing.T) {
	t.Parallel()
	m := wssync.NewManager(notesFactory(new(atomic.Int32)), wssync.WithDetachedConnections(),
		wssync.WithAuth(func(r *http.Request) (wssync.Identity, error) {
			return wssync.Identity{User: "u", Session: r.URL.Query().Get("s")}, nil
		}),
		wssync.WithManagerLimits(wssync.ManagerLimits{MaxConnsPerUser: 2}))
	srv := httptest.NewServer(http.HandlerFunc(m.ServeWS))
	defer srv.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = m.Shutdown(ctx)
	}()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	a := dial(t, url+"?s=a")
	waitType(t, a, "_SET:NOTES")
	b := dial(t, url+"?s=b")
	waitType(t, b, "_SET:NOTES")
	_, resp, err := websocket.DefaultDialer.Dial(url+"?s=c", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third connection of the user: %v, %v; want 429", err, resp)
	}
	_ = a.Close()
	var c *wssynctest.Client
	wstest.EventuallyNil(t, 3*time.Second, "a connection once one ended", func() error {
		var err error
		c, err = wssynctest.Dial(ctxT(t), url+"?s=c")
		return err
	})
	defer c.Close()
	waitType(t, c, "_SET:NOTES")
}

// An identity that expires closes its detached connection with CloseTokenExpired, though
// ServeWS (and the request's context) ended long before.
func TestAttackDetachedAuthExpiry(t *testing.T) {
	t.Parallel()
	m := wssync.NewManager(notesFactory(new(atomic.Int32)), wssync.WithDetachedConnections(),
		wssync.WithAuth(func(r *http.Request) (wssync.Identity, error) {
			return wssync.Identity{User: "u", Session: "s", Expires: time.Now().Add(400 * time.Millisecond)}, nil
		}))
	srv := httptest.NewServer(http.HandlerFunc(m.ServeWS))
	defer srv.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = m.Shutdown(ctx)
	}()
	c := dial(t, "ws"+strings.TrimPrefix(srv.URL, "http"))
	waitType(t, c, "_SET:NOTES")
	if code := closeCode(t, c); code != wssync.CloseTokenExpired {
		t.Fatalf("close %d, want %d", code, wssync.CloseTokenExpired)
	}
}

// A second connection to the same session replaces the first, detached as blocking: the
// first is closed with CloseReplaced, the second is served.
func TestAttackDetachedSessionReplaced(t *testing.T) {
	t.Parallel()
	m := wssync.NewManager(notesFactory(new(atomic.Int32)), wssync.WithDetachedConnections())
	url := wstest.Serve(t, http.HandlerFunc(m.ServeWS))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = m.Shutdown(ctx)
	})
	first := dialAs(t, url, "u", "s")
	waitType(t, first, "_SET:NOTES")
	second := dialAs(t, url, "u", "s")
	waitType(t, second, "_SET:NOTES")
	if code := closeCode(t, first); code != wssync.CloseReplaced {
		t.Fatalf("replaced connection closed with %d, want %d", code, wssync.CloseReplaced)
	}
	if err := second.Send("_GET:NOTES", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	sess, ok := m.Session("s")
	if !ok || !sess.Connected() {
		t.Fatal("the session is not connected through its second connection")
	}
}
