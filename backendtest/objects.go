package backendtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
)

// The suite's objects are JSON documents that start, before their first version, as {};
// every patch it commits applies to the previous version with evanphx/json-patch.
//
// The version of a key's first commit is the backend's choice (1 for wsmemory; a
// backend that can lose its data picks one above every version it handed out before): the
// suite learns it with a Load after that commit, and expects first, first+1, … after it.

// history is what the suite committed to a key: the i-th commit (from 1) made version
// first+i-1, with state states[i] and patch patches[i]; states[0] is {}, patches[0] nil.
type history struct {
	key     string
	first   uint64 // 0 until the first commit
	states  [][]byte
	patches [][]byte
}

func newHistory(key string) *history {
	return &history{key: key, states: [][]byte{[]byte(`{}`)}, patches: [][]byte{nil}}
}

// version returns the version of the i-th commit, 0 for i = 0.
func (h *history) version(i int) uint64 {
	if i == 0 {
		return 0
	}
	return h.first + uint64(i) - 1
}

// commits returns how many commits h holds.
func (h *history) commits() int { return len(h.states) - 1 }

// last returns the current version (0 before the first commit).
func (h *history) last() uint64 { return h.version(h.commits()) }

// state returns the current state.
func (h *history) state() []byte { return h.states[h.commits()] }

// index returns i such that version(i) = v, or -1 when v is no version of h.
func (h *history) index(v uint64) int {
	if v == 0 {
		return 0
	}
	if v < h.first || v > h.last() {
		return -1
	}
	return int(v-h.first) + 1
}

// commit commits patch p to the current state from node n, with the current version as
// base. After the first commit it loads the key from n to learn the version the backend
// chose, which must be above 0.
func (h *history) commit(t *testing.T, ctx context.Context, n Node, p []byte) {
	t.Helper()
	base := h.last()
	state := apply(t, h.state(), p)
	if err := n.Commit(ctx, h.key, wssync.Proposal{Base: base, State: state, Patch: p, ID: newID()}); err != nil {
		t.Fatalf("commit %d (base %d): %v", h.commits()+1, base, err)
	}
	h.states = append(h.states, state)
	h.patches = append(h.patches, p)
	if base != 0 {
		return
	}
	snap, err := n.Load(ctx, h.key, 0)
	if err != nil {
		t.Fatalf("Load after the first commit: %v", err)
	}
	if snap.Version == 0 || !jsonpatch.Equal(snap.State, state) {
		t.Fatalf("Load(since 0) after the first commit: version %d, state %s; want a version above 0 and %s", snap.Version, snap.State, state)
	}
	h.first = snap.Version
}

// commitHistory makes n commits to key, the i-th from node i, and returns them.
func commitHistory(t *testing.T, ctx context.Context, c Cluster, key string, n int) *history {
	t.Helper()
	h := newHistory(key)
	for i := 1; i <= n; i++ {
		p := fmt.Appendf(nil, `[{"op":"replace","path":"/n","value":%d},{"op":"add","path":"/items/-","value":%d}]`, i, i)
		if i == 1 {
			p = []byte(`[{"op":"add","path":"/n","value":1},{"op":"add","path":"/items","value":[1]}]`)
		}
		h.commit(t, ctx, nodeAt(c, i), p)
	}
	return h
}

