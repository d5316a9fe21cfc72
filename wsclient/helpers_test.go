package wsclient_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/leakcheck"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wsclient"
)

// These tests run the client against a real wssync Manager over loopback, some through a
// WebSocket proxy that can be taken down or made to drop frames.

func TestMain(m *testing.M) { leakcheck.Main(m) }

// Board is the server's shared object: a writable title, read-only count and items.
type Board struct {
	Title string   `sync:"title,write"`
	Count int      `sync:"count"`
	Items []string `sync:"items"`
}

// board is Board as the client declares it: json tags with the wire names.
type board struct {
	Title string   `json:"title"`
	Count int      `json:"count"`
	Items []string `json:"items"`
}

// server is a Manager that gives every session the shared BOARD, its actions and tasks.
type server struct {
	obj     *Board
	share   *wssync.Synced[Board]
	mgr     *wssync.Manager
	url     string        // ws:// URL of /ws
	release chan struct{} // closed to end the "work" task and the "slow" action
	started chan struct{} // receives when the "slow" action starts
}

type addParams struct {
	N int `json:"n"`
}

// sumResult is what the "double" task returns.
type sumResult struct {
	Doubled int    `json:"doubled"`
	Note    string `json:"note"`
}

type workParams struct {
	Fail bool `json:"fail,omitempty"`
}

// newServer starts the test server. opts are added to the Manager's.
func newServer(t *testing.T, opts ...wssync.ManagerOption) *server {
	t.Helper()
	return newServerWith(t, nil, opts...)
}

