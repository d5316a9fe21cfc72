package backendtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/wssync/wssync"
)

// checkInOrder checks that cs are the versions of h, in order, with their patches, and
// nothing else.
func checkInOrder(t *testing.T, what string, cs []wssync.Change, h *history) {
	t.Helper()
	if len(cs) != h.commits() {
		t.Errorf("%s: got %d changes %s, want versions %d … %d", what, len(cs), describe(cs), h.first, h.last())
		return
	}
	for i, c := range cs {
		v := h.version(i + 1)
		if c.Lost || c.Version != v {
			t.Errorf("%s: change %d is %s, want version %d; all: %s", what, i, describe(cs[i:i+1]), v, describe(cs))
			return
		}
		if !bytes.Equal(c.Patch, h.patches[i+1]) {
			t.Errorf("%s: version %d patch %s, want %s", what, v, c.Patch, h.patches[i+1])
		}
	}
}

func testSubscribeOrder(t *testing.T, c Cluster) {
	ctx := testContext(t)
	k := keyFor(t, "doc")
	var recs []*recorder
	for _, n := range c.Nodes {
		for range 2 {
			r := newRecorder()
			r.subscribe(t, n, k)
			recs = append(recs, r)
		}
	}
	const n = 30
	h := commitHistory(t, ctx, c, k, n)
	for i, r := range recs {
		cs := r.waitVersion(t, h.last())
		checkInOrder(t, fmt.Sprintf("subscriber %d (node %d)", i, i/2), cs, h)
	}
}

