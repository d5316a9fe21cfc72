package backendtest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/wssync/wssync/wssynctest"

	"github.com/wssync/wssync/internal/proto"
)

// logLength is the shortest log of patches per key a Backend may keep for resume to be
// tested against it (wsredis and wsmemory keep 64), and the length of the nodes' history.
const logLength = 64

// holdAndLeave connects a client to n, waits for its state at n's published version, and
// disconnects it, returning what it holds.
func holdAndLeave(t *testing.T, n *proc) wssynctest.Held {
	t.Helper()
	c := dial(t, n.url)
	if _, err := c.WaitVersion(ctxFor(t), n.s.Key(), n.s.Version()); err != nil {
		t.Fatalf("client of %s: %v", n.name, err)
	}
	h := c.Held()
	_ = c.Close()
	return h
}

// resumeOn reconnects a client that holds h to n and returns it with n's answer and the
// types of the frames before it.
func resumeOn(t *testing.T, n *proc, h wssynctest.Held) (*wssynctest.Client, wssynctest.Resumed, []string) {
	t.Helper()
	c := dial(t, n.url, wssynctest.WithResume(h))
	if _, err := c.WaitFrame(ctxFor(t), func(f wssynctest.Frame) bool { return f.Type == proto.Resumed }); err != nil {
		t.Fatalf("no %s from %s: %v", proto.Resumed, n.name, err)
	}
	r, _ := c.Resumed()
	var types []string
	for _, f := range c.Frames() {
		if f.Type == proto.Resumed {
			break
		}
		types = append(types, f.Type)
	}
	return c, r, types
}

func countType(types []string, typ string) int {
	n := 0
	for _, x := range types {
		if x == typ {
			n++
		}
	}
	return n
}

// testResumeOnAnyNode: a client that missed k changes made on one node resumes on the
// node it left, on another, and on a node started after it left (whose own history is
// empty, so the patches come from the store's log): exactly k patches while k fits in the
// log, a _SET beyond it, and the store's state in every case.
func testResumeOnAnyNode(t *testing.T, nodes Nodes) {
	for _, k := range []int{1, 30, logLength + 36} {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			ctx := ctxFor(t)
			key := roomKey(t)
			ns := startNodes(t, nodes, key)
			h := holdAndLeave(t, ns[0])
			for i := range k {
				if err := ns[1].s.Update(func(r *Room) { r.Count++; r.Items = append(r.Items, fmt.Sprint(i)) }); err != nil {
					t.Fatal(err)
				}
			}
			waitUntil(t, "the nodes converge", func() error { return converged(ctx, nodes.Backends[0], key, ns, nil) })
			// ns[2] restarts: its successor has no history, only the store's log.
			ns[2].s.Unregister()
			restarted := startNode(t, "node2, restarted", key, nodes.Backends[2])
			for _, n := range []*proc{ns[0], ns[1], restarted} {
				c, r, types := resumeOn(t, n, h)
				fits := k <= logLength
				if fits && (!slices.Equal(r.Patched, []string{key}) || countType(types, proto.Keyed(proto.Patch, key)) != k || countType(types, proto.Keyed(proto.Set, key)) != 0) {
					t.Fatalf("%s: %s %+v after %v; want %d patches", n.name, proto.Resumed, r, types, k)
				}
				if !fits && (!slices.Equal(r.Set, []string{key}) || countType(types, proto.Keyed(proto.Patch, key)) != 0) {
					t.Fatalf("%s: %s %+v after %v; want a _SET", n.name, proto.Resumed, r, types)
				}
				waitUntil(t, "the resumed client converges", func() error {
					return converged(ctx, nodes.Backends[0], key, []*proc{ns[0], ns[1], restarted}, []*wssynctest.Client{c})
				})
				_ = c.Close()
			}
		})
	}
}

