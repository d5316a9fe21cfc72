package wssync_test

import (
	"errors"
	"testing"

	"github.com/wssync/wssync"
)

// TestSyncedPublishesVersions: each publish that changes something is one version; one
// that changes nothing is none; Published is the state as published, not the struct.
func TestSyncedPublishesVersions(t *testing.T) {
	t.Parallel()
	sess := wssync.NewSession()
	defer sess.Close()
	n := &Notes{Title: "a"}
	s, err := wssync.Register(sess, "NOTES", n)
	if err != nil {
		t.Fatal(err)
	}
	if s.Key() != "NOTES" {
		t.Errorf("Key() = %q", s.Key())
	}
	if v := s.Version(); v != 0 {
		t.Errorf("version at registration %d, want 0", v)
	}
	if err := s.Update(func(n *Notes) { n.Title = "b" }); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(); err != nil { // nothing changed since
		t.Fatal(err)
	}
	state, v := s.Published()
	if v != 1 || string(state) != `{"title":"b","notes":null}` {
		t.Errorf("Published() = %s, %d; want the title b at version 1", state, v)
	}
	// A change made under Lock is not published until Sync.
	s.Lock()
	n.Notes = []string{"x"}
	s.Unlock()
	if state, v := s.Published(); v != 1 || string(state) != `{"title":"b","notes":null}` {
		t.Errorf("before Sync: Published() = %s, %d; want the state of version 1", state, v)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if state, v := s.Published(); v != 2 || string(state) != `{"title":"b","notes":["x"]}` {
		t.Errorf("after Sync: Published() = %s, %d", state, v)
	}
	s.RLock()
	title := n.Title
	s.RUnlock()
	if title != "b" {
		t.Errorf("the struct holds %q", title)
	}
	if st := s.BackendStatus(); st != (wssync.BackendStatus{}) {
		t.Errorf("BackendStatus of an object without a backend: %+v, want the zero value", st)
	}
}

// TestSyncedUnregister: after Unregister, Update and Sync return ErrUnregistered, clients
// are not sent the key, and the key can be registered again.
func TestSyncedUnregister(t *testing.T) {
	t.Parallel()
	sess, s, url := newNotes(t)
	s.Unregister()
	s.Unregister() // twice is harmless
	if err := s.Update(func(n *Notes) { n.Title = "x" }); !errors.Is(err, wssync.ErrUnregistered) {
		t.Errorf("Update after Unregister: %v, want ErrUnregistered", err)
	}
	if err := s.Sync(); !errors.Is(err, wssync.ErrUnregistered) {
		t.Errorf("Sync after Unregister: %v, want ErrUnregistered", err)
	}
	if _, err := wssync.Register(sess, "OTHER", &Notes{}); err != nil {
		t.Fatal(err)
	}
	c := dial(t, url)
	waitType(t, c, "_SET:OTHER")
	_ = c.Send("_GET:NOTES", nil)
	if e := errorOf(t, waitType(t, c, "_ERROR")); e.Code != wssync.CodeUnknownKey {
		t.Errorf("_GET of an unregistered key: %+v, want %s", e, wssync.CodeUnknownKey)
	}
	for _, f := range c.Frames() {
		if f.Type == "_SET:NOTES" {
			t.Error("a client was sent the unregistered key")
		}
	}
	if _, err := wssync.Register(sess, "NOTES", &Notes{}); err != nil {
		t.Errorf("registering the key again: %v", err)
	}
}
