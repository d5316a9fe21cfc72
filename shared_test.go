package wssync_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wssynctest"
)

type Room struct {
	Topic string            `sync:"topic,write"`
	Votes map[string]int    `sync:"votes,write"`
	Lines []string          `sync:"lines"`
	Seen  map[string]string `sync:"seen,write"`
}

// Fifty clients in one room write to it at once, through client writes and actions, while
// the server mutates it too. Every client must end with exactly the server's state.
func TestSharedRoomConvergence(t *testing.T) {
	t.Parallel()
	room := &Room{Votes: map[string]int{}, Seen: map[string]string{}}
	shared, err := wssync.NewShared("ROOM", room)
	if err != nil {
		t.Fatal(err)
	}
	err = wssync.Action(shared, "say", func(ctx context.Context, p struct {
		Text string `json:"text"`
	}) error {
		return shared.Update(func(r *Room) { r.Lines = append(r.Lines, p.Text) })
	})
	if err != nil {
		t.Fatal(err)
	}
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		return shared.Join(sess)
	}, wssync.WithLimits(wssync.Limits{RatePerSecond: -1}))
	url := serveManager(t, m)

	const clients, writes = 50, 20
	cs := make([]*wssynctest.Client, clients)
	for i := range cs {
		cs[i] = dialAs(t, url, fmt.Sprint("user", i), fmt.Sprint("tab", i))
		waitType(t, cs[i], "_SET:ROOM")
	}
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for w := range writes {
				me := fmt.Sprint("user", i)
				switch w % 3 {
				case 0:
					_ = c.Patch("ROOM", wssynctest.Op{Op: "add", Path: "/seen/" + me, Value: fmt.Sprint(w)})
				case 1: // with an id: its _RESULT says the line is in
					_ = c.SendFrame(map[string]any{"type": "_ACTION:ROOM", "id": fmt.Sprint(w), "data": map[string]any{"type": "say", "text": fmt.Sprintf("%s-%d", me, w)}})
				case 2:
					_ = c.Patch("ROOM", wssynctest.Replace("/topic", me))
				}
			}
		}()
	}
	for i := range 50 {
		_ = shared.Update(func(r *Room) { r.Votes[fmt.Sprint("server", i%5)]++ })
	}
	wg.Wait()
	// Every line said must be in once its _RESULT is back (a connection's frames are
	// handled in order, so every write of the client is then in too); then all clients
	// must hold the published state. The waits are for fifty clients' thousand writes and
	// their fan-out, which a loaded machine under -race takes longer than wstest.Timeout
	// to do: they last as long as the test may.
	ctx := wstest.Patient(t)
	said := (writes + 1) / 3
	for i, c := range cs {
		for range said {
			f, err := c.WaitFrame(ctx, func(f wssynctest.Frame) bool { return f.Type == "_RESULT" })
			if err != nil {
				t.Fatalf("client %d: waiting for the results of its actions: %v", i, err)
			}
			if f.Error != nil {
				t.Fatalf("client %d: action %s failed: %s", i, f.ID, f.Error)
			}
		}
	}
	shared.RLock()
	n := len(room.Lines)
	shared.RUnlock()
	if n != clients*said {
		for i, c := range cs {
			for _, f := range c.Frames() {
				if f.Type == "_ERROR" {
					t.Errorf("client %d: %s", i, f.Data)
				}
			}
		}
		t.Fatalf("%d lines after every action answered, want %d", n, clients*said)
	}
	want, v := shared.Published()
	for i, c := range cs {
		got, err := c.WaitVersion(ctx, "ROOM", v)
		if err != nil {
			_, cv, _ := c.State("ROOM")
			fs := c.Frames()
			t.Fatalf("client %d: %v (client at v%d of v%d, %d frames, last %s %s; errs %v; stats %+v)", i, err, cv, v, len(fs), fs[len(fs)-1].Type, fs[len(fs)-1].Data, c.Errs(), m.Stats())
		}
		if !jsonEqual(got, want) {
			t.Fatalf("client %d differs:\n got %s\nwant %s", i, got, want)
		}
		if err := c.Errs(); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	t.Logf("%d clients converged at version %d", clients, v)
}

