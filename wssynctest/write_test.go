package wssynctest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// PatchWith and SetWith put the write's id and base beside type and data, and WaitResult
// finds the _RESULT of an id, also one that Next has passed.
func TestWriteWithIDAndBase(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan map[string]any, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		if ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"_SET:K","data":{"a":0},"v":4}`)) != nil {
			return
		}
		for range 2 {
			var f map[string]any
			if ws.ReadJSON(&f) != nil {
				return
			}
			got <- f
			id, _ := f["id"].(string)
			if ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"_RESULT","id":"`+id+`","data":{"v":5}}`)) != nil {
				return
			}
		}
		_, _, _ = ws.ReadMessage() // until the client closes
	}))
	defer srv.Close()
	c, err := Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.PatchWith("K", WriteOpts{ID: "w1", Base: Base(4)}, Replace("/a", 1)); err != nil {
		t.Fatal(err)
	}
	if f := <-got; f["type"] != "_PATCH:K" || f["id"] != "w1" || f["base"] != float64(4) {
		t.Errorf("frame %v; want _PATCH:K with id w1 and base 4", f)
	}
	if _, err := c.Next(ctx); err != nil { // the _SET
		t.Fatal(err)
	}
	if _, err := c.Next(ctx); err != nil { // the _RESULT, passed by Next
		t.Fatal(err)
	}
	if f, err := c.WaitResult(ctx, "w1"); err != nil || string(f.Data) != `{"v":5}` {
		t.Errorf("WaitResult = %+v, %v", f, err)
	}
	if err := c.SetWith("K", WriteOpts{ID: "w2"}, map[string]any{"a": 2}); err != nil {
		t.Fatal(err)
	}
	if f := <-got; f["type"] != "_SET:K" || f["id"] != "w2" || f["base"] != nil {
		t.Errorf("frame %v; want _SET:K with id w2 and no base", f)
	}
	if _, err := c.WaitResult(ctx, "w2"); err != nil {
		t.Error(err)
	}
}
