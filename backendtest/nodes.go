package backendtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wssynctest"
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
	// LoseNext silently drops the deliveries of key's next n commits. Nil skips the test.
	LoseNext func(key string, n int)
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
// deliveries and interruptions, and keep serving through an outage of the store.
func RunNodes(t *testing.T, newNodes func(t *testing.T) Nodes) {
	t.Run("ChangeReachesEveryNode", func(t *testing.T) { testChangeReachesEveryNode(t, newNodes(t)) })
	t.Run("ConcurrentWritersConverge", func(t *testing.T) { testConcurrentWriters(t, newNodes(t)) })
	t.Run("LateJoinerGetsLatest", func(t *testing.T) { testLateJoiner(t, newNodes(t)) })
	t.Run("LostDeliveryDetectedByVersion", func(t *testing.T) { testLostDelivery(t, newNodes(t)) })
	t.Run("InterruptedSubscription", func(t *testing.T) { testInterrupted(t, newNodes(t)) })
	t.Run("StoreOutage", func(t *testing.T) { testOutage(t, newNodes(t)) })
}

// node is one simulated process: the shared Room and a WebSocket endpoint whose every
// connection is a session joined to it.
type node struct {
	name string
	room *Room
	s    *wssync.Synced[Room]
	url  string
}

func startNode(t *testing.T, name, key string, b wssync.Backend) *node {
	t.Helper()
	n := &node{name: name, room: &Room{Items: []string{}}}
	s, err := wssync.NewShared(key, n.room, wssync.WithBackend(b))
	if err != nil {
		t.Fatalf("%s: NewShared: %v", name, err)
	}
	n.s = s
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
	n.url = "ws" + strings.TrimPrefix(srv.URL, "http")
	t.Cleanup(func() {
		s.Unregister()
		srv.Close()
		wg.Wait()
	})
	return n
}

func startNodes(t *testing.T, nodes Nodes, key string) []*node {
	t.Helper()
	if len(nodes.Backends) < 3 {
		t.Fatalf("RunNodes needs three backends, got %d", len(nodes.Backends))
	}
	out := make([]*node, 3)
	for i := range out {
		out[i] = startNode(t, fmt.Sprintf("node%d", i), key, nodes.Backends[i])
	}
	return out
}

func dial(t *testing.T, url string) *wssynctest.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := wssynctest.Dial(ctx, url)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// clientsOn dials per clients to every node.
func clientsOn(t *testing.T, ns []*node, per int) []*wssynctest.Client {
	var cs []*wssynctest.Client
	for _, n := range ns {
		for range per {
			cs = append(cs, dial(t, n.url))
		}
	}
	return cs
}

// eventually polls cond until it returns nil, failing the test with its last error after
// a generous bound.
func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// converged checks that the store, every node and every client hold the same state at
// the same version, and that no client saw a frame out of order.
func converged(ctx context.Context, b wssync.Backend, key string, ns []*node, cs []*wssynctest.Client) error {
	snap, err := b.Load(ctx, key, 0)
	if err != nil {
		return fmt.Errorf("load: %v", err)
	}
	want, err := decode(snap.State)
	if err != nil {
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
		var stored Room
		if err := json.Unmarshal(snap.State, &stored); err != nil {
			return fmt.Errorf("store state: %v", err)
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

func uniqueKey(t *testing.T) string {
	return "ROOM/" + t.Name() + "/" + fmt.Sprint(time.Now().UnixNano())
}

func testChangeReachesEveryNode(t *testing.T, nodes Nodes) {
	ctx := ctxFor(t)
	key := uniqueKey(t)
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
	eventually(t, "converge", func() error { return converged(ctx, nodes.Backends[0], key, ns, cs) })
	// a client write on another node travels the same way
	if err := cs[5].Patch(key, wssynctest.Replace("/title", "from a client of node2")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "converge after a client write", func() error {
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
	key := uniqueKey(t)
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
	eventually(t, "converge", func() error {
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
	key := uniqueKey(t)
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
	eventually(t, "converge", func() error {
		return converged(ctx, nodes.Backends[0], key, []*node{first, late}, []*wssynctest.Client{c})
	})
}

func testLostDelivery(t *testing.T, nodes Nodes) {
	if nodes.LoseNext == nil {
		t.Skip("this store cannot drop deliveries on demand")
	}
	ctx := ctxFor(t)
	key := uniqueKey(t)
	ns := startNodes(t, nodes, key)
	cs := clientsOn(t, ns, 1)
	eventually(t, "clients ready", func() error { return converged(ctx, nodes.Backends[0], key, ns, cs) })
	nodes.LoseNext(key, 2)
	for i := range 3 {
		if err := ns[0].s.Update(func(r *Room) { r.Count = 100 + i }); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "converge after lost deliveries", func() error { return converged(ctx, nodes.Backends[0], key, ns, cs) })
	for _, n := range ns[1:] {
		if st := n.s.BackendStatus(); st.Applied < 3 {
			t.Errorf("%s applied %d patches; the two lost ones should have been fetched from the store", n.name, st.Applied)
		}
	}
}

func testInterrupted(t *testing.T, nodes Nodes) {
	ctx := ctxFor(t)
	key := uniqueKey(t)
	ns := startNodes(t, nodes, key)
	cs := clientsOn(t, ns, 1)
	eventually(t, "clients ready", func() error { return converged(ctx, nodes.Backends[0], key, ns, cs) })
	nodes.Interrupt()
	for i := range 10 {
		if err := ns[i%3].s.Update(func(r *Room) { r.Count++ }); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "converge after an interruption", func() error {
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
	key := uniqueKey(t)
	ns := startNodes(t, nodes, key)
	cs := clientsOn(t, ns, 1)
	if err := ns[0].s.Update(func(r *Room) { r.Count = 1 }); err != nil {
		t.Fatal(err)
	}
	eventually(t, "converge before the outage", func() error { return converged(ctx, nodes.Backends[0], key, ns, cs) })

	nodes.Stop()
	// Every node keeps serving its own clients.
	if err := ns[0].s.Update(func(r *Room) { r.Title = "set on node0 during the outage" }); err != nil {
		t.Fatalf("Update during the outage: %v", err)
	}
	if _, err := wssynctest.WaitState(ctx, cs[0], key, func(r Room) bool { return r.Title != "" }); err != nil {
		t.Fatalf("node0's client during the outage: %v", err)
	}
	if err := cs[1].Patch(key, wssynctest.Op{Op: "add", Path: "/items/-", Value: "added on node1 during the outage"}); err != nil {
		t.Fatal(err)
	}
	if _, err := wssynctest.WaitState(ctx, cs[1], key, func(r Room) bool { return len(r.Items) == 1 }); err != nil {
		t.Fatalf("node1's client during the outage: %v", err)
	}
	if st := ns[0].s.BackendStatus(); !st.Offline {
		t.Errorf("node0 does not report the outage: %+v", st)
	}

	nodes.Start()
	eventually(t, "converge after the outage", func() error {
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
