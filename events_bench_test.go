package wssync_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/redistest"
	"github.com/wssync/wssync/wsredis"
)

// BenchmarkEventFanout sends one small addressed event ({"type":"tick","data":{"v":N}})
// with Manager.Send to the subscribers of a shared key (ToSubscribers("ROOM")), a room of
// N real WebSocket clients over loopback, and waits until every client received it
// before sending the next (runFanout: deliveries/s, p50-ms, p99-ms from just before Send
// to each receipt; remote-* over the clients of the nodes that did not send). Cases, in
// the same run:
//
//   - 1-node: one Manager, no event bus;
//
//   - 3-nodes-redis: the N clients spread over three Managers, each with a wsredis.Backend
//     of its own as event bus (WithEventBus) on one redis-server, node 0 sending: a third
//     get it from node 0 directly, the rest through Redis pub/sub;
//
//   - raw-1-node: the hand-written gorilla hub of BenchmarkFanout broadcasting the
//     pre-encoded frame;
//
//   - raw-redis-3-nodes: three such hubs, each with a go-redis Pub/Sub subscription read by
//     one goroutine that broadcasts every message it receives as one PreparedMessage; one
//     PUBLISH of the pre-encoded frame per event.
//
//     go test -run '^$' -bench EventFanout -benchtime 2s -count 3 .
func BenchmarkEventFanout(b *testing.B) {
	parent := b // the Redis server lives as long as the whole benchmark
	const n = 1_000
	for _, kind := range []string{"1-node", "3-nodes-redis", "raw-1-node", "raw-redis-3-nodes"} {
		var env fanEnv
		b.Run(fmt.Sprintf("N=%d/%s", n, kind), func(b *testing.B) {
			b.ReportAllocs()
			if env == nil {
				var err error
				switch kind {
				case "1-node":
					env, err = newEventNodes(n, 1, nil)
				case "3-nodes-redis":
					env, err = newEventRedisNodes(parent, n)
				case "raw-1-node":
					env, err = newFanRaw(n)
				case "raw-redis-3-nodes":
					env, err = newRawRedisNodes(parent, n)
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

// eventNodes is Managers whose sessions join a ROOM of their own node (no backend: the
// event needs only the subscriptions), sending from node 0.
type eventNodes struct {
	rooms   []*wssync.Synced[fanRoom]
	mgrs    []*wssync.Manager
	srvs    []*httptest.Server
	fc      *fanClients
	v       uint64
	cleanup func()
}

func newEventNodes(n, nodes int, buses []wssync.EventBus) (*eventNodes, error) {
	e := &eventNodes{}
	urls := make([]string, nodes)
	for i := range nodes {
		room, err := wssync.NewShared("ROOM", &fanRoom{Topic: "events"})
		if err != nil {
			_ = e.close()
			return nil, err
		}
		opts := []wssync.ManagerOption{wssync.WithAnonymousSessions(), wssync.WithLimits(wssync.Limits{RatePerSecond: -1}),
			wssync.WithManagerLimits(wssync.ManagerLimits{MaxConnsPerUser: 1 << 30})}
		if buses != nil {
			opts = append(opts, wssync.WithEventBus(buses[i]))
		}
		m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error { return room.Join(sess) }, opts...)
		srv := httptest.NewServer(http.HandlerFunc(m.ServeWS))
		e.rooms, e.mgrs, e.srvs = append(e.rooms, room), append(e.mgrs, m), append(e.srvs, srv)
		urls[i] = fanURL(srv)
	}
	var err error
	if e.fc, err = dialFanClientsAcross(urls, n, 1); err != nil {
		_ = e.close()
		return nil, err
	}
	if nodes > 1 {
		e.fc.remote = make([]bool, n)
		for i := range e.fc.remote {
			e.fc.remote[i] = i%nodes != 0
		}
	}
	return e, nil
}

func newEventRedisNodes(b *testing.B, n int) (*eventNodes, error) {
	srv := redistest.Start(b)
	var clients []*redis.Client
	var rbs []*wsredis.Backend
	var buses []wssync.EventBus
	for range 3 {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
		rb := wsredis.New(c, wsredis.Options{})
		clients, rbs, buses = append(clients, c), append(rbs, rb), append(buses, rb)
	}
	cleanup := func() {
		for i := range rbs {
			rbs[i].Close()
			_ = clients[i].Close()
		}
	}
	e, err := newEventNodes(n, 3, buses)
	if err != nil {
		cleanup()
		return nil, err
	}
	e.cleanup = cleanup
	return e, nil
}

func (e *eventNodes) clients() *fanClients { return e.fc }

func (e *eventNodes) prepare() uint64 {
	e.v++
	return e.v
}

func (e *eventNodes) publish(v uint64) error {
	msg, err := wssync.NewEvent("tick", map[string]uint64{"v": v})
	if err != nil {
		return err
	}
	d, err := e.mgrs[0].Send(context.Background(), wssync.ToSubscribers("ROOM"), msg)
	if err == nil && d.Nodes != len(e.mgrs)-1 {
		err = fmt.Errorf("the bus reached %d other nodes, want %d", d.Nodes, len(e.mgrs)-1)
	}
	return err
}

func (e *eventNodes) check() error {
	for i, m := range e.mgrs {
		if st := m.Stats(); st.SlowDrops != 0 || st.SlowCloses != 0 || st.MessagesDuplicate != 0 {
			return fmt.Errorf("node %d: %+v", i, st)
		}
	}
	return nil
}

func (e *eventNodes) close() error {
	var first error
	for i := range e.mgrs {
		if err := shutdownFanManager(e.mgrs[i], e.srvs[i]); err != nil && first == nil {
			first = err
		}
	}
	if e.fc != nil {
		e.fc.close()
	}
	for _, r := range e.rooms {
		r.Unregister()
	}
	if e.cleanup != nil {
		e.cleanup()
	}
	return first
}

// rawRedisNodes is three fanHubs fed by Redis pub/sub: the raw baseline of 3-nodes-redis.
type rawRedisNodes struct {
	hubs    []*fanHub
	subs    []*redis.PubSub
	pub     *redis.Client
	rcs     []*redis.Client
	fc      *fanClients
	v       uint64
	buf     []byte
	readers sync.WaitGroup
}

const rawChannel = "raw:events"

func newRawRedisNodes(b *testing.B, n int) (*rawRedisNodes, error) {
	srv := redistest.Start(b)
	e := &rawRedisNodes{pub: redis.NewClient(&redis.Options{Addr: srv.Addr()})}
	urls := make([]string, 3)
	for i := range urls {
		h := newFanHub()
		c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
		ps := c.Subscribe(context.Background(), rawChannel)
		if _, err := ps.Receive(context.Background()); err != nil { // the confirmation
			_ = e.close()
			return nil, err
		}
		e.hubs, e.subs, e.rcs = append(e.hubs, h), append(e.subs, ps), append(e.rcs, c)
		urls[i] = fanURL(h.srv)
		e.readers.Add(1)
		go func() { // the node's subscriber: every message to every connection of its hub
			defer e.readers.Done()
			for msg := range ps.Channel() {
				pm, err := websocket.NewPreparedMessage(websocket.TextMessage, []byte(msg.Payload))
				if err == nil {
					h.broadcast(pm)
				}
			}
		}()
	}
	var err error
	if e.fc, err = dialFanClientsAcross(urls, n, 1); err != nil {
		_ = e.close()
		return nil, err
	}
	e.fc.remote = make([]bool, n)
	for i := range e.fc.remote {
		e.fc.remote[i] = true // every client is reached through Redis
	}
	return e, nil
}

func (e *rawRedisNodes) clients() *fanClients { return e.fc }

// prepare encodes the frame wssync sends for the same event, before the clock starts.
func (e *rawRedisNodes) prepare() uint64 {
	e.v++
	e.buf = fmt.Appendf(e.buf[:0], `{"type":"tick","data":{"v":%d}}`, e.v)
	return e.v
}

func (e *rawRedisNodes) publish(uint64) error {
	return e.pub.Publish(context.Background(), rawChannel, e.buf).Err()
}

func (e *rawRedisNodes) check() error {
	for i, h := range e.hubs {
		h.mu.Lock()
		dropped := h.dropped
		h.mu.Unlock()
		if dropped != 0 {
			return fmt.Errorf("hub %d dropped %d sends", i, dropped)
		}
	}
	return nil
}

func (e *rawRedisNodes) close() error {
	if e.fc != nil {
		e.fc.close()
	}
	for _, ps := range e.subs {
		_ = ps.Close()
	}
	e.readers.Wait()
	for _, h := range e.hubs {
		h.close()
	}
	for _, c := range e.rcs {
		_ = c.Close()
	}
	return e.pub.Close()
}