// checkSnapshot checks that snap, loaded with since, leads to the current state of h:
// either the whole state, or the patches that turn the state at version since into it.
// Patches are wrong when since is 0 or no version of h.
func checkSnapshot(t *testing.T, what string, snap wssync.Snapshot, h *history, since uint64) {
	t.Helper()
	v := h.last()
	if snap.Version != v {
		t.Errorf("%s: version %d, want %d", what, snap.Version, v)
		return
	}
	if snap.State != nil {
		if len(snap.Patches) > 0 {
			t.Errorf("%s: both State and %d Patches", what, len(snap.Patches))
		}
		if !jsonpatch.Equal(snap.State, h.state()) {
			t.Errorf("%s: state %s, want %s", what, snap.State, h.state())
		}
		return
	}
	i := h.index(since)
	if since == 0 || i < 0 {
		t.Errorf("%s: no State, and patches cannot lead from version %d (versions are %d … %d) to %d", what, since, h.first, v, v)
		return
	}
	if want := h.commits() - i; len(snap.Patches) != want {
		t.Errorf("%s: %d patches from version %d to %d, want %d", what, len(snap.Patches), since, v, want)
		return
	}
	if got := apply(t, h.states[i], snap.Patches...); !jsonpatch.Equal(got, h.state()) {
		t.Errorf("%s: the patches lead to %s, want %s", what, got, h.state())
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
	h := commitHistory(t, ctx, c, k, 1)
	for i, n := range c.Nodes {
		snap, err := n.Load(ctx, k, 0)
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		checkSnapshot(t, fmt.Sprintf("node %d: Load(since 0)", i), snap, h, 0)
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
	h := commitHistory(t, ctx, c, k, 1)

	bases := []uint64{0, h.first + 1, h.first + 6}
	if h.first > 1 {
		bases = append(bases, 1, h.first-1)
	}
	for _, base := range bases {
		err := nodeAt(c, 1).Commit(ctx, k, stale(base))
		if !errors.Is(err, wssync.ErrVersionConflict) {
			t.Errorf("Commit with base %d at version %d: %v, want an error matching ErrVersionConflict", base, h.first, err)
		}
	}
	for i, n := range c.Nodes {
		snap, err := n.Load(ctx, k, 0)
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		checkSnapshot(t, fmt.Sprintf("node %d: after conflicts", i), snap, h, 0)
	}

	// The next commit from the right base works, and the refused ones published nothing.
	h.commit(t, ctx, nodeAt(c, 2), []byte(`[{"op":"replace","path":"/n","value":2}]`))
	cs := rec.waitVersion(t, h.last())
	if len(cs) != 2 || cs[0].Version != h.first || cs[1].Version != h.first+1 {
		t.Errorf("subscriber got %s, want [%d %d]", describe(cs), h.first, h.first+1)
	}
}

func testLoadSince(t *testing.T, c Cluster) {
	ctx := testContext(t)
	k := keyFor(t, "doc")
	const n = 10
	h := commitHistory(t, ctx, c, k, n)
	// Every version, the ones around them, and small ones (which are no versions when the
	// backend started above them).
	sinces := []uint64{0, 1, 2, 3}
	for v := max(h.first, 2) - 2; v <= h.last()+2; v++ {
		sinces = append(sinces, v)
	}
	for i, nd := range c.Nodes {
		for _, since := range sinces {
			snap, err := nd.Load(ctx, k, since)
			if err != nil {
				t.Fatalf("node %d: Load(since %d): %v", i, since, err)
			}
			checkSnapshot(t, fmt.Sprintf("node %d: Load(since %d)", i, since), snap, h, since)
		}
	}
}

func testLoadAfterLogOverflow(t *testing.T, c Cluster) {
	ctx := testContext(t)
	k := keyFor(t, "doc")
	n := 2*c.LogLength + 5
	h := commitHistory(t, ctx, c, k, n)
	for _, i := range []int{1, 2, n - c.LogLength - 1, n - c.LogLength, n - c.LogLength + 1, n - 1, n} {
		since := h.version(i)
		snap, err := nodeAt(c, i).Load(ctx, k, since)
		if err != nil {
			t.Fatalf("Load(since %d): %v", since, err)
		}
		checkSnapshot(t, fmt.Sprintf("Load(since %d, commit %d) after %d commits", since, i, n), snap, h, since)
	}
}

// testRestartEmpty: the store loses its data (a Redis without persistence restarts) while
// every node holds versions of a key. The nodes' subscribers get Lost; the key, created
// again, gets versions above all of its earlier ones, so that a node loading since an old
// version gets the whole state, never patches of the new key, and a commit based on an old
// version is a conflict.
func testRestartEmpty(t *testing.T, c Cluster) {
	if c.Wipe == nil {
		t.Skip("the cluster cannot restart its store empty")
	}
	ctx := testContext(t)
	k := keyFor(t, "doc")
	var recs []*recorder
	for _, n := range c.Nodes {
		r := newRecorder()
		r.subscribe(t, n, k)
		recs = append(recs, r)
	}
	old := commitHistory(t, ctx, c, k, 5)
	var seen []int // how many changes each subscriber had before the restart
	for _, r := range recs {
		seen = append(seen, len(r.waitVersion(t, old.last())))
	}

	c.Wipe()
	for i, r := range recs {
		r.waitFor(t, fmt.Sprintf("Lost on node %d after the restart", i), func(cs []wssync.Change) bool {
			for _, ch := range cs[seen[i]:] {
				if ch.Lost {
					return true
				}
			}
			return false
		})
	}
	for i, n := range c.Nodes {
		wstest.EventuallyNil(t, waitTimeout, fmt.Sprintf("node %d: Load after the restart", i), func() error {
			snap, err := n.Load(ctx, k, old.last())
			if err != nil {
				return err
			}
			if snap.Version != 0 || snap.State != nil || len(snap.Patches) != 0 {
				t.Fatalf("node %d: Load(since %d) after the store restarted empty = %+v, want the zero Snapshot", i, old.last(), snap)
			}
			return nil
		})
	}

	h := newHistory(k)
	for i := 1; i <= 4; i++ {
		h.commit(t, ctx, nodeAt(c, i), fmt.Appendf(nil, `[{"op":"add","path":"/again%d","value":%d}]`, i, i))
	}
	t.Logf("versions %d … %d before the restart, %d … %d after", old.first, old.last(), h.first, h.last())
	if h.first <= old.last() {
		t.Fatalf("after the restart the key was created again at version %d, not above %d, its last version before", h.first, old.last())
	}
	for i, n := range c.Nodes {
		for j := 0; j <= old.commits(); j++ {
			since := old.version(j)
			snap, err := n.Load(ctx, k, since)
			if err != nil {
				t.Fatalf("node %d: Load(since %d): %v", i, since, err)
			}
			checkSnapshot(t, fmt.Sprintf("node %d: Load(since %d, a version before the restart)", i, since), snap, h, since)
		}
		for j := 1; j <= h.commits(); j++ {
			since := h.version(j)
			snap, err := n.Load(ctx, k, since)
			if err != nil {
				t.Fatalf("node %d: Load(since %d): %v", i, since, err)
			}
			checkSnapshot(t, fmt.Sprintf("node %d: Load(since %d)", i, since), snap, h, since)
		}
	}
	for j := 1; j <= old.commits(); j++ {
		err := nodeAt(c, j).Commit(ctx, k, stale(old.version(j)))
		if !errors.Is(err, wssync.ErrVersionConflict) {
			t.Errorf("Commit with base %d, a version before the restart: %v, want an error matching ErrVersionConflict", old.version(j), err)
		}
	}

	// After the restart, every subscriber gets versions of the new key only, in order.
	for i, r := range recs {
		cs := r.waitVersion(t, h.last())
		last := uint64(0)
		for _, ch := range cs[seen[i]:] {
			if ch.Lost {
				continue
			}
			j := h.index(ch.Version)
			if j < 1 || ch.Version <= last || !bytes.Equal(ch.Patch, h.patches[j]) {
				t.Errorf("node %d: after the restart got %s (version %d, patch %s), want versions %d … %d in order", i, describe(cs[seen[i]:]), ch.Version, ch.Patch, h.first, h.last())
				break
			}
			last = ch.Version
		}
	}
}

// stale is a proposal from version base that the suite expects to be refused.
func stale(base uint64) wssync.Proposal {
	return wssync.Proposal{Base: base, State: []byte(`{"stale":true}`),
		Patch: []byte(`[{"op":"add","path":"/stale","value":true}]`), ID: newID()}
}

// newID returns a commit ID unique to the process.
func newID() string { return "backendtest-" + strconv.FormatUint(ids.Add(1), 10) }

var ids atomic.Uint64

// testIdempotentCommit: a commit sent again with its ID (a node that timed out waiting for
// the answer, from any node) changes nothing, publishes nothing, and returns nil; Outcome
// finds the version it made.
func testIdempotentCommit(t *testing.T, c Cluster) {
	ctx := testContext(t)
	k := keyFor(t, "doc")
	rec := newRecorder()
	rec.subscribe(t, c.Nodes[0], k)
	h := commitHistory(t, ctx, c, k, 2)
	base := h.last()
	p := []byte(`[{"op":"add","path":"/items/-","value":"once"}]`)
	prop := wssync.Proposal{Base: base, State: apply(t, h.state(), p), Patch: p, ID: newID()}
	for i := range 3 {
		if err := nodeAt(c, i).Commit(ctx, k, prop); err != nil {
			t.Fatalf("Commit %d of one ID from node %d: %v", i+1, i%len(c.Nodes), err)
		}
	}
	h.states = append(h.states, prop.State)
	h.patches = append(h.patches, p)
	for i, n := range c.Nodes {
		snap, err := n.Load(ctx, k, 0)
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		checkSnapshot(t, fmt.Sprintf("node %d: after one commit sent three times", i), snap, h, 0)
		v, err := n.Outcome(ctx, k, prop.ID, base)
		if err != nil || v != base+1 {
			t.Errorf("node %d: Outcome of the commit = %d, %v; want %d, nil", i, v, err, base+1)
		}
	}
	// One more commit, so the subscriber's last change shows nothing was published twice.
	h.commit(t, ctx, nodeAt(c, 1), []byte(`[{"op":"replace","path":"/n","value":9}]`))
	cs := rec.waitVersion(t, h.last())
	if len(cs) != 4 || cs[2].Version != base+1 || cs[3].Version != base+2 {
		t.Errorf("subscriber got %s, want versions %d … %d once each", describe(cs), h.first, h.last())
	}
}

// testOutcomeFences: Outcome of a commit that did not land answers 0 and fences its ID, so
// the commit, should the store run it later (a Redis resumed after SIGSTOP runs the
// commands queued meanwhile), changes nothing and is refused as a conflict.
func testOutcomeFences(t *testing.T, c Cluster) {
	ctx := testContext(t)
	k := keyFor(t, "doc")
	h := commitHistory(t, ctx, c, k, 2)
	base := h.last()
	p := []byte(`[{"op":"add","path":"/items/-","value":"late"}]`)
	late := wssync.Proposal{Base: base, State: apply(t, h.state(), p), Patch: p, ID: newID()}
	for i, n := range c.Nodes {
		v, err := n.Outcome(ctx, k, late.ID, base)
		if err != nil || v != 0 {
			t.Fatalf("node %d: Outcome of a commit never run = %d, %v; want 0, nil", i, v, err)
		}
	}
	if err := nodeAt(c, 1).Commit(ctx, k, late); !errors.Is(err, wssync.ErrVersionConflict) {
		t.Errorf("Commit after Outcome fenced its ID: %v, want an error matching ErrVersionConflict", err)
	}
	// A key never committed: Outcome is 0, and the fence holds too.
	k2 := keyFor(t, "never")
	first := wssync.Proposal{State: []byte(`{"n":1}`), Patch: []byte(`[{"op":"replace","path":"","value":{"n":1}}]`), ID: newID()}
	if v, err := nodeAt(c, 2).Outcome(ctx, k2, first.ID, 0); err != nil || v != 0 {
		t.Errorf("Outcome on a key never committed = %d, %v; want 0, nil", v, err)
	}
	if err := nodeAt(c, 0).Commit(ctx, k2, first); !errors.Is(err, wssync.ErrVersionConflict) {
		t.Errorf("creating Commit after Outcome fenced its ID: %v, want an error matching ErrVersionConflict", err)
	}
	for i, n := range c.Nodes {
		snap, err := n.Load(ctx, k, 0)
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		checkSnapshot(t, fmt.Sprintf("node %d: after the fenced commit", i), snap, h, 0)
		if snap.Epoch != h.first || snap.Origin != 0 {
			t.Errorf("node %d: Epoch %d, Origin %d; want %d, 0", i, snap.Epoch, snap.Origin, h.first)
		}
		if snap, err := n.Load(ctx, k2, 0); err != nil || snap.Version != 0 {
			t.Errorf("node %d: Load of the key whose creation was fenced = %+v, %v; want version 0", i, snap, err)
		}
	}
	if c.CommitIDs <= 0 {
		return
	}
	// After more commits than the store keeps IDs of, it cannot tell.
	for i := 0; i <= c.CommitIDs; i++ {
		h.commit(t, ctx, nodeAt(c, i), fmt.Appendf(nil, `[{"op":"replace","path":"/n","value":%d}]`, i))
	}
	if _, err := nodeAt(c, 1).Outcome(ctx, k, newID(), base); !errors.Is(err, wssync.ErrOutcomeUnknown) {
		t.Errorf("Outcome %d commits later: %v, want an error matching ErrOutcomeUnknown", c.CommitIDs+1, err)
	}
	if v, err := nodeAt(c, 1).Outcome(ctx, k, newID(), h.last()); err != nil || v != 0 {
		t.Errorf("Outcome from the latest version = %d, %v; want 0, nil", v, err)
	}
}
