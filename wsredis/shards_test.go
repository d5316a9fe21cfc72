package wsredis_test

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/backendtest"
	"github.com/wssync/wssync/internal/redistest"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wsredis"
)

// sharded is Options with ShardedPubSub set.
var sharded = wsredis.Options{ShardedPubSub: true}

// addrs returns the servers' addresses.
func addrs(servers []*redistest.Server) []string {
	var out []string
	for _, s := range servers {
		out = append(out, s.Addr())
	}
	return out
}

// interruptAll kills every Pub/Sub connection of every server.
func interruptAll(t *testing.T, servers []*redistest.Server) func() {
	var kills []func()
	for _, s := range servers {
		kills = append(kills, interrupter(t, s))
	}
	return func() {
		for _, k := range kills {
			k()
		}
	}
}

// TestConformanceShardedPubSub runs the suite with ShardedPubSub on one redis-server:
// SPUBLISH and SSUBSCRIBE work there too, on one connection.
func TestConformanceShardedPubSub(t *testing.T) {
	t.Parallel()
	backendtest.Run(t, standalone(sharded, 64, 0))
}

// TestConformanceShardedPubSubCluster runs the suite with ShardedPubSub on a Redis
// Cluster of three primaries, each node's Backend holding one Pub/Sub connection per
// primary; Interrupt kills them on every primary.
func TestConformanceShardedPubSubCluster(t *testing.T) {
	t.Parallel()
	servers := redistest.StartShardedCluster(t, 3)
	backendtest.Run(t, func(t *testing.T) backendtest.Cluster {
		var nodes []backendtest.Node
		for range 3 {
			client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs(servers)})
			nodes = append(nodes, closing(t, client, wsredis.Options{ShardedPubSub: true, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}))
		}
		return backendtest.Cluster{Nodes: nodes, Interrupt: interruptAll(t, servers), LogLength: 64}
	})
}

// TestNodesShardedPubSubCluster runs the whole-node suite with ShardedPubSub on a Redis
// Cluster of three primaries.
func TestNodesShardedPubSubCluster(t *testing.T) {
	t.Parallel()
	runNodesShardedCluster(t, sharded)
}

// keysOnEachShard returns, for each server, n object keys whose slots it owns.
func keysOnEachShard(t *testing.T, servers []*redistest.Server, n int) [][]string {
	t.Helper()
	ctx := testContext(t)
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs(servers)})
	defer cc.Close()
	out := make([][]string, len(servers))
	for i := 0; slices.ContainsFunc(out, func(k []string) bool { return len(k) < n }); i++ {
		key := fmt.Sprint("K", i)
		owner, err := cc.MasterForKey(ctx, "wssync:{"+key+"}:changes")
		if err != nil {
			t.Fatal(err)
		}
		for j, s := range servers {
			if owner.Options().Addr == s.Addr() && len(out[j]) < n {
				out[j] = append(out[j], key)
			}
		}
	}
	return out
}

