package wssync_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/leakcheck"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wssynctest"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// serve mounts sess on a loopback test server and returns its ws:// URL. The session and
// server are closed when the test ends.
func serve(t testing.TB, sess *wssync.Session) string {
	t.Helper()
	url := wstest.Serve(t, http.HandlerFunc(sess.ServeWS))
	t.Cleanup(sess.Close) // runs before the server's close
	return url
}

// dial connects a test client, closed when the test ends.
func dial(t testing.TB, url string) *wssynctest.Client {
	t.Helper()
	return wstest.Dial(t, url)
}

func ctxT(t testing.TB) context.Context { return wstest.Context(t) }

// waitType waits for the next frame of the given type.
func waitType(t testing.TB, c *wssynctest.Client, typ string) wssynctest.Frame {
	t.Helper()
	return wstest.WaitType(t, c, typ)
}

func frameTypes(fs []wssynctest.Frame) string { return wstest.FrameTypes(fs) }

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
	return wstest.CloseCode(t, c)
}

// rawDial opens a gorilla connection that the test drives by hand (or never reads).
func rawDial(t testing.TB, url string) *websocket.Conn {
	t.Helper()
	return wstest.RawDial(t, url, nil)
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

// waitUntil waits until cond holds, failing the test after wstest.Timeout.
func waitUntil(t testing.TB, cond func() bool) {
	t.Helper()
	wstest.Eventually(t, "condition", cond)
}