// Sessions join and leave at runtime; late joiners get _SET; a slow subscriber does not
// hold the others back.
func TestSharedJoinLeaveAndSlowSubscriber(t *testing.T) {
	t.Parallel()
	room := &Room{}
	shared, _ := wssync.NewShared("ROOM", room)
	// a is paused for as long as b takes over 2000 patches, a minute or more on a loaded
	// machine: its write and pong timeouts must not take it for dead meanwhile.
	patient := wssync.Limits{MaxQueuedFrames: 8, MaxQueuedBytes: 1 << 20, WriteTimeout: time.Hour, PongTimeout: time.Hour}
	a, b := wssync.NewSession(wssync.WithLimits(patient)), wssync.NewSession()
	ca := dial(t, serve(t, a))
	cb := dial(t, serve(t, b))
	if err := shared.Join(a); err != nil {
		t.Fatal(err)
	}
	waitType(t, ca, "_SET:ROOM")
	_ = shared.Update(func(r *Room) { r.Topic = "one" })
	waitType(t, ca, "_PATCH:ROOM")

	// b joins late and starts from the current state.
	if err := shared.Join(b); err != nil {
		t.Fatal(err)
	}
	if set := waitType(t, cb, "_SET:ROOM"); *set.V != 1 {
		t.Fatalf("late joiner got v=%d", *set.V)
	}
	if err := shared.Join(b); err == nil {
		t.Fatal("joined twice")
	}

	// a stops reading; b keeps up with every change, in order.
	ca.Pause()
	for i := range 2000 {
		_ = shared.Update(func(r *Room) { r.Lines = append(r.Lines[:0], fmt.Sprint(i, " ", string(make([]byte, 512)))) })
	}
	// Two thousand 3 KB patches to a client that applies each under -race: a loaded machine
	// takes longer than wstest.Timeout over them, so the waits last as long as the test may.
	_, v := shared.Published()
	if _, err := cb.WaitVersion(wstest.Patient(t), "ROOM", v); err != nil {
		_, got, _ := cb.State("ROOM")
		t.Fatalf("the subscriber that reads: %v (at v%d of v%d)", err, got, v)
	}
	ca.Resume()
	if _, err := ca.WaitVersion(wstest.Patient(t), "ROOM", v); err != nil {
		_, got, _ := ca.State("ROOM")
		t.Fatalf("the slow subscriber, reading again: %v (at v%d of v%d)", err, got, v)
	}
	if a.Stats().SlowDrops == 0 {
		t.Log("note: the slow subscriber's queue never overflowed")
	}

	// b leaves: it gets nothing more; a does.
	shared.Leave(b)
	_ = shared.Update(func(r *Room) { r.Topic = "after" })
	waitUntil(t, func() bool { _, got, _ := ca.State("ROOM"); return got == v+1 })
	_ = b.Toast(wssync.ToastInfo, "marker")
	waitType(t, cb, "_TOAST")
	for _, f := range cb.Frames() {
		if f.V != nil && *f.V > v {
			t.Fatal("a session that left still got patches")
		}
	}
	if err := ca.Errs(); err != nil {
		t.Fatal(err)
	}
	if err := cb.Errs(); err != nil {
		t.Fatal(err)
	}
}

// 10,000 sessions are created and expire; goroutines and heap return near the start.
func TestManagerExpiresManySessions(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 10,000 sessions")
	}
	shared, _ := wssync.NewShared("LOBBY", &Room{})
	factory := func(ctx context.Context, sess *wssync.Session) error {
		if _, err := wssync.Register(sess, "MINE", &Notes{Notes: make([]string, 16)}); err != nil {
			return err
		}
		return shared.Join(sess)
	}
	m := wssync.NewManager(factory, wssync.WithManagerLimits(wssync.ManagerLimits{SessionTTL: 50 * time.Millisecond}), wssync.WithLimits(wssync.Limits{RatePerSecond: -1}))
	url := serveManager(t, m)
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	g0, h0 := runtime.NumGoroutine(), heap()
	const total, parallel = 10_000, 50
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	sem := make(chan struct{}, parallel)
	for i := range total {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := wssynctest.Dial(ctx, url, wssynctest.WithIdentity(fmt.Sprint("u", i), fmt.Sprint("s", i)))
			if err != nil {
				t.Error(err)
				return
			}
			_, err = c.WaitFrame(ctx, func(f wssynctest.Frame) bool { return f.Type == "_SET:LOBBY" })
			if err != nil {
				t.Error(err)
			}
			_ = c.Close()
		}()
	}
	wg.Wait()
	if st := m.Stats(); st.SessionsTotal != total {
		t.Fatalf("created %d sessions, want %d", st.SessionsTotal, total)
	}
	waitUntil(t, func() bool { return m.Stats().Sessions == 0 })
	waitUntil(t, func() bool { return runtime.NumGoroutine() <= g0+5 })
	h1 := heap()
	t.Logf("goroutines %d → %d, heap %d → %d bytes", g0, runtime.NumGoroutine(), h0, h1)
	if h1 > h0+4<<20 {
		t.Fatalf("heap grew by %d bytes after all sessions expired", h1-h0)
	}
	if st := m.Stats(); st.Sessions != 0 || st.Connections != 0 {
		t.Fatalf("stats %+v", st)
	}
}
