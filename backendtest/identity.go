package backendtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wssynctest"

	"github.com/wssync/wssync/internal/proto"
)

// bearerAuth identifies the user from "Authorization: Bearer <user>"; the session id
// comes from the handshake.
func bearerAuth(r *http.Request) (wssync.Identity, error) {
	user, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || user == "" {
		return wssync.Identity{}, errors.New("no token")
	}
	return wssync.Identity{User: user}, nil
}

// identityNodes starts three Managers whose sessions hold a View kept in the nodes'
// session stores, with opts (an auth hook or none).
func identityNodes(t *testing.T, nodes Nodes, opts ...wssync.ManagerOption) (urls []string, ms []*wssync.Manager) {
	t.Helper()
	for i := range 3 {
		m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
			_, err := wssync.Register(sess, "VIEW", &View{Filter: "default"})
			return err
		}, append([]wssync.ManagerOption{wssync.WithSessionStore(nodes.Sessions[i])}, opts...)...)
		urls = append(urls, serveManager(t, m))
		ms = append(ms, m)
	}
	return urls, ms
}

// refused checks that c, the connection of an intruder, is closed with 4004 without
// having received any state.
func refused(t *testing.T, c *wssynctest.Client, where string) {
	t.Helper()
	wstest.EventuallyNil(t, waitTimeout, where+": the intruder's connection to close", func() error {
		for _, f := range c.Frames() {
			if strings.HasPrefix(f.Type, proto.Set) || strings.HasPrefix(f.Type, proto.Patch) {
				t.Fatalf("%s: another identity was served the session: %s %s", where, f.Type, f.Data)
			}
		}
		select {
		case <-c.Done():
			return nil
		default:
			return errors.New("still open")
		}
	})
	var ce *websocket.CloseError
	if !errors.As(c.CloseError(), &ce) || ce.Code != wssync.CloseUnauthorized {
		t.Fatalf("%s: another identity closed with %v, want %d", where, c.CloseError(), wssync.CloseUnauthorized)
	}
	for _, f := range c.Frames() {
		if strings.HasPrefix(f.Type, proto.Set) || strings.HasPrefix(f.Type, proto.Patch) {
			t.Fatalf("%s: another identity received %s %s", where, f.Type, f.Data)
		}
	}
}

