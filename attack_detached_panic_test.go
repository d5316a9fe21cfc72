package wssync_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wsmemory"
	"github.com/wssync/wssync/wssynctest"
)

// panicStore is a session store whose BindSession panics once armed.
type panicStore struct {
	*wsmemory.Backend
	armed atomic.Bool
}

func (s *panicStore) BindSession(ctx context.Context, id, user string, ttl time.Duration) (string, uint64, error) {
	if s.armed.Load() {
		panic("store: bind failed")
	}
	return s.Backend.BindSession(ctx, id, user, ttl)
}

const panicChildEnv = "WSSYNC_ATTACK_PANIC_CHILD"

// A panic in application code that runs on a connection's serving goroutine (here the
// session store's BindSession, on a reconnect) is recovered by net/http when ServeWS blocks:
// that connection fails and the server goes on. With WithDetachedConnections the same
// goroutine is the Manager's, and the panic must not take the process down either. The
// scenario runs in a child process, as a crash would end the test binary.
func TestAttackDetachedPanicInStoreOnReconnect(t *testing.T) {
	if mode := os.Getenv(panicChildEnv); mode != "" {
		panicChild(t, mode == "detached")
		return
	}
	t.Parallel()
	for _, mode := range []string{"blocking", "detached"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestAttackDetachedPanicInStoreOnReconnect$", "-test.count=1")
			cmd.Env = append(os.Environ(), panicChildEnv+"="+mode)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: the process ended with %v when the store panicked on a reconnect:\n%s", mode, err, tail(string(out), 1500))
			}
		})
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// panicChild connects, arms the store, reconnects (its serving goroutine panics), disarms
// it and checks that the server still serves.
func panicChild(t *testing.T, detached bool) {
	store := &panicStore{Backend: wsmemory.New()}
	opts := []wssync.ManagerOption{wssync.WithSessionStore(store)}
	if detached {
		opts = append(opts, wssync.WithDetachedConnections())
	}
	m := wssync.NewManager(notesFactory(new(atomic.Int32)), opts...)
	url := wstest.Serve(t, http.HandlerFunc(m.ServeWS))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = m.Shutdown(ctx)
	})
	c := dialAs(t, url, "u", "s")
	waitType(t, c, "_SET:NOTES")
	_ = c.Close()
	sess, _ := m.Session("s")
	waitUntil(t, func() bool { return !sess.Connected() })
	store.armed.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if c2, err := wssynctest.Dial(ctx, url, wssynctest.WithIdentity("u", "s")); err == nil {
		select { // the panic ends its serving; net/http leaves a hijacked socket open
		case <-c2.Done():
		case <-time.After(time.Second):
		}
		_ = c2.Close()
	}
	store.armed.Store(false)
	c3 := dialAs(t, url, "u", "other")
	waitType(t, c3, "_SET:NOTES")
	if !strings.Contains(url, "127.0.0.1") {
		t.Fatalf("not loopback: %s", url)
	}
}
