package wsredis_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wssync/wssync/backendtest"
	"github.com/wssync/wssync/internal/leakcheck"
	"github.com/wssync/wssync/internal/redistest"
	"github.com/wssync/wssync/wspresence"
	"github.com/wssync/wssync/wsredis"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// A Backend is a presence store for wspresence.
var _ wspresence.Store = (*wsredis.Backend)(nil)

// newBackend returns a Backend with a client of its own on addr, both closed when the test
// ends.
func newBackend(t *testing.T, addr string, opts wsredis.Options) *wsredis.Backend {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: addr})
	return closing(t, client, opts)
}

// closing returns a Backend on client; at the end of the test it closes the Backend, then
// the client.
func closing(t *testing.T, client redis.UniversalClient, opts wsredis.Options) *wsredis.Backend {
	b := wsredis.New(client, opts)
	t.Cleanup(func() {
		b.Close()
		_ = client.Close()
	})
	return b
}

// interrupter returns a function that kills every Pub/Sub connection of the server.
func interrupter(t *testing.T, srv *redistest.Server) func() {
	admin := srv.Client(t)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := admin.ClientKillByFilter(ctx, "TYPE", "pubsub").Err(); err != nil {
			t.Errorf("CLIENT KILL TYPE pubsub: %v", err)
		}
	}
}

// wiper returns a function that kills the server and starts it again, empty.
func wiper(srv *redistest.Server) func() {
	return func() {
		srv.Stop()
		srv.Restart()
	}
}

// standalone returns the suite's clusters of three nodes, each a Backend with opts and a
// client of its own, on a redis-server of the subtest's own; logLength is opts's log
// length with its default, commitIDs its commit IDs (0: the default, not tested).
func standalone(opts wsredis.Options, logLength, commitIDs int) func(t *testing.T) backendtest.Cluster {
	return func(t *testing.T) backendtest.Cluster {
		srv := redistest.Start(t)
		var nodes []backendtest.Node
		for range 3 {
			nodes = append(nodes, newBackend(t, srv.Addr(), opts))
		}
		return backendtest.Cluster{Nodes: nodes, Interrupt: interrupter(t, srv), Wipe: wiper(srv), LogLength: logLength, CommitIDs: commitIDs}
	}
}

// TestConformance runs the suite against three nodes, each with its own client, on one
// redis-server.
func TestConformance(t *testing.T) {
	t.Parallel()
	backendtest.Run(t, standalone(wsredis.Options{}, 64, 0))
}

// TestConformanceShortLog runs the suite with a log of three patches and eight commit IDs.
func TestConformanceShortLog(t *testing.T) {
	t.Parallel()
	backendtest.Run(t, standalone(wsredis.Options{LogLength: 3, CommitIDs: 8}, 3, 8))
}

// TestConformanceCluster runs the suite through redis.ClusterClient against a Redis
// Cluster, which refuses any script whose keys are not all in one slot. The subtests share
// one server, which takes seconds to start: their keys differ, the one that interrupts
// every subscription runs alone, and the one that restarts the store empty is skipped.
func TestConformanceCluster(t *testing.T) {
	t.Parallel()
	srv := redistest.StartCluster(t)
	backendtest.Run(t, func(t *testing.T) backendtest.Cluster {
		var nodes []backendtest.Node
		for range 3 {
			client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{srv.Addr()}})
			nodes = append(nodes, closing(t, client, wsredis.Options{}))
		}
		return backendtest.Cluster{Nodes: nodes, Interrupt: interrupter(t, srv), LogLength: 64}
	})
}

// TestConformanceShardedCluster runs the suite through redis.ClusterClient against a Redis
// Cluster of three primaries, so that different objects, sessions and rooms live on
// different processes and pub/sub crosses the cluster bus.
func TestConformanceShardedCluster(t *testing.T) {
	t.Parallel()
	servers := redistest.StartShardedCluster(t, 3)
	var addrs []string
	for _, s := range servers {
		addrs = append(addrs, s.Addr())
	}
	backendtest.Run(t, func(t *testing.T) backendtest.Cluster {
		var nodes []backendtest.Node
		for range 3 {
			client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
			nodes = append(nodes, closing(t, client, wsredis.Options{}))
		}
		return backendtest.Cluster{Nodes: nodes, LogLength: 64}
	})
}
