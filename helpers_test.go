package wssync_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/leakcheck"
	"github.com/wssync/wssync/wssynctest"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// serve mounts sess on a loopback test server and returns its ws:// URL. The session and
// server are closed when the test ends.
func serve(t testing.TB, sess *wssync.Session) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(sess.ServeWS))
	t.Cleanup(func() {
		sess.Close()
		srv.Close()
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// dial connects a test client, closed when the test ends.
func dial(t testing.TB, url string) *wssynctest.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := wssynctest.Dial(ctx, url)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitType waits for the next frame of the given type.
func waitType(t testing.TB, c *wssynctest.Client, typ string) wssynctest.Frame {
	t.Helper()
	f, err := c.WaitFrame(ctxT(t), func(f wssynctest.Frame) bool { return f.Type == typ })
	if err != nil {
		t.Fatalf("waiting for %s: %v (frames: %s)", typ, err, frameTypes(c.Frames()))
	}
	return f
}

func frameTypes(fs []wssynctest.Frame) string {
	var s []string
	for _, f := range fs {
		s = append(s, f.Type)
	}
	return strings.Join(s, ",")
}

// errorOf decodes the error carried by an _ERROR frame.
func errorOf(t testing.TB, f wssynctest.Frame) wssync.Error {
	t.Helper()
	var e wssync.Error
	raw := f.Data
	if f.Type == "_RESULT" {
		raw = f.Error
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("decode error frame %s: %v", raw, err)
	}
	return e
}

// closeCode waits for the client's connection to end and returns the server's close code.
func closeCode(t testing.TB, c *wssynctest.Client) int {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("connection not closed")
	}
	var ce *websocket.CloseError
	if errors.As(c.CloseError(), &ce) {
		return ce.Code
	}
	t.Fatalf("connection ended without a close frame: %v", c.CloseError())
	return 0
}

// rawDial opens a gorilla connection that the test drives by hand (or never reads).
func rawDial(t testing.TB, url string) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.DialContext(ctxT(t), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	return ws
}

func wssyncReplace(path string, v any) wssynctest.Op { return wssynctest.Replace(path, v) }

// jsonEqual compares two JSON texts by value.
func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// waitUntil polls cond until it holds, failing the test after ten seconds.
func waitUntil(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(2 * time.Millisecond)
	}
}