// newServerWith starts the test server with reg added to BOARD's register options.
func newServerWith(t *testing.T, reg []wssync.RegisterOption, opts ...wssync.ManagerOption) *server {
	t.Helper()
	s := &server{obj: &Board{Title: "start"}, release: make(chan struct{}), started: make(chan struct{}, 1)}
	var err error
	if s.share, err = wssync.NewShared("BOARD", s.obj, append([]wssync.RegisterOption{wssync.WithRunningTasks("running")}, reg...)...); err != nil {
		t.Fatal(err)
	}
	must(t, wssync.ActionResult(s.share, "add", func(_ context.Context, p addParams) (int, error) {
		var n int
		err := s.share.Update(func(b *Board) { b.Count += p.N; n = b.Count })
		return n, err
	}))
	must(t, wssync.Action(s.share, "fail", func(context.Context, struct{}) error {
		return errors.New("it broke")
	}))
	must(t, wssync.Action(s.share, "slow", func(ctx context.Context, _ struct{}) error {
		s.started <- struct{}{}
		select {
		case <-s.release:
		case <-ctx.Done():
		}
		return nil
	}))
	must(t, wssync.Task(s.share, "work", func(ctx context.Context, p workParams) error {
		if p.Fail {
			return errors.New("work failed")
		}
		select {
		case <-s.release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}))
	must(t, wssync.TaskResult(s.share, "double", func(_ context.Context, p addParams) (sumResult, error) {
		return sumResult{Doubled: 2 * p.N, Note: "ok"}, nil
	}))
	opts = append([]wssync.ManagerOption{wssync.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	s.mgr = wssync.NewManager(func(_ context.Context, sess *wssync.Session) error {
		return s.share.Join(sess)
	}, opts...)
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", s.mgr.ServeWS)
	srv := httptest.NewServer(mux)
	s.url = wstest.WSURL(srv.URL) + "/ws"
	t.Cleanup(func() {
		s.releaseAll()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.mgr.Shutdown(ctx)
		s.share.Unregister()
		srv.Close()
	})
	return s
}

var releaseMu sync.Mutex

func (s *server) releaseAll() {
	releaseMu.Lock()
	defer releaseMu.Unlock()
	select {
	case <-s.release:
	default:
		close(s.release)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// dial connects a client with fast backoff; it is closed when the test ends.
func dial(t *testing.T, url string, opts ...wsclient.Option) *wsclient.Client {
	t.Helper()
	opts = append([]wsclient.Option{wsclient.WithBackoff(wsclient.Backoff{Min: time.Millisecond, Max: 20 * time.Millisecond})}, opts...)
	c, err := wsclient.Dial(wstest.Context(t), url, opts...)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func bindBoard(t *testing.T, c *wsclient.Client) *wsclient.Binding[board] {
	t.Helper()
	b, err := wsclient.Bind[board](c, "BOARD")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitBoard waits until the binding's state satisfies cond.
func waitBoard(t *testing.T, b *wsclient.Binding[board], what string, cond func(board) bool) board {
	t.Helper()
	v, err := b.Wait(wstest.Context(t), cond)
	if err != nil {
		t.Fatalf("%s: %v (last state %+v)", what, err, v)
	}
	return v
}

// proxy relays WebSocket connections to upstream. It can refuse new connections (down),
// cut the live ones, and drop frames from the server.
type proxy struct {
	upstream string
	url      string
	wg       sync.WaitGroup

	mu    sync.Mutex
	down  bool
	conns map[*websocket.Conn]bool
	drop  func(data []byte) bool // server → client frames for which it returns true are dropped
}

func newProxy(t *testing.T, upstream string) *proxy {
	t.Helper()
	p := &proxy{upstream: upstream, conns: map[*websocket.Conn]bool{}}
	srv := httptest.NewServer(p)
	p.url = wstest.WSURL(srv.URL)
	t.Cleanup(func() {
		p.setDown(true)
		p.cut()
		p.wg.Wait()
		srv.Close()
	})
	return p
}

func (p *proxy) setDown(down bool) {
	p.mu.Lock()
	p.down = down
	p.mu.Unlock()
}

// setUpstream makes new connections go to upstream (live ones stay where they are).
func (p *proxy) setUpstream(upstream string) {
	p.mu.Lock()
	p.upstream = upstream
	p.mu.Unlock()
}

func (p *proxy) setDrop(drop func([]byte) bool) {
	p.mu.Lock()
	p.drop = drop
	p.mu.Unlock()
}

// cut closes every relayed connection without a close frame, as a network failure does.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
}

func (p *proxy) track(cs ...*websocket.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return false
	}
	for _, c := range cs {
		p.conns[c] = true
	}
	return true
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	down := p.down
	p.mu.Unlock()
	if down {
		http.Error(w, "proxy down", http.StatusServiceUnavailable)
		return
	}
	h := http.Header{}
	for _, k := range []string{"Authorization", "Cookie"} {
		if v := r.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	d := websocket.Dialer{Subprotocols: websocket.Subprotocols(r)}
	p.mu.Lock()
	upstream := p.upstream
	p.mu.Unlock()
	up, resp, err := d.DialContext(r.Context(), upstream, h)
	if err != nil {
		status := http.StatusBadGateway
		if resp != nil {
			status = resp.StatusCode
		}
		http.Error(w, "upstream refused", status)
		return
	}
	var rh http.Header
	if sp := up.Subprotocol(); sp != "" {
		rh = http.Header{"Sec-Websocket-Protocol": {sp}}
	}
	client, err := (&websocket.Upgrader{}).Upgrade(w, r, rh)
	if err != nil {
		_ = up.Close()
		return
	}
	if !p.track(up, client) {
		_ = up.Close()
		_ = client.Close()
		return
	}
	p.wg.Add(1)
	defer p.wg.Done()
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.pump(client, up, nil)
	}()
	p.pump(up, client, p.dropper)
	<-done
	p.mu.Lock()
	delete(p.conns, up)
	delete(p.conns, client)
	p.mu.Unlock()
}

func (p *proxy) dropper(data []byte) bool {
	p.mu.Lock()
	drop := p.drop
	p.mu.Unlock()
	return drop != nil && drop(data)
}

// pump copies frames from src to dst until src ends, then passes src's close code on and
// closes both.
func (p *proxy) pump(src, dst *websocket.Conn, drop func([]byte) bool) {
	defer func() { _ = src.Close(); _ = dst.Close() }()
	for {
		mt, data, err := src.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) && ce.Code != websocket.CloseNoStatusReceived && ce.Code != websocket.CloseAbnormalClosure {
				_ = dst.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(ce.Code, ce.Text), time.Now().Add(time.Second))
			}
			return
		}
		if drop != nil && drop(data) {
			continue
		}
		if err := dst.WriteMessage(mt, data); err != nil {
			return
		}
	}
}
