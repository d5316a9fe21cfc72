package wsclient_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wsclient"
)

func TestBindFollowsSetAndPatches(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	c := dial(t, s.url, nil) // a nil option is ignored
	b := bindBoard(t, c)
	first := waitBoard(t, b, "first state", func(v board) bool { return v.Title == "start" })
	v0, ok := b.Version()
	if !ok {
		t.Fatal("no version on a wssync server's state")
	}
	must(t, s.share.Update(func(x *Board) { x.Items = append(x.Items, "a", "b"); x.Count = 2 }))
	got := waitBoard(t, b, "patched state", func(v board) bool { return v.Count == 2 })
	if !slices.Equal(got.Items, []string{"a", "b"}) || got.Title != first.Title {
		t.Fatalf("state = %+v", got)
	}
	if v, _ := b.Version(); v != v0+1 {
		t.Fatalf("version %d after one patch on %d", v, v0)
	}
	// Get is a copy: changing it changes nothing held by the binding.
	cp := b.Get()
	cp.Items[0] = "changed"
	b.Read(func(v *board) {
		if v.Items[0] != "a" {
			t.Fatalf("Get shares memory with the binding: %+v", v)
		}
	})
	if !b.Live() {
		t.Fatal("binding not live on a live connection")
	}
	if _, err := wsclient.Bind[board](c, "BOARD"); !errors.Is(err, wsclient.ErrAlreadyBound) {
		t.Fatalf("second Bind: %v, want ErrAlreadyBound", err)
	}
}

func TestChangeCallbacksAndChannel(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	c := dial(t, s.url)
	b := bindBoard(t, c)
	waitBoard(t, b, "first state", nil)
	seen := make(chan int, 16)
	remove := b.OnChange(func(v board) { seen <- v.Count })
	<-drain(b.Changes())
	must(t, s.share.Update(func(x *Board) { x.Count = 7 }))
	if n := wstest.Receive(t, seen, "OnChange"); n != 7 {
		t.Fatalf("OnChange got count %d", n)
	}
	wstest.Receive(t, b.Changes(), "a signal on Changes")
	remove()
	must(t, s.share.Update(func(x *Board) { x.Count = 8 }))
	waitBoard(t, b, "count 8", func(v board) bool { return v.Count == 8 })
	select {
	case n := <-seen:
		t.Fatalf("removed callback called with %d", n)
	default:
	}
}

// drain empties a signal channel and returns a closed channel.
func drain(ch <-chan struct{}) <-chan struct{} {
	select {
	case <-ch:
	default:
	}
	done := make(chan struct{})
	close(done)
	return done
}

func TestReconnectAfterServerDrop(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	c := dial(t, s.url, wsclient.WithIdentity("u1", "s1"))
	statuses := make(chan wsclient.Status, 8)
	c.OnStatus(func(st wsclient.Status) { statuses <- st })
	b := bindBoard(t, c)
	waitBoard(t, b, "first state", nil)
	sess, ok := s.mgr.Session("s1")
	if !ok {
		t.Fatal("no session s1 on the server: identity not sent")
	}
	if !sess.Disconnect() {
		t.Fatal("session had no connection")
	}
	must(t, s.share.Update(func(x *Board) { x.Title = "after drop" }))
	waitBoard(t, b, "state after the reconnect", func(v board) bool { return v.Title == "after drop" })
	wstest.Eventually(t, "reconnected to the same session", func() bool { return sess.Connected() && c.Connected() })
	var ce *wsclient.CloseError
	if st := wstest.Receive(t, statuses, "the disconnect"); st.Connected || !errors.As(st.Err, &ce) || ce.Code != wssync.CloseGoingAway {
		t.Fatalf("status = %+v, want the end with 1001", st)
	}
	if st := wstest.Receive(t, statuses, "the reconnect"); !st.Connected || st.Err != nil {
		t.Fatalf("status = %+v, want connected", st)
	}
	if _, err := wsclient.Call[int](wstest.Context(t), c, "BOARD", "add", addParams{N: 1}); err != nil {
		t.Fatalf("call after the reconnect: %v", err)
	}
}

