package wstest

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// recordingTB is a testing.TB whose Fatalf records the message instead of ending the test,
// so that a failing wait can be checked.
type recordingTB struct {
	testing.TB
	fatal string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Fatalf(format string, args ...any) { r.fatal = fmt.Sprintf(format, args...) }

func TestEventuallyReturnsOnceTheConditionHolds(t *testing.T) {
	var calls atomic.Int32
	Eventually(t, "three calls", func() bool { return calls.Add(1) == 3 })
	if n := calls.Load(); n != 3 {
		t.Errorf("cond called %d times, want 3: Eventually must stop at the first true", n)
	}
}

func TestEventuallyNilFailsAfterItsDeadline(t *testing.T) {
	r := &recordingTB{TB: t}
	start := time.Now()
	EventuallyNil(r, 30*time.Millisecond, "the thing", func() error { return errors.New("still broken") })
	if d := time.Since(start); d < 30*time.Millisecond || d > Timeout {
		t.Errorf("EventuallyNil returned after %v, want just over 30ms", d)
	}
	if !strings.Contains(r.fatal, "the thing") || !strings.Contains(r.fatal, "still broken") {
		t.Errorf("failure message %q does not say what was awaited and the last error", r.fatal)
	}
}

func TestEventuallyNilPassesWithoutFailing(t *testing.T) {
	r := &recordingTB{TB: t}
	var calls atomic.Int32
	EventuallyNil(r, Timeout, "second call", func() error {
		if calls.Add(1) < 2 {
			return errors.New("first call")
		}
		return nil
	})
	if r.fatal != "" {
		t.Errorf("EventuallyNil failed: %s", r.fatal)
	}
}

func TestPollReportsTheLastError(t *testing.T) {
	n := 0
	err := poll(20*time.Millisecond, time.Millisecond, func() error {
		n++
		return errors.New("attempt " + strings.Repeat("x", n))
	})
	if err == nil || !strings.Contains(err.Error(), strings.Repeat("x", n)) {
		t.Errorf("poll returned %v after %d attempts, want the last attempt's error", err, n)
	}
}

func TestWSURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:80":  "ws://127.0.0.1:80",
		"https://example.test": "wss://example.test",
	} {
		if got := WSURL(in); got != want {
			t.Errorf("WSURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestServeDialCloseCode runs a server that sends one frame and closes with code 4321, and
// checks that Dial, WaitType, FrameTypes and CloseCode see exactly that.
func TestServeDialCloseCode(t *testing.T) {
	up := websocket.Upgrader{}
	url := Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"_HELLO","data":1}`))
		_ = ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4321, "bye"))
		_, _, _ = ws.ReadMessage() // until the client answers the close
	}))
	if !strings.HasPrefix(url, "ws://") {
		t.Fatalf("Serve returned %q, want a ws:// URL", url)
	}
	c := Dial(t, url)
	if f := WaitType(t, c, "_HELLO"); string(f.Data) != "1" {
		t.Errorf("_HELLO data %s, want 1", f.Data)
	}
	if code := CloseCode(t, c); code != 4321 {
		t.Errorf("close code %d, want 4321", code)
	}
	if got := FrameTypes(c.Frames()); got != "_HELLO" {
		t.Errorf("FrameTypes = %q, want _HELLO", got)
	}
}

func TestRawDial(t *testing.T) {
	up := websocket.Upgrader{}
	url := Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		_, msg, err := ws.ReadMessage()
		if err == nil {
			_ = ws.WriteMessage(websocket.TextMessage, append(msg, " "+r.Header.Get("X-Test")...))
		}
	}))
	ws := RawDial(t, url, http.Header{"X-Test": {"yes"}})
	if err := ws.WriteMessage(websocket.TextMessage, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(Timeout))
	if _, msg, err := ws.ReadMessage(); err != nil || string(msg) != "ping yes" {
		t.Errorf("echo: %q, %v", msg, err)
	}
}

func TestReceive(t *testing.T) {
	ch := make(chan int, 1)
	ch <- 7
	if got := Receive(t, ch, "a number"); got != 7 {
		t.Errorf("Receive = %d, want 7", got)
	}
	close(ch)
	r := &recordingTB{TB: t}
	Receive(r, ch, "a number")
	if !strings.Contains(r.fatal, "no a number") || !strings.Contains(r.fatal, "closed") {
		t.Errorf("Receive from a closed channel: failure %q, want it to say so", r.fatal)
	}
}

// A Patient wait outlasts Timeout when the binary's deadline allows, and still ends
// before that deadline.
func TestPatientEndsBeforeTheBinaryDeadline(t *testing.T) {
	ctx := Patient(t)
	end, ok := ctx.Deadline()
	if !ok {
		t.Fatal("a Patient context has no deadline")
	}
	if binary, ok := t.Deadline(); ok {
		if !end.Before(binary) {
			t.Errorf("Patient ends at %v, not before the binary's deadline %v", end, binary)
		}
		if time.Until(binary) > 4*Timeout && time.Until(end) < Timeout {
			t.Errorf("Patient ends in %v, no longer than Timeout though the binary has %v left", time.Until(end), time.Until(binary))
		}
	} else if time.Until(end) <= Timeout {
		t.Errorf("without a binary deadline Patient ends in %v, want more than Timeout", time.Until(end))
	}
}
