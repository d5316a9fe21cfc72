package wssync_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wsmemory"
	"github.com/wssync/wssync/wssynctest"
)

// Attacks on claims by session (wssync.ClaimsBySession) on wsmemory with
// WithClaimsBySession: two nodes, one client moving between them.

type atkDoc struct {
	Text string `sync:"text,write"`
}

// atkClaimNode starts a Manager on store with a short session TTL.
func atkClaimNode(t *testing.T, store wssync.SessionStore, ttl time.Duration) (string, *wssync.Manager) {
	t.Helper()
	m := wssync.NewManager(func(_ context.Context, sess *wssync.Session) error {
		_, err := wssync.Register(sess, "DOC", &atkDoc{})
		return err
	}, wssync.WithSessionStore(store), wssync.WithManagerLimits(wssync.ManagerLimits{SessionTTL: ttl}))
	return serveManager(t, m), m
}

// holdFirstWatch passes a ClaimsBySession store through, but holds the first call of the
// first watch of one session whose claimant is not the node's own (a foreign claim) until
// release is closed: that watch's delivery goroutine is slow, as any goroutine may be. It
// is within the contract: each callback still gets the session's claims one at a time and
// in one order, and stop waits for the running call.
type holdFirstWatch struct {
	*wsmemory.Backend
	session string
	held    chan struct{} // receives when the call is held
	release chan struct{}

	mu      sync.Mutex
	watches int
	own     string // the claimant prefix of the node, from its first claim
}

func (h *holdFirstWatch) WatchSessionClaims(id string, claimed func(wssync.SessionClaim)) (stop func()) {
	if id != h.session {
		return h.Backend.WatchSessionClaims(id, claimed)
	}
	h.mu.Lock()
	h.watches++
	first := h.watches == 1
	h.mu.Unlock()
	if !first {
		return h.Backend.WatchSessionClaims(id, claimed)
	}
	var once atomic.Bool
	return h.Backend.WatchSessionClaims(id, func(c wssync.SessionClaim) {
		h.mu.Lock()
		if h.own == "" {
			h.own = c.Claimant[:16] // the node's own first claim: "<node id>.<n>"
		}
		foreign := c.Claimant[:16] != h.own
		h.mu.Unlock()
		if foreign && once.CompareAndSwap(false, true) {
			h.held <- struct{}{}
			<-h.release
		}
		claimed(c)
	})
}

// A stale foreign claim, still being delivered on the watch of the node's previous copy of
// the session, must not take the session from the node's new copy after its own newer
// claim came back (it did: the client's last connection was closed with 4000 and no node
// served the session any more).
//
// Node A holds the session (watch W1); the client moves to B, whose claim b1 is on its way
// through W1 (held: W1's goroutine is slow) when A's copy expires; its Close ends W1, which
// waits for the running call. The client comes back to A, which builds the session anew,
// starts watch W2, claims a2, hears a2 back on W2 (no claim in flight any more), and B lets
// go on a2. Then W1's call goes on: b1, published before a2, reaches Manager.claimed,
// which finds the new copy and no claim in flight, and lets it go.
//
// Cause, fixed by Manager.claimedFor: Manager.claimed acted on whatever copy of c.ID the Manager holds now, whichever
// watch the claim came from (manager.go: WatchSessionClaims(id.Session, m.claimed)). The
// in-flight rule assumes one order of all claims a node hears of a session; with a watch
// per session copy, two watches of one session run at once on one node (the old copy's
// until its stop returns, the new copy's), and the ClaimsBySession contract only orders
// each callback's claims, not the two against each other (wsmemory delivers each watch from
// a goroutine of its own). A watch should only act for the copy that started it.
func TestAttackStaleClaimOnOldWatchTakesNewCopy(t *testing.T) {
	const session = "tab-old-watch"
	mem := wsmemory.New(wsmemory.WithClaimsBySession())
	slow := &holdFirstWatch{Backend: mem, session: session, held: make(chan struct{}, 1), release: make(chan struct{})}
	urlA, mA := atkClaimNode(t, slow, 200*time.Millisecond)
	urlB, mB := atkClaimNode(t, mem, time.Minute)
	released := false
	defer func() {
		if !released {
			close(slow.release)
		}
	}()

	c1 := dialAs(t, urlA, "alice", session)
	waitType(t, c1, "_SET:DOC")
	_ = c1.Close()

	c2 := dialAs(t, urlB, "alice", session) // b1: held on its way through A's watch W1
	waitType(t, c2, "_SET:DOC")
	wstest.Receive(t, slow.held, "B's claim to reach A's first watch")
	_ = c2.Close()

	// A's copy expires; its Close waits for W1's running call
	waitUntil(t, func() bool { _, ok := mA.Session(session); return !ok })

	c3 := dialAs(t, urlA, "alice", session) // a2, on A's new copy and its watch W2
	waitType(t, c3, "_SET:DOC")
	waitUntil(t, func() bool { return wssync.ClaimsInFlight(mA) == 0 }) // a2 came back on W2
	waitUntil(t, func() bool { _, ok := mB.Session(session); return !ok })

	close(slow.release) // W1 hands b1 to the Manager at last
	released = true
	time.Sleep(300 * time.Millisecond)
	select {
	case <-c3.Done():
		t.Fatalf("the client's last connection, on A after B's claim, was closed: %v", c3.CloseError())
	default:
	}
	if _, ok := mA.Session(session); !ok {
		t.Fatal("A, where the client connected last, no longer holds the session")
	}
}

