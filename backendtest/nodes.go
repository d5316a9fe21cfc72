package backendtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wspresence"
	"github.com/wssync/wssync/wssynctest"

	"github.com/wssync/wssync/internal/proto"
)

// Nodes is a group of nodes (processes, simulated in one test process) whose shared
// objects meet in one store, as RunNodes needs it.
type Nodes struct {
	// Backends has one Backend per node, all on the same store. RunNodes uses three.
	Backends []wssync.Backend
	// Interrupt breaks every node's subscriptions.
	Interrupt func()
	// Stop makes the store unreachable and Start brings it back (its data may be lost, as
	// with a Redis restarted without persistence). Nil skips the outage test.
	Stop, Start func()
	// Wipe kills the store and starts it again empty, as a Redis without persistence
	// restarts. Nil skips the test.
	Wipe func()
	// LoseNext silently drops the deliveries of key's next n commits. Nil skips the test.
	LoseNext func(key string, n int)
	// Sessions has one SessionStore per node, on the same store. Nil skips the test of
	// sessions moving between nodes.
	Sessions []wssync.SessionStore
	// Presence has one presence store per node, on the same store. Nil skips the presence
	// test.
	Presence []wspresence.Store
}

// Room is the shared object of RunNodes: a counter the server increments, a list clients
// append to, and a title both write.
type Room struct {
	Count int      `sync:"count"`
	Items []string `sync:"items,write"`
	Title string   `sync:"title,write"`
}

// RunNodes runs the scale-out suite: shared objects with WithBackend on several nodes,
// each serving WebSocket clients on loopback, must reach every client of every node in one
// order, converge to the store's copy under concurrent writers, recover from lost
// deliveries (the last one too, by a version check, on a store that asks for checks) and
// interruptions, and keep serving through an outage of the store; and
// Managers on session stores must keep a session on one node, bound to its user on every
// node from its first connection, whatever claims or intruders say; and presence rooms on
// the presence stores must list every node's members, with the Meta a member sets, diff
// them to every node's OnChange, and answer Online lookups for any node.
func RunNodes(t *testing.T, newNodes func(t *testing.T) Nodes) {
	t.Run("ChangeReachesEveryNode", func(t *testing.T) { testChangeReachesEveryNode(t, newNodes(t)) })
	t.Run("ConcurrentWritersConverge", func(t *testing.T) { testConcurrentWriters(t, newNodes(t)) })
	t.Run("LateJoinerGetsLatest", func(t *testing.T) { testLateJoiner(t, newNodes(t)) })
	t.Run("LostDeliveryDetectedByVersion", func(t *testing.T) { testLostDelivery(t, newNodes(t)) })
	t.Run("LostLastDeliveryFoundByCheck", func(t *testing.T) { testLostLastDelivery(t, newNodes(t)) })
	t.Run("InterruptedSubscription", func(t *testing.T) { testInterrupted(t, newNodes(t)) })
	t.Run("StoreOutage", func(t *testing.T) { testOutage(t, newNodes(t)) })
	t.Run("StoreRestartsEmpty", func(t *testing.T) { testWipe(t, newNodes(t)) })
	t.Run("ResumeOnAnyNode", func(t *testing.T) { testResumeOnAnyNode(t, newNodes(t)) })
	t.Run("ResumeAfterStoreRestartsEmpty", func(t *testing.T) { testResumeAfterWipe(t, newNodes(t)) })
	t.Run("ResumeAcrossOutage", func(t *testing.T) { testResumeAcrossOutage(t, newNodes(t)) })
	t.Run("SessionMovesBetweenNodes", func(t *testing.T) { testSessionMoves(t, newNodes(t)) })
	t.Run("SessionLivesOnOneNode", func(t *testing.T) { testSessionClaimed(t, newNodes(t)) })
	t.Run("StaleClaimIgnored", func(t *testing.T) { testStaleClaimIgnored(t, newNodes(t)) })
	t.Run("FastReconnectsStayOnLastNode", func(t *testing.T) { testFastReconnects(t, newNodes(t)) })
	t.Run("SessionIdentityAcrossNodes", func(t *testing.T) { testIdentityAcrossNodes(t, newNodes(t)) })
	t.Run("ClaimsAcrossNodes", func(t *testing.T) { testClaimsAcrossNodes(t, newNodes(t)) })
	t.Run("ForeignClaimIgnored", func(t *testing.T) { testForeignClaim(t, newNodes(t)) })
	t.Run("IdleOwnerKeepsBinding", func(t *testing.T) { testIdleOwnerKeepsBinding(t, newNodes(t)) })
	t.Run("PresenceAcrossNodes", func(t *testing.T) { testRoomPresence(t, newNodes(t)) })
	t.Run("PresenceMetaAcrossNodes", func(t *testing.T) { testPresenceMeta(t, newNodes(t)) })
}

