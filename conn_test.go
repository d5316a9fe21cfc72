package wssync

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync/internal/wstest"
)

// TestReadMessageChecksUTF8: a text frame that is not valid UTF-8 is refused with
// errInvalidUTF8; the same bytes in a binary frame, and valid text, pass.
func TestReadMessageChecksUTF8(t *testing.T) {
	type read struct {
		mt   int
		data string
		err  error
	}
	reads := make(chan read, 3)
	up := websocket.Upgrader{}
	url := wstest.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for range 3 {
			mt, data, err := readMessage(ws, 0)
			reads <- read{mt, string(data), err}
		}
	}))
	ws := wstest.RawDial(t, url, nil)
	_ = ws.WriteMessage(websocket.TextMessage, []byte("é ok"))
	_ = ws.WriteMessage(websocket.BinaryMessage, []byte{0xff, 0xfe})
	_ = ws.WriteMessage(websocket.TextMessage, []byte{'a', 0xff})
	if r := wstest.Receive(t, reads, "the valid text frame"); r.err != nil || r.mt != websocket.TextMessage || r.data != "é ok" {
		t.Errorf("valid text: %+v", r)
	}
	if r := wstest.Receive(t, reads, "the binary frame"); r.err != nil || r.mt != websocket.BinaryMessage || r.data != "\xff\xfe" {
		t.Errorf("binary: %+v", r)
	}
	if r := wstest.Receive(t, reads, "the invalid text frame"); !errors.Is(r.err, errInvalidUTF8) || r.data != "" {
		t.Errorf("invalid text: %+v, want errInvalidUTF8 and no data", r)
	}
}

// TestConnCloseCodes: the close code a connection ends with for what the client did.
func TestConnCloseCodes(t *testing.T) {
	for _, tc := range []struct {
		name string
		send func(ws *websocket.Conn) error
		code int
	}{
		{"InvalidUTF8", func(ws *websocket.Conn) error { return ws.WriteMessage(websocket.TextMessage, []byte{0xc3}) }, CloseInvalidPayload},
		{"OverReadLimit", func(ws *websocket.Conn) error { return ws.WriteMessage(websocket.BinaryMessage, make([]byte, 2048)) }, CloseMessageTooBig},
		{"ClientClose", func(ws *websocket.Conn) error {
			return ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(CloseNormal, ""))
		}, CloseNormal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sess := NewSession(WithLimits(Limits{ReadLimit: 1024}))
			if _, err := Register(sess, "DOC", &struct {
				N int `sync:"n"`
			}{}); err != nil {
				t.Fatal(err)
			}
			url := wstest.Serve(t, http.HandlerFunc(sess.ServeWS))
			t.Cleanup(sess.Close)
			ws := wstest.RawDial(t, url, nil)
			_ = ws.SetReadDeadline(time.Now().Add(wstest.Timeout))
			if _, _, err := ws.ReadMessage(); err != nil { // the _SET: the server is serving
				t.Fatal(err)
			}
			if err := tc.send(ws); err != nil {
				t.Fatal(err)
			}
			var ce *websocket.CloseError
			for {
				_, _, err := ws.ReadMessage()
				if err == nil {
					continue
				}
				if !errors.As(err, &ce) {
					t.Fatalf("connection ended without a close frame: %v", err)
				}
				break
			}
			if ce.Code != tc.code {
				t.Errorf("close code %d, want %d", ce.Code, tc.code)
			}
			wstest.Eventually(t, "the session to see the connection end", func() bool { return !sess.Connected() })
		})
	}
}
