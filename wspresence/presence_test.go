package wspresence_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/leakcheck"
	"github.com/wssync/wssync/wsmemory"
	"github.com/wssync/wssync/wspresence"
	"github.com/wssync/wssync/wssynctest"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// stalledStore is a presence store whose SetPresence hangs until release is closed (or
// the call's context ends), as a store that stopped answering does.
type stalledStore struct {
	*wsmemory.Backend
	entered chan struct{}
	release chan struct{}
}

func (s *stalledStore) SetPresence(ctx context.Context, room string, e map[string][]byte, ttl time.Duration) error {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	select {
	case <-s.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Backend.SetPresence(ctx, room, e, ttl)
}

// A client that connects is not held up by a store that does not answer: the presence
// hook runs under the session's dispatch lock, so the store is written from the
// Presence's goroutine, and the client's first event is handled while the write hangs.
// Once the store answers, the member is listed; once the client leaves, it is not.
func TestJoinDoesNotWaitForTheStore(t *testing.T) {
	store := &stalledStore{Backend: wsmemory.New(), entered: make(chan struct{}, 1), release: make(chan struct{})}
	p, err := wspresence.New(store, "lobby", "LOBBY")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	handled := make(chan struct{}, 1)
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		if err := wssync.On(sess, "ping", func(context.Context, struct{}) error {
			handled <- struct{}{}
			return nil
		}); err != nil {
			return err
		}
		return p.Join(sess)
	})
	url := serveManager(t, m)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := wssynctest.Dial(ctx, url, wssynctest.WithIdentity("alice", "tab-1"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case <-store.entered:
	case <-ctx.Done():
		t.Fatal("the join never reached the store")
	}
	if err := c.Send("ping", struct{}{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-handled:
	case <-time.After(time.Second): // the store call is bounded by 2 s: well below it
		t.Fatal("the client's first event waited for the presence store")
	}

	close(store.release)
	waitMembers(t, p, "alice/tab-1")
	if _, err := wssynctest.WaitState(ctx, c, "LOBBY", func(s wspresence.State) bool { return len(s.Members) == 1 }); err != nil {
		t.Fatalf("the client never listed itself: %v", err)
	}
	_ = c.Close()
	waitMembers(t, p, "")
}

// serveManager serves m on a loopback server and returns its ws:// URL; the test's cleanup
// shuts m down, then closes the server.
func serveManager(t *testing.T, m *wssync.Manager) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(m.ServeWS))
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = m.Shutdown(ctx)
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// waitMembers waits until p lists want ("user/session", comma separated).
func waitMembers(t *testing.T, p *wspresence.Presence, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got []string
		for _, m := range p.Members() {
			got = append(got, m.User+"/"+m.Session)
		}
		if strings.Join(got, ",") == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("members %q, want %q", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Close removes this node's members from the store, the ones that just left included.
func TestCloseRemovesLocalMembers(t *testing.T) {
	store := wsmemory.New()
	p, err := wspresence.New(store, "room", "ROOM")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := store.SetPresence(ctx, "room", map[string][]byte{"other": []byte(`{"user":"bob","session":"other"}`)}, time.Minute); err != nil {
		t.Fatal(err)
	}
	waitMembers(t, p, "bob/other")
	p.Close()
	entries, err := store.Presence(ctx, "room")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("the store holds %d entries after Close, want the other node's 1", len(entries))
	}
}

// A connection replaced by a newer one of the same session (a reload, a flaky network)
// leaves the session a member: the old connection's OnDisconnect runs after the new one's
// OnConnect.
func TestReplacedConnectionStaysMember(t *testing.T) {
	store := wsmemory.New()
	p, err := wspresence.New(store, "lobby", "LOBBY")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	url := serveManager(t, wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error { return p.Join(sess) }))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for round := range 5 {
		c, err := wssynctest.Dial(ctx, url, wssynctest.WithIdentity("alice", "tab-1"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := wssynctest.WaitState(ctx, c, "LOBBY", func(s wspresence.State) bool { return len(s.Members) == 1 }); err != nil {
			t.Fatalf("round %d: the client never listed itself: %v", round, err)
		}
		waitMembers(t, p, "alice/tab-1")
	}
	// The replaced connections' hooks have all run once the Manager counts them closed;
	// the session is still listed after a pause in which a wrong removal would show.
	time.Sleep(200 * time.Millisecond)
	waitMembers(t, p, "alice/tab-1")
}
