package wssync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wssynctest"
)

type userPrefs struct {
	Theme string `sync:"theme,write"`
	Built int64  `sync:"built"`
}

// Two tabs of ann share one object, bob has his own; when ann's last tab's session
// expires the object is freed, and ann's next tab gets a fresh one from build.
func TestRegisterUserSharesAmongTabsAndFreesAfterTheLast(t *testing.T) {
	var builds atomic.Int64
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		_, err := wssync.RegisterUser(sess, "PREFS", func(ctx context.Context) (*userPrefs, error) {
			if id, ok := wssync.IdentityFrom(ctx); !ok || id.User == "" {
				t.Error("build's ctx has no identity")
			}
			return &userPrefs{Theme: "light", Built: builds.Add(1)}, nil
		})
		return err
	}, wssync.WithManagerLimits(wssync.ManagerLimits{SessionTTL: 20 * time.Millisecond}),
		wssync.WithAuth(func(r *http.Request) (wssync.Identity, error) {
			q := r.URL.Query()
			return wssync.Identity{User: q.Get("user"), Session: q.Get("tab")}, nil
		}))
	defer func() { _ = m.Shutdown(context.Background()) }()
	url := wstest.Serve(t, http.HandlerFunc(m.ServeWS))
	prefs := func(c interface {
		State(string) (json.RawMessage, uint64, bool)
	}) userPrefs {
		raw, _, _ := c.State("PREFS")
		var p userPrefs
		_ = json.Unmarshal(raw, &p)
		return p
	}

	tab1 := wstest.Dial(t, url+"?user=ann&tab=a1")
	tab2 := wstest.Dial(t, url+"?user=ann&tab=a2")
	bob := wstest.Dial(t, url+"?user=bob&tab=b1")
	wstest.WaitType(t, tab1, "_SET:PREFS")
	wstest.WaitType(t, tab2, "_SET:PREFS")
	wstest.WaitType(t, bob, "_SET:PREFS")
	if held, _ := wssync.UserObjects(m); held != 2 || builds.Load() != 2 {
		t.Fatalf("%d objects held, %d built; want 2 and 2 (one per user)", held, builds.Load())
	}
	if err := tab1.Patch("PREFS", wssynctest.Op{Op: "replace", Path: "/theme", Value: "dark"}); err != nil {
		t.Fatal(err)
	}
	wstest.Eventually(t, "ann's other tab sees the write", func() bool { return prefs(tab2).Theme == "dark" })
	if p := prefs(bob); p.Theme != "light" {
		t.Fatalf("bob's object changed with ann's: %+v", p)
	}
	annBuilt := prefs(tab1).Built

	tab1.Close()
	_ = wstest.WaitClosed(t, tab1)
	wstest.Eventually(t, "tab1's session expires", func() bool { return wssync.UserObjectHolders(m, "ann", "PREFS") == 1 })
	if held, freed := wssync.UserObjects(m); held != 2 || freed != 0 {
		t.Fatalf("one of ann's tabs left: %d held, %d freed; want 2 and 0", held, freed)
	}
	tab2.Close()
	wstest.Eventually(t, "ann's object is freed", func() bool { held, freed := wssync.UserObjects(m); return held == 1 && freed == 1 })

	tab3 := wstest.Dial(t, url+"?user=ann&tab=a3")
	wstest.WaitType(t, tab3, "_SET:PREFS")
	if p := prefs(tab3); p.Theme != "light" || p.Built == annBuilt || builds.Load() != 3 {
		t.Fatalf("ann's new tab got %+v (builds %d), want a fresh object", p, builds.Load())
	}
}

// RegisterUser refuses a session without a Manager, and WithBackend.
func TestRegisterUserRefusals(t *testing.T) {
	build := func(context.Context) (*userPrefs, error) { return &userPrefs{}, nil }
	if _, err := wssync.RegisterUser(wssync.NewSession(), "P", build); err != wssync.ErrNoUser {
		t.Fatalf("NewSession: %v, want ErrNoUser", err)
	}
}

// Many tabs of one user connect, write and leave at once through a Manager, twice: each
// round ends with the user's object freed (exactly once per object built), and the next
// round's tabs share a fresh one.
func TestRegisterUserManyTabsConcurrently(t *testing.T) {
	var builds atomic.Int64
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		_, err := wssync.RegisterUser(sess, "PREFS", func(ctx context.Context) (*userPrefs, error) {
			return &userPrefs{Theme: "light", Built: builds.Add(1)}, nil
		})
		return err
	}, wssync.WithManagerLimits(wssync.ManagerLimits{SessionTTL: 10 * time.Millisecond}),
		wssync.WithAuth(func(r *http.Request) (wssync.Identity, error) {
			q := r.URL.Query()
			return wssync.Identity{User: "ann", Session: q.Get("tab")}, nil
		}))
	defer func() { _ = m.Shutdown(context.Background()) }()
	url := wstest.Serve(t, http.HandlerFunc(m.ServeWS))
	const tabs = 12
	for round := range 2 {
		var wg, joined sync.WaitGroup
		seen := make(chan int64, tabs)
		joined.Add(tabs)
		for i := range tabs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				once := sync.OnceFunc(joined.Done)
				defer once() // every tab stays until all have joined: one object per round
				c := wstest.Dial(t, fmt.Sprintf("%s?tab=r%d-%d", url, round, i))
				defer c.Close()
				p, err := wssynctest.WaitState(ctxT(t), c, "PREFS", func(userPrefs) bool { return true })
				if err != nil {
					t.Error(err)
					return
				}
				seen <- p.Built
				_ = c.Patch("PREFS", wssynctest.Op{Op: "replace", Path: "/theme", Value: fmt.Sprint(i)})
				once()
				joined.Wait()
			}()
		}
		wg.Wait()
		close(seen)
		first := int64(-1)
		for b := range seen {
			if first >= 0 && b != first {
				t.Fatalf("round %d: tabs got objects %d and %d, want one", round, first, b)
			}
			first = b
		}
		wstest.Eventually(t, "the user's object is freed", func() bool {
			held, freed := wssync.UserObjects(m)
			return held == 0 && freed == builds.Load()
		})
	}
	if builds.Load() < 2 {
		t.Fatalf("%d builds over two rounds: the second round reused a freed object", builds.Load())
	}
}
