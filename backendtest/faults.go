package backendtest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wssynctest"

	"github.com/wssync/wssync/internal/proto"
)

// Fault is one scenario of RunFault: nodes on one store, and a fault of that store.
type Fault struct {
	// Backends has one Backend per node (two or three), all on the same store, each with
	// its own connection to it.
	Backends []wssync.Backend

	// Break starts the fault, Heal ends it; Hold is how long it lasts. RunFault calls them
	// from the test goroutine while clients keep writing.
	Break, Heal func()
	Hold        time.Duration

	// ClientsPerNode is how many WebSocket clients write through each node. Zero means 2.
	ClientsPerNode int
}

// Log is the shared object of RunFault: a list its append action appends to.
type Log struct {
	Items []string `sync:"items"`
}

// appendParams are the params of Log's append action.
type appendParams struct {
	Value string `json:"value"`
}

// faultNode is one node of RunFault: the shared Log, served over WebSocket.
type faultNode struct {
	name string
	s    *wssync.Synced[Log]
	url  string
}

// History is what RunFault's clients saw: every value they asked to append, and what the
// server answered.
type History struct {
	Acked   map[string]int // acknowledged value → its writer (a client index)
	Refused map[string]int // answered with an error
	Unknown map[string]int // no answer before the client gave up
	Lost    map[int]int    // client index → write_lost errors it received
}

// RunFault runs the fault suite's scenario f: every node holds one shared Log with an
// append action (Update); clients of every node call it over real WebSockets, each call
// with a request id and a unique value, and record each value whose call was answered by
// a `_RESULT` without error (acknowledged). Meanwhile the store fails (Break, Hold, Heal).
// Once the writers stopped and everything converged (every node online, every node, every
// client and the store holding the same state), the history checker asserts: each
// acknowledged value is in the list exactly once, or it was reported lost to its writer
// (a write_lost `_ERROR`) and counted in a node's BackendStatus.Lost; no value is in it
// twice; nothing is in it that no client wrote. It returns the history and the final
// list.
func RunFault(t *testing.T, f Fault) (History, []string) {
	t.Helper()
	per := f.ClientsPerNode
	if per == 0 {
		per = 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	key := "LOG/" + t.Name() + "/" + fmt.Sprint(time.Now().UnixNano())
	var ns []*faultNode
	for i, b := range f.Backends {
		ns = append(ns, startFaultNode(t, fmt.Sprintf("node%d", i), key, b))
	}
	var cs []*wssynctest.Client
	for _, n := range ns {
		for range per {
			c := dial(t, n.url)
			if _, err := wssynctest.WaitState(ctx, c, key, func(Log) bool { return true }); err != nil {
				t.Fatalf("client of %s: %v", n.name, err)
			}
			cs = append(cs, c)
		}
	}

	h := History{Acked: map[string]int{}, Refused: map[string]int{}, Unknown: map[string]int{}, Lost: map[int]int{}}
	var mu sync.Mutex // guards h while the writers run
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for ci, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(10 * time.Millisecond):
				}
				v := fmt.Sprintf("c%d-%d", ci, i)
				outcome := callAppend(ctx, c, key, v)
				mu.Lock()
				switch outcome {
				case "acked":
					h.Acked[v] = ci
				case "refused":
					h.Refused[v] = ci
				default:
					h.Unknown[v] = ci
				}
				mu.Unlock()
				if outcome == "unknown" {
					return // the connection is in trouble: stop this writer
				}
			}
		}()
	}
	sleepFor(300 * time.Millisecond)
	f.Break()
	sleepFor(f.Hold)
	f.Heal()
	sleepFor(700 * time.Millisecond)
	close(stop)
	wg.Wait()

	var final []byte
	wstest.EventuallyNil(t, 30*time.Second, "converge after the fault", func() error {
		var err error
		final, err = faultConverged(ctx, f.Backends[0], key, ns, cs)
		return err
	})
	var list Log
	if err := json.Unmarshal(final, &list); err != nil {
		t.Fatalf("final state %s: %v", final, err)
	}

	var lost, outages uint64
	for _, n := range ns {
		st := n.s.BackendStatus()
		lost += st.Lost
		outages += st.Outages
		t.Logf("%s: %+v", n.name, st)
	}
	for ci, c := range cs {
		for _, fr := range c.Frames() {
			if fr.Type == proto.Error && strings.Contains(string(fr.Data), `"write_lost"`) {
				h.Lost[ci]++
			}
		}
	}
	t.Logf("%d acknowledged, %d refused, %d unanswered; %d items in the end", len(h.Acked), len(h.Refused), len(h.Unknown), len(list.Items))
	if outages == 0 {
		t.Errorf("no node went offline: the fault did not reach the nodes")
	}
	checkHistory(t, h, list.Items, lost)
	return h, list.Items
}

