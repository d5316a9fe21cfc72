package wssync_test

import (
	"context"
	"strings"
	"testing"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wsmemory"
	"github.com/wssync/wssync/wssynctest"
)

// storeNode serves a Manager whose sessions register a Notes under "NOTES" and keep it in
// store; it returns the URL and the Manager.
func storeNode(t *testing.T, store wssync.SessionStore) (string, *wssync.Manager) {
	t.Helper()
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		_, err := wssync.Register(sess, "NOTES", &Notes{Title: "new"})
		return err
	}, wssync.WithSessionStore(store))
	return serveManager(t, m), m
}

// A session's published change is written through to the store, and a node that never
// held the session builds it from the factory and then the stored record.
func TestSessionStateFollowsToAnotherNode(t *testing.T) {
	store := wsmemory.New()
	url0, _ := storeNode(t, store)
	url1, _ := storeNode(t, store)

	c0 := dialAs(t, url0, "alice", "tab-1")
	waitType(t, c0, "_SET:NOTES")
	_, v, _ := c0.State("NOTES")
	if err := c0.Patch("NOTES", wssynctest.Replace("/title", "edited on node0")); err != nil {
		t.Fatal(err)
	}
	if _, err := c0.WaitVersion(ctxT(t), "NOTES", v+1); err != nil {
		t.Fatal(err)
	}
	rec, ok, err := store.LoadSession(context.Background(), "tab-1")
	if err != nil || !ok {
		t.Fatalf("no stored record (%v)", err)
	}
	if rec.User != "alice" || !strings.Contains(string(rec.Objects["NOTES"].State), "edited on node0") {
		t.Fatalf("stored record %+v, want alice's edited NOTES", rec)
	}

	c1 := dialAs(t, url1, "alice", "tab-1")
	if _, err := wssynctest.WaitState(ctxT(t), c1, "NOTES", func(n Notes) bool { return n.Title == "edited on node0" }); err != nil {
		t.Fatalf("node1 did not restore the stored state: %v", err)
	}
}

// A session id is bound to the user of its first connection on every node: another
// user's connection to it, on another node, is closed with 4004.
func TestSessionBoundToItsUserAcrossNodes(t *testing.T) {
	store := wsmemory.New()
	url0, _ := storeNode(t, store)
	url1, _ := storeNode(t, store)
	c0 := dialAs(t, url0, "alice", "tab-2")
	waitType(t, c0, "_SET:NOTES")
	intruder := dialAs(t, url1, "bob", "tab-2")
	if code := closeCode(t, intruder); code != wssync.CloseUnauthorized {
		t.Fatalf("bob's connection closed with %d, want %d", code, wssync.CloseUnauthorized)
	}
	for _, f := range intruder.Frames() {
		if f.Type == "_SET:NOTES" {
			t.Fatal("bob received alice's session state")
		}
	}
}
