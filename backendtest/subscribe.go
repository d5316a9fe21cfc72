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

// checkInOrder checks that cs are versions 1 … n, in order, with the given patches, and
// nothing else.
func checkInOrder(t *testing.T, what string, cs []wssync.Change, patches [][]byte) {
	t.Helper()
	n := len(patches) - 1
	if len(cs) != n {
		t.Errorf("%s: got %d changes %s, want versions 1 … %d", what, len(cs), describe(cs), n)
		return
	}
	for i, c := range cs {
		v := uint64(i + 1)
		if c.Lost || c.Version != v {
			t.Errorf("%s: change %d is %s, want version %d; all: %s", what, i, describe(cs[i:i+1]), v, describe(cs))
			return
		}
		if !bytes.Equal(c.Patch, patches[v]) {
			t.Errorf("%s: version %d patch %s, want %s", what, v, c.Patch, patches[v])
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
	_, patches := commitHistory(t, ctx, c, k, n)
	for i, r := range recs {
		cs := r.waitVersion(t, n)
		checkInOrder(t, fmt.Sprintf("subscriber %d (node %d)", i, i/2), cs, patches)
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
				err = n.Commit(ctx, k, version, next, patch)
				if errors.Is(err, wssync.ErrVersionConflict) {
					continue
				}
				if err != nil {
					errs <- fmt.Errorf("writer %d: Commit: %w", w, err)
					return
				}
				state, version = next, version+1
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
	if final.Version != uint64(total) {
		t.Errorf("final version %d, want %d", final.Version, total)
	}
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
		cs := r.waitVersion(t, uint64(total))
		state := []byte(`{}`)
		for j, ch := range cs {
			if ch.Lost || ch.Version != uint64(j+1) {
				t.Fatalf("subscriber on node %d: change %d is %s, want version %d (no gaps, no repeats)", i, j, describe(cs[j:j+1]), j+1)
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

	states, patches := commitHistory(t, ctx, c, k, 1)
	stopped.waitVersion(t, 1)
	stop()

	for v := 2; v <= 4; v++ {
		p := fmt.Appendf(nil, `[{"op":"replace","path":"/n","value":%d}]`, v)
		states = append(states, apply(t, states[v-1], p))
		patches = append(patches, p)
		if err := nodeAt(c, v).Commit(ctx, k, uint64(v-1), states[v], p); err != nil {
			t.Fatal(err)
		}
	}
	// Once a subscriber of the same node has version 4, a stopped subscriber would have had
	// it too.
	checkInOrder(t, "other subscriber", other.waitVersion(t, 4), patches)
	checkInOrder(t, "subscriber on another node", far.waitVersion(t, 4), patches)
	if cs, late := stopped.snapshot(), stopped.lateCount(); len(cs) != 1 || late != 0 {
		t.Errorf("stopped subscriber got %s (%d after stop returned), want [1]", describe(cs), late)
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
	select {
	case <-entered:
	case <-time.After(waitTimeout):
		t.Fatalf("no delivery of version 1 within %v", waitTimeout)
	}

	returned := make(chan struct{})
	go func() {
		stop()
		close(returned)
	}()
	select {
	case <-returned:
		t.Error("stop returned while deliver was running")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	select {
	case <-returned:
	case <-time.After(waitTimeout):
		t.Fatalf("stop did not return within %v of deliver returning", waitTimeout)
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
	states, _ := commitHistory(t, ctx, c, k, 1)
	for _, r := range recs {
		r.waitVersion(t, 1)
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

	p := []byte(`[{"op":"replace","path":"/n","value":2}]`)
	if err := nodeAt(c, 1).Commit(ctx, k, 1, apply(t, states[1], p), p); err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		cs := r.waitVersion(t, 2)
		// Whatever came between, the versions after the Lost only grow, and 2 is there.
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
		if last != 2 {
			t.Errorf("node %d: after the Lost got %s, want version 2 last", i, describe(cs))
		}
	}
}
