package wssync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wssynctest"
)

// Attacks on the connection write path: the writer goroutine that runs only while the
// queue holds frames, the dispatcher writing a handler's replies itself, and the close on
// its own goroutine. Real WebSockets over loopback.

// A handler that sends a burst of frames within the queue bound to a client that reads at
// full speed: every frame arrives, in order. A burst beyond the bound, faster than the
// socket drains, counts as falling behind and closes the connection with 4001 whatever the
// client's speed (publishers never block; docs/concepts.md says so), so it is not tested
// here for delivery.
func TestAttackHandlerSendsABurst(t *testing.T) {
	t.Parallel()
	const n = wssync.DefaultMaxQueuedFrames - 16
	sess := wssync.NewSession()
	if err := wssync.On(sess, "burst", func(ctx context.Context, _ struct{}) error {
		s, _ := wssync.SessionFrom(ctx)
		for i := range n {
			if err := s.Send("tick", i); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c := dial(t, serve(t, sess))
	if err := c.Send("burst", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	if got := awaitCount(c, "tick", n, 5*time.Second); got != n {
		t.Fatalf("a client reading at full speed got %d of %d frames a handler sent; close: %v, slow closes %d",
			got, n, c.CloseError(), sess.Stats().SlowCloses)
	}
	next := 0
	for _, f := range c.Frames() {
		if f.Type != "tick" {
			continue
		}
		var i int
		if err := json.Unmarshal(f.Data, &i); err != nil {
			t.Fatal(err)
		}
		if i != next {
			t.Fatalf("tick %d arrived where %d was due", i, next)
		}
		next++
	}
	if s := sess.Stats().SlowCloses; s != 0 {
		t.Fatalf("%d slow closes for a burst within the queue bound", s)
	}
}

// Many goroutines send numbered events at once, racing the writer's exit (each push may
// find the writer just ending). Every event must arrive, and each goroutine's in order.
func TestAttackSendsRaceWriterExit(t *testing.T) {
	t.Parallel()
	const senders, each = 8, 200
	sess := wssync.NewSession(wssync.WithLimits(wssync.Limits{MaxQueuedFrames: senders*each + 16}))
	c := dial(t, serve(t, sess))
	waitUntil(t, func() bool { return sess.Connected() })
	var wg sync.WaitGroup
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := sess.Send("n", [2]int{g, i}); err != nil {
					t.Error(err)
					return
				}
				if i%16 == 0 {
					time.Sleep(time.Duration(i%3) * 100 * time.Microsecond) // let the writer go idle
				}
			}
		}()
	}
	wg.Wait()
	if got := awaitCount(c, "n", senders*each, 10*time.Second); got != senders*each {
		t.Fatalf("got %d of %d events; close: %v", got, senders*each, c.CloseError())
	}
	next := make([]int, senders)
	for _, f := range c.Frames() {
		if f.Type != "n" {
			continue
		}
		var p [2]int
		if err := json.Unmarshal(f.Data, &p); err != nil {
			t.Fatal(err)
		}
		if p[1] != next[p[0]] {
			t.Fatalf("sender %d: got %d, want %d (reordered or lost)", p[0], p[1], next[p[0]])
		}
		next[p[0]]++
	}
}

type stormDoc struct {
	Counts []int `sync:"counts"`
}

// Sync storms from many goroutines while the client reads slowly (paused, then resumed):
// the client must end at exactly the server's state, with versions never going back.
func TestAttackSyncStormSlowReader(t *testing.T) {
	t.Parallel()
	const workers, rounds = 8, 300
	d := &stormDoc{Counts: make([]int, workers)}
	sess := wssync.NewSession(wssync.WithLimits(wssync.Limits{MaxQueuedFrames: 32}))
	s, err := wssync.Register(sess, "S", d)
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, serve(t, sess))
	waitType(t, c, "_SET:S")
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				if err := s.Update(func(v *stormDoc) { v.Counts[w]++ }); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	stop := make(chan struct{})
	go func() { // pause and resume reading while the storm runs
		for {
			select {
			case <-stop:
				c.Resume()
				return
			default:
			}
			c.Pause()
			time.Sleep(3 * time.Millisecond)
			c.Resume()
			time.Sleep(time.Millisecond)
		}
	}()
	wg.Wait()
	close(stop)
	want := make([]int, workers)
	for i := range want {
		want[i] = rounds
	}
	got, err := wssynctest.WaitState(ctxT(t), c, "S", func(v stormDoc) bool { return fmt.Sprint(v.Counts) == fmt.Sprint(want) })
	if err != nil {
		t.Fatalf("client state %v, want %v: %v", got.Counts, want, err)
	}
	if err := c.Errs(); err != nil {
		t.Fatalf("client saw an inconsistent stream: %v", err)
	}
	var last uint64
	for _, f := range c.Frames() {
		if (f.Type == "_SET:S" || f.Type == "_PATCH:S") && f.V != nil {
			if *f.V < last {
				t.Fatalf("version went back from %d to %d", last, *f.V)
			}
			last = *f.V
		}
	}
	if c.CloseError() != nil {
		t.Fatalf("connection closed: %v", c.CloseError())
	}
}

