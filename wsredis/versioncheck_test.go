package wsredis_test

import (
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/redistest"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wsredis"
)

// Version checks are on where Redis can drop a change's message with no sign (a cluster
// client with plain pub/sub) and off elsewhere, unless set.
func TestCheckIntervalDefaults(t *testing.T) {
	single := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	cluster := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	t.Cleanup(func() { _ = single.Close(); _ = cluster.Close() })
	for _, c := range []struct {
		name   string
		client redis.UniversalClient
		opts   wsredis.Options
		want   time.Duration
	}{
		{"single", single, wsredis.Options{}, 0},
		{"single, set", single, wsredis.Options{CheckInterval: time.Second}, time.Second},
		{"cluster", cluster, wsredis.Options{}, wsredis.DefaultCheckInterval},
		{"cluster, sharded", cluster, wsredis.Options{ShardedPubSub: true}, 0},
		{"cluster, set", cluster, wsredis.Options{CheckInterval: 3 * time.Second}, 3 * time.Second},
		{"cluster, off", cluster, wsredis.Options{CheckInterval: -1}, 0},
	} {
		b := wsredis.New(c.client, c.opts)
		if got := b.CheckInterval(); got != c.want {
			t.Errorf("%s: CheckInterval %v, want %v", c.name, got, c.want)
		}
		b.Close()
	}
}

// TestVersionCheckCost measures what one version check of a quiet object costs Redis, as
// docs/scale-out.md quotes it (`go test -run TestVersionCheckCost -v ./wsredis`): one
// command (the load script, asked for the patches since the node's version, of which
// there are none), and a reply of a few bytes whatever the state's size.
func TestVersionCheckCost(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := wstest.Context(t)
	sent := &countingHook{counts: map[string]int{}}
	client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	client.AddHook(sent)
	// an hour of HealthInterval: no pings on the subscription during the measurement
	b := closing(t, client, wsredis.Options{HealthInterval: time.Hour, CheckInterval: 10 * time.Millisecond})
	notes := make([]string, 32)
	for i := range notes {
		notes[i] = strings.Repeat("n", 60)
	}
	s, err := wssync.NewShared("QUIETBOARD", &costBoard{Notes: notes}, wssync.WithBackend(b))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Unregister)
	state, _ := s.Published()
	for s.BackendStatus().Checks < 1 {
		if ctx.Err() != nil {
			t.Fatal("no check")
		}
		time.Sleep(time.Millisecond)
	}
	if err := admin.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	sent.reset()
	first := s.BackendStatus().Checks
	const checks = 50
	for s.BackendStatus().Checks < first+checks {
		if ctx.Err() != nil {
			t.Fatal("too few checks")
		}
		time.Sleep(time.Millisecond)
	}
	st := readStats(t, admin)
	counts, total := sent.snapshot()
	made := s.BackendStatus().Checks - first
	// a check may be on its way when the counts are read: allow one either side
	if total < int(made)-1 || total > int(made)+1 {
		t.Errorf("%d commands sent for %d checks (%v), want one each", total, made, counts)
	}
	perCheck := float64(st.out) / float64(made)
	t.Logf("per version check: %.2f commands sent (%v), Redis reply %.0f B, request %.0f B; state %d B",
		float64(total)/float64(made), counts, perCheck, float64(st.in)/float64(made), len(state))
	if perCheck > 100 {
		t.Errorf("Redis sent %.0f B per check of a %d-byte state, want a reply without the state", perCheck, len(state))
	}
	if m := s.BackendStatus().Missed; m != 0 {
		t.Errorf("%d checks of a current object counted as missed", m)
	}
}
