package backendtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wssynctest"
)

// watchedClaims is a SessionStore that counts the claims of one session its node's
// watchers have handled and, when hold is set, holds the first of them after arm back
// (and, since a watcher handles one claim at a time, every later one behind it, so the
// bus's order is kept) until release is closed. It watches as its store does: WatchClaims,
// or WatchSessionClaims on a store that announces claims per session.
type watchedClaims struct {
	wssync.SessionStore
	session string
	held    chan struct{} // receives once the first claim after arm is held; nil without hold
	release chan struct{}
	armed   atomic.Bool

	mu   sync.Mutex
	seen int
}

func newWatchedClaims(store wssync.SessionStore, session string, hold bool) *watchedClaims {
	w := &watchedClaims{SessionStore: store, session: session, release: make(chan struct{})}
	if hold {
		w.held = make(chan struct{}, 1)
	} else {
		close(w.release)
	}
	return w
}

// arm makes the next claim of the session the one held.
func (w *watchedClaims) arm() { w.armed.Store(true) }

func (w *watchedClaims) WatchClaims(claimed func(wssync.SessionClaim)) (stop func()) {
	return w.SessionStore.WatchClaims(w.watched(claimed))
}

func (w *watchedClaims) ClaimsBySession() bool { return claimsPerSession(w.SessionStore) }

func (w *watchedClaims) WatchSessionClaims(id string, claimed func(wssync.SessionClaim)) (stop func()) {
	return w.SessionStore.(wssync.ClaimsBySession).WatchSessionClaims(id, w.watched(claimed))
}

// watched wraps a claims callback with the counting and the hold.
func (w *watchedClaims) watched(claimed func(wssync.SessionClaim)) func(wssync.SessionClaim) {
	return func(c wssync.SessionClaim) {
		if c.ID != w.session {
			claimed(c)
			return
		}
		if w.held != nil && w.armed.CompareAndSwap(true, false) {
			w.held <- struct{}{}
			<-w.release
		}
		claimed(c)
		w.mu.Lock()
		w.seen++
		w.mu.Unlock()
	}
}

// handled waits until the watcher has handled n claims of the session.
func (w *watchedClaims) handled(t *testing.T, n int) {
	t.Helper()
	waitUntil(t, fmt.Sprintf("the node to handle %d claims", n), func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.seen < n {
			return fmt.Errorf("handled %d claims", w.seen)
		}
		return nil
	})
}

// stillServed checks that c's connection is open and served: a write comes back with the
// next version, and node m holds the session.
func stillServed(t *testing.T, c *wssynctest.Client, m *wssync.Manager, session, filter string) {
	t.Helper()
	ctx := ctxFor(t)
	select {
	case <-c.Done():
		t.Fatalf("the connection closed: %v", c.CloseError())
	default:
	}
	_, v, _ := c.State("VIEW")
	if err := c.Patch("VIEW", wssynctest.Replace("/filter", filter)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitVersion(ctx, "VIEW", v+1); err != nil {
		t.Fatalf("the connection is not served: %v (closed: %v)", err, c.CloseError())
	}
	if _, ok := m.Session(session); !ok {
		t.Fatal("the node no longer holds the session it serves")
	}
}

// testStaleClaimIgnored: a client connects to node1, then to node0 (claim c0), drops, and
// reconnects to node1, which serves it and claims c1, before c0 has reached node1. c0,
// published before c1, is stale when it arrives: node1 keeps serving the client, and
// node0, which sees c1 after its own claim, lets its copy go. The first connection to
// node1 makes it hold the session, so that it hears the session's claims on a store that
// announces them per session too.
func testStaleClaimIgnored(t *testing.T, nodes Nodes) {
	if len(nodes.Sessions) < 2 {
		t.Skip("no session stores")
	}
	ctx := ctxFor(t)
	session := "tab-stale-" + fmt.Sprint(time.Now().UnixNano())
	slow := newWatchedClaims(nodes.Sessions[1], session, true)
	url0, m0 := startViewManager(t, nodes.Sessions[0])
	url1, m1 := startViewManager(t, slow)
	defer close(slow.release) // before the Managers shut down, which waits for the watcher

	pre := dial(t, url1, wssynctest.WithIdentity("alice", session))
	if _, err := wssynctest.WaitState(ctx, pre, "VIEW", func(View) bool { return true }); err != nil {
		t.Fatal(err)
	}
	slow.handled(t, 1) // its own claim came back
	_ = pre.Close()
	slow.arm()

	first := dial(t, url0, wssynctest.WithIdentity("alice", session))
	if _, err := wssynctest.WaitState(ctx, first, "VIEW", func(View) bool { return true }); err != nil {
		t.Fatal(err)
	}
	wstest.Receive(t, slow.held, "node0's claim to reach node1's watcher")
	_ = first.Close()

	again := dial(t, url1, wssynctest.WithIdentity("alice", session))
	if _, err := wssynctest.WaitState(ctx, again, "VIEW", func(View) bool { return true }); err != nil {
		t.Fatal(err)
	}
	slow.release <- struct{}{} // hand over c0, then c1 behind it
	slow.handled(t, 3)
	stillServed(t, again, m1, session, "after the stale claim")
	waitUntil(t, "node0 to let the session go", func() error {
		if _, ok := m0.Session(session); ok {
			return errors.New("node0 still holds the session")
		}
		return nil
	})
}

// testFastReconnects: a client reconnects many times in quick succession, alternating
// between two nodes. Once every claim has reached both nodes, the last connection is
// still open and served, its node holds the session with the last write, and the other
// node holds it no more.
func testFastReconnects(t *testing.T, nodes Nodes) {
	if len(nodes.Sessions) < 2 {
		t.Skip("no session stores")
	}
	ctx := ctxFor(t)
	session := "tab-fast-" + fmt.Sprint(time.Now().UnixNano())
	urls := make([]string, 2)
	ms := make([]*wssync.Manager, 2)
	watched := make([]*watchedClaims, 2)
	for i := range urls {
		watched[i] = newWatchedClaims(nodes.Sessions[i], session, false)
		urls[i], ms[i] = startViewManager(t, watched[i])
	}
	const reconnects = 20
	var last *wssynctest.Client
	for i := range reconnects {
		if last != nil {
			_ = last.Close()
		}
		last = dial(t, urls[i%2], wssynctest.WithIdentity("alice", session))
		// its state says the node claimed it (a client gone before that claims nothing)
		if _, err := wssynctest.WaitState(ctx, last, "VIEW", func(View) bool { return true }); err != nil {
			t.Fatalf("connection %d got no state: %v (closed: %v)", i, err, last.CloseError())
		}
	}
	final := (reconnects - 1) % 2
	if !claimsPerSession(nodes.Sessions[0]) {
		for _, w := range watched {
			w.handled(t, reconnects)
		}
	} // else a node hears the session's claims only while it holds it: the checks below wait

	stillServed(t, last, ms[final], session, "last")
	waitUntil(t, "the other node to let the session go", func() error {
		if _, ok := ms[1-final].Session(session); ok {
			return errors.New("it still holds the session")
		}
		return nil
	})
	if rec, ok, err := nodes.Sessions[0].LoadSession(context.Background(), session); err != nil || !ok || !strings.Contains(string(rec.Objects["VIEW"].State), `"last"`) {
		t.Fatalf("stored record: %+v, %v, %v; want the last write", rec, ok, err)
	}
}