type orderDoc struct {
	N int `sync:"n,write"`
}

// An acknowledged write's echo comes before its _RESULT (protocol.md), under a concurrent
// Sync storm to the same key.
func TestAttackEchoBeforeResultUnderStorm(t *testing.T) {
	t.Parallel()
	d := &orderDoc{}
	sess := wssync.NewSession()
	s, err := wssync.Register(sess, "O", d)
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, serve(t, sess))
	waitType(t, c, "_SET:O")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = s.Update(func(v *orderDoc) { v.N++ })
			time.Sleep(200 * time.Microsecond)
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	for i := range 50 {
		id := fmt.Sprintf("w%d", i)
		if err := c.PatchWith("O", wssynctest.WriteOpts{ID: id}, wssynctest.Replace("/n", 1000000+i)); err != nil {
			t.Fatal(err)
		}
		r, err := c.WaitResult(ctxT(t), id)
		if err != nil {
			t.Fatal(err)
		}
		var res struct {
			V uint64 `json:"v"`
		}
		if r.Error != nil || json.Unmarshal(r.Data, &res) != nil {
			t.Fatalf("write %s: %s %s", id, r.Data, r.Error)
		}
		_, v, _ := c.State("O")
		if v < res.V {
			t.Fatalf("write %s: _RESULT v %d arrived before its echo (client at v %d)", id, res.V, v)
		}
	}
}

