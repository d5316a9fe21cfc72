package wsredis_test

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/redistest"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wsredis"
)

// heardClaims is a SessionStore that counts the claims of one session its Manager's
// watches hear, passing ClaimsBySession through as a well-made wrapper must.
type heardClaims struct {
	*wsredis.Backend
	session string

	mu    sync.Mutex
	heard []wssync.SessionClaim
}

func (h *heardClaims) count(claimed func(wssync.SessionClaim)) func(wssync.SessionClaim) {
	return func(c wssync.SessionClaim) {
		if c.ID == h.session {
			h.mu.Lock()
			h.heard = append(h.heard, c)
			h.mu.Unlock()
		}
		claimed(c)
	}
}

func (h *heardClaims) WatchClaims(claimed func(wssync.SessionClaim)) func() {
	return h.Backend.WatchClaims(h.count(claimed))
}

func (h *heardClaims) WatchSessionClaims(id string, claimed func(wssync.SessionClaim)) func() {
	return h.Backend.WatchSessionClaims(id, h.count(claimed))
}

func (h *heardClaims) n() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.heard)
}

// claimNodes starts n nodes (scNodes) with opts, each store counting the claims of
// session its Manager's watches hear.
func claimNodes(t *testing.T, servers []*redistest.Server, n int, opts wsredis.Options, session string) ([]scNode, []*heardClaims) {
	t.Helper()
	var stores []*heardClaims
	nodes := claimNodesWith(t, servers, n, opts, 300*time.Millisecond, func(b *wsredis.Backend) wssync.SessionStore {
		h := &heardClaims{Backend: b, session: session}
		stores = append(stores, h)
		return h
	})
	return nodes, stores
}

// shardSubscribers returns how many shard subscriptions channel has over all servers.
func shardSubscribers(t *testing.T, servers []*redistest.Server, channel string) int64 {
	t.Helper()
	var n int64
	for _, s := range servers {
		got, err := s.Client(t).PubSubShardNumSub(testContext(t), channel).Result()
		if err != nil {
			t.Fatal(err)
		}
		n += got[channel]
	}
	return n
}

// TestClaimsGoToTheSessionsNodes: with ShardedPubSub on a Redis Cluster of three primaries,
// a session's claims reach only the nodes that hold it. A client connects to node 0, then
// moves to node 1: node 0 hears its own claim and node 1's, and lets the session go; node 1
// hears its own; node 2, which never held the session, hears none, and neither does a plain
// SUBSCRIBE to the claims channel on any primary. The session's shard channel has one
// subscriber per node that holds it, and none once the session has expired everywhere.
// Without ShardedPubSub, node 2 hears both claims, as every node hears every claim.
func TestClaimsGoToTheSessionsNodes(t *testing.T) {
	t.Parallel()
	servers := redistest.StartShardedCluster(t, 3)
	for _, tc := range []struct {
		name      string
		opts      wsredis.Options
		bystander int // claims node 2 hears
	}{
		{"sharded", wsredis.Options{ShardedPubSub: true}, 0},
		{"plain", wsredis.Options{}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			session := "tab-moves-" + tc.name + fmt.Sprint(time.Now().UnixNano())
			channel := claimsChannelOf(session)
			nodes, stores := claimNodes(t, servers, 3, tc.opts, session)
			if got := stores[0].ClaimsBySession(); got != tc.opts.ShardedPubSub {
				t.Fatalf("ClaimsBySession %v with ShardedPubSub %v", got, tc.opts.ShardedPubSub)
			}

			// a plain subscriber of the claims channel on every primary
			var plain []*redis.PubSub
			for _, s := range servers {
				ps := s.Client(t).Subscribe(ctx, "wssync:sessions:claims")
				t.Cleanup(func() { _ = ps.Close() })
				if _, err := ps.Receive(ctx); err != nil {
					t.Fatal(err)
				}
				plain = append(plain, ps)
			}

			first := atkConnect(t, nodes[0].url, "alice", session)
			if !first.set {
				t.Fatalf("node 0 refused the session: %+v", first)
			}
			heard(t, stores[0], 1)
			moved := atkConnect(t, nodes[1].url, "alice", session)
			if !moved.set {
				t.Fatalf("node 1 refused the session: %+v", moved)
			}
			heard(t, stores[1], 1)
			heard(t, stores[0], 2)
			wstest.EventuallyNil(t, 10*time.Second, "node 0 to let the session go", func() error {
				if _, held := nodes[0].mgr.Session(session); held {
					return errors.New("node 0 still holds it")
				}
				return nil
			})
			if tc.bystander > 0 {
				heard(t, stores[2], tc.bystander)
			}
			if tc.opts.ShardedPubSub {
				// node 0's watch ended with the session: one subscriber left, node 1's
				wstest.EventuallyNil(t, 10*time.Second, "one subscriber of the session's channel", func() error {
					if n := shardSubscribers(t, servers, channel); n != 1 {
						return fmt.Errorf("%d subscribers", n)
					}
					return nil
				})
			}
			_ = moved.c.Close()
			wstest.EventuallyNil(t, 10*time.Second, "the session to expire on node 1", func() error {
				if _, held := nodes[1].mgr.Session(session); held {
					return errors.New("node 1 still holds it")
				}
				if n := shardSubscribers(t, servers, channel); n != 0 {
					return fmt.Errorf("%d subscribers of the session's channel", n)
				}
				return nil
			})
			if got := stores[2].n(); got != tc.bystander {
				t.Errorf("node 2, which never held the session, heard %d of its claims, want %d", got, tc.bystander)
			}
			for i, ps := range plain {
				_, err := ps.ReceiveTimeout(ctx, 100*time.Millisecond)
				switch {
				case tc.opts.ShardedPubSub && err == nil:
					t.Errorf("primary %d: a plain subscriber of the claims channel heard a claim", i)
				case !tc.opts.ShardedPubSub && err != nil:
					t.Errorf("primary %d: a plain subscriber of the claims channel heard nothing: %v", i, err)
				}
			}
		})
	}
}

