package wssynctest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// A write made before its key's first _SET is held, and sent right after that _SET,
// applied on top of it: sent at once, it could cross the _SET, which would then wipe it on
// the client while the server's echo counts it as applied.
func TestWriteBeforeFirstSetIsHeld(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type step struct {
		send string // a frame to send; empty to read one
		want string // the type of the frame read
	}
	steps := []step{
		{want: "PING"}, // the write, Patched before, is not sent yet
		{send: `{"type":"_SET:K","data":{"a":0,"b":0},"v":1}`},
		{want: "_PATCH:K"}, // now it is
		{send: `{"type":"_PATCH:K","data":[],"v":2}`}, // its echo: nothing beyond the write
	}
	ready := make(chan struct{})
	fail := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		<-ready
		for _, s := range steps {
			if s.send != "" {
				if err := ws.WriteMessage(websocket.TextMessage, []byte(s.send)); err != nil {
					fail <- err.Error()
					return
				}
				continue
			}
			var f Frame
			if err := ws.ReadJSON(&f); err != nil || f.Type != s.want {
				fail <- "read " + f.Type + ", want " + s.want
				return
			}
		}
		close(fail)
		_, _, _ = ws.ReadMessage() // until the client closes
	}))
	defer srv.Close()
	release := sync.OnceFunc(func() { close(ready) })
	defer release() // before srv.Close, which waits for the handler

	c, err := Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Patch("K", Replace("/a", 1)); err != nil {
		t.Fatal(err)
	}
	if err := c.Send("PING", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	release()
	if msg, ok := <-fail; ok {
		t.Fatal(msg)
	}
	got, err := c.WaitVersion(ctx, "K", 2)
	if err != nil {
		t.Fatal(err)
	}
	var state map[string]int
	if err := json.Unmarshal(got, &state); err != nil || state["a"] != 1 || state["b"] != 0 {
		t.Fatalf("the client holds %s, want the _SET with its write on top", got)
	}
	if err := c.Errs(); err != nil {
		t.Fatal(err)
	}
}

// Dial(ctx, url, nil), as a user may write it, dials with no options instead of panicking.
func TestDialNilOption(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		_, _, _ = ws.ReadMessage() // until the client closes
	}))
	defer srv.Close()
	c, err := Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}