// awaitCount polls until c has received want frames of typ, or within passes, or the
// connection closed; it returns how many arrived.
func awaitCount(c *wssynctest.Client, typ string, want int, within time.Duration) int {
	end := time.Now().Add(within)
	for {
		got := 0
		for _, f := range c.Frames() {
			if f.Type == typ {
				got++
			}
		}
		if got >= want || time.Now().After(end) {
			return got
		}
		select {
		case <-c.Done():
			if time.Now().Add(200 * time.Millisecond).After(end) {
				return got
			}
			end = time.Now().Add(200 * time.Millisecond) // the last frames before the close
		default:
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type liveDoc struct {
	N int `sync:"n"`
}

// While one of the client's actions runs (a slow database call, say), the server goes on
// publishing a shared key. concepts.md: "A writer goroutine, started only while there is
// something to write", and publishers never wait on a client; the patch should reach the
// client while the action runs, not after it.
func TestAttackSlowHandlerHoldsBackPatches(t *testing.T) {
	t.Parallel()
	d := &liveDoc{}
	sess := wssync.NewSession()
	s, err := wssync.Register(sess, "L", d)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	if err := wssync.On(sess, "slow", func(context.Context, struct{}) error {
		started <- struct{}{}
		<-release
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	c := dial(t, serve(t, sess))
	waitType(t, c, "_SET:L")
	if err := c.Send("slow", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	<-started
	if err := s.Update(func(v *liveDoc) { v.N = 1 }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctxT(t), 2*time.Second)
	defer cancel()
	if _, err := c.WaitFrame(ctx, func(f wssynctest.Frame) bool { return f.Type == "_PATCH:L" }); err != nil {
		t.Fatalf("a patch published while a handler ran did not reach the client within 2s: %v", err)
	}
}

// Frames other goroutines send to a session while its handler runs (progress events, a
// room's messages) count against the queue with nothing draining it: a client that reads
// at full speed should not be closed as a slow consumer.
func TestAttackSendsDuringSlowHandler(t *testing.T) {
	t.Parallel()
	const n = wssync.DefaultMaxQueuedFrames + 44
	sess := wssync.NewSession()
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	if err := wssync.On(sess, "slow", func(context.Context, struct{}) error {
		started <- struct{}{}
		<-release
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c := dial(t, serve(t, sess))
	waitUntil(t, func() bool { return sess.Connected() })
	if err := c.Send("slow", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	<-started
	for i := range n {
		_ = sess.Send("progress", i)
		time.Sleep(200 * time.Microsecond) // far slower than loopback reads
	}
	close(release)
	if got := awaitCount(c, "progress", n, 5*time.Second); got != n {
		t.Fatalf("a fast-reading client got %d of %d frames sent while a handler ran; close: %v, slow closes %d",
			got, n, c.CloseError(), sess.Stats().SlowCloses)
	}
}

// Pings (a timer writing a control frame) race the data writes of a busy connection: no
// data race, no broken frame, every frame arrives.
func TestAttackPingsRaceDataWrites(t *testing.T) {
	t.Parallel()
	const n = 2000
	sess := wssync.NewSession(wssync.WithLimits(wssync.Limits{PingInterval: time.Millisecond, MaxQueuedFrames: n + 16}))
	c := dial(t, serve(t, sess))
	waitUntil(t, func() bool { return sess.Connected() })
	for i := range n {
		if err := sess.Send("d", strings.Repeat("x", i%512)); err != nil {
			t.Fatal(err)
		}
		if i%100 == 0 {
			time.Sleep(2 * time.Millisecond)
		}
	}
	if got := awaitCount(c, "d", n, 10*time.Second); got != n {
		t.Fatalf("got %d of %d frames; close: %v", got, n, c.CloseError())
	}
}

// Pushes that race the connection's close: Send from many goroutines while the client
// goes away; nothing panics, Send reports nil or ErrNotConnected, and (leakcheck, at the
// end of the package) no writer goroutine is left.
func TestAttackSendsRaceClose(t *testing.T) {
	t.Parallel()
	for range 20 {
		sess := wssync.NewSession()
		c := dial(t, serve(t, sess))
		waitUntil(t, func() bool { return sess.Connected() })
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for i := range 200 {
					if err := sess.Send("x", i); err != nil && err != wssync.ErrNotConnected {
						t.Error(err)
						return
					}
				}
			})
		}
		_ = c.Close()
		wg.Wait()
		sess.Close()
	}
}

type refuseDoc struct {
	N    int `sync:"n,write"`
	Lock int `sync:"lock"`
}

// A refused acknowledged write gets its `_RESULT` error, then the key's `_SET`
// (protocol.md), while the key is being published from another goroutine; the client's
// stream stays consistent.
func TestAttackRefusalOrderUnderStorm(t *testing.T) {
	t.Parallel()
	d := &refuseDoc{}
	sess := wssync.NewSession()
	s, err := wssync.Register(sess, "R", d)
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, serve(t, sess))
	waitType(t, c, "_SET:R")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = s.Update(func(v *refuseDoc) { v.N++ })
			time.Sleep(100 * time.Microsecond)
		}
	})
	defer func() { close(stop); wg.Wait() }()
	for i := range 30 {
		id := fmt.Sprintf("r%d", i)
		if err := c.PatchWith("R", wssynctest.WriteOpts{ID: id}, wssynctest.Replace("/lock", i)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.WaitResult(ctxT(t), id); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, func() bool {
			after := false
			for _, f := range c.Frames() {
				if f.Type == "_RESULT" && f.ID == id {
					after = true
				}
				if after && f.Type == "_SET:R" {
					return true
				}
			}
			return false
		})
	}
	// The _RESULT of each refusal precedes a _SET:R.
	fs := c.Frames()
	for i, f := range fs {
		if f.Type != "_RESULT" {
			continue
		}
		if f.Error == nil {
			t.Fatalf("write %s was not refused", f.ID)
		}
		ok := false
		for _, g := range fs[i+1:] {
			if g.Type == "_SET:R" {
				ok = true
				break
			}
			if g.Type == "_RESULT" {
				break
			}
		}
		if !ok {
			t.Fatalf("refusal %s not followed by _SET:R before the next _RESULT", f.ID)
		}
	}
	if err := c.Errs(); err != nil {
		t.Fatal(err)
	}
}

// A handler that publishes a key many times (each Update a patch) to a client: the queue
// coalesces them, the client ends at the last state, and the connection stays open.
func TestAttackHandlerPublishesManyPatches(t *testing.T) {
	t.Parallel()
	const n = 3 * wssync.DefaultMaxQueuedFrames
	d := &liveDoc{}
	sess := wssync.NewSession()
	s, err := wssync.Register(sess, "P", d)
	if err != nil {
		t.Fatal(err)
	}
	if err := wssync.On(sess, "many", func(context.Context, struct{}) error {
		for range n {
			if err := s.Update(func(v *liveDoc) { v.N++ }); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c := dial(t, serve(t, sess))
	waitType(t, c, "_SET:P")
	if err := c.Send("many", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	if _, err := wssynctest.WaitState(ctxT(t), c, "P", func(v liveDoc) bool { return v.N == n }); err != nil {
		t.Fatalf("client never reached N=%d: %v (close %v)", n, err, c.CloseError())
	}
	if err := c.Errs(); err != nil {
		t.Fatal(err)
	}
}
