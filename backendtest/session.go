package backendtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
)

func testSession(t *testing.T, c Cluster) {
	ctx := testContext(t)
	id := keyFor(t, "session")
	a, b := c.Nodes[0], nodeAt(c, 1)

	if _, ok, err := b.LoadSession(ctx, id); err != nil || ok {
		t.Fatalf("LoadSession of an unknown session: ok %v, err %v; want false, nil", ok, err)
	}
	if gen, err := b.TouchSession(ctx, id, time.Minute); err != nil || gen != 0 {
		t.Fatalf("TouchSession of an unknown session: %d, %v; want 0, nil", gen, err)
	}
	if _, ok, err := b.LoadSession(ctx, id); err != nil || ok {
		t.Fatalf("LoadSession after touching an unknown session: ok %v, err %v; want false, nil", ok, err)
	}

	saves := []struct {
		node Node
		key  string
		obj  wssync.StoredObject
	}{
		{a, "profile", wssync.StoredObject{Version: 3, State: []byte(`{"a":1}`)}},
		{b, "cart/ä {}", wssync.StoredObject{Version: 7, State: []byte(`[1,2]`)}},
		{a, "profile", wssync.StoredObject{Version: 4, State: []byte(`{"a":2}`)}},
		{b, "_user", wssync.StoredObject{Version: 1, State: []byte(`"not the user"`)}}, // an object key like a field name
	}
	var gen uint64
	for i, s := range saves {
		g, err := s.node.SaveSession(ctx, id, "alice", s.key, s.obj, time.Minute)
		if err != nil {
			t.Fatalf("save %d: %v", i, err)
		}
		if g <= gen {
			t.Errorf("save %d: generation %d after %d, want it to grow", i, g, gen)
		}
		gen = g
	}

	want := map[string]wssync.StoredObject{
		"profile":   saves[2].obj,
		"cart/ä {}": saves[1].obj,
		"_user":     saves[3].obj,
	}
	for i, n := range c.Nodes {
		rec, ok, err := n.LoadSession(ctx, id)
		if err != nil || !ok {
			t.Fatalf("node %d: LoadSession: ok %v, err %v", i, ok, err)
		}
		if rec.User != "alice" || rec.Generation != gen {
			t.Errorf("node %d: user %q generation %d, want alice and %d", i, rec.User, rec.Generation, gen)
		}
		if len(rec.Objects) != len(want) {
			t.Errorf("node %d: %d objects, want %d: %v", i, len(rec.Objects), len(want), rec.Objects)
		}
		for k, w := range want {
			got, ok := rec.Objects[k]
			if !ok || got.Version != w.Version || !jsonpatch.Equal(got.State, w.State) {
				t.Errorf("node %d: object %q = %d %s (present %v), want %d %s", i, k, got.Version, got.State, ok, w.Version, w.State)
			}
		}
	}

	if g, err := b.TouchSession(ctx, id, time.Minute); err != nil || g != gen {
		t.Errorf("TouchSession: %d, %v; want %d", g, err, gen)
	}
}

