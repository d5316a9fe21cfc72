package wsredis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/redistest"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wsredis"
	"github.com/wssync/wssync/wssynctest"
)

// ackBoard is the shared object of the acknowledged-write test: a list every writer
// appends to, and a title they contend for with conditional writes.
type ackBoard struct {
	Items []string `sync:"items,write"`
	Title string   `sync:"title,write"`
}

// ackResult is one _RESULT: the data of an accepted write, or the error code.
type ackResult struct {
	V       uint64 `json:"v"`
	Pending bool   `json:"pending"`
	Code    wssync.Code
	Path    string
}

// TestAcknowledgedWritesTwoNodes: two nodes on one redis-server hold a shared object,
// each with two WebSocket clients that write to it at once with request ids: appends, and
// title writes conditional on the version the client holds. Every write gets exactly one
// _RESULT; accepted writes carry distinct global versions; once the nodes converge, every
// acknowledged append is in the state exactly once, no refused write is, and the title is
// the accepted title write of the highest version.
func TestAcknowledgedWritesTwoNodes(t *testing.T) {
	t.Parallel()
	const key, perNode, writes = "ACKBOARD", 2, 20
	srv := redistest.Start(t)
	var objs []*wssync.Synced[ackBoard]
	var clients []*wssynctest.Client
	var b *wsredis.Backend
	for range 2 {
		b = newBackend(t, srv.Addr(), wsredis.Options{})
		s, err := wssync.NewShared(key, &ackBoard{Items: []string{}}, wssync.WithBackend(b))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Unregister)
		objs = append(objs, s)
		for range perNode {
			sess := wssync.NewSession()
			if err := s.Join(sess); err != nil {
				t.Fatal(err)
			}
			url := wstest.Serve(t, http.HandlerFunc(sess.ServeWS))
			t.Cleanup(sess.Close)
			c := wstest.Dial(t, url)
			wstest.WaitType(t, c, "_SET:"+key)
			clients = append(clients, c)
		}
	}

	var basesMu sync.Mutex
	bases := map[string]uint64{} // of the title writes
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range writes {
				id := fmt.Sprintf("c%d-%d", i, j)
				var err error
				if j%2 == 0 {
					err = c.PatchWith(key, wssynctest.WriteOpts{ID: id}, wssynctest.Op{Op: "add", Path: "/items/-", Value: id})
				} else {
					// made against the state after the client's last append: current
					// unless another client wrote the title meanwhile
					if _, err := c.WaitResult(wstest.Context(t), fmt.Sprintf("c%d-%d", i, j-1)); err != nil {
						t.Error(err)
						return
					}
					_, v, _ := c.State(key)
					basesMu.Lock()
					bases[id] = v
					basesMu.Unlock()
					err = c.PatchWith(key, wssynctest.WriteOpts{ID: id, Base: wssynctest.Base(v)}, wssynctest.Replace("/title", id))
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()

	results := map[string]ackResult{}
	for i, c := range clients {
		for j := range writes {
			id := fmt.Sprintf("c%d-%d", i, j)
			results[id] = waitAck(t, c, id)
		}
		n := map[string]int{}
		for _, f := range c.Frames() {
			if f.Type == "_RESULT" {
				n[f.ID]++
			}
			if f.Type == "_ERROR" {
				t.Errorf("client %d got _ERROR %s", i, f.Data)
			}
		}
		for id, k := range n {
			if k != 1 {
				t.Errorf("%s: %d _RESULTs", id, k)
			}
		}
	}

	// Converged: both nodes, and Redis, hold one state at one version.
	var final ackBoard
	wstest.Eventually(t, "the nodes converge", func() bool {
		snap, err := b.Load(context.Background(), key, 0)
		s0, v0 := objs[0].Published()
		s1, v1 := objs[1].Published()
		if err != nil || v0 != snap.Version || v1 != snap.Version || string(s0) != string(snap.State) || string(s1) != string(s0) {
			return false
		}
		return json.Unmarshal(s0, &final) == nil
	})

	titles := titleIDs(len(clients), writes)
	versions := map[uint64]string{}
	var topTitle string
	var top uint64
	accepted := 0
	for id, r := range results {
		isTitle := slices.Contains(titles, id)
		if r.Code != "" {
			if !isTitle || r.Code != wssync.CodeStaleWrite || r.Path != "/title" {
				t.Errorf("%s refused: %+v", id, r)
			}
			if slices.Contains(final.Items, id) || final.Title == id {
				t.Errorf("refused write %s is in the state", id)
			}
			continue
		}
		accepted++
		if r.Pending {
			t.Errorf("%s: pending with Redis up", id)
		}
		if prev, dup := versions[r.V]; dup {
			t.Errorf("%s and %s both report version %d", id, prev, r.V)
		}
		versions[r.V] = id
		if isTitle {
			if r.V > top {
				topTitle, top = id, r.V
			}
			continue
		}
		if n := countItem(final.Items, id); n != 1 {
			t.Errorf("acknowledged append %s is in the state %d times", id, n)
		}
	}
	// No accepted title write overwrote one it had not seen: none landed between its
	// base and its own version.
	for v, id := range versions {
		base, isTitle := bases[id]
		if !isTitle {
			continue
		}
		for w, other := range versions {
			if _, ok := bases[other]; ok && base < w && w < v {
				t.Errorf("%s (base %d, v %d) overwrote %s (v %d) unseen", id, base, v, other, w)
			}
		}
	}
	if final.Title != topTitle {
		t.Errorf("title %q; want the accepted title write of the highest version, %q", final.Title, topTitle)
	}
	if want := len(clients) * writes / 2; len(final.Items) != want {
		t.Errorf("%d items, want %d", len(final.Items), want)
	}
	t.Logf("%d of %d writes accepted; %d title writes refused as stale; commits lost to the other node and made again: %d, %d",
		accepted, len(results), len(results)-accepted, objs[0].BackendStatus().Conflicts, objs[1].BackendStatus().Conflicts)
}

// titleIDs lists the ids of the title writes of the test's clients.
func titleIDs(clients, writes int) []string {
	var ids []string
	for i := range clients {
		for j := 1; j < writes; j += 2 {
			ids = append(ids, fmt.Sprintf("c%d-%d", i, j))
		}
	}
	return ids
}

func countItem(xs []string, x string) int {
	n := 0
	for _, y := range xs {
		if y == x {
			n++
		}
	}
	return n
}

// waitAck waits for the _RESULT of id and decodes it.
func waitAck(t *testing.T, c *wssynctest.Client, id string) ackResult {
	t.Helper()
	ctx, cancel := context.WithCancel(wstest.Context(t))
	defer cancel()
	f, err := c.WaitResult(ctx, id)
	if err != nil {
		t.Fatalf("no _RESULT for %s: %v", id, err)
	}
	var r ackResult
	if f.Error != nil {
		var e wssync.Error
		if err := json.Unmarshal(f.Error, &e); err != nil {
			t.Fatal(err)
		}
		return ackResult{Code: e.Code, Path: e.Path}
	}
	if err := json.Unmarshal(f.Data, &r); err != nil {
		t.Fatal(err)
	}
	return r
}
