package redistest_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wssync/wssync/internal/leakcheck"
	"github.com/wssync/wssync/internal/redistest"
	"github.com/wssync/wssync/internal/wstest"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func TestStopRestart(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr()

	srv.Stop()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING answered after Stop")
	}

	srv.Restart()
	if srv.Addr() != addr {
		t.Errorf("address changed from %s to %s", addr, srv.Addr())
	}
	waitPing(t, ctx, c, "Restart")
	if n, err := c.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Errorf("EXISTS k after Restart: %d, %v; want 0: the data is gone", n, err)
	}
}

// TestPersistentKillRestart: a server of StartPersistent killed with SIGKILL comes back
// with every write it acknowledged.
func TestPersistentKillRestart(t *testing.T) {
	t.Parallel()
	srv := redistest.StartPersistent(t)
	c := srv.Client(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	srv.Restart()
	waitPing(t, ctx, c, "Restart")
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Errorf("GET k after SIGKILL and Restart: %q, %v; want v", v, err)
	}
}

func TestPauseResume(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), ReadTimeout: 100 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	ctx := t.Context()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Error("PING answered while paused")
	}
	srv.Resume()
	waitPing(t, ctx, c, "Resume")
}

// waitPing waits until c gets an answer to PING, at most 10 s: after the server came back,
// the client's pool may hold dead connections for a moment.
func waitPing(t *testing.T, ctx context.Context, c *redis.Client, after string) {
	t.Helper()
	wstest.EventuallyNil(t, 10*time.Second, "a PING answer after "+after, func() error { return c.Ping(ctx).Err() })
}

func TestCluster(t *testing.T) {
	t.Parallel()
	srv := redistest.StartCluster(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{srv.Addr()}})
	defer c.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// The server enforces one slot per command: keys of one hash tag pass, others do not.
	if err := c.MSet(ctx, "{a}1", "x", "{a}2", "y").Err(); err != nil {
		t.Errorf("MSET within one hash tag: %v", err)
	}
	if err := srv.Client(t).MSet(ctx, "a1", "x", "b2", "y").Err(); err == nil {
		t.Error("MSET across slots was accepted: the server is not enforcing cluster rules")
	}
}
