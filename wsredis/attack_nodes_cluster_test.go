package wsredis_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/backendtest"
	"github.com/wssync/wssync/internal/redistest"
	"github.com/wssync/wssync/wspresence"
	"github.com/wssync/wssync/wsredis"
)

// TestNodesShardedCluster runs the whole-node suite (shared objects, sessions moving
// between nodes, presence, WebSocket clients) on a Redis Cluster of three primaries, each
// node's cluster client starting from a different cluster node, so that claims, events and
// presence cross the cluster bus. The outage and wipe tests are left to the standalone
// TestNodes. Claims of different sessions may reach a node in either order there; the
// suite relies only on the order among one session's claims.
func TestNodesShardedCluster(t *testing.T) {
	t.Parallel()
	runNodesShardedCluster(t, wsredis.Options{})
}

// runNodesShardedCluster is TestNodesShardedCluster with opts (OpTimeout, HealthInterval
// and, with plain pub/sub, CheckInterval set here) for every node's Backend.
func runNodesShardedCluster(t *testing.T, opts wsredis.Options) {
	opts.OpTimeout = 300 * time.Millisecond
	// Version checks are on by default on a cluster client with plain pub/sub (every
	// 10 s); a second keeps LostLastDeliveryFoundByCheck well inside its wait.
	if !opts.ShardedPubSub {
		opts.CheckInterval = time.Second
	}
	opts.HealthInterval = 300 * time.Millisecond
	backendtest.RunNodes(t, func(t *testing.T) backendtest.Nodes {
		servers := redistest.StartShardedCluster(t, 3)
		var backends []wssync.Backend
		var sessions []wssync.SessionStore
		var presence []wspresence.Store
		var lossies []*lossyNode
		for _, s := range servers {
			client := redis.NewClusterClient(&redis.ClusterOptions{
				Addrs:        []string{s.Addr()},
				DialTimeout:  time.Second,
				ReadTimeout:  300 * time.Millisecond,
				WriteTimeout: 300 * time.Millisecond,
			})
			b := closing(t, client, opts)
			lossy := &lossyNode{Backend: b, lose: make(map[string]int)}
			lossies = append(lossies, lossy)
			backends = append(backends, lossy)
			sessions = append(sessions, b)
			presence = append(presence, b)
		}
		var kills []func()
		for _, s := range servers {
			kills = append(kills, interrupter(t, s))
		}
		return backendtest.Nodes{
			Backends: backends,
			Interrupt: func() {
				for _, k := range kills {
					k()
				}
			},
			LoseNext: func(key string, n int) {
				for _, l := range lossies {
					l.loseNext(key, n)
				}
			},
			Sessions: sessions,
			Presence: presence,
		}
	})
}
