package redistest

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// StartShardedCluster runs a Redis Cluster of n primaries (no replicas) on loopback, the
// 16384 slots split evenly between them, and waits until every node reports the cluster
// state ok. Unlike StartCluster's single node, keys of different hash tags land on
// different processes, and a PUBLISH travels the cluster bus to every node, as it does in
// production. Each node's cluster bus is its port + 10000, as Redis fixes it.
func StartShardedCluster(t testing.TB, n int) []*Server {
	t.Helper()
	return startSharded(t, n, false)
}

// StartShardedClusterPersistent is StartShardedCluster with nodes that keep their data in
// an append-only file synced at every write, as StartPersistent: a node stopped and
// restarted comes back with every write it acknowledged and its place in the cluster.
func StartShardedClusterPersistent(t testing.TB, n int) []*Server {
	t.Helper()
	return startSharded(t, n, true)
}

func startSharded(t testing.TB, n int, aof bool) []*Server {
	t.Helper()
	if n < 1 {
		t.Fatalf("redistest: a cluster needs at least one node, not %d", n)
	}
	servers := make([]*Server, n)
	for i := range servers {
		servers[i] = startWith(t, true, aof)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*startTimeout)
	defer cancel()
	per := 16384 / n
	for i, s := range servers {
		c := s.Client(t)
		first, last := i*per, (i+1)*per-1
		if i == n-1 {
			last = 16383
		}
		if err := c.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", first, last).Err(); err != nil {
			t.Fatalf("redistest: CLUSTER ADDSLOTSRANGE on node %d: %v", i, err)
		}
		if i > 0 {
			if err := c.ClusterMeet(ctx, "127.0.0.1", strconv.Itoa(servers[0].port)).Err(); err != nil {
				t.Fatalf("redistest: CLUSTER MEET from node %d: %v", i, err)
			}
		}
	}
	for i, s := range servers {
		c := s.Client(t)
		for {
			info, err := c.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(n)+"\r\n") {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("redistest: node %d: cluster not ok: %v\n%s", i, err, info)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return servers
}
