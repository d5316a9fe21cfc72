// Package wstest holds what the tests of every wssync package share: a loopback server, a
// test client dialled over it, a context bounded by the test, and one bounded wait.
//
// Every wait here ends: after Timeout (or the duration given) it fails the test with a
// message that says what did not happen. A test never spins on a condition on its own.
package wstest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync/wssynctest"
)

// Timeout bounds every wait of this package: generous, never a speed.
const Timeout = 10 * time.Second

// How often the waits check their condition: a cheap in-memory check often, a call that
// may go over the network (EventuallyNil) less.
const (
	pollCheap = 2 * time.Millisecond
	pollCall  = 10 * time.Millisecond
)

// Context returns a context canceled when the test ends or after Timeout.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	t.Cleanup(cancel)
	return ctx
}

// Patient returns a context canceled when the test ends or shortly before the test
// binary's deadline (go test -timeout; ten Timeouts without one). It is for a wait on work
// the test itself made heavy (a megabyte array rewritten under -race, thousands of frames
// to fifty clients): how long that takes depends on how loaded the machine is, so a fixed
// Timeout would fail a correct library on a busy one. A hang still fails the wait, early
// enough to report what was awaited rather than a -timeout panic.
func Patient(t testing.TB) context.Context {
	deadline := time.Now().Add(10 * Timeout)
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if end, ok := d.Deadline(); ok {
			deadline = end.Add(-min(patientMargin, time.Until(end)/4))
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	t.Cleanup(cancel)
	return ctx
}

// patientMargin is how long before the binary's deadline a Patient wait gives up: time to
// report the failure and run the cleanups.
const patientMargin = 30 * time.Second

// WSURL turns the http:// URL of a test server into its ws:// URL.
func WSURL(httpURL string) string { return "ws" + strings.TrimPrefix(httpURL, "http") }

// Serve serves h on a loopback test server and returns its ws:// URL. The server is closed
// when the test ends, after the cleanups registered later (which run first).
func Serve(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return WSURL(srv.URL)
}

// Dial connects a test client to url, waiting at most Timeout for the handshake. The
// client is closed when the test ends.
func Dial(t testing.TB, url string, opts ...wssynctest.DialOption) *wssynctest.Client {
	t.Helper()
	c, err := wssynctest.Dial(Context(t), url, opts...)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// RawDial opens a plain WebSocket connection that the test drives by hand (or never
// reads), with header h (nil for none). It is closed when the test ends.
func RawDial(t testing.TB, url string, h http.Header) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.DialContext(Context(t), url, h)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	return ws
}

// WaitType waits at most Timeout for the next frame of type typ and returns it; it fails
// the test, listing the frames received, if none comes.
func WaitType(t testing.TB, c *wssynctest.Client, typ string) wssynctest.Frame {
	t.Helper()
	f, err := c.WaitFrame(Context(t), func(f wssynctest.Frame) bool { return f.Type == typ })
	if err != nil {
		t.Fatalf("waiting for %s: %v (frames: %s)", typ, err, FrameTypes(c.Frames()))
	}
	return f
}

// FrameTypes lists the types of fs, comma-separated, for failure messages.
func FrameTypes(fs []wssynctest.Frame) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = f.Type
	}
	return strings.Join(s, ",")
}

// WaitClosed waits at most Timeout for c's connection to end and returns why it ended
// (c.CloseError()).
func WaitClosed(t testing.TB, c *wssynctest.Client) error {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(Timeout):
		t.Fatalf("connection not closed within %v", Timeout)
	}
	return c.CloseError()
}

// CloseCode waits for c's connection to end (WaitClosed) and returns the close code the
// server sent; it fails the test if the connection ended without a close frame.
func CloseCode(t testing.TB, c *wssynctest.Client) int {
	t.Helper()
	err := WaitClosed(t, c)
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	t.Fatalf("connection ended without a close frame: %v", err)
	return 0
}

// Receive waits at most Timeout for a value from ch and returns it; it fails the test with
// "no <what>" if none comes or ch is closed.
func Receive[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatalf("no %s: channel closed", what)
		}
		return v
	case <-time.After(Timeout):
		t.Fatalf("no %s within %v", what, Timeout)
	}
	var zero T
	return zero
}

// Eventually waits until cond holds, checking it every few milliseconds, and fails the
// test after Timeout with "<what> not reached".
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	err := poll(Timeout, pollCheap, func() error {
		if cond() {
			return nil
		}
		return errors.New("not reached")
	})
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// EventuallyNil calls f every few milliseconds until it returns nil, and fails the test
// after within with what and f's last error.
func EventuallyNil(t testing.TB, within time.Duration, what string, f func() error) {
	t.Helper()
	if err := poll(within, pollCall, f); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// poll calls f every interval until it returns nil or within has passed, and returns f's
// last error, annotated with the time waited.
func poll(within, every time.Duration, f func() error) error {
	deadline := time.Now().Add(within)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v: %w", within, err)
		}
		time.Sleep(every)
	}
}