// proc is one simulated process (a node): the shared Room and a WebSocket endpoint whose every
// connection is a session joined to it.
type proc struct {
	name string
	room *Room
	s    *wssync.Synced[Room]
	url  string
}

func startNode(t *testing.T, name, key string, b wssync.Backend) *proc {
	t.Helper()
	n := &proc{name: name, room: &Room{Items: []string{}}}
	s, err := wssync.NewShared(key, n.room, wssync.WithBackend(b))
	if err != nil {
		t.Fatalf("%s: NewShared: %v", name, err)
	}
	n.s = s
	n.url = serveShared(t, s)
	return n
}

func startNodes(t *testing.T, nodes Nodes, key string) []*proc {
	t.Helper()
	if len(nodes.Backends) < 3 {
		t.Fatalf("RunNodes needs three backends, got %d", len(nodes.Backends))
	}
	out := make([]*proc, 3)
	for i := range out {
		out[i] = startNode(t, fmt.Sprintf("node%d", i), key, nodes.Backends[i])
	}
	return out
}

// dial connects a client to url, closed when the test ends.
func dial(t *testing.T, url string, opts ...wssynctest.DialOption) *wssynctest.Client {
	t.Helper()
	return wstest.Dial(t, url, opts...)
}

// clientsOn dials per clients to every node, and waits for each client's first _SET of
// the room: a client writes onto the state it holds (the echo of its write assumes so),
// and a write sent before the first _SET patched nothing.
func clientsOn(t *testing.T, ns []*proc, per int) []*wssynctest.Client {
	t.Helper()
	ctx := ctxFor(t)
	var cs []*wssynctest.Client
	for _, n := range ns {
		for range per {
			c := dial(t, n.url)
			if _, err := wssynctest.WaitState(ctx, c, n.s.Key(), func(Room) bool { return true }); err != nil {
				t.Fatalf("client of %s: %v", n.name, err)
			}
			cs = append(cs, c)
		}
	}
	return cs
}

// waitUntil polls cond until it returns nil, failing the test with its last error after
// 15 s, a generous bound for nodes to converge.
func waitUntil(t *testing.T, what string, cond func() error) {
	t.Helper()
	wstest.EventuallyNil(t, 15*time.Second, what, cond)
}

// converged checks that the store, every node and every client hold the same state at
// the same version, and that no client saw a frame out of order.
func converged(ctx context.Context, b wssync.Backend, key string, ns []*proc, cs []*wssynctest.Client) error {
	snap, err := b.Load(ctx, key, 0)
	if err != nil {
		return fmt.Errorf("load: %v", err)
	}
	want, err := decode(snap.State)
	if err != nil {
		return fmt.Errorf("store state: %v", err)
	}
	var stored Room
	if err := json.Unmarshal(snap.State, &stored); err != nil {
		return fmt.Errorf("store state: %v", err)
	}
	for _, n := range ns {
		state, v := n.s.Published()
		if v != snap.Version {
			return fmt.Errorf("%s at version %d, store at %d", n.name, v, snap.Version)
		}
		got, err := decode(state)
		if err != nil || !reflect.DeepEqual(got, want) {
			return fmt.Errorf("%s holds %s, store %s", n.name, state, snap.State)
		}
		n.s.RLock()
		same := n.room.Count == stored.Count && n.room.Title == stored.Title && slices.Equal(n.room.Items, stored.Items)
		n.s.RUnlock()
		if !same {
			return fmt.Errorf("%s's struct differs from the store's %s", n.name, snap.State)
		}
	}
	for i, c := range cs {
		if err := c.Errs(); err != nil {
			return fmt.Errorf("client %d saw a frame out of order: %v", i, err)
		}
		state, v, ok := c.State(ns[0].s.Key())
		if !ok || v != snap.Version {
			return fmt.Errorf("client %d at version %d (has state: %v), store at %d", i, v, ok, snap.Version)
		}
		if got, err := decode(state); err != nil || !reflect.DeepEqual(got, want) {
			return fmt.Errorf("client %d holds %s, store %s", i, state, snap.State)
		}
	}
	return nil
}

