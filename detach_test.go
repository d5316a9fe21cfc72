package wssync_test

import (
	"context"
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

// returnsCounter wraps a handler and counts the calls that have returned.
type returnsCounter struct {
	next     http.Handler
	returned atomic.Int32
}

func (h *returnsCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer h.returned.Add(1)
	h.next.ServeHTTP(w, r)
}

// With WithDetachedConnections, ServeWS returns once the connection is upgraded, and the
// connection goes on: the handshake, the state, actions, a reconnect to the same session.
// Without it, ServeWS is still running while the client is connected.
func TestDetachedServeWSReturnsAndServes(t *testing.T) {
	t.Parallel()
	for _, detached := range []bool{false, true} {
		t.Run(fmt.Sprint("detached=", detached), func(t *testing.T) {
			t.Parallel()
			var built atomic.Int32
			opts := []wssync.ManagerOption{}
			if detached {
				opts = append(opts, wssync.WithDetachedConnections())
			}
			m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
				built.Add(1)
				s, err := wssync.Register(sess, "NOTES", &Notes{Title: "for " + sess.Identity().User})
				if err != nil {
					return err
				}
				return wssync.Action(s, "retitle", func(ctx context.Context, p struct{ Title string }) error {
					return s.Update(func(n *Notes) { n.Title = p.Title })
				})
			}, opts...)
			h := &returnsCounter{next: http.HandlerFunc(m.ServeWS)}
			url := wstest.Serve(t, h)
			t.Cleanup(func() { // runs before the server's close
				ctx, cancel := context.WithTimeout(context.Background(), wstest.Timeout)
				defer cancel()
				if err := m.Shutdown(ctx); err != nil {
					t.Errorf("shutdown: %v", err)
				}
			})

			c := dialAs(t, url, "alice", "tab-1")
			waitType(t, c, "_REQUEST_USER_SESSION")
			waitType(t, c, "_SET:NOTES")
			if err := c.Send("_ACTION:NOTES", map[string]any{"type": "retitle", "title": "new"}); err != nil {
				t.Fatal(err)
			}
			if _, err := wssynctest.WaitState(ctxT(t), c, "NOTES", func(n Notes) bool { return n.Title == "new" }); err != nil {
				t.Fatal(err)
			}
			if detached {
				waitUntil(t, func() bool { return h.returned.Load() == 1 })
			} else if n := h.returned.Load(); n != 0 {
				t.Fatalf("ServeWS returned %d times while its connection was live", n)
			}
			_ = c.Close()
			sess, _ := m.Session("tab-1")
			waitUntil(t, func() bool { return !sess.Connected() })
			c2 := dialAs(t, url, "alice", "tab-1")
			set := waitType(t, c2, "_SET:NOTES")
			if string(set.Data) != `{"title":"new","notes":null}` {
				t.Fatalf("state after reconnect %s", set.Data)
			}
			if built.Load() != 1 {
				t.Fatalf("factory ran %d times, want 1", built.Load())
			}
		})
	}
}

// Shutdown waits for detached connections as for blocking ones: each client, those still
// in the handshake included, is closed with 1001, and no goroutine is left (the package's
// leak check runs after the tests).
func TestDetachedShutdownWaitsForConnections(t *testing.T) {
	t.Parallel()
	var taskEnded atomic.Int32
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		s, err := wssync.Register(sess, "JOB", &Job{})
		if err != nil {
			return err
		}
		return wssync.Task(s, "wait", func(ctx context.Context, p struct{}) error {
			<-ctx.Done()
			taskEnded.Add(1)
			return nil
		})
	}, wssync.WithDetachedConnections())
	srv := httptest.NewServer(http.HandlerFunc(m.ServeWS))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	var clients []*wssynctest.Client
	for i := range 3 {
		c := dialAs(t, url, "u", fmt.Sprint("s", i))
		waitType(t, c, "_SET:JOB")
		_ = c.Send("_TASK_START:JOB", map[string]any{"type": "wait"})
		waitType(t, c, "_TASK_STATUS:JOB")
		clients = append(clients, c)
	}
	// One more that never answers the handshake.
	shaking, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer shaking.Close()
	if _, _, err := shaking.ReadMessage(); err != nil { // _REQUEST_USER_SESSION
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if taskEnded.Load() != 3 {
		t.Fatalf("%d of 3 tasks ended before Shutdown returned", taskEnded.Load())
	}
	for _, c := range clients {
		if code := closeCode(t, c); code != wssync.CloseGoingAway {
			t.Fatalf("close %d, want 1001", code)
		}
	}
	_ = shaking.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err = shaking.ReadMessage()
	if !websocket.IsCloseError(err, wssync.CloseGoingAway) {
		t.Fatalf("the client in the handshake got %v, want a 1001 close", err)
	}
	_, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("after shutdown: %v %v", err, resp)
	}
}
