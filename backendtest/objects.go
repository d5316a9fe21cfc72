package backendtest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/wssync/wssync"
)

// The suite's objects are JSON documents that start, before version 1, as {}; every
// patch it commits applies to the previous version with evanphx/json-patch.

// commitHistory commits versions 1 … n of key, from node v for version v, and returns
// the states and patches by version (states[0] is {}, patches[0] nil).
func commitHistory(t *testing.T, ctx context.Context, c Cluster, key string, n int) (states, patches [][]byte) {
	t.Helper()
	states = [][]byte{[]byte(`{}`)}
	patches = [][]byte{nil}
	for v := 1; v <= n; v++ {
		p := fmt.Appendf(nil, `[{"op":"replace","path":"/n","value":%d},{"op":"add","path":"/items/-","value":%d}]`, v, v)
		if v == 1 {
			p = []byte(`[{"op":"add","path":"/n","value":1},{"op":"add","path":"/items","value":[1]}]`)
		}
		state := apply(t, states[v-1], p)
		if err := nodeAt(c, v).Commit(ctx, key, uint64(v-1), state, p); err != nil {
			t.Fatalf("commit of version %d: %v", v, err)
		}
		states = append(states, state)
		patches = append(patches, p)
	}
	return states, patches
}

// checkSnapshot checks that snap, loaded with since, leads to the last of states: either
// the whole state, or the patches that turn states[since] into it.
func checkSnapshot(t *testing.T, what string, snap wssync.Snapshot, states [][]byte, since uint64) {
	t.Helper()
	v := uint64(len(states) - 1)
	if snap.Version != v {
		t.Errorf("%s: version %d, want %d", what, snap.Version, v)
		return
	}
	if snap.State != nil {
		if len(snap.Patches) > 0 {
			t.Errorf("%s: both State and %d Patches", what, len(snap.Patches))
		}
		if !jsonpatch.Equal(snap.State, states[v]) {
			t.Errorf("%s: state %s, want %s", what, snap.State, states[v])
		}
		return
	}
	if since == 0 || since > v {
		t.Errorf("%s: no State, and patches cannot lead from version %d to %d", what, since, v)
		return
	}
	if uint64(len(snap.Patches)) != v-since {
		t.Errorf("%s: %d patches from version %d to %d", what, len(snap.Patches), since, v)
		return
	}
	if got := apply(t, states[since], snap.Patches...); !jsonpatch.Equal(got, states[v]) {
		t.Errorf("%s: the patches lead to %s, want %s", what, got, states[v])
	}
}

func testLoadEmpty(t *testing.T, c Cluster) {
	ctx := testContext(t)
	k := keyFor(t, "never-committed")
	for i, n := range c.Nodes {
		for _, since := range []uint64{0, 3} {
			snap, err := n.Load(ctx, k, since)
			if err != nil {
				t.Fatalf("node %d: Load(since %d): %v", i, since, err)
			}
			if snap.Version != 0 || snap.State != nil || len(snap.Patches) != 0 {
				t.Errorf("node %d: Load(since %d) of a key never committed = %+v, want the zero Snapshot", i, since, snap)
			}
		}
	}
}

func testCommitLoad(t *testing.T, c Cluster) {
	ctx := testContext(t)
	k := keyFor(t, "doc")
	states, _ := commitHistory(t, ctx, c, k, 1)
	for i, n := range c.Nodes {
		snap, err := n.Load(ctx, k, 0)
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		checkSnapshot(t, fmt.Sprintf("node %d: Load(since 0)", i), snap, states, 0)
		if snap.State == nil {
			t.Errorf("node %d: Load(since 0) has no State", i)
		}
	}
}

func testConflict(t *testing.T, c Cluster) {
	ctx := testContext(t)
	k := keyFor(t, "doc")
	rec := newRecorder()
	rec.subscribe(t, c.Nodes[0], k)
	states, _ := commitHistory(t, ctx, c, k, 1)

	for _, base := range []uint64{0, 2, 7} {
		err := nodeAt(c, 1).Commit(ctx, k, base, []byte(`{"stale":true}`), []byte(`[{"op":"add","path":"/stale","value":true}]`))
		if !errors.Is(err, wssync.ErrVersionConflict) {
			t.Errorf("Commit with base %d at version 1: %v, want an error matching ErrVersionConflict", base, err)
		}
	}
	for i, n := range c.Nodes {
		snap, err := n.Load(ctx, k, 0)
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		checkSnapshot(t, fmt.Sprintf("node %d: after conflicts", i), snap, states, 0)
	}

	// The next commit from the right base works, and the refused ones published nothing.
	p := []byte(`[{"op":"replace","path":"/n","value":2}]`)
	if err := nodeAt(c, 2).Commit(ctx, k, 1, apply(t, states[1], p), p); err != nil {
		t.Fatalf("Commit with base 1: %v", err)
	}
	cs := rec.waitVersion(t, 2)
	if len(cs) != 2 || cs[0].Version != 1 || cs[1].Version != 2 {
		t.Errorf("subscriber got %s, want [1 2]", describe(cs))
	}
}

func testLoadSince(t *testing.T, c Cluster) {
	ctx := testContext(t)
	k := keyFor(t, "doc")
	const n = 10
	states, _ := commitHistory(t, ctx, c, k, n)
	for i, nd := range c.Nodes {
		for since := uint64(0); since <= n+2; since++ {
			snap, err := nd.Load(ctx, k, since)
			if err != nil {
				t.Fatalf("node %d: Load(since %d): %v", i, since, err)
			}
			checkSnapshot(t, fmt.Sprintf("node %d: Load(since %d)", i, since), snap, states, since)
		}
	}
}

func testLoadAfterLogOverflow(t *testing.T, c Cluster) {
	ctx := testContext(t)
	k := keyFor(t, "doc")
	n := 2*c.LogLength + 5
	states, _ := commitHistory(t, ctx, c, k, n)
	for _, since := range []int{1, 2, n - c.LogLength - 1, n - c.LogLength, n - c.LogLength + 1, n - 1, n} {
		snap, err := nodeAt(c, since).Load(ctx, k, uint64(since))
		if err != nil {
			t.Fatalf("Load(since %d): %v", since, err)
		}
		checkSnapshot(t, fmt.Sprintf("Load(since %d) after %d commits", since, n), snap, states, uint64(since))
	}
}
