package wsredis_test

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/redistest"
	"github.com/wssync/wssync/wsredis"
)

// shardStats is what one primary reports at one moment.
type shardStats struct {
	cpu         float64 // used_cpu_sys + used_cpu_user, seconds
	outBytes    int64   // total_net_output_bytes: to clients
	publishRecv int64   // cluster_stats_messages_publish_received: PUBLISHes relayed to it over the cluster bus
}

func readShardStats(ctx context.Context, t *testing.T, c *redis.Client) shardStats {
	t.Helper()
	info, err := c.Info(ctx, "stats", "cpu").Result()
	if err != nil {
		t.Fatal(err)
	}
	cinfo, err := c.ClusterInfo(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	field := func(text, name string) string {
		for _, line := range strings.Split(text, "\r\n") {
			if v, ok := strings.CutPrefix(line, name+":"); ok {
				return v
			}
		}
		return "0"
	}
	sys, _ := strconv.ParseFloat(field(info, "used_cpu_sys"), 64)
	user, _ := strconv.ParseFloat(field(info, "used_cpu_user"), 64)
	out, _ := strconv.ParseInt(field(info, "total_net_output_bytes"), 10, 64)
	pub, _ := strconv.ParseInt(field(cinfo, "cluster_stats_messages_publish_received"), 10, 64)
	return shardStats{cpu: sys + user, outBytes: out, publishRecv: pub}
}

var bytesSent = regexp.MustCompile(`bytes_sent:(\d+)`)

// busBytes returns the bytes sent so far on the TCP connections of the cluster bus (each
// server's port + 10000), from ss(8); ok is false without ss.
func busBytes(servers []*redistest.Server) (int64, bool) {
	var filter []string
	for _, s := range servers {
		bus := ":" + strconv.Itoa(portOf(s)+10000)
		filter = append(filter, "sport = "+bus, "dport = "+bus)
	}
	out, err := exec.Command("ss", "-tinH", "state", "established", "( "+strings.Join(filter, " or ")+" )").Output()
	if err != nil {
		return 0, false
	}
	var n int64
	for _, m := range bytesSent.FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseInt(string(m[1]), 10, 64)
		n += v
	}
	return n, true
}