// testConcurrentCommitters runs 4 writers per node (at least 12 in all), each appending
// its own items to one array with load → modify → commit, retrying on conflict.
func testConcurrentCommitters(t *testing.T, c Cluster) {
	ctx := testContext(t)
	k := keyFor(t, "list")
	writers := 4 * max(len(c.Nodes), 3)
	const perWriter = 25
	total := writers * perWriter

	var recs []*recorder
	for _, n := range c.Nodes {
		r := newRecorder()
		r.subscribe(t, n, k)
		recs = append(recs, r)
	}

	type doc struct {
		Items []string `json:"items"`
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			n := nodeAt(c, w)
			var version uint64
			state := []byte(`{}`)
			for j := 0; j < perWriter; {
				// Catch up from what this writer saw last: patches or the whole state.
				snap, err := n.Load(ctx, k, version)
				if err != nil {
					errs <- fmt.Errorf("writer %d: Load: %w", w, err)
					return
				}
				switch {
				case snap.State != nil:
					state = snap.State
				case len(snap.Patches) > 0:
					for _, p := range snap.Patches {
						patch, err := jsonpatch.DecodePatch(p)
						if err == nil {
							state, err = patch.Apply(state)
						}
						if err != nil {
							errs <- fmt.Errorf("writer %d: applying patch %s: %w", w, p, err)
							return
						}
					}
				}
				version = snap.Version

				item := fmt.Sprintf("w%d-%d", w, j)
				var d doc
				if err := json.Unmarshal(state, &d); err != nil {
					errs <- fmt.Errorf("writer %d: state %s: %w", w, state, err)
					return
				}
				patch := fmt.Appendf(nil, `[{"op":"add","path":"/items/-","value":%q}]`, item)
				if d.Items == nil {
					patch = fmt.Appendf(nil, `[{"op":"add","path":"/items","value":[%q]}]`, item)
				}
				d.Items = append(d.Items, item)
				next, err := json.Marshal(d)
				if err != nil {
					errs <- err
					return
				}
				err = n.Commit(ctx, k, wssync.Proposal{Base: version, State: next, Patch: patch, ID: newID()})
				if errors.Is(err, wssync.ErrVersionConflict) {
					continue
				}
				if err != nil {
					errs <- fmt.Errorf("writer %d: Commit: %w", w, err)
					return
				}
				// The version after base is base+1, except the first, which the
				// backend chooses: from version 0, the next Load sends the state.
				if version > 0 {
					state, version = next, version+1
				}
				j++
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	final, err := c.Nodes[0].Load(ctx, k, 0)
	if err != nil {
		t.Fatal(err)
	}
	if final.Version < uint64(total) {
		t.Fatalf("final version %d after %d commits", final.Version, total)
	}
	first := final.Version - uint64(total) + 1
	var d doc
	if err := json.Unmarshal(final.State, &d); err != nil {
		t.Fatalf("final state %s: %v", final.State, err)
	}
	seen := make(map[string]int)
	for _, it := range d.Items {
		seen[it]++
	}
	for w := range writers {
		for j := range perWriter {
			if item := fmt.Sprintf("w%d-%d", w, j); seen[item] != 1 {
				t.Errorf("item %s is in the final state %d times, want once", item, seen[item])
			}
		}
	}
	if len(d.Items) != total {
		t.Errorf("final state has %d items, want %d", len(d.Items), total)
	}

	for i, r := range recs {
		cs := r.waitVersion(t, final.Version)
		state := []byte(`{}`)
		for j, ch := range cs {
			if ch.Lost || ch.Version != first+uint64(j) {
				t.Fatalf("subscriber on node %d: change %d is %s, want version %d (no gaps, no repeats, from the first commit's version on)", i, j, describe(cs[j:j+1]), first+uint64(j))
			}
			state = apply(t, state, ch.Patch)
		}
		if len(cs) != total {
			t.Errorf("subscriber on node %d: %d changes, want %d", i, len(cs), total)
		}
		if !jsonpatch.Equal(state, final.State) {
			t.Errorf("subscriber on node %d: the delivered patches lead to %s, want %s", i, state, final.State)
		}
	}
}

func testStop(t *testing.T, c Cluster) {
	ctx := testContext(t)
	k := keyFor(t, "doc")
	stopped, other, far := newRecorder(), newRecorder(), newRecorder()
	stop := stopped.subscribe(t, c.Nodes[0], k)
	other.subscribe(t, c.Nodes[0], k)
	far.subscribe(t, nodeAt(c, 1), k)

	h := commitHistory(t, ctx, c, k, 1)
	stopped.waitVersion(t, h.first)
	stop()

	for i := 2; i <= 4; i++ {
		h.commit(t, ctx, nodeAt(c, i), fmt.Appendf(nil, `[{"op":"replace","path":"/n","value":%d}]`, i))
	}
	// Once a subscriber of the same node has the last version, a stopped subscriber would
	// have had it too.
	checkInOrder(t, "other subscriber", other.waitVersion(t, h.last()), h)
	checkInOrder(t, "subscriber on another node", far.waitVersion(t, h.last()), h)
	if cs, late := stopped.snapshot(), stopped.lateCount(); len(cs) != 1 || late != 0 {
		t.Errorf("stopped subscriber got %s (%d after stop returned), want [%d]", describe(cs), late, h.first)
	}
}

func testStopWaitsForDeliver(t *testing.T, c Cluster) {
	ctx := testContext(t)
	k := keyFor(t, "doc")
	entered := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	stop := onlyOnce(c.Nodes[0].Subscribe(k, func(wssync.Change) {
		once.Do(func() {
			close(entered)
			<-release
		})
	}))
	t.Cleanup(stop)
	commitHistory(t, ctx, c, k, 1)
	checkStopWaits(t, "deliver", entered, stop, func() { close(release) })
}

// checkStopWaits waits until a call of the callback named name has entered, where it
// blocks until release is called, and checks that stop, called meanwhile, returns only
// after release let the call return.
func checkStopWaits(t *testing.T, name string, entered <-chan struct{}, stop, release func()) {
	t.Helper()
	select {
	case <-entered:
	case <-time.After(waitTimeout):
		t.Fatalf("no call of %s within %v", name, waitTimeout)
	}
	returned := make(chan struct{})
	go func() {
		stop()
		close(returned)
	}()
	select {
	case <-returned:
		t.Errorf("stop returned while %s was running", name)
	case <-time.After(100 * time.Millisecond):
	}
	release()
	select {
	case <-returned:
	case <-time.After(waitTimeout):
		t.Fatalf("stop did not return within %v of %s returning", waitTimeout, name)
	}
}

func testInterrupt(t *testing.T, c Cluster) {
	if c.Interrupt == nil {
		t.Skip("the cluster has no Interrupt")
	}
	ctx := testContext(t)
	k := keyFor(t, "doc")
	room := keyFor(t, "room")
	var recs []*recorder
	var watchers []*counter
	for _, n := range c.Nodes {
		r := newRecorder()
		r.subscribe(t, n, k)
		recs = append(recs, r)
		w := newCounter()
		w.watch(t, n, room)
		watchers = append(watchers, w)
	}
	h := commitHistory(t, ctx, c, k, 1)
	for _, r := range recs {
		r.waitVersion(t, h.first)
	}
	before := counts(watchers)

	c.Interrupt()
	for i, r := range recs {
		r.waitFor(t, fmt.Sprintf("Lost on node %d after Interrupt", i), func(cs []wssync.Change) bool {
			for _, ch := range cs {
				if ch.Lost {
					return true
				}
			}
			return false
		})
	}
	for i, w := range watchers {
		w.waitAbove(t, fmt.Sprintf("presence watcher on node %d after Interrupt", i), before[i])
	}

	h.commit(t, ctx, nodeAt(c, 1), []byte(`[{"op":"replace","path":"/n","value":2}]`))
	for i, r := range recs {
		cs := r.waitVersion(t, h.last())
		// Whatever came between, the versions after the Lost only grow, and the new one
		// is there.
		lost := -1
		for j, ch := range cs {
			if ch.Lost {
				lost = j
			}
		}
		last := uint64(0)
		for _, ch := range cs[lost+1:] {
			if ch.Version <= last {
				t.Errorf("node %d: versions after Lost not increasing: %s", i, describe(cs))
			}
			last = ch.Version
		}
		if last != h.last() {
			t.Errorf("node %d: after the Lost got %s, want version %d last", i, describe(cs), h.last())
		}
	}
}
