package wspresence_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wsmemory"
	"github.com/wssync/wssync/wspresence"
)

// stoppingStore is a node's view of a shared store that it can stop reaching at once, as
// a node that died does: after stop returns, no call of it reaches the store, none in
// flight either.
type stoppingStore struct {
	wspresence.Store
	mu      sync.RWMutex
	stopped bool
}

var errStopped = errors.New("this node has stopped")

func (s *stoppingStore) stop() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
}

func (s *stoppingStore) SetPresence(ctx context.Context, room string, e map[string][]byte, ttl time.Duration) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.stopped {
		return errStopped
	}
	return s.Store.SetPresence(ctx, room, e, ttl)
}

func (s *stoppingStore) RemovePresence(ctx context.Context, room string, ids ...string) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.stopped {
		return errStopped
	}
	return s.Store.RemovePresence(ctx, room, ids...)
}

// sessionsOf lists user's sessions as o reads them from the store.
func sessionsOf(t *testing.T, o *wspresence.Online, user string) string {
	t.Helper()
	ms, err := o.Sessions(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.Session)
	}
	return strings.Join(ids, ",")
}

func waitSessions(t *testing.T, o *wspresence.Online, user, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := sessionsOf(t, o, user)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's sessions %q, want %q", user, got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Online answers for every node: a user's tabs on two nodes are listed by both, a closed
// tab is gone, and the tabs of a node that stopped refreshing (its store calls no longer
// arrive, and it never removes its members) are gone once the TTL has passed since it
// stopped — checked at that moment, not polled for.
func TestOnlineAcrossNodesAndStoppedNode(t *testing.T) {
	t.Parallel()
	const ttl = 900 * time.Millisecond
	mem := wsmemory.New()
	stores := []*stoppingStore{{Store: mem}, {Store: mem}}
	var onlines []*wspresence.Online
	var urls []string
	for _, s := range stores {
		o, err := wspresence.NewOnline(s, "online", wspresence.WithTTL(ttl))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(o.Close)
		onlines = append(onlines, o)
		urls = append(urls, serveManager(t, wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
			return o.Track(sess)
		})))
	}
	ctx := testCtx(t)
	dialAs(t, ctx, urls[0], "ada", "tab-1")
	tab2 := dialAs(t, ctx, urls[0], "ada", "tab-2")
	dialAs(t, ctx, urls[1], "ada", "tab-3")
	dialAs(t, ctx, urls[1], "bob", "tab-4")
	for _, o := range onlines {
		waitSessions(t, o, "ada", "tab-1,tab-2,tab-3")
	}
	if here, err := onlines[1].IsOnline(ctx, "carol"); err != nil || here {
		t.Fatalf("IsOnline(carol) = %v, %v; want false", here, err)
	}
	_ = tab2.Close()
	waitSessions(t, onlines[1], "ada", "tab-1,tab-3")

	stores[0].stop()
	stopped := time.Now()
	// Its last refresh was before stop, so its entries expire by stopped+ttl at the latest.
	time.Sleep(time.Until(stopped.Add(ttl)))
	if got := sessionsOf(t, onlines[1], "ada"); got != "tab-3" {
		t.Fatalf("a TTL after node 0 stopped, ada's sessions are %q, want tab-3", got)
	}
	all, err := onlines[1].All(ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("All = %v, %v; want tab-3 and tab-4", all, err)
	}
}

// An Online without OnChange never reads the store by itself: lookups alone read it.
type countingStore struct {
	wspresence.Store
	mu    sync.Mutex
	reads int
}

func (c *countingStore) Presence(ctx context.Context, room string) (map[string][]byte, error) {
	c.mu.Lock()
	c.reads++
	c.mu.Unlock()
	return c.Store.Presence(ctx, room)
}

func TestOnlineOnlyWrites(t *testing.T) {
	t.Parallel()
	store := &countingStore{Store: wsmemory.New()}
	o, err := wspresence.NewOnline(store, "online", wspresence.WithTTL(30*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	url := serveManager(t, wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error { return o.Track(sess) }))
	ctx := testCtx(t)
	dialAs(t, ctx, url, "ada", "tab-1")
	waitSessions(t, o, "ada", "tab-1")
	store.mu.Lock()
	before := store.reads
	store.mu.Unlock()
	time.Sleep(100 * time.Millisecond) // three heartbeats, in which a reread would show
	store.mu.Lock()
	after := store.reads
	store.mu.Unlock()
	if after != before {
		t.Errorf("the Online read the store %d times by itself", after-before)
	}
	o.Close()
	if here, err := o.IsOnline(ctx, "ada"); err != nil || here {
		t.Errorf("after Close, IsOnline(ada) = %v, %v; want false", here, err)
	}
}

// An Online with OnChange follows the room like a Presence: a tab's join and leave reach
// the callback.
func TestOnlineOnChange(t *testing.T) {
	t.Parallel()
	diffs := make(chan string, 8)
	o, err := wspresence.NewOnline(wsmemory.New(), "online", wspresence.OnChange(func(d wspresence.Diff) { diffs <- describeDiff(d) }))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	url := serveManager(t, wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error { return o.Track(sess) }))
	c := dialAs(t, testCtx(t), url, "ada", "tab-1")
	nextDiff(t, diffs, "+ada/tab-1 ")
	_ = c.Close()
	nextDiff(t, diffs, "-ada/tab-1")
}
