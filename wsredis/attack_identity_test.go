package wsredis_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/redistest"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wsredis"
	"github.com/wssync/wssync/wssynctest"
)

// Attacks on the binding of a session id to its user across nodes, on a real
// redis-server: a second user racing the owner, reusing an expired id, and the store
// paused or restarted empty.

type atkSecret struct {
	Secret string `sync:"secret,write"`
}

type atkNode struct {
	mgr   *wssync.Manager
	url   string
	store *wsredis.Backend
}

// atkNodes starts n Managers, each with a Backend of its own on srv, serving one atkSecret
// under "DOC" per session.
func atkNodes(t *testing.T, srv *redistest.Server, n int, opts ...wssync.ManagerOption) []atkNode {
	t.Helper()
	var nodes []atkNode
	for range n {
		client := redis.NewClient(&redis.Options{
			Addr:         srv.Addr(),
			DialTimeout:  time.Second,
			ReadTimeout:  300 * time.Millisecond,
			WriteTimeout: 300 * time.Millisecond,
		})
		b := closing(t, client, wsredis.Options{OpTimeout: 300 * time.Millisecond, HealthInterval: 300 * time.Millisecond})
		m := wssync.NewManager(func(_ context.Context, sess *wssync.Session) error {
			_, err := wssync.Register(sess, "DOC", &atkSecret{})
			return err
		}, append([]wssync.ManagerOption{wssync.WithSessionStore(b)}, opts...)...)
		url := wstest.Serve(t, http.HandlerFunc(m.ServeWS))
		t.Cleanup(func() { // runs before the server's close
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = m.Shutdown(ctx)
		})
		nodes = append(nodes, atkNode{m, url, b})
	}
	return nodes
}

// atkOutcome is what a connection got: its first _SET, or the close code.
type atkOutcome struct {
	c     *wssynctest.Client
	set   bool
	code  int
	state string
}

// atkConnect connects as user with session sid and waits for its _SET or its close.
func atkConnect(t *testing.T, url, user, sid string) atkOutcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := wssynctest.Dial(ctx, url, wssynctest.WithIdentity(user, sid))
	if err != nil {
		t.Fatalf("dial %s as %s: %v", sid, user, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	f, err := c.WaitFrame(ctx, func(f wssynctest.Frame) bool { return f.Type == "_SET:DOC" })
	if err == nil {
		return atkOutcome{c: c, set: true, state: string(f.Data)}
	}
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatalf("%s as %s: neither a _SET nor a close", sid, user)
	}
	var ce *websocket.CloseError
	if errors.As(c.CloseError(), &ce) {
		return atkOutcome{c: c, code: ce.Code}
	}
	t.Fatalf("%s as %s: closed without a close frame: %v", sid, user, c.CloseError())
	return atkOutcome{}
}

// undisturbed checks that an owner's connection got no _DISCONNECT and is still open.
func undisturbed(t *testing.T, o atkOutcome, who string) {
	t.Helper()
	select {
	case <-o.c.Done():
		t.Fatalf("%s's connection was closed: %v", who, o.c.CloseError())
	default:
	}
	for _, f := range o.c.Frames() {
		if f.Type == "_DISCONNECT" {
			t.Fatalf("%s got _DISCONNECT", who)
		}
	}
}

// Two users present the same new session id on two nodes at the same moment, both first
// sight: exactly one is served; the other is closed with 4004 and never sees the state,
// and the winner is not disturbed. Then the loser is refused on every node and the winner
// served on every node.
func TestAttackFirstSightRace(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	nodes := atkNodes(t, srv, 2)
	for round := range 8 {
		sid := fmt.Sprintf("race-%d", round)
		var wg sync.WaitGroup
		out := make([]atkOutcome, 2)
		users := []string{"alice", "bob"}
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out[i] = atkConnect(t, nodes[i].url, users[i], sid)
			}()
		}
		wg.Wait()
		if out[0].set == out[1].set {
			t.Fatalf("round %d: both served or both refused: %+v %+v", round, out[0], out[1])
		}
		win, lose := 0, 1
		if out[1].set {
			win, lose = 1, 0
		}
		if out[lose].code != wssync.CloseUnauthorized {
			t.Fatalf("round %d: the loser got close %d, want 4004", round, out[lose].code)
		}
		// The winner writes a secret; the loser never sees it on either node. The client
		// applies its own ops at once, so the wait is for the server's echo: the node has
		// the write, and has stored it for the other node, once the echo is sent.
		_, v, _ := out[win].c.State("DOC")
		if err := out[win].c.Send("_PATCH:DOC", []wssynctest.Op{wssynctest.Replace("/secret", "s-"+sid)}); err != nil {
			t.Fatal(err)
		}
		if _, err := out[win].c.WaitVersion(wstest.Context(t), "DOC", v+1); err != nil {
			t.Fatalf("round %d: the winner's write: no echo: %v", round, err)
		}
		if _, err := wssynctest.WaitState(wstest.Context(t), out[win].c, "DOC", func(d atkSecret) bool { return d.Secret == "s-"+sid }); err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			if o := atkConnect(t, n.url, users[lose], sid); o.set || o.code != wssync.CloseUnauthorized {
				t.Fatalf("round %d: the loser on a node: %+v, want 4004", round, o)
			}
		}
		undisturbed(t, out[win], users[win])
		other := nodes[lose]
		if o := atkConnect(t, other.url, users[win], sid); !o.set || !strings.Contains(o.state, "s-"+sid) {
			t.Fatalf("round %d: the winner on the other node: %+v", round, o)
		}
	}
}

