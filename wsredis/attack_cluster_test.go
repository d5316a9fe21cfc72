package wsredis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/redistest"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wsredis"
	"github.com/wssync/wssync/wssynctest"
)

// Attacks on wsredis on a Redis Cluster of three primaries: three wssync nodes whose
// cluster clients each start from a different cluster node, sharing ROOM (a shared object
// on the backend), the session store and the event bus.

type clusterNode struct {
	m    *wssync.Manager
	room *wssync.Synced[eventRoom]
	url  string
}

func newClusterNodes(t *testing.T) []*clusterNode {
	t.Helper()
	servers := redistest.StartShardedCluster(t, 3)
	var nodes []*clusterNode
	for _, s := range servers {
		b := closing(t, redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{s.Addr()}}), wsredis.Options{})
		room, err := wssync.NewShared("ROOM", &eventRoom{Topic: "cluster"}, wssync.WithBackend(b))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(room.Unregister)
		m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error { return room.Join(sess) },
			wssync.WithSessionStore(b), wssync.WithEventBus(b))
		url := wstest.Serve(t, http.HandlerFunc(m.ServeWS))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			if err := m.Shutdown(ctx); err != nil {
				t.Errorf("shutdown: %v", err)
			}
		})
		nodes = append(nodes, &clusterNode{m: m, room: room, url: url})
	}
	return nodes
}

func clusterTab(t *testing.T, n *clusterNode, user, session string) *wssynctest.Client {
	t.Helper()
	c := wstest.Dial(t, n.url, wssynctest.WithIdentity(user, session))
	wstest.WaitType(t, c, "_SET:ROOM")
	return c
}

// The shared ROOM, written from all three nodes at once, ends in one state on every tab
// of every node, every note exactly once, versions never going back on a tab; events
// ToUser reach the user's tabs on every node once, ToSubscribers in each sender's order;
// a session that moves to another node replaces its old connection there (4000).
func TestAttackClusterNodes(t *testing.T) {
	t.Parallel()
	nodes := newClusterNodes(t)
	tabs := map[string]*wssynctest.Client{
		"alice-1": clusterTab(t, nodes[0], "alice", "alice-1"),
		"alice-2": clusterTab(t, nodes[1], "alice", "alice-2"),
		"bob-1":   clusterTab(t, nodes[2], "bob", "bob-1"),
		"carol-1": clusterTab(t, nodes[1], "carol", "carol-1"),
	}
	ctx := testContext(t)

	// Shared object: concurrent updates from the three nodes.
	const each = 30
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			for j := range each {
				if err := n.room.Update(func(r *eventRoom) { r.Notes = append(r.Notes, fmt.Sprintf("n%d-%d", i, j)) }); err != nil {
					t.Errorf("node %d update %d: %v", i, j, err)
					return
				}
			}
		})
	}
	wg.Wait()
	for name, c := range tabs {
		var room eventRoom
		wstest.EventuallyNil(t, 3*waitTimeout, name+" holds every note", func() error {
			if err := c.Decode("ROOM", &room); err != nil {
				return err
			}
			if len(room.Notes) != 3*each {
				return fmt.Errorf("%d notes", len(room.Notes))
			}
			return nil
		})
		seen := map[string]int{}
		for _, s := range room.Notes {
			seen[s]++
		}
		for s, k := range seen {
			if k != 1 {
				t.Errorf("%s: note %s %d times", name, s, k)
			}
		}
		var last uint64
		for _, f := range c.Frames() {
			if (f.Type == "_SET:ROOM" || f.Type == "_PATCH:ROOM") && f.V != nil {
				if *f.V < last {
					t.Errorf("%s: version back from %d to %d", name, last, *f.V)
				}
				last = *f.V
			}
		}
		if err := c.Errs(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	var ref string
	for name, c := range tabs {
		raw, _, _ := c.State("ROOM")
		var v any
		_ = json.Unmarshal(raw, &v)
		b, _ := json.Marshal(v)
		if ref == "" {
			ref = string(b)
		} else if string(b) != ref {
			t.Errorf("%s holds %s, another tab %s", name, b, ref)
		}
	}

	// ToUser from the node without alice's... every node: each alice tab gets each once.
	for i, n := range nodes {
		if _, err := n.m.Send(ctx, wssync.ToUser("alice"), event(t, "hello", i)); err != nil {
			t.Fatal(err)
		}
	}
	// ToSubscribers from every node, interleaved, order per sender.
	const seq = 60
	for j := range seq {
		for i, n := range nodes {
			if _, err := n.m.Send(ctx, wssync.ToSubscribers("ROOM"), event(t, "seq", fmt.Sprintf("%d-%d", i, j))); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, c := range tabs {
		wantHello := 0
		if strings.HasPrefix(name, "alice") {
			wantHello = 3
		}
		wstest.EventuallyNil(t, 3*waitTimeout, name+" got the events", func() error {
			if got := len(received(c, "seq")); got != 3*seq {
				return fmt.Errorf("%d of %d seq", got, 3*seq)
			}
			if got := len(received(c, "hello")); got != wantHello {
				return fmt.Errorf("%d hello, want %d", got, wantHello)
			}
			return nil
		})
		next := [3]int{}
		for _, s := range received(c, "seq") {
			u, _ := strconv.Unquote(s)
			var i, j int
			if _, err := fmt.Sscanf(u, "%d-%d", &i, &j); err != nil {
				t.Fatal(err)
			}
			if j != next[i] {
				t.Fatalf("%s: from node %d got %d, want %d (out of sender order)", name, i, j, next[i])
			}
			next[i]++
		}
	}

	// A session moving to another node replaces its connection on the old one.
	moved := wstest.Dial(t, nodes[2].url, wssynctest.WithIdentity("alice", "alice-1"))
	wstest.WaitType(t, moved, "_SET:ROOM")
	if code := wstest.CloseCode(t, tabs["alice-1"]); code != wssync.CloseReplaced {
		t.Fatalf("old connection of a moved session closed with %d, want %d", code, wssync.CloseReplaced)
	}
	if _, err := nodes[0].m.Send(ctx, wssync.ToUser("alice"), event(t, "after", 1)); err != nil {
		t.Fatal(err)
	}
	wstest.Eventually(t, "the moved session gets ToUser on its new node", func() bool { return len(received(moved, "after")) == 1 })
	time.Sleep(100 * time.Millisecond)
	if n := len(received(moved, "after")); n != 1 {
		t.Fatalf("moved session got the event %d times", n)
	}
}
