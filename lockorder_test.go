package wssync_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wsmemory"
	"github.com/wssync/wssync/wspresence"
	"github.com/wssync/wssync/wssynctest"
)

// stallLimit is how long one operation of TestLockOrderUnderLoad may take before the
// watchdog calls it a deadlock: far above what any bounded wait in the library takes.
const stallLimit = 30 * time.Second

// watchdog crashes the test binary, printing every goroutine's stack, when an operation
// runs longer than limit: a deadlocked test would otherwise hang until go test's timeout,
// and its cleanups (which wait for the stuck goroutines) would hang with it.
type watchdog struct {
	mu    sync.Mutex
	busy  map[string]time.Time // the operations running, by worker, and since when
	limit time.Duration
	quit  chan struct{}
	done  chan struct{}
}

func startWatchdog(t *testing.T, limit time.Duration) *watchdog {
	w := &watchdog{busy: make(map[string]time.Time), limit: limit, quit: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	t.Cleanup(func() {
		close(w.quit)
		<-w.done
	})
	return w
}

func (w *watchdog) run() {
	defer close(w.done)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-w.quit:
			return
		case <-tick.C:
		}
		w.mu.Lock()
		var stalled []string
		for name, since := range w.busy {
			if time.Since(since) > w.limit {
				stalled = append(stalled, name)
			}
		}
		w.mu.Unlock()
		if stalled != nil {
			buf := make([]byte, 8<<20)
			buf = buf[:runtime.Stack(buf, true)]
			fmt.Fprintf(os.Stderr, "watchdog: %q made no progress for %v: deadlock?\n\n%s\n", stalled, w.limit, buf)
			debug.SetTraceback("all")
			panic(fmt.Sprintf("watchdog: %q stalled", stalled))
		}
	}
}

// do runs fn as worker name's current operation.
func (w *watchdog) do(name string, fn func()) {
	w.mu.Lock()
	w.busy[name] = time.Now()
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.busy, name)
		w.mu.Unlock()
	}()
	fn()
}

type lockDoc struct {
	Draft string `sync:"draft,write"`
	N     int    `sync:"n"`
}

type lockRoom struct {
	Title string `sync:"title,write"`
	Count int    `sync:"count"`
}

