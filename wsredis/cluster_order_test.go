package wsredis_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wssync/wssync/internal/redistest"
	"github.com/wssync/wssync/wsredis"
)

// TestEventsInSenderOrderOnShardedCluster: on a Redis Cluster of three primaries, the
// events one Backend publishes reach every other Backend's SubscribeEvents in the order
// they were published, as docs/scale-out.md "Events across nodes" promises per sender.
// The subscribers' cluster clients connect to different cluster nodes.
func TestEventsInSenderOrderOnShardedCluster(t *testing.T) {
	t.Parallel()
	servers := redistest.StartShardedCluster(t, 3)
	const events = 300
	type got struct {
		mu  sync.Mutex
		seq []int
	}
	var subs []*got
	for i, s := range servers {
		// each subscriber starts from a different cluster node
		client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{s.Addr()}})
		b := closing(t, client, wsredis.Options{})
		g := &got{}
		subs = append(subs, g)
		stop := b.SubscribeEvents(func(p []byte) {
			n, err := strconv.Atoi(string(p))
			if err != nil {
				t.Errorf("subscriber %d: payload %q", i, p)
				return
			}
			g.mu.Lock()
			g.seq = append(g.seq, n)
			g.mu.Unlock()
		})
		t.Cleanup(stop)
	}
	var addrs []string
	for _, s := range servers {
		addrs = append(addrs, s.Addr())
	}
	pub := closing(t, redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs}), wsredis.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range events {
		if _, err := pub.PublishEvent(ctx, []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	for i, g := range subs {
		for {
			g.mu.Lock()
			n := len(g.seq)
			seq := append([]int(nil), g.seq...)
			g.mu.Unlock()
			if n == events {
				for j, v := range seq {
					if v != j {
						t.Fatalf("subscriber %d: event %d arrived as number %d: out of the sender's order", i, v, j)
					}
				}
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("subscriber %d got %d of %d events", i, n, events)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}
