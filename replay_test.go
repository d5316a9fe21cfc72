package wssync_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wsmemory"
	"github.com/wssync/wssync/wssynctest"
)

// Wall is the shared object of the fault tests: a list and a title clients write.
type Wall struct {
	Items []string `sync:"items,write"`
	Title string   `sync:"title,write"`
}

// heldBackend is a Backend whose every call fails while held is set: a node that cannot
// reach the store while the others can (a partition), so a test decides which node comes
// back first.
type heldBackend struct {
	wssync.Backend
	held atomic.Bool
}

var errHeld = errors.New("partitioned from the store")

func (h *heldBackend) Load(ctx context.Context, key string, since uint64) (wssync.Snapshot, error) {
	if h.held.Load() {
		return wssync.Snapshot{}, errHeld
	}
	return h.Backend.Load(ctx, key, since)
}

func (h *heldBackend) Commit(ctx context.Context, key string, p wssync.Proposal) error {
	if h.held.Load() {
		return errHeld
	}
	return h.Backend.Commit(ctx, key, p)
}

func (h *heldBackend) Outcome(ctx context.Context, key, id string, base uint64) (uint64, error) {
	if h.held.Load() {
		return 0, errHeld
	}
	return h.Backend.Outcome(ctx, key, id, base)
}

// wallNode is a node holding the shared Wall, with one WebSocket client.
type wallNode struct {
	s    *wssync.Synced[Wall]
	sess *wssync.Session
	c    *wssynctest.Client
}

func startWallNode(t *testing.T, key string, b wssync.Backend) *wallNode {
	t.Helper()
	s, err := wssync.NewShared(key, &Wall{Items: []string{}}, wssync.WithBackend(b))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Unregister)
	sess := wssync.NewSession()
	if err := s.Join(sess); err != nil {
		t.Fatal(err)
	}
	n := &wallNode{s: s, sess: sess, c: dial(t, serve(t, sess))}
	waitType(t, n.c, "_SET:"+key)
	return n
}

// published decodes the node's published Wall.
func (n *wallNode) published(t *testing.T) Wall {
	t.Helper()
	state, _ := n.s.Published()
	var b Wall
	if err := json.Unmarshal(state, &b); err != nil {
		t.Fatal(err)
	}
	return b
}

// wallsConverged reports whether every node is online, at the store's version, and holds
// the store's state, and so does its client.
func wallsConverged(t *testing.T, m wssync.Backend, key string, ns ...*wallNode) bool {
	snap, err := m.Load(context.Background(), key, 0)
	if err != nil {
		return false
	}
	for _, n := range ns {
		state, v := n.s.Published()
		if n.s.BackendStatus().Offline || v != snap.Version || !jsonEqual(state, snap.State) {
			return false
		}
		cs, cv, ok := n.c.State(key)
		if !ok || cv != v || !jsonEqual(cs, state) {
			return false
		}
	}
	return true
}

// TestCommitsLostWithTheStoreAreMadeAgain: node A's append is committed (and
// acknowledged), but node B never got it before the store lost its data; B seeds the
// store again from its own state. When A comes back it finds the key started again from
// a version older than its commit (Snapshot.Origin), and makes its commit again, so the
// append survives, once.
func TestCommitsLostWithTheStoreAreMadeAgain(t *testing.T) {
	t.Parallel()
	m := wsmemory.New()
	key := "WALL/" + t.Name()
	ha := &heldBackend{Backend: m}
	a := startWallNode(t, key, ha)
	b := startWallNode(t, key, m)
	if err := b.s.Update(func(v *Wall) { v.Items = append(v.Items, "from b") }); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return wallsConverged(t, m, key, a, b) })

	m.LoseNext(key, 1) // B never hears of A's next commit
	if err := a.c.Patch(key, wssynctest.Op{Op: "add", Path: "/items/-", Value: "from a"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return len(a.published(t).Items) == 2 && a.s.BackendStatus().Commits > 0 })
	ha.held.Store(true)
	m.Wipe() // B reloads, finds nothing, and seeds the store with what it has
	waitUntil(t, func() bool {
		snap, err := m.Load(context.Background(), key, 0)
		return err == nil && snap.Version > 0 && !b.s.BackendStatus().Offline
	})
	ha.held.Store(false)
	m.Interrupt() // A's subscription notices
	waitUntil(t, func() bool { return wallsConverged(t, m, key, a, b) })
	got := b.published(t).Items
	slices.Sort(got)
	if !slices.Equal(got, []string{"from a", "from b"}) {
		t.Fatalf("items %q after the store lost its data; want both appends once", got)
	}
	if st := a.s.BackendStatus(); st.Replayed == 0 || st.Lost != 0 {
		t.Errorf("node A: %+v; want its commit made again, nothing lost", st)
	}
}

