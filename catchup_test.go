package wssync_test

import (
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wsmemory"
)

// During a rolling deploy two versions of a type share a key: a field the older nodes do
// not have keeps its value on the newer ones, and the older ones ignore it.
func TestBackendRollingDeploy(t *testing.T) {
	type v1 struct {
		A int `sync:"a"`
	}
	type v2 struct {
		A int    `sync:"a"`
		B string `sync:"b"`
	}
	m := wsmemory.New()
	older, err := wssync.NewShared("DEPLOY", &v1{A: 1}, wssync.WithBackend(m))
	if err != nil {
		t.Fatal(err)
	}
	defer older.Unregister()
	nv := &v2{B: "new"}
	newer, err := wssync.NewShared("DEPLOY", nv, wssync.WithBackend(m))
	if err != nil {
		t.Fatal(err)
	}
	defer newer.Unregister()
	newer.RLock()
	got := *nv
	newer.RUnlock()
	if got != (v2{A: 1, B: "new"}) {
		t.Fatalf("the newer node holds %+v, want the stored a and its own b", got)
	}
	if err := older.Update(func(v *v1) { v.A = 2 }); err != nil {
		t.Fatal(err)
	}
	if err := newer.Update(func(v *v2) { v.A++; v.B = "newer" }); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for older.Version() != newer.Version() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	state, _ := older.Published()
	if string(state) != `{"a":3}` {
		t.Fatalf("the older node publishes %s, want {\"a\":3}", state)
	}
	state, _ = newer.Published()
	if string(state) != `{"a":3,"b":"newer"}` {
		t.Fatalf("the newer node publishes %s", state)
	}
}

// Counter is the shared object of the catch-up tests.
type Counter struct {
	N int `sync:"n"`
}

// newCounterNode creates the shared Counter key on backend b, unregistered when the test
// ends.
func newCounterNode(t *testing.T, key string, b wssync.Backend) *wssync.Synced[Counter] {
	t.Helper()
	s, err := wssync.NewShared(key, &Counter{}, wssync.WithBackend(b))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Unregister)
	return s
}

// An Update that loses the race to another node (whose change it never received) catches
// up and runs its function again on the newer state, so both increments count.
func TestUpdateRunsAgainAfterLostRace(t *testing.T) {
	m := wsmemory.New()
	a := newCounterNode(t, "COUNTER", m)
	b := newCounterNode(t, "COUNTER", m)
	before := b.BackendStatus()
	m.LoseNext("COUNTER", 1) // b never hears of a's increment
	if err := a.Update(func(c *Counter) { c.N++ }); err != nil {
		t.Fatal(err)
	}
	runs := 0
	if err := b.Update(func(c *Counter) { runs++; c.N++ }); err != nil {
		t.Fatal(err)
	}
	if runs != 2 {
		t.Errorf("b's function ran %d times, want 2 (once more after the conflict)", runs)
	}
	if st := b.BackendStatus(); st.Conflicts != before.Conflicts+1 || st.Commits != before.Commits+1 {
		t.Errorf("b's status went from %+v to %+v, want 1 more conflict and commit", before, st)
	}
	state, _ := b.Published()
	if string(state) != `{"n":2}` {
		t.Errorf("b publishes %s, want both increments", state)
	}
}

// A node that missed a delivery notices the gap at the next one and catches up with the
// stored patches, not a reload: its clients get both patches, in order.
func TestGapIsCaughtUpWithPatches(t *testing.T) {
	m := wsmemory.New()
	a := newCounterNode(t, "GAP", m)
	b := newCounterNode(t, "GAP", m)
	sess := wssync.NewSession()
	if err := b.Join(sess); err != nil {
		t.Fatal(err)
	}
	c := dial(t, serve(t, sess))
	_, v0 := b.Published()
	waitType(t, c, "_SET:GAP")
	before := b.BackendStatus()
	m.LoseNext("GAP", 1)
	for range 2 {
		if err := a.Update(func(c *Counter) { c.N++ }); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.WaitVersion(ctxT(t), "GAP", v0+2); err != nil {
		t.Fatalf("b's client never reached version %d: %v", v0+2, err)
	}
	patches := 0
	for _, f := range c.Frames() {
		switch f.Type {
		case "_PATCH:GAP":
			patches++
		case "_SET:GAP":
			if f.V != nil && *f.V > v0 {
				t.Errorf("b's client got a _SET at version %d: the gap was reloaded, not patched", *f.V)
			}
		}
	}
	if patches != 2 {
		t.Errorf("b's client got %d patches, want 2", patches)
	}
	if st := b.BackendStatus(); st.Reloads != before.Reloads || st.Applied != before.Applied+2 {
		t.Errorf("b's status went from %+v to %+v, want 2 more applied and no reload", before, st)
	}
}
