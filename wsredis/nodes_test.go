package wsredis_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/backendtest"
	"github.com/wssync/wssync/internal/redistest"
	"github.com/wssync/wssync/wsredis"
)

// TestNodes runs whole wssync nodes (shared objects, sessions, presence, WebSocket
// clients) on three Backends of one redis-server. Its outage is a frozen Redis (SIGSTOP,
// then SIGCONT), which keeps its data; its wipe kills Redis and starts it again empty, as
// a Redis without persistence restarts. Short client timeouts make the nodes notice both
// quickly.
func TestNodes(t *testing.T) {
	t.Parallel()
	backendtest.RunNodes(t, func(t *testing.T) backendtest.Nodes {
		srv := redistest.Start(t)
		var backends []wssync.Backend
		var sessions []wssync.SessionStore
		var presence []wssync.PresenceStore
		for range 3 {
			client := redis.NewClient(&redis.Options{
				Addr:         srv.Addr(),
				DialTimeout:  time.Second,
				ReadTimeout:  300 * time.Millisecond,
				WriteTimeout: 300 * time.Millisecond,
			})
			b := closing(t, client, wsredis.Options{OpTimeout: 300 * time.Millisecond, HealthInterval: 300 * time.Millisecond})
			backends = append(backends, b)
			sessions = append(sessions, b)
			presence = append(presence, b)
		}
		return backendtest.Nodes{
			Backends:  backends,
			Interrupt: interrupter(t, srv),
			Stop:      srv.Pause,
			Start:     srv.Resume,
			Wipe:      wiper(srv),
			Sessions:  sessions,
			Presence:  presence,
		}
	})
}