// A hostile user hammers an owner's session id on both nodes, concurrently: every attempt
// is 4004, the owner keeps its connection, and no session is moved by a claim.
func TestAttackIntruderFlood(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	nodes := atkNodes(t, srv, 2)
	alice := atkConnect(t, nodes[0].url, "alice", "s1")
	var wg sync.WaitGroup
	codes := make(chan int, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := atkConnect(t, nodes[i%2].url, "bob", "s1")
			if o.set {
				codes <- -1
				return
			}
			codes <- o.code
		}()
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != wssync.CloseUnauthorized {
			t.Fatalf("an intruder's attempt got %d, want 4004", c)
		}
	}
	undisturbed(t, alice, "alice")
	for i, n := range nodes {
		if moved := n.mgr.Stats().SessionsMoved; moved != 0 {
			t.Fatalf("node %d moved %d sessions", i, moved)
		}
	}
}

// Session id reuse after the owner's session expired: once the node has freed it and the
// record has expired in the store, the id is free: another user gets a fresh session,
// without the old owner's state, and the old owner is then refused with 4004.
func TestAttackReuseAfterExpiry(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	opts := []wssync.ManagerOption{wssync.WithManagerLimits(wssync.ManagerLimits{SessionTTL: 300 * time.Millisecond}), wssync.WithLimits(wssync.Limits{PingInterval: 100 * time.Millisecond, PongTimeout: 300 * time.Millisecond})}
	nodes := atkNodes(t, srv, 2, opts...)
	alice := atkConnect(t, nodes[0].url, "alice", "old")
	if err := alice.c.Send("_PATCH:DOC", []wssynctest.Op{wssynctest.Replace("/secret", "alice's")}); err != nil {
		t.Fatal(err)
	}
	if _, err := wssynctest.WaitState(wstest.Context(t), alice.c, "DOC", func(d atkSecret) bool { return d.Secret == "alice's" }); err != nil {
		t.Fatal(err)
	}
	// Before expiry, Bob is refused everywhere.
	for _, n := range nodes {
		if o := atkConnect(t, n.url, "bob", "old"); o.code != wssync.CloseUnauthorized {
			t.Fatalf("before expiry: %+v, want 4004", o)
		}
	}
	_ = alice.c.Close()
	waitGone(t, nodes[0], "old")
	bob := atkConnect(t, nodes[1].url, "bob", "old")
	if !bob.set || strings.Contains(bob.state, "alice") {
		t.Fatalf("bob after expiry: %+v", bob)
	}
	if o := atkConnect(t, nodes[0].url, "alice", "old"); o.code != wssync.CloseUnauthorized {
		t.Fatalf("alice after bob took the expired id: %+v, want 4004", o)
	}
}

// waitGone waits until node has freed session sid and its record has expired.
func waitGone(t *testing.T, n atkNode, sid string) {
	t.Helper()
	wstest.EventuallyNil(t, 10*time.Second, "freeing session "+sid, func() error {
		_, held := n.mgr.Session(sid)
		_, ok, err := n.store.LoadSession(context.Background(), sid)
		if !held && !ok && err == nil {
			return nil
		}
		return fmt.Errorf("session %s not freed (held %v, record %v, %v)", sid, held, ok, err)
	})
}