// TestConflictingOfflineWriteIsReported: while the store is down, clients of two nodes
// write the same scalar, and one of them replaces the whole list the other appended to. The node that comes back first keeps its write; the other finds
// that the value it replaced was changed meanwhile, so its write cannot be kept: it counts
// it (BackendStatus.Lost, the session's ErrorsByCode), and its writer gets a write_lost
// `_ERROR` and the store's state. Appends made meanwhile on both nodes (writes of their
// own: a write is kept or lost whole) are all kept.
func TestConflictingOfflineWriteIsReported(t *testing.T) {
	t.Parallel()
	m := wsmemory.New()
	key := "WALL/" + t.Name()
	hb := &heldBackend{Backend: m}
	a := startWallNode(t, key, m)
	b := startWallNode(t, key, hb)
	waitUntil(t, func() bool { return wallsConverged(t, m, key, a, b) })

	m.SetUnavailable(true)
	hb.held.Store(true)
	for _, w := range []struct {
		n     *wallNode
		title string
	}{{a, "A"}, {b, "B"}} {
		if err := w.n.c.Patch(key, wssynctest.Op{Op: "add", Path: "/items/-", Value: "by " + w.title}); err != nil {
			t.Fatal(err)
		}
		if err := w.n.c.Patch(key, wssynctest.Replace("/title", w.title)); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, func() bool { return w.n.published(t).Title == w.title })
	}
	// A whole-list write on B: it replaces what A's append changed, so it cannot be kept.
	if err := b.c.Patch(key, wssynctest.Replace("/items", []string{"only B"})); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return slices.Equal(b.published(t).Items, []string{"only B"}) })
	m.SetUnavailable(false)
	waitUntil(t, func() bool { return wallsConverged(t, m, key, a) && a.published(t).Title == "A" })
	hb.held.Store(false)
	waitUntil(t, func() bool { return wallsConverged(t, m, key, a, b) })

	final := b.published(t)
	items := slices.Clone(final.Items)
	slices.Sort(items)
	if final.Title != "A" || !slices.Equal(items, []string{"by A", "by B"}) {
		t.Errorf("final %+v; want title A (committed first) and both appends", final)
	}
	if st := b.s.BackendStatus(); st.Lost != 2 {
		t.Errorf("node B: %+v; want two lost writes", st)
	}
	if n := b.sess.Stats().ErrorsByCode[wssync.CodeWriteLost]; n != 2 {
		t.Errorf("B's session counted %d write_lost, want 2", n)
	}
	if st := a.s.BackendStatus(); st.Lost != 0 {
		t.Errorf("node A: %+v; want nothing lost", st)
	}
	for range 2 {
		f := waitType(t, b.c, "_ERROR")
		if e := errorOf(t, f); e.Code != wssync.CodeWriteLost {
			t.Errorf("B's writer got %+v, want code %s", e, wssync.CodeWriteLost)
		}
	}
	for _, f := range a.c.Frames() {
		if f.Type == "_ERROR" {
			t.Errorf("A's writer got an error: %s", f.Data)
		}
	}
}

