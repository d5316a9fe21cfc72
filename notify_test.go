package wssync_test

import (
	"errors"
	"math"
	"testing"

	"github.com/wssync/wssync"
)

func TestServerToClientEvents(t *testing.T) {
	t.Parallel()
	sess, s, url := newNotes(t)
	if err := sess.Toast(wssync.ToastInfo, "hi"); !errors.Is(err, wssync.ErrNotConnected) {
		t.Fatalf("toast while disconnected: %v", err)
	}
	c := dial(t, url)
	waitType(t, c, "_SET:NOTES")
	if err := s.SendAction("flash", map[string]any{"color": "red"}); err != nil {
		t.Fatal(err)
	}
	if f := waitType(t, c, "_ACTION:NOTES"); string(f.Data) != `{"type":"flash","color":"red"}` {
		t.Fatalf("exposed action %s", f.Data)
	}
	for _, kind := range []wssync.ToastKind{wssync.ToastDefault, wssync.ToastMessage, wssync.ToastInfo, wssync.ToastSuccess, wssync.ToastWarning, wssync.ToastError} {
		if err := sess.Toast(kind, "msg"); err != nil {
			t.Fatal(err)
		}
		if f := waitType(t, c, "_TOAST"); string(f.Data) != `{"type":"`+string(kind)+`","message":"msg"}` {
			t.Fatalf("toast %s", f.Data)
		}
	}
	if err := sess.Toast("shout", "x"); err == nil {
		t.Fatal("unknown toast kind accepted")
	}
	if err := sess.Download("a.txt", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if f := waitType(t, c, "_DOWNLOAD"); string(f.Data) != `{"filename":"a.txt","data":"aGVsbG8="}` {
		t.Fatalf("download %s", f.Data)
	}
	if err := sess.SendBinary("blob", map[string]any{"name": "x"}, []byte{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	meta := waitType(t, c, "_BIN_META")
	if string(meta.Data) != `{"type":"blob","metadata":{"name":"x"}}` {
		t.Fatalf("meta %s", meta.Data)
	}
	bin, _ := c.Next(ctxT(t))
	if string(bin.Binary) != "\x00\x01\x02" {
		t.Fatalf("binary %v", bin)
	}
}

// TestSendWithoutConnection: every server-to-client send reports ErrNotConnected when no
// client is connected, and keeps nothing for the next connection.
func TestSendWithoutConnection(t *testing.T) {
	t.Parallel()
	sess, _, url := newNotes(t)
	for name, send := range map[string]func() error{
		"Send":       func() error { return sess.Send("ping", 1) },
		"Download":   func() error { return sess.Download("a.txt", []byte("x")) },
		"SendBinary": func() error { return sess.SendBinary("blob", nil, []byte{1}) },
		"Toast":      func() error { return sess.Toast(wssync.ToastInfo, "x") },
	} {
		if err := send(); !errors.Is(err, wssync.ErrNotConnected) {
			t.Errorf("%s while disconnected: %v, want ErrNotConnected", name, err)
		}
	}
	c := dial(t, url)
	waitType(t, c, "_SET:NOTES")
	if err := sess.Send("after", 2); err != nil {
		t.Fatal(err)
	}
	waitType(t, c, "after")
	for _, f := range c.Frames() {
		if f.Type != "_SET:NOTES" && f.Type != "after" {
			t.Errorf("a send made while disconnected reached the next connection: %s", f.Type)
		}
	}
}

// TestSendRefusesUnencodable: data JSON cannot carry is an error before anything is sent.
func TestSendRefusesUnencodable(t *testing.T) {
	t.Parallel()
	sess, _, url := newNotes(t)
	c := dial(t, url)
	waitType(t, c, "_SET:NOTES")
	if err := sess.Send("bad", math.Inf(1)); err == nil {
		t.Error("Send of +Inf: no error")
	}
	if err := sess.SendBinary("bad", func() {}, []byte{1}); err == nil {
		t.Error("SendBinary with a func as metadata: no error")
	}
	if err := sess.Send("custom", map[string]int{"n": 1}); err != nil {
		t.Fatal(err)
	}
	if f := waitType(t, c, "custom"); string(f.Data) != `{"n":1}` {
		t.Errorf("custom event data %s", f.Data)
	}
	if n := len(c.Frames()); n != 2 {
		t.Errorf("%d frames, want the _SET and the custom event: a refused send sent something", n)
	}
}