// TestShardedPubSubTraffic measures, on a Redis Cluster of three primaries, what the
// change feed costs the primaries that do not own the objects, with PUBLISH and with
// SPUBLISH, interleaved in one run: three nodes follow four objects of the first primary,
// and a writer makes 300 changes of a 2 KB state. It asserts what does not depend on
// timing: with SPUBLISH no change crosses the cluster bus to the other primaries
// (cluster_stats_messages_publish_received stays flat there), with PUBLISH every change
// reaches each of them. It logs per change: the bytes on the cluster bus (from ss), the
// bytes the other primaries sent to clients, and Redis CPU on the owner and on the others;
// with -v, median and spread of three rounds.
func TestShardedPubSubTraffic(t *testing.T) {
	t.Parallel()
	servers := redistest.StartShardedCluster(t, 3)
	ctx := testContext(t)
	keys := keysOnEachShard(t, servers, 4)[0] // all on servers[0]
	admins := make([]*redis.Client, len(servers))
	for i, s := range servers {
		admins[i] = s.Client(t)
	}
	state := []byte(`{"count":0,"notes":"` + strings.Repeat("x", 2000) + `"}`)
	const rounds, commits = 3, 300
	type figure struct{ bus, otherOut, ownerCPU, otherCPU float64 }
	results := map[bool][]figure{}

	for range rounds {
		for _, shardedMode := range []bool{false, true} {
			opts := wsredis.Options{ShardedPubSub: shardedMode, HealthInterval: time.Hour}
			var stops []func()
			var subs []*changes
			for i := range 3 {
				client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{servers[i].Addr()}})
				b := wsredis.New(client, opts)
				stops = append(stops, func() { b.Close(); _ = client.Close() })
				for _, k := range keys {
					cs := newChanges()
					subs = append(subs, cs)
					b.Subscribe(k, cs.deliver)
				}
			}
			wclient := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs(servers)})
			w := wsredis.New(wclient, opts)
			stops = append(stops, func() { w.Close(); _ = wclient.Close() })
			versions := make([]uint64, len(keys))
			for i, k := range keys { // the objects exist before the measurement
				if snap, err := w.Load(ctx, k, 0); err != nil || snap.Version == 0 {
					if err := w.Commit(ctx, k, wssync.Proposal{Base: 0, State: state, Patch: []byte(`[]`)}); err != nil {
						t.Fatal(err)
					}
				}
				snap, err := w.Load(ctx, k, 0)
				if err != nil {
					t.Fatal(err)
				}
				versions[i] = snap.Version
			}
			before := make([]shardStats, len(servers))
			for i, a := range admins {
				before[i] = readShardStats(ctx, t, a)
			}
			bus0, haveBus := busBytes(servers)
			for n := range commits {
				i := n % len(keys)
				p := wssync.Proposal{Base: versions[i], State: state, Patch: fmt.Appendf(nil, `[{"op":"replace","path":"/count","value":%d}]`, n)}
				if err := w.Commit(ctx, keys[i], p); err != nil {
					t.Fatal(err)
				}
				versions[i]++
			}
			for j, cs := range subs {
				cs.waitVersion(t, 0, versions[j%len(keys)])
			}
			bus1, _ := busBytes(servers)
			after := make([]shardStats, len(servers))
			for i, a := range admins {
				after[i] = readShardStats(ctx, t, a)
			}
			for _, stop := range stops {
				stop()
			}
			f := figure{bus: float64(bus1-bus0) / commits}
			if !haveBus {
				f.bus = -1
			}
			f.ownerCPU = (after[0].cpu - before[0].cpu) / commits * 1e6
			for i := 1; i < len(servers); i++ {
				relayed := after[i].publishRecv - before[i].publishRecv
				if shardedMode && relayed != 0 {
					t.Errorf("SPUBLISH: primary %d received %d PUBLISH messages over the cluster bus, want 0", i, relayed)
				}
				if !shardedMode && relayed < commits {
					t.Errorf("PUBLISH: primary %d received %d PUBLISH messages over the cluster bus, want at least %d", i, relayed, commits)
				}
				f.otherOut += float64(after[i].outBytes-before[i].outBytes) / commits
				f.otherCPU += (after[i].cpu - before[i].cpu) / commits * 1e6
			}
			results[shardedMode] = append(results[shardedMode], f)
		}
	}
	stat := func(fs []figure, get func(figure) float64) string { return medianSpread(fs, get, 0) }
	for _, mode := range []bool{false, true} {
		name := map[bool]string{false: "PUBLISH ", true: "SPUBLISH"}[mode]
		fs := results[mode]
		t.Logf("%s per change, median (min–max) of %d rounds of %d: cluster bus %s B; other primaries' output to clients %s B; Redis CPU owner %s µs, the two others together %s µs",
			name, rounds, commits,
			stat(fs, func(f figure) float64 { return f.bus }),
			stat(fs, func(f figure) float64 { return f.otherOut }),
			stat(fs, func(f figure) float64 { return f.ownerCPU }),
			stat(fs, func(f figure) float64 { return f.otherCPU }))
	}
}

// medianSpread formats the median and the range of get over fs, with digits decimals:
// "12.5 (11.0–14.2)".
func medianSpread[F any](fs []F, get func(F) float64, digits int) string {
	var v []float64
	for _, f := range fs {
		v = append(v, get(f))
	}
	slices.Sort(v)
	return fmt.Sprintf("%.*f (%.*f–%.*f)", digits, v[len(v)/2], digits, v[0], digits, v[len(v)-1])
}
