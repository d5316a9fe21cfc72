package wsredis_test

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/backendtest"
	"github.com/wssync/wssync/internal/redistest"
	"github.com/wssync/wssync/wsredis"
)

// faultNodes returns n Backends on srv, each with a client of its own whose timeouts
// (300 ms) are well below the faults' durations and which does not retry a failed
// command, so every fault outlasts the commits and loads it catches.
func faultNodes(t *testing.T, srv *redistest.Server, n int) []wssync.Backend {
	var bs []wssync.Backend
	for range n {
		client := redis.NewClient(&redis.Options{
			Addr:         srv.Addr(),
			DialTimeout:  300 * time.Millisecond,
			ReadTimeout:  300 * time.Millisecond,
			WriteTimeout: 300 * time.Millisecond,
			PoolTimeout:  300 * time.Millisecond,
			MaxRetries:   -1,
		})
		bs = append(bs, closing(t, client, wsredis.Options{
			OpTimeout: 300 * time.Millisecond, HealthInterval: 300 * time.Millisecond,
			MinBackoff: 20 * time.Millisecond, MaxBackoff: 300 * time.Millisecond,
		}))
	}
	return bs
}

// faultRounds is how many times TestFaults runs each scenario: 1, or WSSYNC_FAULT_ROUNDS
// (make soak).
func faultRounds(t *testing.T) int {
	if s := os.Getenv("WSSYNC_FAULT_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("WSSYNC_FAULT_ROUNDS=%q: want a positive number", s)
		}
		return n
	}
	return 1
}

// TestFaults is the fault suite on a real redis-server: nodes on separate Backends,
// clients appending over WebSockets, and the store frozen (SIGSTOP for longer than every
// timeout, then SIGCONT: Redis then runs the commands queued meanwhile), killed and
// restarted with its append-only file, or restarted empty. Each acknowledged append must
// end up in the converged list exactly once (or be counted as lost and reported to its
// writer), and no append twice; see backendtest.RunFault.
func TestFaults(t *testing.T) {
	t.Parallel()
	rounds := faultRounds(t)
	scenarios := []struct {
		name  string
		nodes int
		start func(testing.TB) *redistest.Server
		fault func(*redistest.Server) (brk, heal func())
		hold  time.Duration
	}{
		{"Pause", 2, redistest.Start, func(s *redistest.Server) (func(), func()) { return s.Pause, s.Resume }, 1200 * time.Millisecond},
		{"PauseThreeNodes", 3, redistest.Start, func(s *redistest.Server) (func(), func()) { return s.Pause, s.Resume }, 1200 * time.Millisecond},
		{"KillRestartPersistent", 2, redistest.StartPersistent, func(s *redistest.Server) (func(), func()) { return s.Stop, s.Restart }, 2 * time.Second},
		{"RestartEmpty", 2, redistest.Start, func(s *redistest.Server) (func(), func()) { return s.Stop, s.Restart }, 2 * time.Second},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			for r := range rounds {
				if rounds > 1 {
					t.Logf("round %d of %d", r+1, rounds)
				}
				srv := sc.start(t)
				brk, heal := sc.fault(srv)
				backendtest.RunFault(t, backendtest.Fault{Backends: faultNodes(t, srv, sc.nodes), Break: brk, Heal: heal, Hold: sc.hold})
				if t.Failed() {
					return
				}
			}
		})
	}
}
