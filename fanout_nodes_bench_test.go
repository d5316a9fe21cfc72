package wssync_test

import (
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/redistest"
	"github.com/wssync/wssync/wsmemory"
	"github.com/wssync/wssync/wsredis"
)

// BenchmarkCrossNodeFanout publishes one small change of a shared object to N real
// WebSocket clients spread evenly over three nodes (three Managers, each with its own
// NewShared of the same key attached to the backend), the change being made on node 0: a
// third of the clients get it from node 0 directly, the rest after it crossed the backend
// (commit, pub/sub, patch applied on the other node). Beside it, in the same run, the same
// N clients on one node without a backend (BenchmarkFanout's wssync case). Metrics as in
// BenchmarkFanout: deliveries/s, p50-ms and p99-ms from just before the change is made to
// each client's receipt; remote-p50-ms and remote-p99-ms over the clients of nodes 1 and 2
// only (the change crossed the backend to reach them). N=3 (one client per node) shows the
// cost of the hop itself; N=1,000 the fan-out.
//
//	go test -run '^$' -bench CrossNodeFanout -benchtime 2s -count 3 .
//
// The redis case starts Debian's redis-server on a loopback port.
func BenchmarkCrossNodeFanout(b *testing.B) {
	parent := b // the Redis server lives as long as the whole benchmark
	for _, n := range []int{3, 1_000} {
		for _, kind := range []string{"single-node", "3-nodes-memory", "3-nodes-redis"} {
			var env fanEnv
			b.Run(fmt.Sprintf("N=%d/%s", n, kind), func(b *testing.B) {
				if env == nil {
					var err error
					switch kind {
					case "single-node":
						env, err = newFanWssync(n)
					case "3-nodes-memory":
						m := wsmemory.New()
						env, err = newFanNodes(n, []wssync.Backend{m, m, m}, nil)
					case "3-nodes-redis":
						env, err = newFanRedisNodes(parent, n)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				runFanout(b, env, n)
			})
			if env != nil {
				if err := env.close(); err != nil {
					b.Errorf("closing the %s environment: %v", kind, err)
				}
			}
		}
	}
}

// fanNodes is three nodes sharing a fanRoom through a backend.
type fanNodes struct {
	shared  []*wssync.Synced[fanRoom]
	mgrs    []*wssync.Manager
	srvs    []*httptest.Server
	fc      *fanClients
	cleanup func()
}

func newFanNodes(n int, backends []wssync.Backend, cleanup func()) (*fanNodes, error) {
	e := &fanNodes{cleanup: cleanup}
	urls := make([]string, len(backends))
	for i, b := range backends {
		s, err := wssync.NewShared("FANROOM", &fanRoom{Topic: "fan-out"}, wssync.WithBackend(b))
		if err != nil {
			_ = e.close()
			return nil, err
		}
		e.shared = append(e.shared, s)
		m, srv := newFanManager(s, false)
		e.mgrs, e.srvs = append(e.mgrs, m), append(e.srvs, srv)
		urls[i] = fanURL(srv)
	}
	var err error
	if e.fc, err = dialFanClientsAcross(urls, n, 1); err != nil {
		_ = e.close()
		return nil, err
	}
	e.fc.remote = make([]bool, n)
	for i := range e.fc.remote {
		e.fc.remote[i] = i%len(urls) != 0 // client i is served by node i%3; node 0 publishes
	}
	return e, nil
}

func newFanRedisNodes(b *testing.B, n int) (*fanNodes, error) {
	srv := redistest.Start(b)
	var clients []*redis.Client
	var backends []wssync.Backend
	var rbs []*wsredis.Backend
	for range 3 {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
		rb := wsredis.New(c, wsredis.Options{})
		clients, rbs, backends = append(clients, c), append(rbs, rb), append(backends, rb)
	}
	return newFanNodes(n, backends, func() {
		for i := range rbs {
			rbs[i].Close()
			_ = clients[i].Close()
		}
	})
}

func (e *fanNodes) clients() *fanClients { return e.fc }

// prepare names the next version; runFanout has waited for every client (hence every
// node) to receive the previous change.
func (e *fanNodes) prepare() uint64 { return e.shared[0].Version() + 1 }

func (e *fanNodes) publish(v uint64) error {
	return e.shared[0].Update(func(r *fanRoom) { r.N = int(v) })
}

func (e *fanNodes) check() error {
	for i, s := range e.shared {
		if st := s.BackendStatus(); st.Reloads > 1 || st.Offline || st.Dropped > 0 {
			return fmt.Errorf("node %d did not follow by patches alone: %+v", i, st)
		}
	}
	for i, m := range e.mgrs {
		if st := m.Stats(); st.SlowDrops != 0 || st.SlowCloses != 0 {
			return fmt.Errorf("node %d: slow-client handling kicked in: %+v", i, st)
		}
	}
	return nil
}

func (e *fanNodes) close() error {
	var first error
	for i := range e.mgrs {
		if err := shutdownFanManager(e.mgrs[i], e.srvs[i]); err != nil && first == nil {
			first = err
		}
	}
	if e.fc != nil {
		e.fc.close()
	}
	for _, s := range e.shared {
		s.Unregister()
	}
	if e.cleanup != nil {
		e.cleanup()
	}
	return first
}