// TestChangesGoBySharedPubSub proves that with ShardedPubSub the change feed is sharded
// pub/sub on the cluster: each object's channel is a shard channel of the primary that
// owns its slot and of no other (PUBSUB SHARDCHANNELS), no plain channel of changes
// exists anywhere (PUBSUB CHANNELS), a plain SUBSCRIBE on the channel on every primary
// hears nothing while the Backend's subscriber gets every change, and the Backend holds
// one Pub/Sub connection per primary whatever the number of objects. A room's presence
// channel goes the same way.
func TestChangesGoBySharedPubSub(t *testing.T) {
	t.Parallel()
	servers := redistest.StartShardedCluster(t, 3)
	ctx := testContext(t)
	keys := keysOnEachShard(t, servers, 4)
	b := closing(t, redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs(servers)}), sharded)
	writer := closing(t, redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs(servers)}), sharded)

	// a plain subscriber of every change channel on every primary
	var plain []*redis.PubSub
	for _, s := range servers {
		chans := []string{"wssync:presence:{lobby}:changes"}
		for _, ks := range keys {
			for _, k := range ks {
				chans = append(chans, "wssync:{"+k+"}:changes")
			}
		}
		ps := s.Client(t).Subscribe(ctx, chans...)
		t.Cleanup(func() { _ = ps.Close() })
		for range chans {
			if _, err := ps.Receive(ctx); err != nil {
				t.Fatal(err)
			}
		}
		plain = append(plain, ps)
	}

	subs := make(map[string]*changes)
	for _, ks := range keys {
		for _, k := range ks {
			subs[k] = newChanges()
			t.Cleanup(b.Subscribe(k, subs[k].deliver))
		}
	}
	for i, s := range servers {
		admin := s.Client(t)
		got, err := admin.PubSubShardChannels(ctx, "wssync:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, k := range keys[i] {
			want = append(want, "wssync:{"+k+"}:changes")
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("primary %d: shard channels %q, want its own objects' %q", i, got, want)
		}
		// the Backend's one connection on this primary, plus the plain subscriber
		list, err := admin.ClientList(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(list, "ssub=4"); n != 1 {
			t.Errorf("primary %d: %d connections with 4 shard subscriptions, want 1:\n%s", i, n, list)
		}
	}
	for _, ks := range keys {
		for _, k := range ks {
			v, err := commit(ctx, writer, k, 0, []byte(`{}`), []byte(`[]`))
			if err != nil {
				t.Fatal(err)
			}
			subs[k].waitVersion(t, 0, v)
		}
	}

	// a room's presence channel is a shard channel too
	watched := make(chan struct{}, 16)
	t.Cleanup(b.WatchPresence("lobby", func() { watched <- struct{}{} }))
	owner, err := writer.Presence(ctx, "lobby") // routes like every room key
	if err != nil || len(owner) != 0 {
		t.Fatalf("Presence of an empty room: %v, %v", owner, err)
	}
	found := 0
	for _, s := range servers {
		got, err := s.Client(t).PubSubShardChannels(ctx, "wssync:presence:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		found += len(got)
	}
	if found != 1 {
		t.Errorf("the room's channel is a shard channel on %d primaries, want 1", found)
	}
	if err := writer.SetPresence(ctx, "lobby", map[string][]byte{"s1": []byte(`{}`)}, time.Minute); err != nil {
		t.Fatal(err)
	}
	select {
	case <-watched:
	case <-time.After(waitTimeout):
		t.Fatal("the presence watcher was not called")
	}

	for i, ps := range plain {
		if msg, err := ps.ReceiveTimeout(ctx, 200*time.Millisecond); err == nil {
			t.Errorf("primary %d: a plain SUBSCRIBE heard %v: it went by PUBLISH", i, msg)
		}
	}
}

// TestShardedCloseEndsEverySubscription: Close ends the Backend's Pub/Sub connection on
// every primary, and no deliver runs after it returns.
func TestShardedCloseEndsEverySubscription(t *testing.T) {
	t.Parallel()
	servers := redistest.StartShardedCluster(t, 3)
	ctx := testContext(t)
	keys := keysOnEachShard(t, servers, 2)
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs(servers)})
	t.Cleanup(func() { _ = client.Close() })
	writer := closing(t, redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs(servers)}), sharded)
	b := wsredis.New(client, sharded)
	var closed atomic.Bool
	for _, ks := range keys {
		for _, k := range ks {
			b.Subscribe(k, func(wssync.Change) {
				if closed.Load() {
					t.Errorf("deliver of %s called after Close returned", k)
				}
			})
		}
	}
	for i, s := range servers {
		if n := numShardSubscribers(t, s); n != 1 {
			t.Errorf("primary %d: %d connections with shard subscriptions, want 1", i, n)
		}
	}
	b.Close()
	closed.Store(true)
	b.Close() // harmless
	for i, s := range servers {
		wstest.EventuallyNil(t, waitTimeout, fmt.Sprint("primary ", i, " without shard subscribers"), func() error {
			if n := numShardSubscribers(t, s); n != 0 {
				return fmt.Errorf("%d connections with shard subscriptions after Close", n)
			}
			return nil
		})
	}
	for _, ks := range keys {
		if _, err := commit(ctx, writer, ks[0], 0, []byte(`{}`), []byte(`[]`)); err != nil {
			t.Fatal(err)
		}
	}
	if stop := b.Subscribe("after", func(wssync.Change) { t.Error("deliver after Close") }); stop == nil {
		t.Error("Subscribe after Close returned nil")
	} else {
		stop()
	}
}

// numShardSubscribers returns how many connections of srv have shard subscriptions.
func numShardSubscribers(t *testing.T, srv *redistest.Server) int {
	t.Helper()
	list, err := srv.Client(t).ClientList(testContext(t)).Result()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, " ssub=") && !strings.Contains(line, " ssub=0") {
			n++
		}
	}
	return n
}
