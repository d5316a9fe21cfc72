package wssync_test

import (
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync"
)

func TestBadFramesGetErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		frame string
		code  wssync.Code
		event string
	}{
		{"not JSON", `{"type":`, wssync.CodeMalformedJSON, ""},
		{"not an object", `[1,2]`, wssync.CodeBadEnvelope, ""},
		{"no type", `{"data":{}}`, wssync.CodeBadEnvelope, ""},
		{"type not a string", `{"type":5}`, wssync.CodeBadEnvelope, ""},
		{"empty type", `{"type":""}`, wssync.CodeBadEnvelope, ""},
		{"bad id", `{"type":"_GET:NOTES","id":7}`, wssync.CodeBadEnvelope, "_GET:NOTES"},
		{"unknown event", `{"type":"FROB"}`, wssync.CodeUnknownEvent, "FROB"},
		{"unknown key", `{"type":"_PATCH:NOPE","data":[]}`, wssync.CodeUnknownKey, "_PATCH:NOPE"},
		{"bin meta without type", `{"type":"_BIN_META","data":{}}`, wssync.CodeBadData, "_BIN_META"},
		{"bin meta for unknown event", `{"type":"_BIN_META","data":{"type":"FROB"}}`, wssync.CodeUnknownEvent, "_BIN_META"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, s, url := newNotes(t)
			c := dial(t, url)
			waitType(t, c, "_SET:NOTES")
			if err := c.SendRaw([]byte(tt.frame)); err != nil {
				t.Fatal(err)
			}
			e := errorOf(t, waitType(t, c, "_ERROR"))
			if e.Code != tt.code || e.Event != tt.event || e.Message == "" {
				t.Fatalf("got %+v, want code %s event %q", e, tt.code, tt.event)
			}
			// The connection lives on and state is untouched.
			_ = s.Update(func(n *Notes) { n.Title = "after" })
			if p := waitType(t, c, "_PATCH:NOTES"); *p.V != 1 {
				t.Fatalf("v = %d", *p.V)
			}
		})
	}
}

func TestRequestIDErrorsComeAsResult(t *testing.T) {
	t.Parallel()
	_, _, url := newNotes(t)
	c := dial(t, url)
	waitType(t, c, "_SET:NOTES")
	_ = c.SendRaw([]byte(`{"type":"_PATCH:NOTES","id":"r1","data":[{"op":"replace","path":"/notes","value":[]}]}`))
	r := waitType(t, c, "_RESULT")
	if e := errorOf(t, r); r.ID != "r1" || e.Code != wssync.CodeReadOnly {
		t.Fatalf("result %+v error %+v", r, e)
	}
}

func TestBinaryFramingErrors(t *testing.T) {
	t.Parallel()
	_, _, url := newNotes(t)
	c := dial(t, url)
	waitType(t, c, "_SET:NOTES")
	ws := c.Conn()
	// A binary frame nobody announced.
	_ = ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3})
	if e := errorOf(t, waitType(t, c, "_ERROR")); e.Code != wssync.CodeBinaryUnexpected {
		t.Fatalf("got %+v", e)
	}
	// _BIN_META for a real event, followed by text instead of the binary frame. _GET:NOTES
	// is a registered event, so the announcement itself is accepted.
	_ = c.SendRaw([]byte(`{"type":"_BIN_META","data":{"type":"_GET:NOTES","metadata":{}}}`))
	_ = c.SendRaw([]byte(`{"type":"_GET:NOTES"}`))
	if e := errorOf(t, waitType(t, c, "_ERROR")); e.Code != wssync.CodeBinaryMissing {
		t.Fatalf("got %+v", e)
	}
	waitType(t, c, "_SET:NOTES") // the text frame itself is still handled
}

func TestOversizedFrameCloses1009(t *testing.T) {
	t.Parallel()
	_, s, url := newNotes(t, wssync.WithLimits(wssync.Limits{ReadLimit: 1024}))
	c := dial(t, url)
	waitType(t, c, "_SET:NOTES")
	big := `{"type":"_PATCH:NOTES","data":[{"op":"replace","path":"/title","value":"` + strings.Repeat("x", 2000) + `"}]}`
	_ = c.SendRaw([]byte(big))
	if code := closeCode(t, c); code != wssync.CloseMessageTooBig {
		t.Fatalf("close code %d, want %d", code, wssync.CloseMessageTooBig)
	}
	s.RLock()
	defer s.RUnlock()
}

func TestTooManyBadFramesCloses1008(t *testing.T) {
	t.Parallel()
	_, _, url := newNotes(t, wssync.WithLimits(wssync.Limits{MaxBadFrames: 5}))
	c := dial(t, url)
	waitType(t, c, "_SET:NOTES")
	for range 5 {
		_ = c.SendRaw([]byte(`nonsense`))
	}
	if code := closeCode(t, c); code != wssync.ClosePolicyViolation {
		t.Fatalf("close code %d, want %d", code, wssync.ClosePolicyViolation)
	}
}
