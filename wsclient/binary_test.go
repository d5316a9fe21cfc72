package wsclient_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wsclient"
)

type uploadParams struct {
	Name string `json:"name"`
	Data []byte `json:"data"`
}

type files struct {
	Names []string `json:"names"`
}

// Binary both ways against a real Session: ActionBinary fills the action's data param
// with the bytes; SendBinary reaches a custom event; the server's SendBinary reaches
// OnBinary with its metadata, and a refused binary action comes back as _ERROR.
func TestBinaryBothWays(t *testing.T) {
	t.Parallel()
	sess := wssync.NewSession()
	t.Cleanup(sess.Close)
	type Files struct {
		Names []string `sync:"names"`
	}
	s, err := wssync.Register(sess, "FILES", &Files{})
	must(t, err)
	got := make(chan []byte, 2)
	must(t, wssync.Action(s, "upload", func(_ context.Context, p uploadParams) error {
		got <- p.Data
		return s.Update(func(f *Files) { f.Names = append(f.Names, p.Name) })
	}))
	must(t, wssync.On(sess, "avatar", func(_ context.Context, p uploadParams) error {
		got <- p.Data
		return nil
	}))
	c := dial(t, wstest.Serve(t, http.HandlerFunc(sess.ServeWS)))
	b, err := wsclient.Bind[files](c, "FILES")
	must(t, err)
	ctx := wstest.Context(t)
	if _, err := b.Wait(ctx, nil); err != nil {
		t.Fatal(err)
	}

	payload := []byte{0xff, 0, 1, 2, 3}
	must(t, c.ActionBinary(ctx, "FILES", "upload", map[string]string{"name": "a.bin"}, payload))
	if d := wstest.Receive(t, got, "the action's bytes"); string(d) != string(payload) {
		t.Fatalf("action got %v", d)
	}
	if _, err := b.Wait(ctx, func(f files) bool { return len(f.Names) == 1 && f.Names[0] == "a.bin" }); err != nil {
		t.Fatal(err)
	}
	must(t, c.SendBinary(ctx, "avatar", map[string]string{"name": "me.png"}, payload[:2]))
	if d := wstest.Receive(t, got, "the event's bytes"); string(d) != string(payload[:2]) {
		t.Fatalf("event got %v", d)
	}

	errs := make(chan *wsclient.Error, 1)
	defer c.OnError(func(e *wsclient.Error) { errs <- e })()
	must(t, c.ActionBinary(ctx, "FILES", "nope", nil, payload))
	if e := wstest.Receive(t, errs, "the refusal"); e.Code != "unknown_action" && e.Code != "unknown_event" {
		t.Fatalf("refusal %+v", e)
	}

	bins := make(chan wsclient.Binary, 1)
	defer c.OnBinary("thumb", func(bin wsclient.Binary) { bins <- bin })()
	must(t, sess.SendBinary("thumb", map[string]int{"w": 2}, []byte{9, 8}))
	bin := wstest.Receive(t, bins, "the server's binary")
	var meta struct {
		W int `json:"w"`
	}
	if bin.Event != "thumb" || string(bin.Data) != "\x09\x08" || json.Unmarshal(bin.Metadata, &meta) != nil || meta.W != 2 {
		t.Fatalf("binary %+v", bin)
	}
}
