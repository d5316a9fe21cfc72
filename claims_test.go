package wssync_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
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
	// every claim came back to its claimant, which counts none in flight
	waitUntil(t, func() bool { return wssync.ClaimsInFlight(m0) == 0 && wssync.ClaimsInFlight(m1) == 0 })
}

// lostOwnClaims is a SessionStore whose node's claims are lost on the bus: they reach no
// node, their claimant included.
type lostOwnClaims struct{ wssync.SessionStore }

func (lostOwnClaims) ClaimSession(context.Context, wssync.SessionClaim) error { return nil }

// A node whose own claim the bus lost does not wait for it forever: once its mark has
// expired, the next claim of another node takes the session from it, and no mark is left.
func TestLostOwnClaimExpires(t *testing.T) {
	store := wsmemory.New()
	url0, _ := storeNode(t, store)
	url1, m1 := storeNode(t, lostOwnClaims{store})
	wssync.SetClaimInFlightMost(m1, 50*time.Millisecond)
	first := dialAs(t, url1, "alice", "tab-lost")
	waitType(t, first, "_SET:NOTES")
	_ = first.Close()
	if wssync.ClaimsInFlight(m1) != 1 {
		t.Fatalf("node1 counts %d claims in flight, want its lost one", wssync.ClaimsInFlight(m1))
	}
	// the client moves to node0, again until node1 heeds a claim
	wstest.EventuallyNil(t, wstest.Timeout, "node1 to let the session go", func() error {
		c := dialAs(t, url0, "alice", "tab-lost")
		waitType(t, c, "_SET:NOTES")
		_ = c.Close()
		if _, ok := m1.Session("tab-lost"); ok {
			return errors.New("node1 still holds the session")
		}
		return nil
	})
	if n := wssync.ClaimsInFlight(m1); n != 0 {
		t.Errorf("node1 counts %d claims in flight after the expiry, want none", n)
	}
}
