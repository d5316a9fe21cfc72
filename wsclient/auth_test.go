package wsclient_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wsclient"
)

// expiring is an auth hook whose identities expire shortly after the upgrade.
func expiring(lifetime time.Duration) func(*http.Request) (wssync.Identity, error) {
	return func(r *http.Request) (wssync.Identity, error) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer tok") {
			return wssync.Identity{}, errors.New("no token")
		}
		return wssync.Identity{User: "u1", Session: "s1", Expires: time.Now().Add(lifetime)}, nil
	}
}

// counting is a token source that counts its calls.
func counting(n *atomic.Int32) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		n.Add(1)
		return "tok", nil
	}
}

// At the expiry the server closes with 4005; the client reconnects with a fresh token.
func TestTokenExpiredReconnectsWithAFreshToken(t *testing.T) {
	t.Parallel()
	s := newServer(t, wssync.WithAuth(expiring(time.Second)))
	var calls atomic.Int32
	c := dial(t, s.url, wsclient.WithTokenSource(counting(&calls)))
	waitBoard(t, bindBoard(t, c), "state", nil)
	wstest.Eventually(t, "a reconnect with a second token", func() bool { return calls.Load() >= 2 && c.Connected() })
	if c.Err() != nil {
		t.Fatalf("the client stopped: %v", c.Err())
	}
}

// On `_AUTH_EXPIRING` with refresh, the client sends `_AUTH` with a fresh token.
func TestTokenRefreshedOverTheSocket(t *testing.T) {
	t.Parallel()
	refreshed := make(chan string, 4)
	s := newServer(t, wssync.WithAuth(expiring(2*time.Second)),
		wssync.WithTokenRefresh(func(_ context.Context, token string) (wssync.Identity, error) {
			refreshed <- token
			return wssync.Identity{User: "u1", Session: "s1", Expires: time.Now().Add(time.Hour)}, nil
		}))
	var calls atomic.Int32
	c := dial(t, s.url, wsclient.WithTokenSource(counting(&calls)))
	waitBoard(t, bindBoard(t, c), "state", nil)
	if tok := wstest.Receive(t, refreshed, "an _AUTH"); tok != "tok" {
		t.Fatalf("_AUTH token %q", tok)
	}
	if calls.Load() != 2 {
		t.Fatalf("token source called %d times, want 2 (connect, refresh)", calls.Load())
	}
}

// WithTokenSubprotocol offers the token as a subprotocol beside "wssync", as a browser does.
func TestTokenSubprotocol(t *testing.T) {
	t.Parallel()
	s := newServer(t, wssync.WithAuth(func(r *http.Request) (wssync.Identity, error) {
		offered := websocket.Subprotocols(r)
		if !slices.Equal(offered, []string{"wssync", "wssync.resume", "wssync.bearer.tok"}) {
			return wssync.Identity{}, errors.New("no token subprotocol")
		}
		return wssync.Identity{User: "u1", Session: "s1"}, nil
	}))
	var calls atomic.Int32
	c := dial(t, s.url, wsclient.WithTokenSource(counting(&calls)), wsclient.WithTokenSubprotocol())
	waitBoard(t, bindBoard(t, c), "state", nil)
}

// A server that goes silent (no frame, no ping) is taken for dead after the read timeout,
// and the client connects again.
func TestSilentServerIsDroppedAfterReadTimeout(t *testing.T) {
	t.Parallel()
	var upgrades atomic.Int32
	url := wstest.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		upgrades.Add(1)
		_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"_SET:K","data":{},"v":1}`))
		for { // read (the client's ping) but never answer, never ping
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}))
	c := dial(t, url, wsclient.WithReadTimeout(50*time.Millisecond))
	wstest.Eventually(t, "a second connection", func() bool { return upgrades.Load() >= 2 })
	if c.Err() != nil {
		t.Fatalf("client stopped: %v", c.Err())
	}
}