func decode(b []byte) (any, error) {
	var v any
	err := json.Unmarshal(b, &v)
	return v, err
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func roomKey(t *testing.T) string {
	return "ROOM/" + t.Name() + "/" + fmt.Sprint(time.Now().UnixNano())
}

func testChangeReachesEveryNode(t *testing.T, nodes Nodes) {
	ctx := ctxFor(t)
	key := roomKey(t)
	ns := startNodes(t, nodes, key)
	cs := clientsOn(t, ns, 2)
	if err := ns[1].s.Update(func(r *Room) { r.Count = 7; r.Items = append(r.Items, "from node1") }); err != nil {
		t.Fatal(err)
	}
	for i, c := range cs {
		if _, err := wssynctest.WaitState(ctx, c, key, func(r Room) bool { return r.Count == 7 }); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	waitUntil(t, "converge", func() error { return converged(ctx, nodes.Backends[0], key, ns, cs) })
	// a client write on another node travels the same way
	if err := cs[5].Patch(key, wssynctest.Replace("/title", "from a client of node2")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "converge after a client write", func() error {
		if err := converged(ctx, nodes.Backends[0], key, ns, cs); err != nil {
			return err
		}
		if ns[0].s.RLock(); ns[0].room.Title != "from a client of node2" {
			ns[0].s.RUnlock()
			return fmt.Errorf("node0 has not seen the title")
		}
		ns[0].s.RUnlock()
		return nil
	})
}

func testConcurrentWriters(t *testing.T, nodes Nodes) {
	ctx := ctxFor(t)
	key := roomKey(t)
	ns := startNodes(t, nodes, key)
	cs := clientsOn(t, ns, 2)
	const updaters, increments, appends = 2, 25, 15
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i, n := range ns {
		for g := range updaters {
			wg.Go(func() {
				for range increments {
					if err := n.s.Update(func(r *Room) { r.Count++ }); err != nil {
						errs <- fmt.Errorf("node%d updater %d: %w", i, g, err)
						return
					}
				}
			})
		}
	}
	for i, c := range cs {
		wg.Go(func() {
			for j := range appends {
				op := wssynctest.Op{Op: "add", Path: "/items/-", Value: fmt.Sprintf("c%d-%d", i, j)}
				if err := c.Patch(key, op); err != nil {
					errs <- err
					return
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	wantCount := len(ns) * updaters * increments
	wantItems := len(cs) * appends
	waitUntil(t, "converge", func() error {
		if err := converged(ctx, nodes.Backends[0], key, ns, cs); err != nil {
			return err
		}
		state, _ := ns[0].s.Published()
		var r Room
		if err := json.Unmarshal(state, &r); err != nil {
			return err
		}
		if r.Count != wantCount || len(r.Items) != wantItems {
			return fmt.Errorf("count %d (want %d), items %d (want %d)", r.Count, wantCount, len(r.Items), wantItems)
		}
		seen := make(map[string]bool)
		for _, it := range r.Items {
			if seen[it] {
				return fmt.Errorf("item %q twice", it)
			}
			seen[it] = true
		}
		return nil
	})
	var conflicts uint64
	for _, n := range ns {
		conflicts += n.s.BackendStatus().Conflicts
	}
	t.Logf("%d commits raced and were retried", conflicts)
}

func testLateJoiner(t *testing.T, nodes Nodes) {
	ctx := ctxFor(t)
	key := roomKey(t)
	first := startNode(t, "node0", key, nodes.Backends[0])
	for i := range 5 {
		if err := first.s.Update(func(r *Room) { r.Count = i + 1; r.Items = append(r.Items, fmt.Sprint(i)) }); err != nil {
			t.Fatal(err)
		}
	}
	late := startNode(t, "node1", key, nodes.Backends[1])
	late.s.RLock()
	count := late.room.Count
	late.s.RUnlock()
	if count != 5 {
		t.Fatalf("a node started late holds count %d, want 5", count)
	}
	c := dial(t, late.url)
	if _, err := c.WaitVersion(ctx, key, first.s.Version()); err != nil {
		t.Fatalf("late client: %v", err)
	}
	waitUntil(t, "converge", func() error {
		return converged(ctx, nodes.Backends[0], key, []*proc{first, late}, []*wssynctest.Client{c})
	})
}

func testLostDelivery(t *testing.T, nodes Nodes) {
	if nodes.LoseNext == nil {
		t.Skip("this store cannot drop deliveries on demand")
	}
	ctx := ctxFor(t)
	key := roomKey(t)
	ns := startNodes(t, nodes, key)
	cs := clientsOn(t, ns, 1)
	waitUntil(t, "clients ready", func() error { return converged(ctx, nodes.Backends[0], key, ns, cs) })
	nodes.LoseNext(key, 2)
	for i := range 3 {
		if err := ns[0].s.Update(func(r *Room) { r.Count = 100 + i }); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "converge after lost deliveries", func() error { return converged(ctx, nodes.Backends[0], key, ns, cs) })
	for _, n := range ns[1:] {
		if st := n.s.BackendStatus(); st.Applied < 3 {
			t.Errorf("%s applied %d patches; the two lost ones should have been fetched from the store", n.name, st.Applied)
		}
	}
}

// testLostLastDelivery: the deliveries of a key's last change are lost and no change
// follows to reveal the gap, so only a version check (wssync.VersionChecker) brings the
// other nodes and their clients to it. Backends that ask for no checks skip the test:
// they promise that a delivery they cannot make shows as Lost.
func testLostLastDelivery(t *testing.T, nodes Nodes) {
	if nodes.LoseNext == nil {
		t.Skip("this store cannot drop deliveries on demand")
	}
	vc, ok := nodes.Backends[1].(wssync.VersionChecker)
	if !ok || vc.CheckInterval() <= 0 {
		t.Skip("this store asks for no version checks")
	}
	ctx := ctxFor(t)
	key := roomKey(t)
	ns := startNodes(t, nodes, key)
	cs := clientsOn(t, ns, 1)
	waitUntil(t, "clients ready", func() error { return converged(ctx, nodes.Backends[0], key, ns, cs) })
	var before []wssync.BackendStatus
	for _, n := range ns {
		before = append(before, n.s.BackendStatus())
	}
	nodes.LoseNext(key, 1)
	if err := ns[0].s.Update(func(r *Room) { r.Count = 42 }); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "converge after the last delivery was lost", func() error { return converged(ctx, nodes.Backends[0], key, ns, cs) })
	for i, n := range ns[1:] {
		st := n.s.BackendStatus()
		if st.Missed != before[i+1].Missed+1 || st.Reloads != before[i+1].Reloads {
			t.Errorf("%s: status went from %+v to %+v; want one check that found it behind, caught up with a patch", n.name, before[i+1], st)
		}
	}
}

func testInterrupted(t *testing.T, nodes Nodes) {
	ctx := ctxFor(t)
	key := roomKey(t)
	ns := startNodes(t, nodes, key)
	cs := clientsOn(t, ns, 1)
	waitUntil(t, "clients ready", func() error { return converged(ctx, nodes.Backends[0], key, ns, cs) })
	nodes.Interrupt()
	for i := range 10 {
		if err := ns[i%3].s.Update(func(r *Room) { r.Count++ }); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "converge after an interruption", func() error {
		if err := converged(ctx, nodes.Backends[0], key, ns, cs); err != nil {
			return err
		}
		ns[2].s.RLock()
		defer ns[2].s.RUnlock()
		if ns[2].room.Count != 10 {
			return fmt.Errorf("count %d, want 10", ns[2].room.Count)
		}
		return nil
	})
}

func testOutage(t *testing.T, nodes Nodes) {
	if nodes.Stop == nil || nodes.Start == nil {
		t.Skip("this store cannot be stopped")
	}
	ctx := ctxFor(t)
	key := roomKey(t)
	ns := startNodes(t, nodes, key)
	cs := clientsOn(t, ns, 1)
	if err := ns[0].s.Update(func(r *Room) { r.Count = 1 }); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "converge before the outage", func() error { return converged(ctx, nodes.Backends[0], key, ns, cs) })

	nodes.Stop()
	// Every node keeps serving its own clients.
	if err := ns[0].s.Update(func(r *Room) { r.Title = "set on node0 during the outage" }); err != nil {
		t.Fatalf("Update during the outage: %v", err)
	}
	if _, err := wssynctest.WaitState(ctx, cs[0], key, func(r Room) bool { return r.Title != "" }); err != nil {
		t.Fatalf("node0's client during the outage: %v", err)
	}
	_, v1, _ := cs[1].State(key)
	if err := cs[1].Patch(key, wssynctest.Op{Op: "add", Path: "/items/-", Value: "added on node1 during the outage"}); err != nil {
		t.Fatal(err)
	}
	// The client shows its write at once; the echo's version says node1 took it.
	if _, err := cs[1].WaitVersion(ctx, key, v1+1); err != nil {
		t.Fatalf("node1's client during the outage: %v", err)
	}
	if st := ns[0].s.BackendStatus(); !st.Offline {
		t.Errorf("node0 does not report the outage: %+v", st)
	}

	nodes.Start()
	waitUntil(t, "converge after the outage", func() error {
		if err := converged(ctx, nodes.Backends[0], key, ns, cs); err != nil {
			return err
		}
		state, _ := ns[2].s.Published()
		var r Room
		if err := json.Unmarshal(state, &r); err != nil {
			return err
		}
		if r.Title == "" || len(r.Items) != 1 || r.Count != 1 {
			return fmt.Errorf("edits made during the outage were not all kept: %s", state)
		}
		return nil
	})
}

// View is the per-session object of the session test.
type View struct {
	Filter string `sync:"filter,write"`
}

func startManager(t *testing.T, store wssync.SessionStore) string {
	t.Helper()
	url, _ := startViewManager(t, store)
	return url
}

// startViewManager serves a Manager whose sessions hold a View, kept in store.
func startViewManager(t *testing.T, store wssync.SessionStore) (string, *wssync.Manager) {
	t.Helper()
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		_, err := wssync.Register(sess, "VIEW", &View{Filter: "default"})
		return err
	}, wssync.WithSessionStore(store))
	return serveManager(t, m), m
}

func serveManager(t *testing.T, m *wssync.Manager) string {
	t.Helper()
	url := wstest.Serve(t, http.HandlerFunc(m.ServeWS))
	t.Cleanup(func() { // runs before the server's close
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return url
}

// visit connects as alice's tab to url, checks the filter it finds, sets a new one and
// disconnects.
func visit(t *testing.T, url, session, want, next string) {
	t.Helper()
	ctx := ctxFor(t)
	c := dial(t, url, wssynctest.WithIdentity("alice", session))
	if _, err := wssynctest.WaitState(ctx, c, "VIEW", func(v View) bool { return v.Filter == want }); err != nil {
		got, _, _ := c.State("VIEW")
		t.Fatalf("on %s the session holds %s, want filter %q: %v", url, got, want, err)
	}
	_, v, _ := c.State("VIEW")
	if err := c.Patch("VIEW", wssynctest.Replace("/filter", next)); err != nil {
		t.Fatal(err)
	}
	// The client shows its write at once; the echo's version says the server took it.
	if _, err := c.WaitVersion(ctx, "VIEW", v+1); err != nil {
		t.Fatalf("write on %s: %v", url, err)
	}
	if err := c.Errs(); err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
}

func testSessionMoves(t *testing.T, nodes Nodes) {
	if len(nodes.Sessions) < 3 {
		t.Skip("no session stores")
	}
	// Claims are lost on the way here, so a node that held the session finds out it moved
	// from the record's generation (SessionLivesOnOneNode tests the claims).
	urls := make([]string, 3)
	for i := range urls {
		urls[i] = startManager(t, lostClaims{nodes.Sessions[i]})
	}
	session := "tab-" + fmt.Sprint(time.Now().UnixNano())
	visit(t, urls[0], session, "default", "set on node0")
	visit(t, urls[1], session, "set on node0", "set on node1")
	// node0 still holds the session from the first visit: it must notice node1's change
	visit(t, urls[0], session, "set on node1", "set on node0 again")
	visit(t, urls[2], session, "set on node0 again", "done")

	// another identity cannot take the session over, even on a node that never held it
	fresh := startManager(t, nodes.Sessions[0])
	ctx := ctxFor(t)
	c, err := wssynctest.Dial(ctx, fresh, wssynctest.WithIdentity("mallory", session))
	if err == nil {
		defer c.Close()
		select {
		case <-c.Done():
		case <-ctx.Done():
			t.Fatal("a foreign identity was served the session")
		}
		if _, _, ok := c.State("VIEW"); ok {
			t.Fatal("a foreign identity received the session's state")
		}
		var ce *websocket.CloseError
		if !errors.As(c.CloseError(), &ce) || ce.Code != wssync.CloseUnauthorized {
			t.Fatalf("foreign identity closed with %v, want %d", c.CloseError(), wssync.CloseUnauthorized)
		}
	}
}

// deadStore is a presence store whose node has died: once dead, its calls no longer reach
// the store, so the node stops refreshing its members as a crashed process would.
type deadStore struct {
	wspresence.Store
	dead atomic.Bool
}

var errDead = errors.New("backendtest: this node has crashed")

func (d *deadStore) SetPresence(ctx context.Context, room string, e map[string][]byte, ttl time.Duration) error {
	if d.dead.Load() {
		return errDead
	}
	return d.Store.SetPresence(ctx, room, e, ttl)
}

func (d *deadStore) RemovePresence(ctx context.Context, room string, ids ...string) error {
	if d.dead.Load() {
		return errDead
	}
	return d.Store.RemovePresence(ctx, room, ids...)
}

func testRoomPresence(t *testing.T, nodes Nodes) {
	if len(nodes.Presence) < 3 {
		t.Skip("no presence stores")
	}
	const ttl = 600 * time.Millisecond
	ctx := ctxFor(t)
	room := "room-" + fmt.Sprint(time.Now().UnixNano())
	ps := make([]*wspresence.Presence, 3)
	stores := make([]*deadStore, 3)
	urls := make([]string, 3)
	for i := range ps {
		stores[i] = &deadStore{Store: nodes.Presence[i]}
		p, err := wspresence.New(stores[i], room, "PRESENCE", wspresence.WithTTL(ttl))
		if err != nil {
			t.Fatal(err)
		}
		ps[i] = p
		t.Cleanup(p.Close)
		urls[i] = serveManager(t, wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
			return p.Join(sess)
		}))
	}
	cs := make([]*wssynctest.Client, 3)
	for i := range cs {
		cs[i] = dial(t, urls[i], wssynctest.WithIdentity(fmt.Sprintf("user%d", i), fmt.Sprintf("%s-tab%d", room, i)))
	}
	users := func(ms []wspresence.Member) string {
		var us []string
		for _, m := range ms {
			us = append(us, m.User)
		}
		return strings.Join(us, ",")
	}
	expect := func(what, want string, nodes ...int) {
		t.Helper()
		waitUntil(t, what, func() error {
			for _, i := range nodes {
				if got := users(ps[i].Members()); got != want {
					return fmt.Errorf("node%d lists %q, want %q", i, got, want)
				}
				if st, err := wssynctest.WaitState(ctx, cs[i], "PRESENCE", func(wspresence.State) bool { return true }); err != nil {
					return err
				} else if got := users(st.Members); got != want {
					return fmt.Errorf("node%d's client lists %q, want %q", i, got, want)
				}
			}
			return nil
		})
	}
	expect("everyone sees everyone", "user0,user1,user2", 0, 1, 2)

	_ = cs[1].Close()
	expect("a disconnected member leaves", "user0,user2", 0, 2)

	stores[2].dead.Store(true)
	crashed := time.Now()
	expect("a crashed node's member expires", "user0", 0)
	t.Logf("a crashed node's member disappeared after %v (TTL %v, bound 4/3 TTL)", time.Since(crashed).Round(10*time.Millisecond), ttl)
}

// testWipe: the store restarts empty while nodes run, some of them busy. Every node must
// end up on the same state as the store, each client on the same state at the same
// version, none having applied a patch of the new store to a state of the old one.
func testWipe(t *testing.T, nodes Nodes) {
	if nodes.Wipe == nil {
		t.Skip("this store cannot be restarted empty")
	}
	ctx := ctxFor(t)
	key := roomKey(t)
	ns := startNodes(t, nodes, key)
	cs := clientsOn(t, ns, 1)
	for i := range 5 {
		if err := ns[i%3].s.Update(func(r *Room) { r.Count++ }); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "converge before the restart", func() error { return converged(ctx, nodes.Backends[0], key, ns, cs) })
	nodes.Wipe()
	// Writers keep going on every node across the restart.
	var wg sync.WaitGroup
	for _, n := range ns {
		wg.Go(func() {
			for range 10 {
				_ = n.s.Update(func(r *Room) { r.Count++ })
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	waitUntil(t, "converge after the store restarted empty", func() error {
		// a quiet node notices the restart when its subscription comes back
		return converged(ctx, nodes.Backends[0], key, ns, cs)
	})
}

// testSessionClaimed: a session connected on one node that a client opens on another (the
// load balancer moved it while the first socket was still up) is let go by the first
// node: its connection gets _DISCONNECT and 4000, and it frees the session.
func testSessionClaimed(t *testing.T, nodes Nodes) {
	if len(nodes.Sessions) < 2 {
		t.Skip("no session stores")
	}
	ctx := ctxFor(t)
	url0, m0 := startViewManager(t, nodes.Sessions[0])
	url1, _ := startViewManager(t, nodes.Sessions[1])
	session := "tab-" + fmt.Sprint(time.Now().UnixNano())
	old := dial(t, url0, wssynctest.WithIdentity("alice", session))
	if _, err := wssynctest.WaitState(ctx, old, "VIEW", func(View) bool { return true }); err != nil {
		t.Fatal(err)
	}
	_, v, _ := old.State("VIEW")
	if err := old.Patch("VIEW", wssynctest.Replace("/filter", "on node0")); err != nil {
		t.Fatal(err)
	}
	if _, err := old.WaitVersion(ctx, "VIEW", v+1); err != nil { // the server took it
		t.Fatal(err)
	}

	moved := dial(t, url1, wssynctest.WithIdentity("alice", session))
	if _, err := wssynctest.WaitState(ctx, moved, "VIEW", func(v View) bool { return v.Filter == "on node0" }); err != nil {
		t.Fatalf("the session on node1: %v", err)
	}
	select {
	case <-old.Done():
	case <-ctx.Done():
		t.Fatal("node0 kept serving a session node1 took over")
	}
	var ce *websocket.CloseError
	if !errors.As(old.CloseError(), &ce) || ce.Code != wssync.CloseReplaced {
		t.Fatalf("node0's connection closed with %v, want %d", old.CloseError(), wssync.CloseReplaced)
	}
	if _, err := old.WaitFrame(ctx, func(f wssynctest.Frame) bool { return f.Type == proto.Disconnect }); err != nil {
		t.Fatalf("no _DISCONNECT before the close: %v", err)
	}
	waitUntil(t, "node0 to free the session", func() error {
		if st := m0.Stats(); st.SessionsMoved != 1 || m0.Stats().Sessions != 0 {
			return fmt.Errorf("node0 holds %d sessions, moved %d", m0.Stats().Sessions, st.SessionsMoved)
		}
		return nil
	})
	// The client is served on node1 as before.
	_, mv, _ := moved.State("VIEW")
	if err := moved.Patch("VIEW", wssynctest.Replace("/filter", "on node1")); err != nil {
		t.Fatal(err)
	}
	if _, err := moved.WaitVersion(ctx, "VIEW", mv+1); err != nil { // the server took it
		t.Fatal(err)
	}
}

// lostClaims is a SessionStore whose claims never reach the other nodes, as when pub/sub
// drops them.
type lostClaims struct{ wssync.SessionStore }

func (lostClaims) ClaimSession(context.Context, wssync.SessionClaim) error { return nil }

// serveShared serves s over a WebSocket on loopback, one fresh Session per connection
// joined to it, and returns the URL; s is unregistered and the server closed at cleanup.
func serveShared[T any](t *testing.T, s *wssync.Synced[T]) string {
	var wg sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1)
		defer wg.Done()
		sess := wssync.NewSession()
		defer sess.Close()
		if err := s.Join(sess); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		sess.ServeWS(w, r)
	}))
	t.Cleanup(func() {
		s.Unregister()
		srv.Close()
		wg.Wait()
	})
	return wstest.WSURL(srv.URL)
}
