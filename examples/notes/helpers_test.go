package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/leakcheck"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wssynctest"
)

// These tests run the example's real handler over loopback with wssynctest clients. The
// browser end-to-end tests are in /e2e; these pin the server's behaviour close to the code.

// TestMain fails the run if a goroutine (a connection, a task, a throttled sync) outlives
// the tests: each test shuts its server down.
func TestMain(m *testing.M) { leakcheck.Main(m) }

func startServer(t *testing.T) (*app, *httptest.Server) {
	t.Helper()
	return startServerWith(t, nil)
}

// startServerWith starts the example on store (nil: a lone server).
func startServerWith(t *testing.T, store scaleOut) (*app, *httptest.Server) {
	t.Helper()
	a, err := newApp(slog.New(slog.DiscardHandler), true, store, testAdminKey)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(a.handler())
	srv.Config.ConnContext = a.hooks.connContext
	srv.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		srv.Close()
	})
	return a, srv
}

func testCtx(t *testing.T) context.Context { return wstest.Context(t) }

// dial connects as user/session, tagged for the drop hook with the test cookie.
func dial(t *testing.T, srv *httptest.Server, user, session string) *wssynctest.Client {
	t.Helper()
	return dialURL(t, srv.URL, user, session)
}

// dialURL is dial for the server at base (http://host:port).
func dialURL(t *testing.T, base, user, session string) *wssynctest.Client {
	t.Helper()
	h := http.Header{"Cookie": {testCookie + "=" + user}}
	c := wstest.Dial(t, wstest.WSURL(base)+"/ws", wssynctest.WithIdentity(user, session), wssynctest.WithHeader(h))
	t.Cleanup(func() { // runs before the Close wstest.Dial registered
		_ = c.Close()
		if err := c.Errs(); err != nil {
			t.Errorf("%s: protocol violations: %v", user, err)
		}
	})
	// Frames sent before the client answered _REQUEST_USER_SESSION are dropped by the
	// Manager, so wait for the session's state (its _SET frames) before sending anything.
	for _, key := range []string{"NOTES", "VIEW"} {
		wstest.EventuallyNil(t, 5*time.Second, user+": _SET:"+key, func() error {
			if _, _, ok := c.State(key); !ok {
				return errors.New("none received")
			}
			return nil
		})
	}
	return c
}

// request sends event with a request id and returns the `_RESULT` frame.
func request(t *testing.T, c *wssynctest.Client, event, id string, data any) wssynctest.Frame {
	t.Helper()
	if err := c.SendFrame(map[string]any{"type": event, "data": data, "id": id}); err != nil {
		t.Fatal(err)
	}
	f, err := c.WaitFrame(testCtx(t), func(f wssynctest.Frame) bool { return f.Type == "_RESULT" && f.ID == id })
	if err != nil {
		t.Fatalf("no _RESULT for %s: %v", id, err)
	}
	return f
}

func errorCode(t *testing.T, raw json.RawMessage) (code, path string) {
	t.Helper()
	var e struct{ Code, Path string }
	if len(raw) == 0 {
		return "", ""
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatal(err)
	}
	return e.Code, e.Path
}

func waitNotes(t *testing.T, c *wssynctest.Client, cond func(Notes) bool) Notes {
	t.Helper()
	n, err := wssynctest.WaitState(testCtx(t), c, "NOTES", cond)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func waitView(t *testing.T, c *wssynctest.Client, cond func(viewState) bool) viewState {
	t.Helper()
	v, err := wssynctest.WaitState(testCtx(t), c, "VIEW", cond)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// viewState is View as the client sees it, with the exposed running tasks.
type viewState struct {
	View
	RunningTasks []string `json:"runningTasks"`
}

func hasNote(text string) func(Notes) bool {
	return func(n Notes) bool {
		return slices.ContainsFunc(n.Notes, func(x Note) bool { return x.Text == text })
	}
}

// seen waits until some frame received so far matches. Unlike WaitFrame it also looks at
// frames an earlier wait consumed: a status may arrive before the _RESULT one waits for.
func seen(t *testing.T, c *wssynctest.Client, what string, match func(wssynctest.Frame) bool) {
	t.Helper()
	wstest.EventuallyNil(t, 5*time.Second, what, func() error {
		if !slices.ContainsFunc(c.Frames(), match) {
			return errors.New("no such frame received")
		}
		return nil
	})
}

func toast(kind, message string) func(wssynctest.Frame) bool {
	return func(f wssynctest.Frame) bool {
		var t struct{ Type, Message string }
		return f.Type == "_TOAST" && json.Unmarshal(f.Data, &t) == nil && t.Type == kind && strings.HasPrefix(t.Message, message)
	}
}

// guestName is the display name of a guest whose handshake names user.
func guestName(user string) string { return displayName(wssync.Identity{User: user}) }
