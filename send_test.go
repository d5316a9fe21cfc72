package wssync_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wsmemory"
	"github.com/wssync/wssync/wssynctest"
)

// roomNode is one node of a two-node test: a Manager on the bus whose sessions register
// a VIEW of their own and join the node's ROOM.
func roomNode(t *testing.T, bus wssync.EventBus, opts ...wssync.ManagerOption) (*wssync.Manager, string) {
	t.Helper()
	room, err := wssync.NewShared("ROOM", &Notes{Title: "room"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(room.Unregister)
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		if _, err := wssync.Register(sess, "VIEW", &Notes{}); err != nil {
			return err
		}
		return room.Join(sess)
	}, append([]wssync.ManagerOption{wssync.WithEventBus(bus)}, opts...)...)
	return m, serveManager(t, m)
}

// joined dials as user/session and waits until the session is built and connected.
func joined(t *testing.T, url, user, session string) *wssynctest.Client {
	t.Helper()
	c := dialAs(t, url, user, session)
	waitType(t, c, "_SET:ROOM")
	return c
}

// eventsOf returns the data of every frame of type typ c received, in order.
func eventsOf(c *wssynctest.Client, typ string) []string {
	var out []string
	for _, f := range c.Frames() {
		if f.Type == typ {
			out = append(out, string(f.Data))
		}
	}
	return out
}