// The client alternates between two nodes many times, waiting for its state each time, on
// wsmemory with claims by session: the last node serves it, the other lets go, exactly
// one session watch remains (the last node's), and none once the session expired.
func TestAttackClaimsBySessionAlternate(t *testing.T) {
	mem := wsmemory.New(wsmemory.WithClaimsBySession())
	ttl := 300 * time.Millisecond
	urls := make([]string, 2)
	ms := make([]*wssync.Manager, 2)
	for i := range urls {
		urls[i], ms[i] = atkClaimNode(t, mem, ttl)
	}
	const session, rounds = "tab-alternate", 40
	var last *wssynctest.Client
	for i := range rounds {
		if last != nil {
			_ = last.Close()
		}
		last = dialAs(t, urls[i%2], "alice", session)
		waitType(t, last, "_SET:DOC")
		_, v, _ := last.State("DOC")
		if err := last.Patch("DOC", wssynctest.Replace("/text", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		if _, err := last.WaitVersion(ctxT(t), "DOC", v+1); err != nil {
			t.Fatalf("round %d: %v (closed: %v)", i, err, last.CloseError())
		}
	}
	final := (rounds - 1) % 2
	wstest.EventuallyNil(t, wstest.Timeout, "the other node to let go", func() error {
		if _, ok := ms[1-final].Session(session); ok {
			return errors.New("still held")
		}
		if n := mem.SessionClaimWatches(); n != 1 {
			return fmt.Errorf("%d sessions watched", n)
		}
		return nil
	})
	select {
	case <-last.Done():
		t.Fatalf("the last connection closed: %v", last.CloseError())
	default:
	}
	if _, ok := ms[final].Session(session); !ok {
		t.Fatal("the last node does not hold the session")
	}
	_ = last.Close()
	wstest.EventuallyNil(t, wstest.Timeout, "the session to expire and its watch to end", func() error {
		if n := mem.SessionClaimWatches(); n != 0 {
			return fmt.Errorf("%d sessions watched", n)
		}
		return nil
	})
}

// Overlapping connections: the client opens the next node's connection before it closes
// the previous one, without waiting, many times. Once the claims are all heard, exactly one
// node holds the session and at most one connection is open, served by it.
func TestAttackClaimsBySessionOverlapping(t *testing.T) {
	mem := wsmemory.New(wsmemory.WithClaimsBySession())
	urls := make([]string, 2)
	ms := make([]*wssync.Manager, 2)
	for i := range urls {
		urls[i], ms[i] = atkClaimNode(t, mem, time.Minute)
	}
	const session, rounds = "tab-overlap", 30
	var conns []*wssynctest.Client
	for i := range rounds {
		conns = append(conns, dialAs(t, urls[i%2], "alice", session))
	}
	wstest.EventuallyNil(t, wstest.Timeout, "exactly one node to hold the session", func() error {
		held := 0
		for _, m := range ms {
			if _, ok := m.Session(session); ok {
				held++
			}
		}
		if held != 1 {
			return fmt.Errorf("%d nodes hold it", held)
		}
		if n := wssync.ClaimsInFlight(ms[0]) + wssync.ClaimsInFlight(ms[1]); n != 0 {
			return fmt.Errorf("%d claims in flight", n)
		}
		return nil
	})
	time.Sleep(200 * time.Millisecond)
	open := 0
	for _, c := range conns {
		select {
		case <-c.Done():
		default:
			open++
		}
	}
	if open > 1 {
		t.Errorf("%d connections of one session still open", open)
	}
	if n := mem.SessionClaimWatches(); n != 1 {
		t.Errorf("%d sessions watched, want 1", n)
	}
}