// Every path that takes the package's locks runs at once, on a Manager with a session
// store, a shared object with a backend on two nodes, and a Presence: clients connect,
// are replaced, write, call actions that update two objects, start and cancel tasks that
// sync throttled, and ask for _SETs; server goroutines Update, Sync, SyncThrottled, read
// versions, send actions and toasts, Register, Join, Leave and Unregister objects and
// disconnect sessions, while the backend is interrupted and goes away and comes back.
// Each worker runs a fixed number of rounds; a watchdog fails the run with every stack if
// one operation stalls. Under -race this also checks the paths for data races, and at the
// end both nodes of the shared object must hold the same state.
func TestLockOrderUnderLoad(t *testing.T) {
	mem := wsmemory.New() // backend, session store and presence store in one
	roomA, err := wssync.NewShared("ROOM", &lockRoom{}, wssync.WithBackend(mem))
	if err != nil {
		t.Fatal(err)
	}
	roomB, err := wssync.NewShared("ROOM", &lockRoom{}, wssync.WithBackend(mem)) // a second node
	if err != nil {
		t.Fatal(err)
	}
	pres, err := wspresence.New(mem, "lobby", "PRESENCE", wspresence.WithTTL(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // after the Manager's shutdown (cleanups run last first)
		pres.Close()
		roomA.Unregister()
		roomB.Unregister()
	})

	factory := func(ctx context.Context, sess *wssync.Session) error {
		state := &lockDoc{}
		doc, err := wssync.Register(sess, "DOC", state, wssync.WithRunningTasks("running"))
		if err != nil {
			return err
		}
		err = wssync.Action(doc, "bump", func(ctx context.Context, _ struct{}) error {
			_ = doc.Update(func(d *lockDoc) { d.N++ })
			_ = roomA.Update(func(r *lockRoom) { r.Count++ })
			return doc.Sync()
		})
		if err != nil {
			return err
		}
		err = wssync.Task(doc, "work", func(ctx context.Context, _ struct{}) error {
			for i := 0; i < 20 && ctx.Err() == nil; i++ {
				doc.RLock()
				seen := state.N
				doc.RUnlock()
				_ = doc.Update(func(d *lockDoc) { d.N = max(d.N, seen) })
				_ = doc.Update(func(d *lockDoc) { d.N++ })
				_ = doc.SyncThrottled(time.Millisecond)
				time.Sleep(time.Millisecond)
			}
			return ctx.Err()
		})
		if err != nil {
			return err
		}
		sess.OnConnect(func(context.Context) { _ = roomB.Update(func(r *lockRoom) { r.Count++ }) })
		if err := roomA.Join(sess); err != nil {
			return err
		}
		return pres.Join(sess)
	}
	m := wssync.NewManager(factory, wssync.WithSessionStore(mem), wssync.WithLimits(wssync.Limits{RatePerSecond: -1}))
	url := serveManager(t, m)
	w := startWatchdog(t, stallLimit)

	var wg sync.WaitGroup
	var served atomic.Int64
	worker := func(name string, rounds int, op func(i int)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				w.do(name, func() { op(i) })
			}
		}()
	}

	// Clients: sessions s0 (two clients, which replace each other), s1 and s2.
	for k, sid := range []string{"s0", "s0", "s1", "s2"} {
		worker(fmt.Sprintf("client %d", k), 40, func(i int) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := wssynctest.Dial(ctx, url, wssynctest.WithIdentity("u-"+sid, sid))
			if err != nil {
				return // refused while the store is away, say: not what this test checks
			}
			defer c.Close()
			if _, err := c.WaitFrame(ctx, func(f wssynctest.Frame) bool { return f.Type == "_SET:DOC" }); err == nil {
				served.Add(1)
			}
			_ = c.Patch("DOC", wssynctest.Replace("/draft", fmt.Sprintf("c%d-%d", k, i)))
			_ = c.Patch("ROOM", wssynctest.Replace("/title", fmt.Sprintf("c%d-%d", k, i)))
			_ = c.Send("_ACTION:DOC", map[string]any{"type": "bump"})
			_ = c.Send("_TASK_START:DOC", map[string]any{"type": "work"})
			_ = c.Get("DOC")
			_ = c.Set("DOC", map[string]any{"draft": "whole"})
			if i%2 == 0 {
				_ = c.Send("_TASK_CANCEL:DOC", map[string]any{"type": "work"})
			}
			_ = c.Send("_ACTION:DOC", map[string]any{"type": "bump", "id": "r"})
			time.Sleep(time.Duration(i%4) * time.Millisecond)
		})
	}

	// Server-side writers on both nodes of the shared object.
	for name, room := range map[string]*wssync.Synced[lockRoom]{"node A": roomA, "node B": roomB} {
		worker(name, 1000, func(i int) {
			_ = room.Update(func(r *lockRoom) { r.Count++ })
			switch i % 5 {
			case 0:
				_ = room.SyncThrottled(2 * time.Millisecond)
			case 1:
				_ = room.Sync()
			case 2:
				_ = room.Version()
				_, _ = room.Published()
				_ = room.BackendStatus()
			case 3:
				_ = room.SendAction("hello", map[string]int{"i": i})
			}
		})
	}

	// Server-side work on the sessions: toasts, a temporary object registered and
	// unregistered, a shared one joined and left, disconnects.
	worker("sessions", 200, func(i int) {
		for _, sess := range m.Sessions() {
			_ = sess.Toast(wssync.ToastInfo, "hi")
			tmp, err := wssync.Register(sess, fmt.Sprintf("TMP-%d", i), &lockDoc{})
			if err == nil {
				_ = tmp.Update(func(d *lockDoc) { d.N = i })
				tmp.Unregister()
			}
			if i%10 == 9 {
				sess.Disconnect()
			}
		}
		time.Sleep(time.Millisecond)
	})

	// Shared objects with a backend, joined by every session, then unregistered.
	worker("unregister", 60, func(i int) {
		tmp, err := wssync.NewShared("SHARED-TMP", &lockRoom{}, wssync.WithBackend(mem))
		if err != nil {
			t.Error(err)
			return
		}
		for _, sess := range m.Sessions() {
			_ = tmp.Join(sess)
		}
		_ = tmp.Update(func(r *lockRoom) { r.Count = i })
		if i%2 == 0 {
			for _, sess := range m.Sessions() {
				tmp.Leave(sess)
			}
		}
		tmp.Unregister()
		time.Sleep(5 * time.Millisecond)
	})

	// Faults: interrupted subscriptions, and a backend (and store) that goes away.
	worker("faults", 40, func(i int) {
		time.Sleep(20 * time.Millisecond)
		if i%2 == 0 {
			mem.Interrupt()
			return
		}
		mem.SetUnavailable(true)
		time.Sleep(20 * time.Millisecond)
		mem.SetUnavailable(false)
	})

	wg.Wait() // each worker's operations are watched

	// Both nodes end on one state: nothing was lost or left half-published.
	w.do("final check", func() {
		waitUntil(t, func() bool {
			_ = roomA.Sync()
			_ = roomB.Sync()
			a, va := roomA.Published()
			b, vb := roomB.Published()
			return va == vb && jsonEqual(a, b) && !roomA.BackendStatus().Offline && !roomB.BackendStatus().Offline
		})
	})
	if served.Load() == 0 {
		t.Fatal("no client connection was served")
	}
	st := roomA.BackendStatus()
	t.Logf("%d connections served; shared object at version %d: %d commits, %d conflicts, %d outages, %d reloads",
		served.Load(), roomA.Version(), st.Commits, st.Conflicts, st.Outages, st.Reloads)
}