// heard waits until h's watches have heard want claims of the session.
func heard(t *testing.T, h *heardClaims, want int) {
	t.Helper()
	wstest.EventuallyNil(t, 10*time.Second, fmt.Sprintf("%d claims heard", want), func() error {
		if got := h.n(); got < want {
			return fmt.Errorf("heard %d", got)
		}
		return nil
	})
}

// TestClaimsTraffic measures, on a Redis Cluster of three primaries, what a claim costs
// with the one claims channel (PUBLISH, WatchClaims on every node) and with per-session
// shard channels (ShardedPubSub: SPUBLISH, WatchSessionClaims by the node that holds the
// session), interleaved in one run: three nodes, each claiming 100 sessions of its own
// and watching them as a Manager does. It asserts what does not depend on timing: with
// per-session channels each claim reaches one node, its claimant's, and no claim crosses
// the cluster bus (cluster_stats_messages_publish_received stays flat on every primary);
// with the one channel each reaches all three nodes and is relayed to every other primary.
// It logs per claim the deliveries, the bytes on the cluster bus (from ss) and the Redis
// CPU of the three primaries together, the watch's start and end included (with
// per-session channels, a node watches each session it holds); with -v, median and
// spread of three rounds.
func TestClaimsTraffic(t *testing.T) {
	t.Parallel()
	servers := redistest.StartShardedCluster(t, 3)
	ctx := testContext(t)
	admins := make([]*redis.Client, len(servers))
	for i, s := range servers {
		admins[i] = s.Client(t)
	}
	const rounds, perNode, nodes = 3, 100, 3
	type figure struct{ deliveries, bus, cpu float64 }
	results := map[bool][]figure{}
	for round := range rounds {
		for _, bySession := range []bool{false, true} {
			opts := wsredis.Options{ShardedPubSub: bySession, HealthInterval: time.Hour}
			var delivered atomic.Int64
			count := func(wssync.SessionClaim) { delivered.Add(1) }
			// The window holds a session's whole life on a node: its watch (SSUBSCRIBE), one
			// claim, the end of its watch (SUNSUBSCRIBE).
			before := make([]shardStats, len(servers))
			for i, a := range admins {
				before[i] = readShardStats(ctx, t, a)
			}
			bus0, haveBus := busBytes(servers)
			var stops []func()
			backends := make([]*wsredis.Backend, nodes)
			ids := make([][]string, nodes)
			for i := range nodes {
				client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs(servers)})
				b := wsredis.New(client, opts)
				stops = append(stops, func() { b.Close(); _ = client.Close() })
				backends[i] = b
				for j := range perNode {
					ids[i] = append(ids[i], fmt.Sprintf("traffic-%d-%v-%d-%d", round, bySession, i, j))
				}
				if bySession {
					for _, id := range ids[i] {
						stops = append(stops, b.WatchSessionClaims(id, count))
					}
				} else {
					stops = append(stops, b.WatchClaims(count))
				}
			}
			for j := range perNode {
				for i, b := range backends {
					if err := b.ClaimSession(ctx, wssync.SessionClaim{ID: ids[i][j], User: "u", Claimant: strconv.Itoa(i)}); err != nil {
						t.Fatal(err)
					}
				}
			}
			claims := int64(perNode * nodes)
			want := claims
			if !bySession {
				want *= nodes
			}
			wstest.EventuallyNil(t, 10*time.Second, "every claim delivered", func() error {
				if got := delivered.Load(); got < want {
					return fmt.Errorf("%d of %d deliveries", got, want)
				}
				return nil
			})
			for _, stop := range stops {
				stop()
			}
			if !bySession {
				// PUBLISH relays still on the bus belong to this round, not the next
				wstest.EventuallyNil(t, 10*time.Second, "every claim relayed to the other primaries", func() error {
					var relayed int64
					for i, a := range admins {
						relayed += readShardStats(ctx, t, a).publishRecv - before[i].publishRecv
					}
					if want := claims * int64(len(servers)-1); relayed < want {
						return fmt.Errorf("%d of %d relays", relayed, want)
					}
					return nil
				})
			}
			bus1, _ := busBytes(servers)
			after := make([]shardStats, len(servers))
			for i, a := range admins {
				after[i] = readShardStats(ctx, t, a)
			}
			if got := delivered.Load(); got != want {
				t.Errorf("bySession %v: %d deliveries of %d claims, want %d", bySession, got, claims, want)
			}
			f := figure{deliveries: float64(delivered.Load()) / float64(claims), bus: float64(bus1-bus0) / float64(claims)}
			if !haveBus {
				f.bus = -1
			}
			var relayed int64
			for i := range servers {
				relayed += after[i].publishRecv - before[i].publishRecv
				f.cpu += (after[i].cpu - before[i].cpu) / float64(claims) * 1e6
			}
			if bySession && relayed != 0 {
				t.Errorf("per-session claims: %d PUBLISH messages relayed over the cluster bus, want 0", relayed)
			}
			if !bySession && relayed < claims*int64(len(servers)-1) {
				t.Errorf("one claims channel: %d PUBLISH messages relayed over the cluster bus, want at least %d", relayed, claims*int64(len(servers)-1))
			}
			results[bySession] = append(results[bySession], f)
		}
	}
	stat := func(fs []figure, get func(figure) float64) string { return medianSpread(fs, get, 1) }
	for _, mode := range []bool{false, true} {
		name := map[bool]string{false: "one claims channel", true: "per-session channels"}[mode]
		fs := results[mode]
		t.Logf("%s, per claim, median (min–max) of %d rounds of %d: deliveries %s; cluster bus %s B; Redis CPU of the three primaries %s µs",
			name, rounds, perNode*nodes,
			stat(fs, func(f figure) float64 { return f.deliveries }),
			stat(fs, func(f figure) float64 { return f.bus }),
			stat(fs, func(f figure) float64 { return f.cpu }))
	}
}