// checkHistory is RunFault's history checker. It reports (the first ten of each kind)
// values in the list twice, values no client wrote, and acknowledged values missing
// without a write_lost to their writer.
func checkHistory(t *testing.T, h History, items []string, lost uint64) {
	t.Helper()
	count := map[string]int{}
	for _, v := range items {
		count[v]++
	}
	var twice, unwritten, missing []string
	for _, v := range slices.Sorted(maps.Keys(count)) {
		_, acked := h.Acked[v]
		_, unknown := h.Unknown[v]
		_, refused := h.Refused[v]
		switch {
		case count[v] > 1:
			twice = append(twice, fmt.Sprintf("%q ×%d (acknowledged: %v)", v, count[v], acked))
		case !acked && !unknown && !refused:
			unwritten = append(unwritten, fmt.Sprintf("%q", v))
		}
	}
	for _, v := range slices.Sorted(maps.Keys(h.Acked)) {
		ci := h.Acked[v]
		if count[v] > 0 {
			continue
		}
		if h.Lost[ci] > 0 && lost > 0 {
			t.Logf("%q was lost, counted and reported to client %d", v, ci)
			continue
		}
		missing = append(missing, fmt.Sprintf("%q (client %d)", v, ci))
	}
	for _, k := range []struct {
		what string
		vs   []string
	}{
		{"in the list more than once", twice},
		{"in the list but written by no client", unwritten},
		{"acknowledged, not in the list, and no write_lost reached the writer", missing},
	} {
		if len(k.vs) > 0 {
			t.Errorf("%d values %s: %s", len(k.vs), k.what, strings.Join(k.vs[:min(10, len(k.vs))], ", "))
		}
	}
}

// callAppend calls the append action with value v and a request id, and waits for its
// answer: "acked", "refused" (a `_RESULT` with an error) or "unknown" (no answer).
func callAppend(ctx context.Context, c *wssynctest.Client, key, v string) string {
	id := "req-" + v
	err := c.SendFrame(map[string]any{"type": proto.Keyed(proto.Action, key), "id": id, "data": map[string]any{"type": "append", "value": v}})
	if err != nil {
		return "unknown"
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	f, err := c.WaitFrame(ctx, func(f wssynctest.Frame) bool { return f.Type == proto.Result && f.ID == id })
	switch {
	case err != nil:
		return "unknown"
	case len(f.Error) > 0 && string(f.Error) != "null":
		return "refused"
	}
	return "acked"
}

func startFaultNode(t *testing.T, name, key string, b wssync.Backend) *faultNode {
	t.Helper()
	s, err := wssync.NewShared(key, &Log{Items: []string{}}, wssync.WithBackend(b))
	if err != nil {
		t.Fatalf("%s: NewShared: %v", name, err)
	}
	err = wssync.Action(s, "append", func(_ context.Context, p appendParams) error {
		return s.Update(func(l *Log) { l.Items = append(l.Items, p.Value) })
	})
	if err != nil {
		t.Fatal(err)
	}
	n := &faultNode{name: name, s: s}
	n.url = serveShared(t, s)
	return n
}

// faultConverged returns the store's state when every node is online and every node and
// client holds it at the store's version.
func faultConverged(ctx context.Context, b wssync.Backend, key string, ns []*faultNode, cs []*wssynctest.Client) ([]byte, error) {
	for _, n := range ns {
		if n.s.BackendStatus().Offline {
			return nil, fmt.Errorf("%s is offline", n.name)
		}
	}
	lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	snap, err := b.Load(lctx, key, 0)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("load: %v", err)
	}
	want, err := decode(snap.State)
	if err != nil {
		return nil, fmt.Errorf("store state: %v", err)
	}
	for _, n := range ns {
		state, v := n.s.Published()
		if v != snap.Version {
			return nil, fmt.Errorf("%s at version %d, store at %d", n.name, v, snap.Version)
		}
		if got, err := decode(state); err != nil || !reflect.DeepEqual(got, want) {
			return nil, fmt.Errorf("%s holds %s, store %s", n.name, state, snap.State)
		}
	}
	for i, c := range cs {
		if err := c.Errs(); err != nil {
			return nil, fmt.Errorf("client %d saw a frame out of order: %v\n%s", i, err, lastFrames(c, 12))
		}
		state, v, ok := c.State(key)
		if !ok || v != snap.Version {
			return nil, fmt.Errorf("client %d at version %d (has state: %v), store at %d", i, v, ok, snap.Version)
		}
		if got, err := decode(state); err != nil || !reflect.DeepEqual(got, want) {
			return nil, fmt.Errorf("client %d holds %s, store %s", i, state, snap.State)
		}
	}
	return snap.State, nil
}

// sleepFor waits d: the fault suite's timeline (how long writers run around a fault), not
// an assertion about speed.
func sleepFor(d time.Duration) { time.Sleep(d) }

// lastFrames describes the last n frames c received, for a failure message.
func lastFrames(c *wssynctest.Client, n int) string {
	fs := c.Frames()
	var b strings.Builder
	for _, f := range fs[max(0, len(fs)-n):] {
		v := "-"
		if f.V != nil {
			v = fmt.Sprint(*f.V)
		}
		d := string(f.Data)
		if len(d) > 80 {
			d = d[:80] + "…"
		}
		fmt.Fprintf(&b, "  %s v=%s %s\n", f.Type, v, d)
	}
	return b.String()
}