// The store restarted empty forgets the binding until the owner's node extends it again
// (every third of the record's TTL); from then on another user is refused on every node,
// and the owner's node serves her throughout.
func TestAttackStoreRestartedEmpty(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	opts := []wssync.ManagerOption{wssync.WithManagerLimits(wssync.ManagerLimits{SessionTTL: 900 * time.Millisecond}), wssync.WithLimits(wssync.Limits{PingInterval: 100 * time.Millisecond, PongTimeout: 300 * time.Millisecond})}
	nodes := atkNodes(t, srv, 2, opts...)
	alice := atkConnect(t, nodes[0].url, "alice", "s1")
	srv.Stop()
	srv.Restart()
	// Wait for the owner's node to bind the id again.
	wstest.EventuallyNil(t, 10*time.Second, "the owner's node binding the session again", func() error {
		rec, ok, err := nodes[1].store.LoadSession(context.Background(), "s1")
		if err == nil && ok && rec.User == "alice" {
			return nil
		}
		return fmt.Errorf("the owner's node did not bind the session again: %+v %v %v", rec, ok, err)
	})
	for _, n := range nodes {
		if o := atkConnect(t, n.url, "bob", "s1"); o.code != wssync.CloseUnauthorized {
			t.Fatalf("bob after the restart: %+v, want 4004", o)
		}
	}
	undisturbed(t, alice, "alice")
	if o := atkConnect(t, nodes[1].url, "alice", "s1"); !o.set {
		t.Fatalf("alice on the other node: %+v", o)
	}
}

// The store unreachable at the owner's first connection: her node serves her from the
// factory alone (documented), but cannot bind the id. It retries soon after the store is
// back (not at the keep-binding tick, ~30 s here): then another user presenting the id on
// another node is refused with 4004, and the owner is served on every node.
func TestAttackBindWhileStorePaused(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	opts := []wssync.ManagerOption{wssync.WithManagerLimits(wssync.ManagerLimits{SessionTTL: 30 * time.Second})} // keep-binding tick every ~30 s
	nodes := atkNodes(t, srv, 2, opts...)
	srv.Pause()
	alice := atkConnect(t, nodes[0].url, "alice", "s1")
	if !alice.set {
		t.Fatalf("alice while the store is paused: %+v", alice)
	}
	srv.Resume()
	waitStore(t, nodes[1].store)
	wstest.EventuallyNil(t, 5*time.Second, "alice's node binding her session after the store's return", func() error {
		rec, ok, err := nodes[1].store.LoadSession(context.Background(), "s1")
		if err == nil && ok && rec.User == "alice" {
			return nil
		}
		return fmt.Errorf("alice's node did not bind her session: %+v %v %v", rec, ok, err)
	})
	bob := atkConnect(t, nodes[1].url, "bob", "s1")
	if bob.code != wssync.CloseUnauthorized {
		t.Fatalf("bob on the other node after the store came back: %+v, want 4004", bob)
	}
	if o := atkConnect(t, nodes[1].url, "alice", "s1"); !o.set {
		t.Fatalf("alice on the other node: %+v", o)
	}
}

// An intruder served while the store was unreachable (the documented limit) loses the
// session on that node once the store is back and names its owner: his copy is closed
// (4004) and the owner is served there.
func TestAttackIntruderServedDuringOutageKeepsNode(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	opts := []wssync.ManagerOption{wssync.WithManagerLimits(wssync.ManagerLimits{SessionTTL: 900 * time.Millisecond}), wssync.WithLimits(wssync.Limits{PingInterval: 100 * time.Millisecond, PongTimeout: 300 * time.Millisecond})}
	nodes := atkNodes(t, srv, 2, opts...)
	alice := atkConnect(t, nodes[0].url, "alice", "s1") // bound to alice
	srv.Pause()
	bob := atkConnect(t, nodes[1].url, "bob", "s1") // cannot be checked: served from the factory
	if !bob.set {
		t.Skipf("bob refused during the outage (%+v): nothing to check", bob)
	}
	srv.Resume()
	waitStore(t, nodes[1].store)
	time.Sleep(time.Second) // more than one keep-binding tick
	undisturbed(t, alice, "alice")
	if o := atkConnect(t, nodes[1].url, "alice", "s1"); !o.set {
		t.Fatalf("alice on the node that served bob during the outage: %+v, want her session", o)
	}
}

// waitStore waits until b answers again.
func waitStore(t *testing.T, b *wsredis.Backend) {
	t.Helper()
	wstest.EventuallyNil(t, 10*time.Second, "the store coming back", func() error {
		_, _, err := b.LoadSession(context.Background(), "probe")
		return err
	})
}