// testResumeAfterWipe: a store restarted empty starts every key's history again (a new
// epoch), so a client that held a version from before gets a _SET, never a patch, even
// when the new incarnation has as many versions after its own as the client missed.
func testResumeAfterWipe(t *testing.T, nodes Nodes) {
	if nodes.Wipe == nil {
		t.Skip("this store cannot be restarted empty")
	}
	ctx := ctxFor(t)
	key := roomKey(t)
	ns := startNodes(t, nodes, key)
	cs := clientsOn(t, ns, 1)
	for range 3 {
		if err := ns[0].s.Update(func(r *Room) { r.Count++ }); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "converge before the restart", func() error { return converged(ctx, nodes.Backends[0], key, ns, cs) })
	h := holdAndLeave(t, ns[1])
	nodes.Wipe()
	for range 3 {
		_ = ns[2].s.Update(func(r *Room) { r.Count += 10 })
	}
	waitUntil(t, "converge after the store restarted empty", func() error { return converged(ctx, nodes.Backends[0], key, ns, cs) })
	for _, n := range ns {
		c, r, types := resumeOn(t, n, h)
		if !slices.Equal(r.Set, []string{key}) || countType(types, proto.Keyed(proto.Patch, key)) != 0 {
			t.Fatalf("%s: %s %+v after %v; want a _SET", n.name, proto.Resumed, r, types)
		}
		waitUntil(t, "the resumed client converges", func() error {
			return converged(ctx, nodes.Backends[0], key, ns, []*wssynctest.Client{c})
		})
		_ = c.Close()
	}
}

// testResumeAcrossOutage: what a node publishes while the store is unreachable is its own
// (the store hands out the same version numbers for other states), so its clients get a
// _SET of a new epoch when the outage begins, and a client that held such a version gets
// a _SET afterwards on any node; a client that held a version from before the outage
// resumes with patches from the store's log.
func testResumeAcrossOutage(t *testing.T, nodes Nodes) {
	if nodes.Stop == nil || nodes.Start == nil {
		t.Skip("this store cannot be stopped")
	}
	ctx := ctxFor(t)
	key := roomKey(t)
	ns := startNodes(t, nodes, key)
	if err := ns[0].s.Update(func(r *Room) { r.Count = 1 }); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "converge before the outage", func() error { return converged(ctx, nodes.Backends[0], key, ns, nil) })
	before := holdAndLeave(t, ns[1])
	c := dial(t, ns[0].url)
	if _, err := c.WaitVersion(ctx, key, ns[0].s.Version()); err != nil {
		t.Fatal(err)
	}
	epoch := c.Held()[key].Epoch

	nodes.Stop()
	if err := ns[0].s.Update(func(r *Room) { r.Title = "node0, offline" }); err != nil {
		t.Fatal(err)
	}
	if _, err := wssynctest.WaitState(ctx, c, key, func(r Room) bool { return r.Title != "" }); err != nil {
		t.Fatal(err)
	}
	forked := c.Held()
	if forked[key].Epoch == epoch {
		t.Fatalf("a version published offline kept the store's epoch %q", epoch)
	}
	_ = c.Close()
	nodes.Start()
	if err := ns[1].s.Update(func(r *Room) { r.Count = 2 }); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "converge after the outage", func() error { return converged(ctx, nodes.Backends[0], key, ns, nil) })

	for _, n := range ns {
		c, r, types := resumeOn(t, n, forked)
		if !slices.Equal(r.Set, []string{key}) || countType(types, proto.Keyed(proto.Patch, key)) != 0 {
			t.Fatalf("%s: %s %+v after %v; want a _SET for a version published offline", n.name, proto.Resumed, r, types)
		}
		waitUntil(t, "the client of the offline version converges", func() error {
			return converged(ctx, nodes.Backends[0], key, ns, []*wssynctest.Client{c})
		})
		_ = c.Close()
		c, _, _ = resumeOn(t, n, before)
		waitUntil(t, "the client of the version before the outage converges", func() error {
			return converged(ctx, nodes.Backends[0], key, ns, []*wssynctest.Client{c})
		})
		_ = c.Close()
	}
}
