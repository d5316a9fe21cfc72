package wssync_test

import (
	"testing"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wsmemory"
)

// A session lives on one node at a time: when its client connects to another node, the
// node that held it closes its connection with 4000 after a _DISCONNECT and frees it.
func TestClaimMovesTheSession(t *testing.T) {
	store := wsmemory.New()
	url0, m0 := storeNode(t, store)
	url1, m1 := storeNode(t, store)
	old := dialAs(t, url0, "alice", "tab-3")
	waitType(t, old, "_SET:NOTES")
	moved := dialAs(t, url1, "alice", "tab-3")
	waitType(t, moved, "_SET:NOTES")
	if code := closeCode(t, old); code != wssync.CloseReplaced {
		t.Fatalf("node0's connection closed with %d, want %d", code, wssync.CloseReplaced)
	}
	sawDisconnect := false
	for _, f := range old.Frames() {
		sawDisconnect = sawDisconnect || f.Type == "_DISCONNECT"
	}
	if !sawDisconnect {
		t.Error("no _DISCONNECT before the close")
	}
	waitUntil(t, func() bool { return m0.Stats().Sessions == 0 && m0.Stats().SessionsMoved == 1 })
	if m1.Stats().Sessions != 1 || m1.Stats().SessionsMoved != 0 {
		t.Errorf("node1 holds %d sessions, moved %d; want 1 held, none moved", m1.Stats().Sessions, m1.Stats().SessionsMoved)
	}
}