// undisturbed checks that the owner's connection is still up, never got _DISCONNECT, and
// still writes: it sets the filter to next and waits for the server's echo of the write.
// The client applies its own ops at once, so its state alone does not say the server has
// the write (and has stored it, for a node the owner moves to next).
func undisturbed(t *testing.T, c *wssynctest.Client, next string) {
	t.Helper()
	ctx := ctxFor(t)
	select {
	case <-c.Done():
		t.Fatalf("the owner's connection was closed: %v", c.CloseError())
	default:
	}
	for _, f := range c.Frames() {
		if f.Type == proto.Disconnect {
			t.Fatal("the owner got _DISCONNECT")
		}
	}
	_, v, _ := c.State("VIEW")
	if err := c.Patch("VIEW", wssynctest.Replace("/filter", next)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitVersion(ctx, "VIEW", v+1); err != nil {
		t.Fatalf("the owner's write: no echo: %v", err)
	}
	if _, err := wssynctest.WaitState(ctx, c, "VIEW", func(v View) bool { return v.Filter == next }); err != nil {
		t.Fatalf("the owner's write: %v", err)
	}
	if err := c.Errs(); err != nil {
		t.Fatal(err)
	}
}

// testIdentityAcrossNodes: a session id is its user's on every node from its first
// connection on, before it has changed (so before any record of its objects exists): with
// an auth hook, and with the handshake alone (where the user id of _USER_SESSION is the
// identity), another user presenting the id is closed with 4004 on every node, never sees
// the state, and the owner's connection is not disturbed.
func testIdentityAcrossNodes(t *testing.T, nodes Nodes) {
	if len(nodes.Sessions) < 3 {
		t.Skip("no session stores")
	}
	cases := []struct {
		name string
		opts []wssync.ManagerOption
		as   func(user, session string) []wssynctest.DialOption
	}{
		{"AuthHook", []wssync.ManagerOption{wssync.WithAuth(bearerAuth)}, func(user, session string) []wssynctest.DialOption {
			// the intruder also claims the owner's user in the handshake: ignored
			return []wssynctest.DialOption{
				wssynctest.WithHeader(http.Header{"Authorization": {"Bearer " + user}}),
				wssynctest.WithIdentity("alice", session),
			}
		}},
		{"HandshakeOnly", nil, func(user, session string) []wssynctest.DialOption {
			return []wssynctest.DialOption{wssynctest.WithIdentity(user, session)}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := ctxFor(t)
			urls, ms := identityNodes(t, nodes, tc.opts...)
			session := fmt.Sprintf("tab-%s-%d", tc.name, time.Now().UnixNano())

			alice := dial(t, urls[0], tc.as("alice", session)...)
			if _, err := wssynctest.WaitState(ctx, alice, "VIEW", func(v View) bool { return v.Filter == "default" }); err != nil {
				t.Fatal(err)
			}
			// Alice has changed nothing: no record of her objects exists anywhere.
			refused(t, dial(t, urls[1], tc.as("bob", session)...), "bob on node1 before any change")
			undisturbed(t, alice, "alice's first change")
			refused(t, dial(t, urls[0], tc.as("bob", session)...), "bob on node0")
			refused(t, dial(t, urls[2], tc.as("bob", session)...), "bob on node2")
			refused(t, dial(t, urls[1], tc.as("bob", session)...), "bob on node1 after alice's change")
			undisturbed(t, alice, "alice's second change")
			for i, m := range ms {
				if st := m.Stats(); st.SessionsMoved != 0 {
					t.Errorf("node%d let %d sessions go", i, st.SessionsMoved)
				}
			}

			// The owner herself moves between nodes as before, with her state.
			moved := dial(t, urls[1], tc.as("alice", session)...)
			if _, err := wssynctest.WaitState(ctx, moved, "VIEW", func(v View) bool { return v.Filter == "alice's second change" }); err != nil {
				t.Fatalf("alice on node1: %v", err)
			}
			refused(t, dial(t, urls[2], tc.as("bob", session)...), "bob on node2 after alice moved")
		})
	}
}

// testForeignClaim: a claim that names another user than the session's, as one forged or
// sent by a node that served an intruder, does not make the owner's node let the session
// go; a claim for the right user still does.
func testForeignClaim(t *testing.T, nodes Nodes) {
	if len(nodes.Sessions) < 2 {
		t.Skip("no session stores")
	}
	ctx := ctxFor(t)
	var logs lockedBuffer
	urls, ms := identityNodes(t, nodes, wssync.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	stamp := fmt.Sprint(time.Now().UnixNano())
	alice := dial(t, urls[0], wssynctest.WithIdentity("alice", "tab-alice-"+stamp))
	carol := dial(t, urls[0], wssynctest.WithIdentity("carol", "tab-carol-"+stamp))
	for _, c := range []*wssynctest.Client{alice, carol} {
		if _, err := wssynctest.WaitState(ctx, c, "VIEW", func(View) bool { return true }); err != nil {
			t.Fatal(err)
		}
	}
	// From another node: a claim of alice's session for mallory, then one of carol's for
	// carol. Claims of different sessions may reach node0 in either order (on a cluster
	// they leave from different servers), so the test waits for the foreign claim's log
	// line itself before it looks at alice.
	store := nodes.Sessions[1]
	if err := store.ClaimSession(ctx, wssync.SessionClaim{ID: "tab-alice-" + stamp, User: "mallory", Claimant: "elsewhere"}); err != nil {
		t.Fatal(err)
	}
	if err := store.ClaimSession(ctx, wssync.SessionClaim{ID: "tab-carol-" + stamp, User: "carol", Claimant: "elsewhere"}); err != nil {
		t.Fatal(err)
	}
	const ignored = "ignored a claim of a session for another identity"
	for !strings.Contains(logs.String(), ignored) {
		select {
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
			t.Fatalf("the foreign claim was not logged; logs:\n%s", logs.String())
		}
	}
	select {
	case <-carol.Done():
	case <-ctx.Done():
		t.Fatal("node0 kept carol's session, claimed for carol by another node")
	}
	var ce *websocket.CloseError
	if !errors.As(carol.CloseError(), &ce) || ce.Code != wssync.CloseReplaced {
		t.Fatalf("carol closed with %v, want %d", carol.CloseError(), wssync.CloseReplaced)
	}
	undisturbed(t, alice, "after a foreign claim")
	if _, ok := ms[0].Session("tab-alice-" + stamp); !ok {
		t.Fatal("node0 let alice's session go")
	}
}

// lockedBuffer is a bytes.Buffer for a logger shared by goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testIdleOwnerKeepsBinding: a session connected for several record TTLs without a change
// keeps its binding (and record): another user is still refused on another node.
func testIdleOwnerKeepsBinding(t *testing.T, nodes Nodes) {
	if len(nodes.Sessions) < 3 {
		t.Skip("no session stores")
	}
	const ttl, pong = 300 * time.Millisecond, 300 * time.Millisecond // records live 600 ms
	ctx := ctxFor(t)
	urls, _ := identityNodes(t, nodes, wssync.WithManagerLimits(wssync.ManagerLimits{SessionTTL: ttl}), wssync.WithLimits(wssync.Limits{PingInterval: 100 * time.Millisecond, PongTimeout: pong}))
	session := fmt.Sprint("tab-idle-", time.Now().UnixNano())
	alice := dial(t, urls[0], wssynctest.WithIdentity("alice", session))
	if _, err := wssynctest.WaitState(ctx, alice, "VIEW", func(View) bool { return true }); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * (ttl + pong)) // idle: no change, no reconnection
	if rec, ok, err := nodes.Sessions[2].LoadSession(ctx, session); err != nil || !ok || rec.User != "alice" {
		t.Fatalf("after 3 record TTLs connected: record %+v, ok %v, err %v; want alice's", rec, ok, err)
	}
	refused(t, dial(t, urls[1], wssynctest.WithIdentity("bob", session)), "bob on node1 after alice idled")
	undisturbed(t, alice, "alice after idling")
}
