package peers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/centrifugal/centrifuge"
	"github.com/gorilla/websocket"

	"github.com/wssync/wssync"
)

func wsURL(srv *httptest.Server) string { return "ws" + strings.TrimPrefix(srv.URL, "http") }

// readFrames is the hello of a server that sends k frames on connect.
func readFrames(k int) hello {
	return func(ws *websocket.Conn) error {
		for range k {
			if _, _, err := ws.ReadMessage(); err != nil {
				return fmt.Errorf("initial frame: %w", err)
			}
		}
		return nil
	}
}

// room is the shared object: a change is one replace of n.
type room struct {
	Topic string `sync:"topic"`
	N     int    `sync:"n"`
}

// wssyncEnv serves a shared room (NewShared + Join) to n anonymous Manager sessions.
type wssyncEnv struct {
	m      *wssync.Manager
	srv    *httptest.Server
	shared *wssync.Synced[room]
	c      *clients
	n      int64
}

func newWssync(n int) (env, error) {
	shared, err := wssync.NewShared("ROOM", &room{Topic: "fan-out"})
	if err != nil {
		return nil, err
	}
	e := &wssyncEnv{shared: shared, n: int64(n)}
	e.m = wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		return shared.Join(sess)
	}, wssync.WithAnonymousSessions(), wssync.WithLimits(wssync.Limits{RatePerSecond: -1}),
		wssync.WithManagerLimits(wssync.ManagerLimits{MaxConnsPerUser: 1 << 30}))
	e.srv = httptest.NewServer(http.HandlerFunc(e.m.ServeWS))
	if e.c, err = dialClients(wsURL(e.srv), n, readFrames(1)); err != nil {
		return nil, errors.Join(err, e.shutdown())
	}
	if st := e.m.Stats(); st.Connections != int64(n) {
		return nil, errors.Join(fmt.Errorf("%d connections, want %d", st.Connections, n), e.close())
	}
	return e, nil
}

func (e *wssyncEnv) clients() *clients { return e.c }
func (e *wssyncEnv) prepare() uint64   { return e.shared.Version() + 1 }

func (e *wssyncEnv) publish(v uint64) error {
	return e.shared.Update(func(r *room) { r.N = int(v) })
}

func (e *wssyncEnv) check() error {
	st := e.m.Stats()
	// one _SET per connect and no other: a slow client would have been resynced
	if st.SlowDrops != 0 || st.SlowCloses != 0 || st.Resyncs != e.n {
		return fmt.Errorf("slow-client handling kicked in: %+v", st)
	}
	return nil
}

func (e *wssyncEnv) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := e.m.Shutdown(ctx)
	e.srv.Close()
	return err
}

func (e *wssyncEnv) close() error {
	err := e.shutdown()
	e.c.close()
	return err
}

// hub is a hand-written gorilla broadcast hub, as in gorilla's chat example: a map of
// connections under a lock, a writer goroutine per connection draining a buffered channel
// (256) with a write deadline per write, a non-blocking send to every channel from the
// publisher, and the HTTP handler as the reader. It sends each message as one
// websocket.PreparedMessage, as wssync does for shared frames.
type hub struct {
	srv     *httptest.Server
	hello   *websocket.PreparedMessage
	mu      sync.Mutex
	conns   map[*hubConn]struct{}
	dropped int // sends refused by a full channel: must stay 0
	serving sync.WaitGroup
	c       *clients
	v       uint64
	buf     []byte
}

type hubConn struct {
	ws   *websocket.Conn
	send chan *websocket.PreparedMessage
}

func newRaw(n int) (env, error) {
	h := &hub{conns: make(map[*hubConn]struct{})}
	h.hello, _ = websocket.NewPreparedMessage(websocket.TextMessage,
		[]byte(`{"type":"_SET:ROOM","data":{"topic":"fan-out","n":0},"v":0}`))
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	var err error
	if h.c, err = dialClients(wsURL(h.srv), n, readFrames(1)); err != nil {
		h.serving.Wait()
		h.srv.Close()
		return nil, err
	}
	h.mu.Lock()
	got := len(h.conns)
	h.mu.Unlock()
	if got != n {
		return nil, errors.Join(fmt.Errorf("hub holds %d connections, want %d", got, n), h.close())
	}
	return h, nil
}

func (h *hub) serve(w http.ResponseWriter, r *http.Request) {
	h.serving.Add(1)
	defer h.serving.Done()
	var up websocket.Upgrader
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &hubConn{ws: ws, send: make(chan *websocket.PreparedMessage, 256)}
	wrote := make(chan struct{})
	go func() { // the write pump
		defer close(wrote)
		for pm := range c.send {
			_ = ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if ws.WritePreparedMessage(pm) != nil {
				break
			}
		}
		_ = ws.Close()
		for range c.send { // until unregistered
		}
	}()
	h.mu.Lock()
	h.conns[c] = struct{}{}
	c.send <- h.hello
	h.mu.Unlock()
	for { // the read pump
		if _, _, err := ws.NextReader(); err != nil {
			break
		}
	}
	h.mu.Lock()
	delete(h.conns, c)
	close(c.send)
	h.mu.Unlock()
	<-wrote
}

