package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/wssync/wssync"
)

// testHooks let the end-to-end test break the network on purpose. They exist only when the
// server runs with NOTES_TEST_HOOKS=1, and add two routes:
//
//	POST /_test/drop?client=TAG&holdMs=N  close the TCP connection under every live
//	    WebSocket whose upgrade carried the cookie notes_test_client=TAG (all of them
//	    without client=), then answer that client's upgrades with 503 for N ms
//	GET  /_test/stats                     the Manager's wssync.Stats as JSON
//
// A drop closes the socket itself, not the WebSocket: no close frame, no `_DISCONNECT`.
// The browser sees what a dead Wi-Fi or a crashed proxy looks like (close code 1006), and
// the server keeps the session, as it would then, until the tab comes back.
type testHooks struct {
	mgr *wssync.Manager

	mu    sync.Mutex
	live  map[*liveConn]struct{}
	holds map[string]time.Time // client tag ("" = every client) → refuse upgrades until
}

type liveConn struct {
	conn   net.Conn
	client string
}

// testCookie tags a browser context's connections, so one can be dropped and not the other.
const testCookie = "notes_test_client"

// connKey is the request-context key of the request's net.Conn (see connContext).
type connKey struct{}

func newTestHooks(mgr *wssync.Manager) *testHooks {
	return &testHooks{mgr: mgr, live: make(map[*liveConn]struct{}), holds: make(map[string]time.Time)}
}

// connContext is the http.Server's ConnContext: it makes each request's net.Conn
// reachable from the handler, which is how track finds the socket under a WebSocket.
func (h *testHooks) connContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// track wraps the WebSocket route. ServeWS blocks for the life of the connection, so the
// connection is tracked exactly while it is served.
func (h *testHooks) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var client string
		if c, err := r.Cookie(testCookie); err == nil {
			client = c.Value
		}
		if h.held(client) {
			http.Error(w, "test hook: connections held", http.StatusServiceUnavailable)
			return
		}
		conn, ok := r.Context().Value(connKey{}).(net.Conn)
		if !ok { // the server was not started with connContext
			next.ServeHTTP(w, r)
			return
		}
		lc := &liveConn{conn: conn, client: client}
		h.mu.Lock()
		h.live[lc] = struct{}{}
		h.mu.Unlock()
		defer func() {
			h.mu.Lock()
			delete(h.live, lc)
			h.mu.Unlock()
		}()
		next.ServeHTTP(w, r)
	})
}

func (h *testHooks) held(client string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	return now.Before(h.holds[client]) || now.Before(h.holds[""])
}

func (h *testHooks) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /_test/drop", h.drop)
	mux.HandleFunc("GET /_test/stats", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, h.mgr.Stats())
	})
}

func (h *testHooks) drop(w http.ResponseWriter, r *http.Request) {
	client := r.URL.Query().Get("client")
	hold := 0
	if s := r.URL.Query().Get("holdMs"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 60_000 {
			http.Error(w, "holdMs must be an integer between 0 and 60000", http.StatusBadRequest)
			return
		}
		hold = n
	}
	h.mu.Lock()
	if hold > 0 {
		h.holds[client] = time.Now().Add(time.Duration(hold) * time.Millisecond)
	}
	var victims []net.Conn
	for lc := range h.live {
		if client == "" || lc.client == client {
			victims = append(victims, lc.conn)
		}
	}
	h.mu.Unlock()
	for _, c := range victims {
		_ = c.Close()
	}
	writeJSON(w, map[string]int{"dropped": len(victims)})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// EchoBoard is a shared key that exists only with the test hooks: writable arrays, top
// level and nested, and a computed count, for the end-to-end check that a client that
// applies its own writes at once (ws-sync-react, our hook) ends in the server's state.
type EchoBoard struct {
	Tags []string `sync:"tags,write"`
	Doc  EchoDoc  `sync:"doc,write"`
}

// EchoDoc nests an array inside a field.
type EchoDoc struct {
	Items []string `json:"items"`
}

// newEchoBoard registers the ECHO key with its computed count and two actions: serverPush
// (the server puts "srv" in front of tags, as another writer would) and reset.
func newEchoBoard() (*wssync.Synced[EchoBoard], error) {
	b := &EchoBoard{}
	reset := func(b *EchoBoard) { *b = EchoBoard{Tags: []string{"a", "b"}, Doc: EchoDoc{Items: []string{"x", "y"}}} }
	reset(b)
	s, err := wssync.NewShared("ECHO", b, wssync.WithComputed("count", func() any { return len(b.Tags) + len(b.Doc.Items) }))
	if err != nil {
		return nil, err
	}
	if err := wssync.Action(s, "serverPush", func(ctx context.Context, _ struct{}) error {
		return s.Update(func(b *EchoBoard) { b.Tags = append([]string{"srv"}, b.Tags...) })
	}); err != nil {
		return nil, err
	}
	return s, wssync.Action(s, "reset", func(ctx context.Context, _ struct{}) error { return s.Update(reset) })
}