func testSessionExpiry(t *testing.T, c Cluster) {
	ctx := testContext(t)
	id := keyFor(t, "session")
	a, b := c.Nodes[0], nodeAt(c, 1)
	const short = 200 * time.Millisecond
	obj := wssync.StoredObject{Version: 1, State: []byte(`{}`)}

	// TouchSession extends the record: save with a short TTL and touch it with a long one
	// at once. A machine too slow to touch within the short TTL tries again.
	for try := 0; ; try++ {
		if _, err := a.SaveSession(ctx, id, "bob", "o", obj, short); err != nil {
			t.Fatal(err)
		}
		gen, err := b.TouchSession(ctx, id, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if gen > 0 {
			break
		}
		if try == 5 {
			t.Fatalf("the record expired before TouchSession, %d times", try+1)
		}
	}
	time.Sleep(2 * short)
	if _, ok, err := a.LoadSession(ctx, id); err != nil || !ok {
		t.Fatalf("LoadSession after the short TTL, touched with a long one: ok %v, err %v", ok, err)
	}

	// With a short TTL again, the record goes.
	if _, err := b.TouchSession(ctx, id, short); err != nil {
		t.Fatal(err)
	}
	wstest.EventuallyNil(t, waitTimeout, "the session record to expire after its TTL", func() error {
		return sessionGone(ctx, a, id)
	})
	if gen, err := b.TouchSession(ctx, id, time.Minute); err != nil || gen != 0 {
		t.Errorf("TouchSession of an expired session: %d, %v; want 0", gen, err)
	}

	// SaveSession's TTL applies to the whole record.
	other := keyFor(t, "other")
	if _, err := a.SaveSession(ctx, other, "bob", "o", obj, short); err != nil {
		t.Fatal(err)
	}
	wstest.EventuallyNil(t, waitTimeout, "the session record saved with a short TTL to expire", func() error {
		return sessionGone(ctx, b, other)
	})
}

// sessionGone returns nil when n loads no record of session id.
func sessionGone(ctx context.Context, n Node, id string) error {
	_, ok, err := n.LoadSession(ctx, id)
	if err == nil && ok {
		err = errors.New("the record is still there")
	}
	return err
}

// claim is one call of a WatchClaims callback.
type claim = wssync.SessionClaim

// claimWatcher records the claims a WatchClaims callback gets whose claimant starts with
// prefix: a store shared with other subtests carries their claims too. On a store that
// announces claims per session (wssync.ClaimsBySession) it watches each session it is
// given with WatchSessionClaims instead, and calls must not overlap per session only.
type claimWatcher struct {
	prefix string

	mu       sync.Mutex
	got      []claim
	running  map[string]bool // by session id; "" for every session on a store without ClaimsBySession
	overlaps int             // calls that began while another was running
	stopped  bool            // set once stop returned; a call after that is counted in late
	late     int
	signal   chan struct{}
	bySess   bool // calls run one at a time per session, not overall
}

func newClaimWatcher(prefix string) *claimWatcher {
	return &claimWatcher{prefix: prefix, signal: make(chan struct{}, 1), running: make(map[string]bool)}
}

func (w *claimWatcher) claimed(c claim) {
	if !strings.HasPrefix(c.Claimant, w.prefix) {
		return
	}
	one := ""
	w.mu.Lock()
	if w.bySess {
		one = c.ID
	}
	if w.running[one] {
		w.overlaps++
	}
	w.running[one] = true
	if w.stopped {
		w.late++
	}
	w.got = append(w.got, c)
	w.mu.Unlock()
	select {
	case w.signal <- struct{}{}:
	default:
	}
	w.mu.Lock()
	w.running[one] = false
	w.mu.Unlock()
}

// watch makes w watch the claims on n, of the sessions ids when n announces claims per
// session. The returned stop calls the backend's stop twice, which the interface allows,
// and marks w stopped; the test's end calls it too.
func (w *claimWatcher) watch(t *testing.T, n Node, ids ...string) (stop func()) {
	w.bySess = claimsPerSession(n)
	backendStop := watchClaimsOf(n, w.claimed, ids...)
	stop = onlyOnce(func() {
		backendStop()
		backendStop()
		w.mu.Lock()
		w.stopped = true
		w.mu.Unlock()
	})
	t.Cleanup(stop)
	return stop
}

// claimsPerSession reports whether n announces claims per session (wssync.ClaimsBySession).
func claimsPerSession(n wssync.SessionStore) bool {
	cb, ok := n.(wssync.ClaimsBySession)
	return ok && cb.ClaimsBySession()
}

// watchClaimsOf watches the claims on n as a Manager does: with WatchClaims, or on a store
// that announces claims per session, with WatchSessionClaims for each of ids. The stop
// returned ends every watch; calling it again is harmless.
func watchClaimsOf(n wssync.SessionStore, claimed func(claim), ids ...string) (stop func()) {
	if !claimsPerSession(n) {
		return n.WatchClaims(claimed)
	}
	cb := n.(wssync.ClaimsBySession)
	stops := make([]func(), 0, len(ids))
	for _, id := range slices.Compact(slices.Sorted(slices.Values(ids))) {
		stops = append(stops, cb.WatchSessionClaims(id, claimed))
	}
	return func() {
		for _, s := range stops {
			s()
		}
	}
}

func (w *claimWatcher) snapshot() (got []claim, overlaps, late int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]claim(nil), w.got...), w.overlaps, w.late
}

