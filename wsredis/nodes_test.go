package wsredis_test

import (
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/backendtest"
	"github.com/wssync/wssync/internal/redistest"
	"github.com/wssync/wssync/wspresence"
	"github.com/wssync/wssync/wsredis"
)

// TestNodes runs whole wssync nodes (shared objects, sessions, presence, WebSocket
// clients) on three Backends of one redis-server. Its outage is a frozen Redis (SIGSTOP,
// then SIGCONT), which keeps its data; its wipe kills Redis and starts it again empty, as
// a Redis without persistence restarts. Short client timeouts make the nodes notice both
// quickly. Lost deliveries are dropped between Redis and a node (lossyNode), so the node
// finds the gap from the versions and fetches the patches from the log in Redis.
func TestNodes(t *testing.T) {
	t.Parallel()
	backendtest.RunNodes(t, func(t *testing.T) backendtest.Nodes {
		srv := redistest.Start(t)
		var backends []wssync.Backend
		var sessions []wssync.SessionStore
		var presence []wspresence.Store
		var lossies []*lossyNode
		for range 3 {
			client := redis.NewClient(&redis.Options{
				Addr:         srv.Addr(),
				DialTimeout:  time.Second,
				ReadTimeout:  300 * time.Millisecond,
				WriteTimeout: 300 * time.Millisecond,
			})
			// CheckInterval: a standalone Redis needs no checks, but the suite runs them
			// here through every fault it makes.
			b := closing(t, client, wsredis.Options{OpTimeout: 300 * time.Millisecond, HealthInterval: 300 * time.Millisecond,
				CheckInterval: 300 * time.Millisecond})
			lossy := &lossyNode{Backend: b, lose: make(map[string]int)}
			lossies = append(lossies, lossy)
			backends = append(backends, lossy)
			sessions = append(sessions, b)
			presence = append(presence, b)
		}
		return backendtest.Nodes{
			Backends:  backends,
			Interrupt: interrupter(t, srv),
			Stop:      srv.Pause,
			Start:     srv.Resume,
			Wipe:      wiper(srv),
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

// lossyNode is a node whose pub/sub deliveries of a key can be dropped on the way from
// Redis, as a network loses them: the node must notice the gap from the versions and fetch
// the missing patches from the log in Redis.
type lossyNode struct {
	*wsredis.Backend
	mu   sync.Mutex
	lose map[string]int // key → deliveries still to drop
}

func (l *lossyNode) loseNext(key string, n int) {
	l.mu.Lock()
	l.lose[key] += n
	l.mu.Unlock()
}

func (l *lossyNode) Subscribe(key string, deliver func(wssync.Change)) (stop func()) {
	return l.Backend.Subscribe(key, func(c wssync.Change) {
		l.mu.Lock()
		drop := !c.Lost && l.lose[key] > 0
		if drop {
			l.lose[key]--
		}
		l.mu.Unlock()
		if !drop {
			deliver(c)
		}
	})
}