func (h *hub) clients() *clients { return h.c }

// prepare encodes the frame before the clock starts: the hub's frame is "pre-encoded".
func (h *hub) prepare() uint64 {
	h.v++
	h.buf = payload(h.buf, h.v)
	return h.v
}

func (h *hub) publish(uint64) error {
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, h.buf)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.conns {
		select {
		case c.send <- pm:
		default:
			h.dropped++
		}
	}
	return nil
}

func (h *hub) check() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.dropped != 0 {
		return fmt.Errorf("hub dropped %d sends", h.dropped)
	}
	return nil
}

func (h *hub) close() error {
	h.c.close()
	h.serving.Wait()
	h.srv.Close()
	return nil
}

// centrifugeEnv is a centrifuge Node (in-memory broker, its defaults otherwise) whose
// anonymous clients may subscribe to one channel, served by its WebSocket handler. Its
// clients speak its JSON protocol (client protocol v2): a connect command, then a
// subscribe command, each answered by a reply with the command's id. A publication
// arrives as a push whose pub.data is the payload published.
type centrifugeEnv struct {
	node *centrifuge.Node
	srv  *httptest.Server
	c    *clients
	v    uint64
	buf  []byte
}

const centrifugeChannel = "room"

func newCentrifuge(n int) (env, error) {
	node, err := centrifuge.New(centrifuge.Config{})
	if err != nil {
		return nil, err
	}
	node.OnConnecting(func(context.Context, centrifuge.ConnectEvent) (centrifuge.ConnectReply, error) {
		return centrifuge.ConnectReply{Credentials: &centrifuge.Credentials{}}, nil
	})
	node.OnConnect(func(c *centrifuge.Client) {
		c.OnSubscribe(func(e centrifuge.SubscribeEvent, cb centrifuge.SubscribeCallback) {
			if e.Channel != centrifugeChannel {
				cb(centrifuge.SubscribeReply{}, centrifuge.ErrorPermissionDenied)
				return
			}
			cb(centrifuge.SubscribeReply{}, nil)
		})
	})
	if err := node.Run(); err != nil {
		return nil, err
	}
	e := &centrifugeEnv{node: node}
	e.srv = httptest.NewServer(centrifuge.NewWebsocketHandler(node, centrifuge.WebsocketConfig{}))
	if e.c, err = dialClients(wsURL(e.srv), n, centrifugeHello); err != nil {
		return nil, errors.Join(err, e.shutdown())
	}
	if got := node.Hub().NumSubscribers(centrifugeChannel); got != n {
		return nil, errors.Join(fmt.Errorf("%d subscribers, want %d", got, n), e.close())
	}
	return e, nil
}

// centrifugeHello connects and subscribes to the channel, waiting for each reply.
func centrifugeHello(ws *websocket.Conn) error {
	for id, cmd := range []string{
		`{"id":1,"connect":{}}`,
		`{"id":2,"subscribe":{"channel":"` + centrifugeChannel + `"}}`,
	} {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(cmd)); err != nil {
			return err
		}
		want := fmt.Sprintf(`{"id":%d,`, id+1)
		for {
			_, msg, err := ws.ReadMessage()
			if err != nil {
				return fmt.Errorf("reply to %s: %w", cmd, err)
			}
			// replies may be batched, one JSON object per line
			reply := ""
			for line := range strings.SplitSeq(string(msg), "\n") {
				if strings.HasPrefix(line, want) {
					reply = line
				}
			}
			if reply == "" {
				continue
			}
			if strings.Contains(reply, `"error":`) {
				return fmt.Errorf("reply to %s: %s", cmd, reply)
			}
			break
		}
	}
	return nil
}

func (e *centrifugeEnv) clients() *clients { return e.c }

// prepare encodes the payload before the clock starts, as for the raw hub.
func (e *centrifugeEnv) prepare() uint64 {
	e.v++
	e.buf = payload(e.buf, e.v)
	return e.v
}

func (e *centrifugeEnv) publish(uint64) error {
	_, err := e.node.Publish(centrifugeChannel, e.buf)
	return err
}

func (e *centrifugeEnv) check() error { return nil }

func (e *centrifugeEnv) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := e.node.Shutdown(ctx)
	e.srv.Close()
	return err
}

func (e *centrifugeEnv) close() error {
	e.c.close()
	return e.shutdown()
}