// TestClaimWatchMemory measures what one held session's claim watch costs with
// ShardedPubSub (one shard channel subscription per session a node holds): Redis's
// used_memory and this process's heap, per watch, over 5,000 watches on one redis-server,
// three rounds. It asserts that stopping the watches ends their channels (PUBSUB
// SHARDCHANNELS) and logs the figures with -v.
func TestClaimWatchMemory(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx := testContext(t)
	admin := srv.Client(t)
	usedMemory := func() int64 {
		info, err := admin.Info(ctx, "memory").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			}
		}
		t.Fatal("no used_memory in INFO memory")
		return 0
	}
	heap := func() int64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	const watches, rounds = 5000, 3
	b := closing(t, redis.NewClient(&redis.Options{Addr: srv.Addr()}), wsredis.Options{ShardedPubSub: true, HealthInterval: time.Hour})
	stopFirst := b.WatchSessionClaims("warm-up", func(wssync.SessionClaim) {}) // the connection and its goroutine exist before the measurement
	defer stopFirst()
	type figure struct{ redis, heap float64 }
	var fs []figure
	for round := range rounds {
		r0, h0 := usedMemory(), heap()
		stops := make([]func(), 0, watches)
		for i := range watches {
			stops = append(stops, b.WatchSessionClaims(fmt.Sprintf("mem-%d-%d", round, i), func(wssync.SessionClaim) {}))
		}
		r1, h1 := usedMemory(), heap()
		fs = append(fs, figure{float64(r1-r0) / watches, float64(h1-h0) / watches})
		for _, stop := range stops {
			stop()
		}
		wstest.EventuallyNil(t, 10*time.Second, "the watches' channels to go", func() error {
			chans, err := admin.PubSubShardChannels(ctx, "wssync:session:*").Result()
			if err != nil {
				return err
			}
			if len(chans) != 1 { // the warm-up's
				return fmt.Errorf("%d session channels left", len(chans))
			}
			return nil
		})
	}
	t.Logf("per held session's claim watch, median (min–max) of %d rounds of %d: Redis used_memory %s B, this process's heap %s B",
		rounds, watches, medianSpread(fs, func(f figure) float64 { return f.redis }, 0), medianSpread(fs, func(f figure) float64 { return f.heap }, 0))
}
