package wssync_test

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync"
)

// TestHandshakeIDBounds: ids are non-empty strings of at most 128 bytes; a malformed
// answer closes 1008 before the factory runs (docs/protocol.md, Identification).
func TestHandshakeIDBounds(t *testing.T) {
	t.Parallel()
	var built atomic.Int32
	m := wssync.NewManager(notesFactory(&built), wssync.WithManagerLimits(wssync.ManagerLimits{HandshakeTimeout: 5 * time.Second}))
	url := serveManager(t, m)
	long := strings.Repeat("x", 129)
	for _, tc := range []struct {
		name, data string
		code       int
	}{
		{"AtBound", `{"user":"` + strings.Repeat("u", 128) + `","session":"` + strings.Repeat("s", 128) + `"}`, 0},
		{"LongUser", `{"user":"` + long + `","session":"s1"}`, wssync.ClosePolicyViolation},
		{"LongSession", `{"user":"u","session":"` + long + `"}`, wssync.ClosePolicyViolation},
		{"EmptySession", `{"user":"u","session":""}`, wssync.ClosePolicyViolation},
		{"NoData", `null`, wssync.ClosePolicyViolation},
		{"NotAnObject", `"u:s1"`, wssync.ClosePolicyViolation},
		{"WrongTypes", `{"user":1,"session":2}`, wssync.ClosePolicyViolation},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := handshakeClient(t, url, nil)
			if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"_USER_SESSION","data":`+tc.data+`}`)); err != nil {
				t.Fatal(err)
			}
			if code, types := outcome(t, ws, "_SET:NOTES"); code != tc.code {
				t.Errorf("answer %.60s: close %d after %v, want %d", tc.data, code, types, tc.code)
			}
		})
	}
	if n := built.Load(); n != 1 {
		t.Errorf("the factory ran %d times, want once (for the answer at the bound)", n)
	}
}

// TestHandshakeInvalidUTF8: an answer that is not valid UTF-8 closes 1007, as any text
// frame does after the handshake.
func TestHandshakeInvalidUTF8(t *testing.T) {
	t.Parallel()
	var built atomic.Int32
	url := serveManager(t, wssync.NewManager(notesFactory(&built)))
	ws := handshakeClient(t, url, nil)
	if err := ws.WriteMessage(websocket.TextMessage, []byte("{\"type\":\"_USER_SESSION\",\"data\":{\"user\":\"\xff\",\"session\":\"s\"}}")); err != nil {
		t.Fatal(err)
	}
	if code, types := outcome(t, ws, "_SET:NOTES"); code != wssync.CloseInvalidPayload {
		t.Errorf("close %d after %v, want %d", code, types, wssync.CloseInvalidPayload)
	}
}

// TestHandshakeTimeout: no answer within the handshake timeout closes 1008, and frees the
// pending slot.
func TestHandshakeTimeout(t *testing.T) {
	t.Parallel()
	var built atomic.Int32
	m := wssync.NewManager(notesFactory(&built), wssync.WithManagerLimits(wssync.ManagerLimits{HandshakeTimeout: 100 * time.Millisecond}))
	url := serveManager(t, m)
	ws := handshakeClient(t, url, nil)
	if code, types := outcome(t, ws, "_SET:NOTES"); code != wssync.ClosePolicyViolation {
		t.Errorf("silent client: close %d after %v, want %d", code, types, wssync.ClosePolicyViolation)
	}
	waitUntil(t, func() bool { return wssync.PendingHandshakes(m) == 0 })
	if built.Load() != 0 {
		t.Error("the factory ran for a client that never answered")
	}
}

// TestHandshakeTimeoutIsExplained: a client that never answers `_REQUEST_USER_SESSION` (a
// React app without wsAuth) is closed with a reason naming wsAuth, and the server's log
// says why it closed the connection and names the fixes.
func TestHandshakeTimeoutIsExplained(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	var built atomic.Int32
	m := wssync.NewManager(notesFactory(&built), wssync.WithLogger(logs.logger()),
		wssync.WithManagerLimits(wssync.ManagerLimits{HandshakeTimeout: 50 * time.Millisecond}))
	ws := handshakeClient(t, serveManager(t, m), nil)
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err := ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != wssync.ClosePolicyViolation || !strings.Contains(ce.Text, "wsAuth") {
		t.Fatalf("silent client: %v, want close %d with a reason naming wsAuth", err, wssync.ClosePolicyViolation)
	}
	log := logs.String()
	for _, want := range []string{"never identified", "_USER_SESSION", "wsAuth", "WithAuth", "WithAnonymousSessions"} {
		if !strings.Contains(log, want) {
			t.Errorf("log %q does not name %q", log, want)
		}
	}
}