// waitAll waits until w got every claim of want, at most waitTimeout, and returns what it
// got.
func (w *claimWatcher) waitAll(t *testing.T, name string, want []claim) []claim {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		got, _, _ := w.snapshot()
		missing := 0
		for _, c := range want {
			if !slices.Contains(got, c) {
				missing++
			}
		}
		if missing == 0 {
			return got
		}
		select {
		case <-w.signal:
		case <-deadline.C:
			t.Fatalf("%s: after %v, %d of %d claims missing; got %q", name, waitTimeout, missing, len(want), got)
		}
	}
}

// claimantFor returns a claimant unique to this run of the subtest, in hex like the node
// ids of wssync.
func claimantFor(t *testing.T) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func testClaims(t *testing.T, c Cluster) {
	ctx := testContext(t)
	prefix := claimantFor(t)
	other := prefix + "ff" // a second claimant, a claim made on another node
	ids := []string{
		"plain",
		"with space",
		" leading and trailing ",
		"ünïcødé ✓ 会话",
		"{braces}",
		"}{",
		"3 abc",                            // looks like a length-prefixed encoding
		"ends like the claimant " + prefix, // and like a claimant-last one
		"",
		strings.Repeat("x", 128),
		strings.Repeat("é{ }", 32), // 128 characters, 160 bytes
		"line\nbreak\ttab\x00nul",
	}

	watched := append(slices.Clone(ids), "from node 1", "after stop 1", "after stop 2")
	watchers := make([]*claimWatcher, len(c.Nodes))
	stops := make([]func(), len(c.Nodes))
	for i, n := range c.Nodes {
		watchers[i] = newClaimWatcher(prefix)
		stops[i] = watchers[i].watch(t, n, watched...)
	}

	// Claims made right after WatchClaims returned reach every watcher, the claimant's own
	// node included, with their session id and user as they were (the users are the same
	// odd strings, paired differently).
	var want []claim
	for i, id := range ids {
		cl := claim{ID: id, User: ids[(i+3)%len(ids)], Claimant: prefix}
		if err := c.Nodes[0].ClaimSession(ctx, cl); err != nil {
			t.Fatalf("ClaimSession(%q): %v", cl, err)
		}
		want = append(want, cl)
	}
	fromOther := claim{ID: "from node 1", User: "alice", Claimant: other}
	if err := nodeAt(c, 1).ClaimSession(ctx, fromOther); err != nil {
		t.Fatalf("ClaimSession on node 1: %v", err)
	}
	want = append(want, fromOther)
	for i, w := range watchers {
		name := "watcher on node " + strconv.Itoa(i)
		got := w.waitAll(t, name, want)
		if len(got) != len(want) {
			t.Errorf("%s: %d claims, want %d (each once): %q", name, len(got), len(want), got)
		}
		if _, overlaps, _ := w.snapshot(); overlaps > 0 {
			t.Errorf("%s: %d calls began while another was running", name, overlaps)
		}
	}

	// stop ends delivery. Once a fresh watcher of the same node has a later claim, a
	// stopped one would have had it too.
	for _, stop := range stops {
		stop()
	}
	fresh := make([]*claimWatcher, len(c.Nodes))
	for i, n := range c.Nodes {
		fresh[i] = newClaimWatcher(prefix)
		fresh[i].watch(t, n, watched...)
	}
	after := []claim{{ID: "after stop 1", User: "u", Claimant: prefix}, {ID: "after stop 2", User: "u", Claimant: prefix}}
	for _, a := range after {
		if err := c.Nodes[0].ClaimSession(ctx, a); err != nil {
			t.Fatalf("ClaimSession(%q): %v", a.ID, err)
		}
	}
	for i, w := range fresh {
		w.waitAll(t, "fresh watcher on node "+strconv.Itoa(i), after)
	}
	for i, w := range watchers {
		if got, _, late := w.snapshot(); len(got) != len(want) || late != 0 {
			t.Errorf("stopped watcher on node %d: %d claims (%d after stop returned), want %d: %q", i, len(got), late, len(want), got)
		}
	}

	// stop waits for a running call to return.
	entered := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	blockStop := watchClaimsOf(c.Nodes[0], func(c claim) {
		if c.Claimant != prefix {
			return
		}
		once.Do(func() {
			close(entered)
			<-release
		})
	}, "blocking")
	releaseOnce := onlyOnce(func() { close(release) })
	t.Cleanup(onlyOnce(blockStop))
	t.Cleanup(releaseOnce) // runs first, should the test end early
	if err := c.Nodes[0].ClaimSession(ctx, claim{ID: "blocking", User: "u", Claimant: prefix}); err != nil {
		t.Fatal(err)
	}
	checkStopWaits(t, "the claims callback", entered, blockStop, releaseOnce)
	blockStop() // a second time: harmless
}