// racedBackend lets another node win the race of the next refuse commits: before each, it
// commits a change of that other node to the title (so the commit conflicts). remote,
// when set, is committed before the next commit instead, as a change of another node.
type racedBackend struct {
	wssync.Backend
	refuse atomic.Int32
	remote atomic.Pointer[wssync.Proposal]
}

func (r *racedBackend) Commit(ctx context.Context, key string, p wssync.Proposal) error {
	q := r.remote.Swap(nil)
	if n := r.refuse.Add(-1); n >= 0 && q == nil {
		snap, err := r.Backend.Load(ctx, key, 0)
		if err != nil {
			return err
		}
		var w Wall
		if err := json.Unmarshal(snap.State, &w); err != nil {
			return err
		}
		w.Title = fmt.Sprint("won ", n)
		state, _ := json.Marshal(w)
		q = &wssync.Proposal{
			State: state,
			Patch: fmt.Appendf(nil, `[{"op":"replace","path":"/title","value":%q}]`, w.Title),
			ID:    fmt.Sprint("other node ", n),
		}
	}
	if q != nil {
		q.Base = p.Base
		if err := r.Backend.Commit(ctx, key, *q); err != nil {
			return err
		}
	}
	return r.Backend.Commit(ctx, key, p)
}

// TestReplayThatLosesEveryRaceIsKept: an Update acknowledged while the store was
// unreachable is made again on reconnect; its commit then loses more races in a row to
// another node than one publish attempts. The edit is not dropped: it is tried again until it lands, once,
// and nothing is counted lost.
func TestReplayThatLosesEveryRaceIsKept(t *testing.T) {
	t.Parallel()
	m := wsmemory.New()
	key := "WALL/" + t.Name()
	rb := &racedBackend{Backend: m}
	hb := &heldBackend{Backend: rb}
	a := startWallNode(t, key, hb)
	hb.held.Store(true)
	if err := a.s.Update(func(v *Wall) { v.Items = append(v.Items, "offline") }); err != nil {
		t.Fatal(err)
	}
	if !a.s.BackendStatus().Offline {
		t.Fatal("the node did not go offline")
	}
	rb.refuse.Store(40) // more than the 32 attempts of one publish
	hb.held.Store(false)
	m.Interrupt() // the node retries at once
	waitUntil(t, func() bool { return wallsConverged(t, m, key, a) && rb.refuse.Load() < 0 })
	if got := a.published(t).Items; !slices.Equal(got, []string{"offline"}) {
		t.Fatalf("items %q; want the acknowledged append once", got)
	}
	if st := a.s.BackendStatus(); st.Lost != 0 || st.Replayed != 1 {
		t.Errorf("%+v; want the edit made again once, nothing lost", st)
	}
}

// TestClientWriteMadeAgainAfterConflict: a client's append loses the race to another
// node's change that replaces the whole list (a valid patch). The append is made again
// from the client's ops on the newer list, not wiped by that patch.
func TestClientWriteMadeAgainAfterConflict(t *testing.T) {
	t.Parallel()
	m := wsmemory.New()
	key := "WALL/" + t.Name()
	rb := &racedBackend{Backend: m}
	a := startWallNode(t, key, rb)
	rb.remote.Store(&wssync.Proposal{
		State: []byte(`{"items":["x","y"],"title":""}`),
		Patch: []byte(`[{"op":"replace","path":"/items","value":["x","y"]}]`),
		ID:    "remote",
	})
	if err := a.c.Patch(key, wssynctest.Op{Op: "add", Path: "/items/-", Value: "w"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return wallsConverged(t, m, key, a) && len(a.published(t).Items) > 0 })
	if got := a.published(t).Items; !slices.Equal(got, []string{"x", "y", "w"}) {
		t.Fatalf("items %q; want the other node's list and the client's append", got)
	}
	if err := a.c.Errs(); err != nil {
		t.Fatal(err)
	}
}
