package wssync_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
)

type Notes struct {
	Title string   `sync:"title,write"`
	Notes []string `sync:"notes"`
}

func newNotes(t *testing.T, opts ...wssync.SessionOption) (*wssync.Session, *wssync.Synced[Notes], string) {
	t.Helper()
	sess := wssync.NewSession(opts...)
	s, err := wssync.Register(sess, "NOTES", &Notes{Title: "My Notes"})
	if err != nil {
		t.Fatal(err)
	}
	return sess, s, serve(t, sess)
}

func TestConnectSendsSetThenPatches(t *testing.T) {
	t.Parallel()
	_, s, url := newNotes(t)
	c := dial(t, url)

	set := waitType(t, c, "_SET:NOTES")
	if got, want := string(set.Data), `{"title":"My Notes","notes":null}`; got != want {
		t.Fatalf("_SET data = %s, want %s", got, want)
	}
	if set.V == nil || *set.V != 0 {
		t.Fatalf("_SET v = %v, want 0", set.V)
	}

	if err := s.Update(func(n *Notes) { n.Notes = append(n.Notes, "milk") }); err != nil {
		t.Fatal(err)
	}
	p := waitType(t, c, "_PATCH:NOTES")
	if got, want := string(p.Data), `[{"op":"replace","path":"/notes","value":["milk"]}]`; got != want {
		t.Fatalf("patch = %s, want %s", got, want)
	}
	if p.V == nil || *p.V != 1 {
		t.Fatalf("patch v = %v, want 1", p.V)
	}

	// Nothing changed: Sync sends nothing. A later change proves the stream is quiet.
	for range 3 {
		if err := s.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	_ = s.Update(func(n *Notes) { n.Title = "Groceries" })
	p = waitType(t, c, "_PATCH:NOTES")
	if *p.V != 2 {
		t.Fatalf("the no-op syncs sent frames: next patch has v=%d, want 2", *p.V)
	}
	var got Notes
	if err := c.Decode("NOTES", &got); err != nil || got.Title != "Groceries" || len(got.Notes) != 1 {
		t.Fatalf("client state %+v (%v)", got, err)
	}
	if err := c.Errs(); err != nil {
		t.Fatal(err)
	}
}

func TestDisconnectedSyncLosesNothing(t *testing.T) {
	t.Parallel()
	sess, s, url := newNotes(t)
	c := dial(t, url)
	waitType(t, c, "_SET:NOTES")
	_ = c.Close()
	waitUntil(t, func() bool { return !sess.Connected() })
	for i := range 5 {
		_ = s.Update(func(n *Notes) { n.Notes = append(n.Notes, string(rune('a'+i))) })
	}
	c2 := dial(t, url)
	set := waitType(t, c2, "_SET:NOTES")
	if got, want := string(set.Data), `{"title":"My Notes","notes":["a","b","c","d","e"]}`; got != want {
		t.Fatalf("replayed state = %s, want %s", got, want)
	}
	if *set.V != 5 {
		t.Fatalf("version = %d, want 5", *set.V)
	}
}

func TestNewConnectionReplacesOld(t *testing.T) {
	t.Parallel()
	_, s, url := newNotes(t)
	old := dial(t, url)
	waitType(t, old, "_SET:NOTES")
	fresh := dial(t, url)
	waitType(t, fresh, "_SET:NOTES")

	d := waitType(t, old, "_DISCONNECT")
	var msg string
	if json.Unmarshal(d.Data, &msg) != nil || msg == "" {
		t.Fatalf("_DISCONNECT data = %s, want a message", d.Data)
	}
	if code := closeCode(t, old); code != wssync.CloseReplaced {
		t.Fatalf("old connection closed with %d, want %d", code, wssync.CloseReplaced)
	}
	_ = s.Update(func(n *Notes) { n.Title = "new" })
	waitType(t, fresh, "_PATCH:NOTES")
}

func TestGetSendsFreshSet(t *testing.T) {
	t.Parallel()
	_, s, url := newNotes(t)
	c := dial(t, url)
	waitType(t, c, "_SET:NOTES")
	_ = s.Update(func(n *Notes) { n.Title = "x" })
	waitType(t, c, "_PATCH:NOTES")
	if err := c.Get("NOTES"); err != nil {
		t.Fatal(err)
	}
	set := waitType(t, c, "_SET:NOTES")
	if string(set.Data) != `{"title":"x","notes":null}` || *set.V != 1 {
		t.Fatalf("_SET after _GET = %s v=%d", set.Data, *set.V)
	}
}

func TestWithoutReplayWaitsForGet(t *testing.T) {
	t.Parallel()
	sess := wssync.NewSession()
	quiet, err := wssync.Register(sess, "QUIET", &Notes{}, wssync.WithoutReplay())
	if err != nil {
		t.Fatal(err)
	}
	loud, _ := wssync.Register(sess, "LOUD", &Notes{})
	c := dial(t, serve(t, sess))
	waitType(t, c, "_SET:LOUD")
	_ = quiet.Update(func(n *Notes) { n.Title = "unseen" }) // no base on the client: dropped
	_ = c.Get("QUIET")
	set := waitType(t, c, "_SET:QUIET")
	if string(set.Data) != `{"title":"unseen","notes":null}` {
		t.Fatalf("got %s", set.Data)
	}
	_ = loud.Update(func(n *Notes) { n.Title = "seen" })
	waitType(t, c, "_PATCH:LOUD")
	for _, f := range c.Frames() {
		if f.Type == "_PATCH:QUIET" {
			t.Fatal("a patch was sent for a key the client had no _SET of")
		}
	}
}

// A client that answers pings stays connected well past the pong timeout; one that stops
// reading never answers a ping and is dropped. The live half waits for what it needs, its
// own answers to pings spread over twice the pong timeout, not for a fixed time; the pong
// timeout leaves a loaded machine a second or more to answer one of the 20 pings a second.
func TestKeepaliveDropsDeadPeer(t *testing.T) {
	t.Parallel()
	const pongTimeout = 2 * time.Second
	sess, _, url := newNotes(t, wssync.WithLimits(wssync.Limits{PingInterval: 50 * time.Millisecond, PongTimeout: pongTimeout}))
	live := rawDial(t, url)
	pings := make(chan time.Time, 1)
	live.SetPingHandler(func(data string) error {
		select {
		case pings <- time.Now():
		default:
		}
		return live.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	ended := make(chan error, 1)
	go func() { // reads until the server closes the connection or the test does
		for {
			if _, _, err := live.ReadMessage(); err != nil {
				ended <- err
				return
			}
		}
	}()
	var first, last time.Time
	for first.IsZero() || last.Sub(first) < 2*pongTimeout {
		select {
		case at := <-pings:
			if first.IsZero() {
				first = at
			}
			last = at
		case err := <-ended:
			t.Fatalf("a live client was dropped after answering pings for %v: %v", last.Sub(first), err)
		case <-time.After(wstest.Timeout):
			t.Fatalf("no ping within %v", wstest.Timeout)
		}
	}
	if !sess.Connected() {
		t.Fatal("a live client was dropped")
	}
	// One that stops reading never answers a ping: the server drops it.
	raw := rawDial(t, url)
	_ = raw
	deadline, _ := wstest.Patient(t).Deadline()
	wstest.EventuallyNil(t, time.Until(deadline), "dropping a dead peer", func() error {
		if sess.Connected() {
			return errors.New("a dead peer was not dropped")
		}
		return nil
	})
}

func TestDisconnectKeepsSession(t *testing.T) {
	t.Parallel()
	sess, s, url := newNotes(t)
	c := dial(t, url)
	waitType(t, c, "_SET:NOTES")
	if !sess.Disconnect() {
		t.Fatal("no live connection")
	}
	if code := closeCode(t, c); code != wssync.CloseGoingAway {
		t.Fatalf("close %d", code)
	}
	if sess.Disconnect() {
		t.Fatal("a second Disconnect found a connection")
	}
	_ = s.Update(func(n *Notes) { n.Title = "while away" })
	c2 := dial(t, url)
	if set := waitType(t, c2, "_SET:NOTES"); string(set.Data) != `{"title":"while away","notes":null}` {
		t.Fatalf("state %s", set.Data)
	}
}

func TestUpdatePanicDoesNotLeaveLocked(t *testing.T) {
	t.Parallel()
	sess := wssync.NewSession()
	s, _ := wssync.Register(sess, "K", &Notes{})
	func() {
		defer func() { _ = recover() }()
		_ = s.Update(func(n *Notes) { panic("boom") })
	}()
	if err := s.Update(func(n *Notes) { n.Title = "ok" }); err != nil {
		t.Fatal(err)
	}
}