func TestConvergesAfterChangesWhileDisconnected(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	p := newProxy(t, s.url)
	c := dial(t, p.url)
	b := bindBoard(t, c)
	waitBoard(t, b, "first state", nil)

	p.setDown(true)
	p.cut()
	wstest.Eventually(t, "client sees the outage", func() bool { return !c.Connected() && !b.Live() })
	for i := range 5 {
		must(t, s.share.Update(func(x *Board) { x.Count = i + 1; x.Items = append(x.Items, "x") }))
	}
	if got := b.Get(); got.Count != 0 {
		t.Fatalf("state changed while disconnected: %+v", got)
	}
	p.setDown(false)
	got := waitBoard(t, b, "converged", func(v board) bool { return v.Count == 5 })
	if len(got.Items) != 5 {
		t.Fatalf("state = %+v", got)
	}
	if v, _ := b.Version(); v != s.share.Version() {
		t.Fatalf("client at version %d, server at %d", v, s.share.Version())
	}
}

func TestGapRepairedWithGet(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	p := newProxy(t, s.url)
	c := dial(t, p.url)
	b := bindBoard(t, c)
	waitBoard(t, b, "first state", nil)

	var dropped atomic.Int32
	p.setDrop(func(data []byte) bool { // drop one patch of BOARD
		return isPatch(data) && dropped.CompareAndSwap(0, 1)
	})
	must(t, s.share.Update(func(x *Board) { x.Count = 1 })) // dropped
	wstest.Eventually(t, "the patch dropped", func() bool { return dropped.Load() == 1 })
	must(t, s.share.Update(func(x *Board) { x.Title = "two" })) // a gap: repaired with _GET
	got := waitBoard(t, b, "repaired state", func(v board) bool { return v.Title == "two" })
	if got.Count != 1 {
		t.Fatalf("state after the repair = %+v, want the dropped change too", got)
	}
	if b.Resyncs() != 1 {
		t.Fatalf("Resyncs = %d, want 1", b.Resyncs())
	}
	if v, _ := b.Version(); v != s.share.Version() {
		t.Fatalf("client at version %d, server at %d", v, s.share.Version())
	}
	must(t, s.share.Update(func(x *Board) { x.Count = 3 }))
	waitBoard(t, b, "patches apply again", func(v board) bool { return v.Count == 3 })
}

func isPatch(frame []byte) bool {
	return bytes.HasPrefix(frame, []byte(`{"type":"_PATCH:`))
}

func TestCallTypedResultsAndErrors(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	c := dial(t, s.url)
	ctx := wstest.Context(t)

	n, err := wsclient.Call[int](ctx, c, "BOARD", "add", addParams{N: 5})
	if err != nil || n != 5 {
		t.Fatalf("add = %d, %v", n, err)
	}
	if n, err = wsclient.Call[int](ctx, c, "BOARD", "add", map[string]int{"n": 2}); err != nil || n != 7 {
		t.Fatalf("add = %d, %v", n, err)
	}
	tests := []struct {
		name, action string
		params       any
		code         wsclient.Code
		path         string
	}{
		{"bad params", "add", map[string]string{"n": "x"}, wsclient.Code(wssync.CodeBadParams), "/n"},
		{"handler error", "fail", nil, wsclient.Code(wssync.CodeActionFailed), ""},
		{"unknown action", "nope", nil, wsclient.Code(wssync.CodeUnknownAction), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := wsclient.Call[int](ctx, c, "BOARD", tc.action, tc.params)
			var e *wsclient.Error
			if !errors.As(err, &e) || e.Code != tc.code || e.Path != tc.path || !wsclient.IsCode(err, tc.code) {
				t.Fatalf("err = %#v, want code %s path %q", err, tc.code, tc.path)
			}
		})
	}
	if err := c.Action(ctx, "NOKEY", "add", nil); !wsclient.IsCode(err, wsclient.Code(wssync.CodeUnknownKey)) {
		t.Fatalf("unknown key: %v", err)
	}
}