// testClaimsOrder: claims made at once on every node reach every watcher in one order, so
// a node that sees its own claim back knows which claims of other nodes came before it.
func testClaimsOrder(t *testing.T, c Cluster) {
	ctx := testContext(t)
	prefix := claimantFor(t)
	watchers := make([]*claimWatcher, len(c.Nodes))
	for i, n := range c.Nodes {
		watchers[i] = newClaimWatcher(prefix)
		watchers[i].watch(t, n, "tab")
	}
	const perNode = 50
	var want []claim
	for i := range c.Nodes {
		for j := range perNode {
			want = append(want, claim{ID: "tab", User: "alice", Claimant: prefix + "." + strconv.Itoa(i) + "." + strconv.Itoa(j)})
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(c.Nodes))
	for i, n := range c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, cl := range want[i*perNode : (i+1)*perNode] {
				if err := n.ClaimSession(ctx, cl); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	first := watchers[0].waitAll(t, "watcher on node 0", want)
	for i, w := range watchers[1:] {
		got := w.waitAll(t, "watcher on node "+strconv.Itoa(i+1), want)
		if !slices.Equal(got, first) {
			t.Fatalf("watcher on node %d saw the claims in another order than node 0's:\n%q\n%q", i+1, got, first)
		}
	}
}

// testClaimsOfOneSession, for a store that implements wssync.ClaimsBySession (whatever it
// answers): a WatchSessionClaims callback gets the claims of its session, its node's own
// and another node's, in the order they were made, and none of another session's, even
// one whose id starts with its own.
func testClaimsOfOneSession(t *testing.T, c Cluster) {
	if _, ok := c.Nodes[0].(wssync.ClaimsBySession); !ok {
		t.Skip("the store does not implement wssync.ClaimsBySession")
	}
	ctx := testContext(t)
	prefix := claimantFor(t)
	mine, other := "mine "+prefix, "mine "+prefix+" and more"
	watchers := make([]*claimWatcher, len(c.Nodes))
	for i, n := range c.Nodes {
		watchers[i] = newClaimWatcher(prefix)
		w := watchers[i]
		w.bySess = true
		stop := n.(wssync.ClaimsBySession).WatchSessionClaims(mine, w.claimed)
		t.Cleanup(stop)
	}
	want := []claim{
		{ID: mine, User: "alice", Claimant: prefix + ".0"},
		{ID: mine, User: "alice", Claimant: prefix + ".1"},
		{ID: mine, User: "alice", Claimant: prefix + ".2"},
	}
	for i, cl := range want {
		if err := nodeAt(c, i).ClaimSession(ctx, claim{ID: other, User: "alice", Claimant: prefix + ".other"}); err != nil {
			t.Fatal(err)
		}
		if err := nodeAt(c, i).ClaimSession(ctx, cl); err != nil {
			t.Fatal(err)
		}
	}
	for i, w := range watchers {
		got := w.waitAll(t, "watcher on node "+strconv.Itoa(i), want)
		if !slices.Equal(got, want) {
			t.Errorf("watcher on node %d got %q, want %q in that order and nothing else", i, got, want)
		}
	}
}
