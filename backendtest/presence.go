package backendtest

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wssync/wssync/internal/wstest"
)

// counter is a presence watcher that counts its calls.
type counter struct {
	mu     sync.Mutex
	n      int
	signal chan struct{}
}

func newCounter() *counter { return &counter{signal: make(chan struct{}, 1)} }

func (c *counter) changed() {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	select {
	case c.signal <- struct{}{}:
	default:
	}
}

func (c *counter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// watch makes c watch room on n until the end of the test.
func (c *counter) watch(t *testing.T, n Node, room string) {
	t.Cleanup(n.WatchPresence(room, c.changed))
}

// waitAbove waits until c was called more than n times.
func (c *counter) waitAbove(t *testing.T, what string, n int) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for c.count() <= n {
		select {
		case <-c.signal:
		case <-deadline.C:
			t.Fatalf("%s: not called within %v", what, waitTimeout)
		}
	}
}

func counts(cs []*counter) []int {
	out := make([]int, len(cs))
	for i, c := range cs {
		out[i] = c.count()
	}
	return out
}

// checkPresence checks that every node sees exactly want in room.
func checkPresence(t *testing.T, ctx context.Context, c Cluster, room string, want map[string]string) {
	t.Helper()
	for i, n := range c.Nodes {
		got, err := n.Presence(ctx, room)
		if err != nil {
			t.Fatalf("node %d: Presence: %v", i, err)
		}
		if len(got) != len(want) {
			t.Errorf("node %d: presence %s, want %v", i, describePresence(got), want)
			continue
		}
		for id, data := range want {
			if g, ok := got[id]; !ok || !bytes.Equal(g, []byte(data)) {
				t.Errorf("node %d: presence %s, want %v", i, describePresence(got), want)
				break
			}
		}
	}
}

func describePresence(p map[string][]byte) string {
	s := "{"
	for i, id := range slices.Sorted(maps.Keys(p)) {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%s:%s", id, p[id])
	}
	return s + "}"
}

func testPresence(t *testing.T, c Cluster) {
	ctx := testContext(t)
	room := keyFor(t, "room")
	checkPresence(t, ctx, c, room, map[string]string{})

	var watchers []*counter
	for _, n := range c.Nodes {
		w := newCounter()
		w.watch(t, n, room)
		watchers = append(watchers, w)
	}
	step := func(what string, do func() error, want map[string]string) {
		t.Helper()
		before := counts(watchers)
		if err := do(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		for i, w := range watchers {
			w.waitAbove(t, fmt.Sprintf("%s: watcher on node %d", what, i), before[i])
		}
		checkPresence(t, ctx, c, room, want)
	}

	step("new entries", func() error {
		return c.Nodes[0].SetPresence(ctx, room, map[string][]byte{"a": []byte(`{"name":"A"}`), "b/{x}": []byte(`{"name":"B"}`)}, time.Minute)
	}, map[string]string{"a": `{"name":"A"}`, "b/{x}": `{"name":"B"}`})

	// A refresh with the same data need not notify; it keeps the entries.
	if err := nodeAt(c, 1).SetPresence(ctx, room, map[string][]byte{"a": []byte(`{"name":"A"}`)}, time.Minute); err != nil {
		t.Fatal(err)
	}
	checkPresence(t, ctx, c, room, map[string]string{"a": `{"name":"A"}`, "b/{x}": `{"name":"B"}`})

	step("changed data", func() error {
		return nodeAt(c, 1).SetPresence(ctx, room, map[string][]byte{"a": []byte(`{"name":"A2"}`)}, time.Minute)
	}, map[string]string{"a": `{"name":"A2"}`, "b/{x}": `{"name":"B"}`})

	step("removal", func() error {
		return nodeAt(c, 2).RemovePresence(ctx, room, "b/{x}")
	}, map[string]string{"a": `{"name":"A2"}`})

	step("new entry from another node", func() error {
		return nodeAt(c, 2).SetPresence(ctx, room, map[string][]byte{"c": []byte(`null`)}, time.Minute)
	}, map[string]string{"a": `{"name":"A2"}`, "c": `null`})
}

func testPresenceExpiry(t *testing.T, c Cluster) {
	ctx := testContext(t)
	room := keyFor(t, "room")
	if err := c.Nodes[0].SetPresence(ctx, room, map[string][]byte{"long": []byte(`1`)}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := nodeAt(c, 1).SetPresence(ctx, room, map[string][]byte{"short": []byte(`2`)}, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	wstest.EventuallyNil(t, waitTimeout, "the entry with a 200 ms TTL to expire", func() error {
		p, err := nodeAt(c, 2).Presence(ctx, room)
		if err != nil {
			return err
		}
		if _, ok := p["short"]; ok {
			return fmt.Errorf("the entry with a 200 ms TTL is still present: %s", describePresence(p))
		}
		if string(p["long"]) != "1" || len(p) != 1 {
			return fmt.Errorf("presence %s, want {long:1}", describePresence(p))
		}
		return nil
	})
	checkPresence(t, ctx, c, room, map[string]string{"long": "1"})
}