// waitEvents waits until c received n frames of type typ, or ctx ends.
func waitEvents(t *testing.T, ctx context.Context, c *wssynctest.Client, typ string, n int) {
	t.Helper()
	for len(eventsOf(c, typ)) < n {
		select {
		case <-ctx.Done():
			t.Fatalf("%d of %d %s frames arrived: %v", len(eventsOf(c, typ)), n, typ, ctx.Err())
		case <-c.Done():
			t.Fatalf("closed after %d of %d %s frames", len(eventsOf(c, typ)), n, typ)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func mustEvent(t *testing.T, name string, data any) wssync.Message {
	t.Helper()
	m, err := wssync.NewEvent(name, data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSendToUserReachesEveryTabOnEveryNodeOnce(t *testing.T) {
	t.Parallel()
	bus := wsmemory.New()
	a, urlA := roomNode(t, bus)
	_, urlB := roomNode(t, bus)
	tab1 := joined(t, urlA, "alice", "tab-1")
	tab2 := joined(t, urlB, "alice", "tab-2")
	bob := joined(t, urlB, "bob", "tab-3")

	d, err := a.Send(wstest.Context(t), wssync.ToUser("alice"), mustEvent(t, "hello", map[string]int{"n": 1}))
	if err != nil {
		t.Fatal(err)
	}
	if d.Delivered != 1 || d.Nodes != 1 || d.Queued != 0 {
		t.Errorf("delivery on the sending node: %+v, want 1 delivered here and 1 other node", d)
	}
	waitType(t, tab1, "hello")
	waitType(t, tab2, "hello")
	// A marker sent after it, to bob and alice, shows that nothing else was on the way.
	if _, err := a.Send(wstest.Context(t), wssync.ToEveryone(), mustEvent(t, "marker", nil)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*wssynctest.Client{tab1, tab2, bob} {
		waitType(t, c, "marker")
	}
	for name, c := range map[string]*wssynctest.Client{"tab-1": tab1, "tab-2": tab2} {
		if got := eventsOf(c, "hello"); len(got) != 1 || got[0] != `{"n":1}` {
			t.Errorf("%s got %q, want one {\"n\":1}", name, got)
		}
	}
	if got := eventsOf(bob, "hello"); len(got) != 0 {
		t.Errorf("bob got alice's event: %q", got)
	}
}

func TestSendToSubscribersExceptTheSender(t *testing.T) {
	t.Parallel()
	bus := wsmemory.New()
	a, urlA := roomNode(t, bus)
	_, urlB := roomNode(t, bus)
	sender := joined(t, urlA, "alice", "s-1")
	near := joined(t, urlA, "bob", "s-2")
	far := joined(t, urlB, "carol", "s-3")

	msg, err := wssync.NewToast(wssync.ToastInfo, "alice added a note")
	if err != nil {
		t.Fatal(err)
	}
	d, err := a.Send(wstest.Context(t), wssync.ToSubscribers("ROOM").Except("s-1"), msg)
	if err != nil {
		t.Fatal(err)
	}
	if d.Delivered != 1 || d.Nodes != 1 {
		t.Errorf("delivery %+v, want 1 here (bob) and 1 other node", d)
	}
	waitType(t, near, "_TOAST")
	waitType(t, far, "_TOAST")
	if _, err := a.Send(wstest.Context(t), wssync.ToEveryone(), mustEvent(t, "marker", nil)); err != nil {
		t.Fatal(err)
	}
	waitType(t, sender, "marker")
	if got := eventsOf(sender, "_TOAST"); len(got) != 0 {
		t.Errorf("the sender got its own toast: %q", got)
	}
	for name, c := range map[string]*wssynctest.Client{"near": near, "far": far} {
		waitType(t, c, "marker")
		if got := eventsOf(c, "_TOAST"); len(got) != 1 || got[0] != `{"type":"info","message":"alice added a note"}` {
			t.Errorf("%s got %q, want the toast once", name, got)
		}
	}
}

func TestSendKeepsOrderPerRecipientAcrossNodes(t *testing.T) {
	t.Parallel()
	bus := wsmemory.New()
	a, _ := roomNode(t, bus)
	_, urlB := roomNode(t, bus)
	c := joined(t, urlB, "alice", "tab-1")
	const n = 1000
	ctx := wstest.Patient(t)
	// In bursts of 100: more than the connection's send queue holds (256 frames) at once
	// would close it as too slow, as it should.
	for i := range n {
		if _, err := a.Send(ctx, wssync.ToSession("tab-1"), mustEvent(t, "seq", i)); err != nil {
			t.Fatal(err)
		}
		if (i+1)%100 == 0 {
			waitEvents(t, ctx, c, "seq", i+1)
		}
	}
	got := eventsOf(c, "seq")
	if len(got) != n {
		t.Fatalf("got %d events, want %d", len(got), n)
	}
	for i, s := range got {
		if s != strconv.Itoa(i) {
			t.Fatalf("event %d is %s: out of order", i, s)
		}
	}
}

func TestSendQueuesForADisconnectedSession(t *testing.T) {
	t.Parallel()
	bus := wsmemory.New()
	a, url := roomNode(t, bus, wssync.WithEventBacklog(2, 1<<10))
	c := joined(t, url, "alice", "tab-1")
	sess, _ := a.Session("tab-1")
	sess.Disconnect()
	wstest.WaitClosed(t, c)
	wstest.Eventually(t, "the session is disconnected", func() bool { return !sess.Connected() })

	ctx := wstest.Context(t)
	to := wssync.ToUser("alice")
	d1, _ := a.Send(ctx, to, mustEvent(t, "kept", 1))
	d2, _ := a.Send(ctx, to, mustEvent(t, "typing", true).Transient())
	d3, _ := a.Send(ctx, to, mustEvent(t, "kept", 2))
	d4, _ := a.Send(ctx, to, mustEvent(t, "kept", 3)) // the backlog holds 2
	if d1.Queued != 1 || d2.NotConnected != 1 || d3.Queued != 1 || d4.NotConnected != 1 {
		t.Errorf("deliveries %+v %+v %+v %+v: want queued, not connected (transient), queued, not connected (full)", d1, d2, d3, d4)
	}

	again := dialAs(t, url, "alice", "tab-1")
	waitType(t, again, "_SET:ROOM")
	wstest.Eventually(t, "the backlog arrived", func() bool { return len(eventsOf(again, "kept")) >= 2 })
	if got := fmt.Sprint(eventsOf(again, "kept")); got != "[1 2]" {
		t.Errorf("backlog %s, want [1 2]", got)
	}
	types := frameTypes(again.Frames())
	if _, err := a.Send(ctx, to, mustEvent(t, "marker", nil)); err != nil {
		t.Fatal(err)
	}
	waitType(t, again, "marker")
	if n := len(eventsOf(again, "typing")); n != 0 {
		t.Errorf("a transient message was kept: %s", types)
	}
	if st := a.Stats(); st.MessagesQueued != 2 || st.MessagesDelivered < 3 {
		t.Errorf("stats queued %d delivered %d, want 2 and at least 3", st.MessagesQueued, st.MessagesDelivered)
	}
}

func TestSendDropsADuplicateID(t *testing.T) {
	t.Parallel()
	bus := wsmemory.New()
	a, urlA := roomNode(t, bus)
	b, urlB := roomNode(t, bus)
	near := joined(t, urlA, "alice", "tab-1")
	far := joined(t, urlB, "alice", "tab-2")
	msg := mustEvent(t, "job_done", "report.pdf").WithID("job-42")
	ctx := wstest.Context(t)
	if _, err := a.Send(ctx, wssync.ToUser("alice"), msg); err != nil {
		t.Fatal(err)
	}
	d, err := a.Send(ctx, wssync.ToUser("alice"), msg) // a retry after an error, say
	if err != nil || !d.Duplicate || d.Delivered != 0 {
		t.Errorf("second send: %+v, %v; want a duplicate, delivered nowhere here", d, err)
	}
	// Another process sending the same ID (two workers finishing the same job).
	pub := wssync.NewPublisher(bus)
	if _, err := pub.Send(ctx, wssync.ToUser("alice"), msg); err != nil {
		t.Fatal(err)
	}
	// A marker from each sender: messages are ordered per sender only, so once both have
	// arrived, so has everything either sent before them.
	if _, err := a.Send(ctx, wssync.ToEveryone(), mustEvent(t, "marker_a", nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Send(ctx, wssync.ToEveryone(), mustEvent(t, "marker_p", nil)); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*wssynctest.Client{"near": near, "far": far} {
		waitType(t, c, "marker_a")
		waitType(t, c, "marker_p")
		if n := len(eventsOf(c, "job_done")); n != 1 {
			t.Errorf("%s got job_done %d times, want once", name, n)
		}
	}
	wstest.Eventually(t, "both nodes counted duplicates", func() bool {
		return a.Stats().MessagesDuplicate == 2 && b.Stats().MessagesDuplicate == 2
	})
}

func TestPublisherReachesEveryNode(t *testing.T) {
	t.Parallel()
	bus := wsmemory.New()
	_, urlA := roomNode(t, bus)
	_, urlB := roomNode(t, bus)
	c1 := joined(t, urlA, "alice", "tab-1")
	c2 := joined(t, urlB, "bob", "tab-2")
	pub := wssync.NewPublisher(bus)
	msg, err := wssync.NewAction("ROOM", "refresh", map[string]int{"page": 2})
	if err != nil {
		t.Fatal(err)
	}
	d, err := pub.Send(wstest.Context(t), wssync.ToSubscribers("ROOM"), msg)
	if err != nil || d.Nodes != 2 {
		t.Fatalf("publisher: %+v, %v; want 2 nodes", d, err)
	}
	for _, c := range []*wssynctest.Client{c1, c2} {
		f := waitType(t, c, "_ACTION:ROOM")
		if string(f.Data) != `{"type":"refresh","page":2}` {
			t.Errorf("action %s", f.Data)
		}
	}
}

func TestSendActionSkipsSessionsWithoutTheKey(t *testing.T) {
	t.Parallel()
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		_, err := wssync.Register(sess, "VIEW", &Notes{})
		return err
	})
	url := serveManager(t, m)
	c := dialAs(t, url, "alice", "tab-1")
	waitType(t, c, "_SET:VIEW")
	msg, _ := wssync.NewAction("ROOM", "refresh", nil)
	d, err := m.Send(wstest.Context(t), wssync.ToUser("alice"), msg)
	if err != nil || d.Skipped != 1 || d.Delivered != 0 {
		t.Errorf("delivery %+v, %v; want skipped", d, err)
	}
}

func TestSendRefusesBadTargetsAndMessages(t *testing.T) {
	t.Parallel()
	m := wssync.NewManager(func(context.Context, *wssync.Session) error { return nil })
	ctx := context.Background()
	msg := mustEvent(t, "ok", nil)
	for _, to := range []wssync.Target{{}, wssync.ToUser(""), wssync.ToSession(""), wssync.ToSubscribers("")} {
		if _, err := m.Send(ctx, to, msg); !errors.Is(err, wssync.ErrNoTarget) {
			t.Errorf("Send to %v: %v, want ErrNoTarget", to, err)
		}
	}
	if _, err := m.Send(ctx, wssync.ToEveryone(), wssync.Message{}); !errors.Is(err, wssync.ErrNoMessage) {
		t.Errorf("zero message: %v", err)
	}
	for _, name := range []string{"", "_SET:X", "_TOAST", "pong"} {
		if _, err := wssync.NewEvent(name, nil); !errors.Is(err, wssync.ErrReservedEvent) {
			t.Errorf("NewEvent(%q): %v, want ErrReservedEvent", name, err)
		}
	}
	if _, err := wssync.NewToast("loud", "x"); err == nil {
		t.Error("an unknown toast kind was accepted")
	}
	if _, err := wssync.NewEvent("x", func() {}); err == nil {
		t.Error("unmarshalable data was accepted")
	}
	if _, err := wssync.NewAction("ROOM", "x", []int{1}); err == nil {
		t.Error("action params that are not an object were accepted")
	}
}

func TestTypedEvent(t *testing.T) {
	t.Parallel()
	type added struct {
		By    string `json:"by"`
		Title string `json:"title"`
	}
	ev := wssync.DefineEvent[added]("note_added")
	msg, err := ev.Message(added{By: "ada", Title: "x"})
	if err != nil || msg.Event() != "note_added" || ev.Name() != "note_added" {
		t.Fatalf("%v %q", err, msg.Event())
	}
	sess := wssync.NewSession()
	defer sess.Close()
	sc, err := sess.Schema()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range sc.ServerEvents {
		if e.Name == "note_added" {
			found = true
			if b, _ := json.Marshal(e.Data); !strings.Contains(string(b), `"by"`) {
				t.Errorf("schema of note_added: %s", b)
			}
		}
	}
	if !found {
		t.Errorf("Schema.ServerEvents %+v lacks note_added", sc.ServerEvents)
	}
	wssync.DefineEvent[added]("note_added") // the same declaration again is fine
	for name, declare := range map[string]func(){
		"a reserved name":              func() { wssync.DefineEvent[added]("_TOAST") },
		"a name taken by another type": func() { wssync.DefineEvent[int]("note_added") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("DefineEvent of %s did not panic", name)
				}
			}()
			declare()
		}()
	}
}

func TestPingIsAnsweredWithPong(t *testing.T) {
	t.Parallel()
	sess := wssync.NewSession()
	t.Cleanup(sess.Close)
	url := wstest.Serve(t, http.HandlerFunc(sess.ServeWS))
	c := wstest.Dial(t, url)
	for i := range 20 { // more than Limits.MaxBadFrames: pings are not refusals
		if err := c.Send("ping", map[string]int{"t": i}); err != nil {
			t.Fatal(err)
		}
	}
	big := make([]byte, 300)
	for i := range big {
		big[i] = 'a'
	}
	if err := c.Send("ping", string(big)); err != nil {
		t.Fatal(err)
	}
	wstest.Eventually(t, "21 pongs", func() bool { return len(eventsOf(c, "pong")) == 21 })
	got := eventsOf(c, "pong")
	if got[0] != `{"t":0}` || got[19] != `{"t":19}` || got[20] != "null" {
		t.Errorf("pongs %q … %q, %q", got[0], got[19], got[20])
	}
	if n := len(eventsOf(c, "_ERROR")); n != 0 {
		t.Errorf("%d errors", n)
	}
}

func TestAnApplicationPingHandlerWins(t *testing.T) {
	t.Parallel()
	sess := wssync.NewSession()
	t.Cleanup(sess.Close)
	got := make(chan json.RawMessage, 1)
	if err := wssync.On(sess, "ping", func(ctx context.Context, p json.RawMessage) error {
		got <- p
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	url := wstest.Serve(t, http.HandlerFunc(sess.ServeWS))
	c := wstest.Dial(t, url)
	if err := c.Send("ping", 7); err != nil {
		t.Fatal(err)
	}
	if p := wstest.Receive(t, got, "the application's ping"); string(p) != "7" {
		t.Errorf("handler got %s", p)
	}
}

func TestSendToAConnectionTooSlowToTakeIt(t *testing.T) {
	t.Parallel()
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		_, err := wssync.Register(sess, "VIEW", &Notes{})
		return err
	}, wssync.WithLimits(wssync.Limits{MaxQueuedBytes: 2048}))
	url := serveManager(t, m)
	c := dialAs(t, url, "alice", "tab-1")
	waitType(t, c, "_SET:VIEW")
	d, err := m.Send(wstest.Context(t), wssync.ToUser("alice"), mustEvent(t, "big", strings.Repeat("x", 4096)))
	if err != nil || d.TooSlow != 1 || d.Delivered != 0 {
		t.Fatalf("delivery %+v, %v; want too slow", d, err)
	}
	if code := wstest.CloseCode(t, c); code != wssync.CloseSlowConsumer {
		t.Errorf("close code %d, want %d", code, wssync.CloseSlowConsumer)
	}
	if st := m.Stats(); st.MessagesDropped != 1 || st.SlowCloses != 1 {
		t.Errorf("stats dropped %d slow closes %d", st.MessagesDropped, st.SlowCloses)
	}
}

// Send may be called inside an object's Update: it takes no session lock a Join (which
// holds the session's lock while it subscribes to the object) could be waiting behind.
func TestSendInsideUpdateWhileSessionsJoin(t *testing.T) {
	t.Parallel()
	room, err := wssync.NewShared("ROOM", &Notes{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(room.Unregister)
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error { return room.Join(sess) })
	url := serveManager(t, m)
	ctx := wstest.Patient(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			room.Update(func(n *Notes) {
				n.Title = strconv.Itoa(i)
				_, _ = m.Send(ctx, wssync.ToSubscribers("ROOM"), mustEvent(t, "tick", i))
			})
		}
	}()
	for i := range 20 {
		c := dialAs(t, url, "u"+strconv.Itoa(i), "s"+strconv.Itoa(i))
		waitType(t, c, "_SET:ROOM")
	}
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("Send inside Update deadlocked with joining sessions")
	}
}