func TestCallTimeout(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	c := dial(t, s.url)
	ctx, cancel := context.WithCancel(wstest.Context(t))
	errc := make(chan error, 1)
	go func() { errc <- c.Action(ctx, "BOARD", "slow", nil) }()
	wstest.Receive(t, s.started, "the slow action running")
	cancel()
	if err := wstest.Receive(t, errc, "the call's end"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
	s.releaseAll()
	// The late _RESULT is dropped; the client goes on.
	if n, err := wsclient.Call[int](wstest.Context(t), c, "BOARD", "add", addParams{N: 1}); err != nil || n != 1 {
		t.Fatalf("call after a timed-out one: %d, %v", n, err)
	}
}

func TestCallLostWithTheConnection(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	p := newProxy(t, s.url)
	c := dial(t, p.url)
	errc := make(chan error, 1)
	go func() { errc <- c.Action(wstest.Context(t), "BOARD", "slow", nil) }()
	wstest.Receive(t, s.started, "the slow action running")
	p.cut()
	if err := wstest.Receive(t, errc, "the call's end"); !errors.Is(err, wsclient.ErrConnectionLost) {
		t.Fatalf("call on a cut connection: %v", err)
	}
	s.releaseAll()
}

func TestWrites(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	c := dial(t, s.url)
	b := bindBoard(t, c)
	ctx := wstest.Context(t)
	refused := make(chan *wsclient.Error, 4)
	c.OnError(func(e *wsclient.Error) { refused <- e })

	must(t, b.Update(ctx, func(v *board) { v.Title = "written" }))
	if got := b.Get(); got.Title != "written" {
		t.Fatalf("own write not applied locally: %+v", got)
	}
	wstest.Eventually(t, "server has the title", func() bool {
		s.share.RLock()
		defer s.share.RUnlock()
		return s.obj.Title == "written"
	})
	must(t, b.Patch(ctx, wsclient.Replace("/title", "patched")))
	wstest.Eventually(t, "server has the patched title", func() bool {
		s.share.RLock()
		defer s.share.RUnlock()
		return s.obj.Title == "patched"
	})
	must(t, b.Set(ctx, board{Title: "set", Count: 0}))
	wstest.Eventually(t, "server has the set title", func() bool {
		s.share.RLock()
		defer s.share.RUnlock()
		return s.obj.Title == "set"
	})

	// A read-only field: refused, reported, and the binding converges back.
	must(t, b.Update(ctx, func(v *board) { v.Count = 99 }))
	e := wstest.Receive(t, refused, "the refusal")
	if e.Code != wsclient.Code(wssync.CodeReadOnly) || e.Path != "/count" {
		t.Fatalf("refusal = %+v", e)
	}
	waitBoard(t, b, "converged back", func(v board) bool { return v.Count == 0 && v.Title == "set" })
	// A no-op Update sends nothing.
	must(t, b.Update(ctx, func(*board) {}))
}

func TestTasks(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	c := dial(t, s.url)
	ctx := wstest.Context(t)
	statuses := make(chan wsclient.TaskStatus, 16)
	c.OnTaskStatus("BOARD", func(st wsclient.TaskStatus) { statuses <- st })

	t.Run("cancel", func(t *testing.T) {
		errc := make(chan error, 1)
		go func() { errc <- c.RunTask(ctx, "BOARD", "work", nil) }()
		st := wstest.Receive(t, statuses, "started")
		if st.Status != wsclient.TaskStarted || st.Name != "work" || st.Key != "BOARD" {
			t.Fatalf("status = %+v", st)
		}
		if err := c.StartTask(ctx, "BOARD", "work", nil); !wsclient.IsCode(err, wsclient.Code(wssync.CodeTaskRunning)) {
			t.Fatalf("second start: %v", err)
		}
		must(t, c.CancelTask(ctx, "BOARD", "work"))
		if err := wstest.Receive(t, errc, "RunTask's end"); !errors.Is(err, wsclient.ErrTaskCancelled) {
			t.Fatalf("cancelled task: %v", err)
		}
		if st := wstest.Receive(t, statuses, "cancelled"); st.Status != wsclient.TaskCancelled {
			t.Fatalf("status = %+v", st)
		}
	})
	t.Run("fail", func(t *testing.T) {
		err := c.RunTask(ctx, "BOARD", "work", workParams{Fail: true})
		if !wsclient.IsCode(err, wsclient.Code(wssync.CodeTaskFailed)) {
			t.Fatalf("failing task: %v", err)
		}
	})
	t.Run("done", func(t *testing.T) {
		s.releaseAll()
		if err := c.RunTask(ctx, "BOARD", "work", nil); err != nil {
			t.Fatalf("task: %v", err)
		}
		if err := c.CancelTask(ctx, "BOARD", "work"); !wsclient.IsCode(err, wsclient.Code(wssync.CodeTaskNotRunning)) {
			t.Fatalf("cancel of a finished task: %v", err)
		}
	})
}

func TestEventsToastsAndPing(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	c := dial(t, s.url, wsclient.WithIdentity("u1", "s1"))
	events := make(chan string, 1)
	toasts := make(chan wsclient.Toast, 1)
	c.OnEvent("note_added", func(data json.RawMessage) { events <- string(data) })
	c.OnToast(func(tt wsclient.Toast) { toasts <- tt })
	var sess *wssync.Session
	wstest.Eventually(t, "session s1 connected", func() bool {
		var ok bool
		sess, ok = s.mgr.Session("s1")
		return ok && sess.Connected()
	})
	must(t, sess.Send("note_added", map[string]string{"by": "Ada"}))
	must(t, sess.Toast(wssync.ToastSuccess, "Saved"))
	if got := wstest.Receive(t, events, "the event"); got != `{"by":"Ada"}` {
		t.Fatalf("event data = %s", got)
	}
	if got := wstest.Receive(t, toasts, "the toast"); got != (wsclient.Toast{Kind: "success", Message: "Saved"}) {
		t.Fatalf("toast = %+v", got)
	}
	flashes := make(chan string, 2)
	c.OnAction("BOARD", "flash", func(p json.RawMessage) { flashes <- string(p) })
	c.OnAction("BOARD", "other", func(p json.RawMessage) { flashes <- "other: " + string(p) })
	must(t, s.share.SendAction("flash", map[string]string{"color": "red"}))
	if got := wstest.Receive(t, flashes, "the exposed action"); got != `{"type":"flash","color":"red"}` {
		t.Fatalf("exposed action = %s", got)
	}
	rtt, err := c.Ping(wstest.Context(t))
	if err != nil || rtt <= 0 {
		t.Fatalf("Ping = %v, %v", rtt, err)
	}
}

func TestTerminalCloseStopsReconnecting(t *testing.T) {
	t.Parallel()
	t.Run("replaced 4000", func(t *testing.T) {
		t.Parallel()
		s := newServer(t)
		first := dial(t, s.url, wsclient.WithIdentity("u1", "s1"))
		waitBoard(t, bindBoard(t, first), "the first's state", nil) // the session is the first's
		second := dial(t, s.url, wsclient.WithIdentity("u1", "s1"))
		waitDone(t, first)
		var ce *wsclient.CloseError
		if err := first.Err(); !errors.As(err, &ce) || ce.Code != wsclient.CloseReplaced || !errors.Is(err, wsclient.ErrTerminal) {
			t.Fatalf("first.Err() = %v, want the terminal 4000", err)
		}
		// The first did not come back to replace the second.
		if _, err := wsclient.Call[int](wstest.Context(t), second, "BOARD", "add", addParams{N: 1}); err != nil {
			t.Fatalf("second client: %v", err)
		}
		if !second.Connected() || first.Connected() {
			t.Fatal("the replaced client reconnected")
		}
		if _, err := first.Ping(wstest.Context(t)); !errors.Is(err, wsclient.ErrTerminal) {
			t.Fatalf("Ping on a stopped client: %v", err)
		}
	})
	t.Run("unauthorized 4004", func(t *testing.T) {
		t.Parallel()
		s := newServer(t)
		waitBoard(t, bindBoard(t, dial(t, s.url, wsclient.WithIdentity("u1", "s1"))), "u1's state", nil)
		other, err := wsclient.Dial(wstest.Context(t), s.url, wsclient.WithIdentity("u2", "s1"))
		if err == nil {
			defer other.Close()
			waitDone(t, other)
			err = other.Err()
		}
		var ce *wsclient.CloseError
		if !errors.As(err, &ce) || ce.Code != wsclient.CloseUnauthorized || !errors.Is(err, wsclient.ErrTerminal) {
			t.Fatalf("err = %v, want the terminal 4004", err)
		}
	})
	t.Run("origin refused 403", func(t *testing.T) {
		t.Parallel()
		s := newServer(t)
		_, err := wsclient.Dial(wstest.Context(t), s.url, wsclient.WithHeader(http.Header{"Origin": {"http://elsewhere.example"}}))
		var he *wsclient.HandshakeError
		if !errors.As(err, &he) || he.Status != http.StatusForbidden || !errors.Is(err, wsclient.ErrTerminal) {
			t.Fatalf("Dial = %v, want the terminal 403", err)
		}
	})
	t.Run("upgrade refused 401", func(t *testing.T) {
		t.Parallel()
		s := newServer(t, wssync.WithAuth(func(*http.Request) (wssync.Identity, error) {
			return wssync.Identity{}, errors.New("no token")
		}))
		_, err := wsclient.Dial(wstest.Context(t), s.url)
		var he *wsclient.HandshakeError
		if !errors.As(err, &he) || he.Status != http.StatusUnauthorized || !errors.Is(err, wsclient.ErrTerminal) {
			t.Fatalf("Dial = %v, want the terminal 401", err)
		}
	})
}

func TestTokenSourceOnEveryConnect(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	s := newServer(t, wssync.WithAuth(func(r *http.Request) (wssync.Identity, error) {
		if r.Header.Get("Authorization") != "Bearer good" {
			return wssync.Identity{}, errors.New("bad token")
		}
		return wssync.Identity{User: "u1"}, nil
	}))
	c := dial(t, s.url, wsclient.WithIdentity("", "s1"), wsclient.WithTokenSource(func(context.Context) (string, error) {
		calls.Add(1)
		return "good", nil
	}))
	b := bindBoard(t, c)
	waitBoard(t, b, "state", nil)
	sess, ok := s.mgr.Session("s1")
	if !ok || sess.Identity().User != "u1" {
		t.Fatalf("session s1 not bound to u1: %v", ok)
	}
	sess.Disconnect()
	wstest.Eventually(t, "a second token for the reconnect", func() bool { return calls.Load() >= 2 && c.Connected() })
}

func TestDialGivesUpWithItsContext(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	p := newProxy(t, s.url)
	p.setDown(true)
	ctx, cancel := context.WithTimeout(wstest.Context(t), 100*time.Millisecond)
	defer cancel()
	_, err := wsclient.Dial(ctx, p.url, wsclient.WithBackoff(wsclient.Backoff{Min: time.Millisecond, Max: 5 * time.Millisecond}))
	var he *wsclient.HandshakeError
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &he) || he.Status != http.StatusServiceUnavailable {
		t.Fatalf("Dial = %v, want the deadline and the last 503", err)
	}
}

func TestCloseWhileReconnecting(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	p := newProxy(t, s.url)
	c, err := wsclient.Dial(wstest.Context(t), p.url, wsclient.WithBackoff(wsclient.Backoff{Min: time.Hour}))
	must(t, err)
	p.setDown(true)
	p.cut()
	wstest.Eventually(t, "disconnected", func() bool { return !c.Connected() })
	must(t, c.Close()) // the backoff is an hour: Close must not wait for it
	if !errors.Is(c.Err(), wsclient.ErrClosed) {
		t.Fatalf("Err after Close = %v", c.Err())
	}
	must(t, c.Close())
}

// waitDone waits for c to stop.
func waitDone(t *testing.T, c *wsclient.Client) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(wstest.Timeout):
		t.Fatal("client did not stop")
	}
}
