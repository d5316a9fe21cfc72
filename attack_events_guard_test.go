package wssync_test

// Guards: attacks on addressed messages that the library withstood. Each pins a promise of
// the docs (go-guide "Addressed messages", protocol.md ping/pong, the godoc of Send,
// Delivery, WithEventBacklog, EventBus).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wsmemory"
	"github.com/wssync/wssync/wssynctest"
)

// A client that floods pings and never reads is bounded by the inbound rate limit: the
// server drops the excess and closes it; it is never answered without bound. (After its
// close frame the server reads on, discarding, for at most closeGrace, waiting for the
// client's answer: the socket is closed within that.)
func TestAttackPingFloodIsBounded(t *testing.T) {
	t.Parallel()
	m := wssync.NewManager(func(context.Context, *wssync.Session) error { return nil }, aeQueryAuth())
	base := serveManager(t, m)
	ws := wstest.RawDial(t, aeURL(base, "mallory", "m-1"), nil)
	ping := []byte(`{"type":"ping"}`) // small pongs: the socket's buffers hold them unread
	_ = ws.SetWriteDeadline(time.Now().Add(wstest.Timeout))
	stop := time.Now().Add(10 * time.Second) // ten times closeGrace
	sent := 0
	for ; time.Now().Before(stop); sent++ {
		if err := ws.WriteMessage(websocket.TextMessage, ping); err != nil {
			break
		}
	}
	if !time.Now().Before(stop) {
		t.Fatalf("the server took %d pings in 10 s without closing", sent)
	}
	_ = rawReadUntilError(t, ws, sent+1000)
	t.Logf("closed after %d pings: %+v", sent, m.Stats())
	// The frames the server handled are bounded by the rate limit, not by the flood: what
	// comes after the close frame is read and dropped unhandled.
	if st := m.Stats(); st.FramesIn > 3*wssync.DefaultRateBurst {
		t.Errorf("the server handled %d of %d frames, want at most %d", st.FramesIn, sent, 3*wssync.DefaultRateBurst)
	}
	if st := m.Stats(); st.RateLimited == 0 && st.SlowCloses == 0 {
		t.Errorf("closed after %d pings without counting them rate limited: %+v", sent, st)
	}
}

// A session id held by one user, presented by another on the same node, is refused
// (4004); addressed messages to the id reach its owner only.
func TestAttackSessionIDOfAnotherUserGetsNoEvents(t *testing.T) {
	t.Parallel()
	bus := wsmemory.New()
	m, base := roomNode(t, bus)
	alice := joined(t, base, "alice", "tab-1")
	mallory := dialAs(t, base, "mallory", "tab-1")
	if code := wstest.CloseCode(t, mallory); code != wssync.CloseUnauthorized {
		t.Fatalf("close %d, want %d", code, wssync.CloseUnauthorized)
	}
	d, err := m.Send(wstest.Context(t), wssync.ToSession("tab-1"), mustEvent(t, "secret", 1))
	if err != nil || d.Delivered != 1 {
		t.Fatalf("delivery %+v, %v", d, err)
	}
	waitType(t, alice, "secret")
	if n := len(eventsOf(mallory, "secret")); n != 0 {
		t.Errorf("mallory got alice's event")
	}
}

// With a session store, the id is bound on every node: the other user is refused on the
// other node too, and ToSession from there reaches the owner only.
func TestAttackSessionIDOfAnotherUserOnAnotherNodeGetsNoEvents(t *testing.T) {
	t.Parallel()
	store := wsmemory.New()
	_, urlA := roomNode(t, store, wssync.WithSessionStore(store))
	b, urlB := roomNode(t, store, wssync.WithSessionStore(store))
	alice := joined(t, urlA, "alice", "tab-1")
	mallory := dialAs(t, urlB, "mallory", "tab-1")
	if code := wstest.CloseCode(t, mallory); code != wssync.CloseUnauthorized {
		t.Fatalf("close %d, want %d", code, wssync.CloseUnauthorized)
	}
	if _, err := b.Send(wstest.Context(t), wssync.ToSession("tab-1"), mustEvent(t, "secret", 1)); err != nil {
		t.Fatal(err)
	}
	waitType(t, alice, "secret")
	if n := len(eventsOf(mallory, "secret")); n != 0 {
		t.Errorf("mallory got alice's event")
	}
}

// The backlog is bounded by bytes as well as count; a message that does not fit is refused
// without evicting any queued before it, a later one that fits is kept, and the next
// connection gets them in the order sent, after its _SETs.
func TestAttackBacklogBytesBoundAndOrder(t *testing.T) {
	t.Parallel()
	m, base := roomNode(t, wsmemory.New(), wssync.WithEventBacklog(10, 1000))
	c := joined(t, base, "alice", "tab-1")
	sess, _ := m.Session("tab-1")
	sess.Disconnect()
	wstest.WaitClosed(t, c)
	wstest.Eventually(t, "disconnected", func() bool { return !sess.Connected() })
	ctx := wstest.Context(t)
	big := strings.Repeat("x", 400) // about 430 bytes a message with its name and ID
	var got []wssync.Delivery
	for i, msg := range []wssync.Message{
		mustEvent(t, "e", "big1:"+big), mustEvent(t, "e", "big2:"+big),
		mustEvent(t, "e", "big3:"+big), // over 1000 bytes: refused
		mustEvent(t, "e", "small"),
	} {
		d, err := m.Send(ctx, wssync.ToSession("tab-1"), msg)
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		got = append(got, d)
	}
	if got[0].Queued != 1 || got[1].Queued != 1 || got[2].NotConnected != 1 || got[3].Queued != 1 {
		t.Fatalf("deliveries %+v: want queued, queued, not connected, queued", got)
	}
	again := dialAs(t, base, "alice", "tab-1")
	waitType(t, again, "_SET:ROOM")
	wstest.Eventually(t, "the backlog", func() bool { return len(eventsOf(again, "e")) >= 3 })
	var order []string
	for _, s := range eventsOf(again, "e") {
		order = append(order, s[1:5])
	}
	if fmt.Sprint(order) != "[big1 big2 smal]" {
		t.Errorf("backlog arrived as %v", order)
	}
	types := frameTypes(again.Frames())
	if i, j := strings.Index(types, "_SET:"), strings.Index(types, ",e"); i < 0 || j < i {
		t.Errorf("frames %s: the backlog came before the state", types)
	}
}

// A disconnected session's backlog is dropped, and counted, when it expires.
func TestAttackBacklogDroppedWithAnExpiredSession(t *testing.T) {
	t.Parallel()
	m, base := roomNode(t, wsmemory.New(), wssync.WithManagerLimits(wssync.ManagerLimits{SessionTTL: 20 * time.Millisecond}))
	c := joined(t, base, "alice", "tab-1")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	sess, _ := m.Session("tab-1")
	wstest.Eventually(t, "disconnected", func() bool { return !sess.Connected() })
	// The session may expire before these are sent: then they reach no one, as they should.
	queued := 0
	for i := range 3 {
		d, _ := m.Send(wstest.Context(t), wssync.ToUser("alice"), mustEvent(t, "e", i))
		queued += d.Queued
	}
	wstest.Eventually(t, "the session expired", func() bool { return len(m.Sessions()) == 0 })
	// The session leaves the Manager's table before its close drops the backlog: the count
	// follows a moment later.
	wstest.Eventually(t, "the backlog counted as dropped", func() bool { return m.Stats().MessagesDropped >= int64(queued) })
	if st := m.Stats(); st.MessagesDropped != int64(queued) || st.MessagesQueued != int64(queued) {
		t.Errorf("queued %d; stats queued %d dropped %d", queued, st.MessagesQueued, st.MessagesDropped)
	}
	if d, _ := m.Send(wstest.Context(t), wssync.ToUser("alice"), mustEvent(t, "e", 9)); d.Sessions() != 0 {
		t.Errorf("a message reached an expired session: %+v", d)
	}
}

// A session that moves to another node drops the backlog it had here, counted as dropped
// (the documented loss), and keeps working there.
func TestAttackBacklogDroppedWhenTheSessionMoves(t *testing.T) {
	t.Parallel()
	store := wsmemory.New()
	a, urlA := roomNode(t, store, wssync.WithSessionStore(store))
	_, urlB := roomNode(t, store, wssync.WithSessionStore(store))
	c := joined(t, urlA, "alice", "tab-1")
	sess, _ := a.Session("tab-1")
	sess.Disconnect()
	wstest.WaitClosed(t, c)
	wstest.Eventually(t, "disconnected", func() bool { return !sess.Connected() })
	if d, _ := a.Send(wstest.Context(t), wssync.ToSession("tab-1"), mustEvent(t, "kept", 1)); d.Queued != 1 {
		t.Fatalf("delivery %+v, want queued", d)
	}
	moved := joined(t, urlB, "alice", "tab-1")
	wstest.Eventually(t, "the session let go on A", func() bool {
		st := a.Stats()
		return st.SessionsMoved == 1 && st.MessagesDropped == 1
	})
	if _, err := a.Send(wstest.Context(t), wssync.ToSession("tab-1"), mustEvent(t, "after", 2)); err != nil {
		t.Fatal(err)
	}
	waitType(t, moved, "after")
}

// A node remembers DefaultSeenMessages IDs: an ID sent again within that many is dropped,
// one sent after more than that went by is delivered again (as documented).
func TestAttackSeenIDsWindow(t *testing.T) {
	t.Parallel()
	// An ID is spent only where a session took the message: one disconnected session with
	// a backlog that holds them all takes every message.
	const room = wssync.DefaultSeenMessages + 8
	m := wssync.NewManager(func(context.Context, *wssync.Session) error { return nil },
		wssync.WithEventBacklog(room, 64<<20), wssync.WithLimits(wssync.Limits{MaxQueuedFrames: room}))
	c := dialAs(t, serveManager(t, m), "alice", "tab-1")
	wstest.Eventually(t, "the session is built", func() bool { _, ok := m.Session("tab-1"); return ok })
	sess, _ := m.Session("tab-1")
	sess.Disconnect()
	wstest.WaitClosed(t, c)
	wstest.Eventually(t, "disconnected", func() bool { return !sess.Connected() })
	ctx := context.Background()
	x := mustEvent(t, "x", nil).WithID("the-id")
	other := mustEvent(t, "o", nil)
	if d, _ := m.Send(ctx, wssync.ToEveryone(), x); d.Duplicate {
		t.Fatal("first send is a duplicate")
	}
	for i := range wssync.DefaultSeenMessages - 1 {
		if _, err := m.Send(ctx, wssync.ToEveryone(), other.WithID("o"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	if d, _ := m.Send(ctx, wssync.ToEveryone(), x); !d.Duplicate {
		t.Fatal("forgotten within DefaultSeenMessages")
	}
	if _, err := m.Send(ctx, wssync.ToEveryone(), other.WithID("one-more")); err != nil {
		t.Fatal(err)
	}
	if d, _ := m.Send(ctx, wssync.ToEveryone(), x); d.Duplicate {
		t.Fatal("remembered past DefaultSeenMessages: the set is not bounded")
	}
	// An ID longer than MaxMessageID keeps the random one, so it never collides.
	long := strings.Repeat("i", wssync.MaxMessageID+1)
	if a, b := other.WithID(long), other.WithID(long); a.ID() == long || a.ID() != b.ID() {
		t.Errorf("WithID of a long id: %q %q", a.ID(), b.ID())
	}
}

// "A Send that failed can be sent again with the same Message": after a bus outage, the
// resend is a duplicate on the node that delivered it, and is delivered once on the other.
func TestAttackResendAfterABusOutage(t *testing.T) {
	t.Parallel()
	bus := wsmemory.New()
	a, urlA := roomNode(t, bus)
	_, urlB := roomNode(t, bus)
	near := joined(t, urlA, "alice", "tab-1")
	far := joined(t, urlB, "alice", "tab-2")
	msg := mustEvent(t, "job_done", 42).WithID("job-42")
	ctx := wstest.Context(t)
	bus.SetUnavailable(true)
	d, err := a.Send(ctx, wssync.ToUser("alice"), msg)
	bus.SetUnavailable(false)
	if err == nil || d.Delivered != 1 {
		t.Fatalf("send during the outage: %+v, %v; want delivered here and an error", d, err)
	}
	d, err = a.Send(ctx, wssync.ToUser("alice"), msg)
	if err != nil || !d.Duplicate || d.Nodes != 1 {
		t.Fatalf("resend %+v, %v", d, err)
	}
	// The marker goes out from a, after the resend: the bus keeps a node's messages in
	// order, so far has the resend when it has the marker (from b, the marker was local
	// there and could pass the resend still on the bus).
	if _, err := a.Send(ctx, wssync.ToEveryone(), mustEvent(t, "marker", nil)); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*wssynctest.Client{"near": near, "far": far} {
		waitType(t, c, "marker")
		if n := len(eventsOf(c, "job_done")); n != 1 {
			t.Errorf("%s got job_done %d times", name, n)
		}
	}
}

// Garbage on the event bus is dropped without delivering anything, and the node goes on
// delivering what follows.
func TestAttackBusGarbageIsDropped(t *testing.T) {
	t.Parallel()
	bus := wsmemory.New()
	m, base := roomNode(t, bus)
	c := joined(t, base, "alice", "tab-1")
	ok := `{"v":1,"id":"ID","to":101,"ev":"g","d":1}`
	payloads := []string{
		``, `null`, `[]`, `"x"`, `{`, `{"v":1}`,
		strings.Replace(ok, `"v":1`, `"v":2`, 1),
		strings.Replace(ok, `"to":101`, `"to":0`, 1),
		strings.Replace(ok, `"to":101`, `"to":300`, 1),
		strings.Replace(ok, `"to":101`, `"to":115`, 1), // a session target without an id
		strings.Replace(ok, `"to":101`, `"to":101,"t":"someone"`, 1),
		strings.Replace(ok, `"to":101`, `"to":101,"x":"`+strings.Repeat("x", 1025)+`"`, 1),
		strings.Replace(ok, `"to":101`, `"to":117,"t":"`+strings.Repeat("u", 1025)+`"`, 1),
		strings.Replace(ok, `"id":"ID"`, `"id":""`, 1),
		strings.Replace(ok, `"id":"ID"`, `"id":"`+strings.Repeat("i", 65)+`"`, 1),
		strings.Replace(ok, `"ev":"g"`, `"ev":"_SET:ROOM"`, 1),
		strings.Replace(ok, `"ev":"g"`, `"ev":"_PATCH:ROOM"`, 1),
		strings.Replace(ok, `"ev":"g"`, `"ev":"pong"`, 1),
		strings.Replace(ok, `"ev":"g"`, `"ev":""`, 1),
		strings.Replace(ok, `"ev":"g"`, `"ev":"_ACTION:ROOM"`, 1),                      // no key
		strings.Replace(ok, `"ev":"g"`, `"ev":"_ACTION:ROOM","k":"VIEW"`, 1),           // another key
		strings.Replace(ok, `"ev":"g"`, `"ev":"_ACTION:RO\u0000M","k":"RO\u0000M"`, 1), // a bad key
		strings.Replace(ok, `,"d":1`, ``, 1),
		strings.Replace(ok, `"d":1`, `"d":`+strings.Repeat("[", 20000)+strings.Repeat("]", 20000), 1),
		`{"v":1,"id":"big","to":101,"ev":"g","d":"` + strings.Repeat("z", wssync.MaxEnvelope) + `"}`,
	}
	ctx := wstest.Context(t)
	for i, p := range payloads {
		if _, err := bus.PublishEvent(ctx, []byte(p)); err != nil {
			t.Fatalf("payload %d: %v", i, err)
		}
	}
	if _, err := wssync.NewPublisher(bus).Send(ctx, wssync.ToEveryone(), mustEvent(t, "marker", nil)); err != nil {
		t.Fatal(err)
	}
	waitType(t, c, "marker")
	for _, f := range c.Frames() {
		switch f.Type {
		case "_SET:ROOM", "_SET:VIEW", "_REQUEST_USER_SESSION", "marker":
		default:
			t.Errorf("garbage delivered as %s %s", f.Type, f.Data)
		}
	}
	if st := m.Stats(); st.MessagesDelivered != 1 {
		t.Errorf("MessagesDelivered %d, want the marker only", st.MessagesDelivered)
	}
}

// Send from inside an OnConnect hook, an event handler, a task, an OnDisconnect and an
// OnClose hook, and inside Update of an object whose backend is also the bus, to the
// session itself: no deadlock, and each arrives where a connection is there to take it.
func TestAttackSendFromInsideCallbacks(t *testing.T) {
	t.Parallel()
	store := wsmemory.New()
	room, err := wssync.NewShared("ROOM", &Notes{}, wssync.WithBackend(store))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(room.Unregister)
	var m *wssync.Manager
	ctx := wstest.Patient(t)
	self := func(c context.Context, name string) {
		sess, _ := wssync.SessionFrom(c)
		if _, err := m.Send(ctx, wssync.ToSession(sess.Identity().Session), mustEvent(t, name, nil)); err != nil {
			t.Errorf("send %s: %v", name, err)
		}
	}
	closed := make(chan wssync.Delivery, 4) // alice and bob close
	m = wssync.NewManager(func(c context.Context, sess *wssync.Session) error {
		if err := room.Join(sess); err != nil {
			return err
		}
		own, err := wssync.Register(sess, "VIEW", &Notes{})
		if err != nil {
			return err
		}
		sess.OnConnect(func(c context.Context) { self(c, "from_connect") })
		sess.OnDisconnect(func(c context.Context) {
			_, _ = m.Send(ctx, wssync.ToEveryone(), mustEvent(t, "from_disconnect", nil))
		})
		sess.OnClose(func(context.Context) {
			d, _ := m.Send(ctx, wssync.ToSession(sess.Identity().Session), mustEvent(t, "from_close", nil))
			closed <- d
		})
		if err := wssync.On(sess, "go", func(c context.Context, _ json.RawMessage) error {
			self(c, "from_handler")
			return room.Update(func(n *Notes) {
				n.Title = "x"
				self(c, "from_update")
			})
		}); err != nil {
			return err
		}
		return wssync.Task(own, "job", func(c context.Context, _ struct{}) error {
			self(c, "from_task")
			return nil
		})
	}, wssync.WithEventBus(store))
	base := serveManager(t, m)
	c := dialAs(t, base, "alice", "tab-1")
	waitType(t, c, "from_connect")
	if err := c.Send("go", nil); err != nil {
		t.Fatal(err)
	}
	waitType(t, c, "from_handler")
	waitType(t, c, "from_update")
	if err := c.Send("_TASK_START:VIEW", map[string]string{"type": "job"}); err != nil {
		t.Fatal(err)
	}
	waitType(t, c, "from_task")
	other := dialAs(t, base, "bob", "tab-2")
	waitType(t, other, "from_connect")
	_ = c.Close()
	waitType(t, other, "from_disconnect")
	done := make(chan error, 1)
	go func() { done <- m.Shutdown(ctx) }()
	if err := wstest.Receive(t, done, "shutdown"); err != nil {
		t.Fatal(err)
	}
	if d := wstest.Receive(t, closed, "the OnClose send"); d.Sessions() != 0 {
		t.Errorf("a closing session took a message: %+v", d)
	}
}

// Sends in flight while the Manager shuts down: Shutdown completes, nothing panics, every
// Send returns, and no goroutine is left (TestMain checks).
func TestAttackShutdownWhileSending(t *testing.T) {
	t.Parallel()
	bus := wsmemory.New()
	a, urlA := roomNode(t, bus)
	_, urlB := roomNode(t, bus)
	for i := range 4 {
		joined(t, urlA, "u"+strconv.Itoa(i), "a"+strconv.Itoa(i))
		joined(t, urlB, "u"+strconv.Itoa(i), "b"+strconv.Itoa(i))
	}
	ctx := wstest.Patient(t)
	var wg sync.WaitGroup
	started := make(chan struct{}, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				if i == 10 {
					started <- struct{}{}
				}
				_, _ = a.Send(ctx, wssync.ToEveryone(), mustEvent(t, "tick", g*1000+i))
			}
		}()
	}
	for range 4 {
		wstest.Receive(t, started, "a sender")
	}
	if err := a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if n := len(a.Sessions()); n != 0 {
		t.Errorf("%d sessions after Shutdown", n)
	}
}

// A client that stops reading while events pour in: every Send counts each session once,
// as Delivered only when its queue took the frame, and the counters agree with the
// Deliveries; the queue stays within its bounds; the connection is closed once as slow.
func TestAttackStalledReaderCountsHonestly(t *testing.T) {
	t.Parallel()
	const maxBytes = 64 << 10
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		_, err := wssync.Register(sess, "VIEW", &Notes{})
		return err
	}, wssync.WithLimits(wssync.Limits{MaxQueuedBytes: maxBytes}))
	base := serveManager(t, m)
	c := dialAs(t, base, "alice", "tab-1")
	waitType(t, c, "_SET:VIEW")
	c.Pause()
	defer c.Resume()
	sess, _ := m.Session("tab-1")
	ctx := wstest.Patient(t)
	base16k := mustEvent(t, "flood", strings.Repeat("f", 16<<10))
	var sum wssync.Delivery
	maxQueued := 0
	for i := 0; i < 4000 && sum.TooSlow == 0; i++ {
		d, err := m.Send(ctx, wssync.ToSession("tab-1"), base16k.WithID("f"+strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		if d.Delivered+d.TooSlow+d.Queued+d.NotConnected != 1 {
			t.Fatalf("send %d counted %+v", i, d)
		}
		sum.Delivered += d.Delivered
		sum.TooSlow += d.TooSlow
		if _, b, _, ok := wssync.QueueStats(sess); ok {
			maxQueued = max(maxQueued, b)
		}
	}
	t.Logf("delivered %d before too slow; queue peaked at %d bytes", sum.Delivered, maxQueued)
	if sum.TooSlow != 1 {
		t.Fatalf("64 MB to a client that does not read was never too slow: %+v", sum)
	}
	if maxQueued > maxBytes {
		t.Errorf("the queue held %d bytes, over MaxQueuedBytes %d", maxQueued, maxBytes)
	}
	c.Resume()
	if code := wstest.CloseCode(t, c); code != wssync.CloseSlowConsumer {
		t.Errorf("close %d", code)
	}
	st := m.Stats()
	if st.MessagesDelivered != int64(sum.Delivered) || st.MessagesDropped != int64(sum.TooSlow) || st.SlowCloses != 1 {
		t.Errorf("stats delivered %d dropped %d slow closes %d; deliveries %+v", st.MessagesDelivered, st.MessagesDropped, st.SlowCloses, sum)
	}
}

// Reserved names cannot be sent as custom events, typed or not, whatever their case or
// prefix; `ping` (a client's event) may be sent by the server.
func TestAttackReservedEventNames(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"_", "_set:X", "_ERROR", "_DISCONNECT", "_REQUEST_USER_SESSION", "pong"} {
		if _, err := wssync.NewEvent(name, nil); !errors.Is(err, wssync.ErrReservedEvent) {
			t.Errorf("NewEvent(%q): %v", name, err)
		}
	}
	if _, err := wssync.NewAction("", "x", nil); err == nil {
		t.Error("NewAction with an empty key")
	}
}

// ToSubscribers of a shared room's key, where another session has an own object under the
// same key, reaches both (the documented "sessions that receive key"); an action of the
// room skips the sessions that have neither.
func TestAttackToSubscribersWithAnOwnObjectUnderTheKey(t *testing.T) {
	t.Parallel()
	room, err := wssync.NewShared("ROOM", &Notes{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(room.Unregister)
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		switch sess.Identity().User {
		case "member":
			return room.Join(sess)
		case "own":
			_, err := wssync.Register(sess, "ROOM", &Notes{Title: "mine"})
			return err
		}
		_, err := wssync.Register(sess, "VIEW", &Notes{})
		return err
	})
	base := serveManager(t, m)
	for _, u := range []string{"member", "own", "none"} {
		c := dialAs(t, base, u, u)
		if u == "none" {
			waitType(t, c, "_SET:VIEW")
		} else {
			waitType(t, c, "_SET:ROOM")
		}
	}
	d, err := m.Send(wstest.Context(t), wssync.ToSubscribers("ROOM"), mustEvent(t, "e", 1))
	if err != nil || d.Delivered != 2 || d.Skipped != 0 {
		t.Errorf("ToSubscribers: %+v, %v", d, err)
	}
	act, _ := wssync.NewAction("ROOM", "refresh", nil)
	if d, err := m.Send(wstest.Context(t), wssync.ToEveryone(), act); err != nil || d.Delivered != 2 || d.Skipped != 1 {
		t.Errorf("action to everyone: %+v, %v", d, err)
	}
}

// A session disconnected on another node keeps, in order, what one goroutine sent it
// through the bus, and gets it after its _SETs when it reconnects there.
func TestAttackBacklogOrderAcrossTheBus(t *testing.T) {
	t.Parallel()
	bus := wsmemory.New()
	a, _ := roomNode(t, bus)
	b, urlB := roomNode(t, bus)
	c := joined(t, urlB, "alice", "tab-1")
	sess, _ := b.Session("tab-1")
	sess.Disconnect()
	wstest.WaitClosed(t, c)
	wstest.Eventually(t, "disconnected", func() bool { return !sess.Connected() })
	ctx := wstest.Context(t)
	for i := range 5 {
		if _, err := a.Send(ctx, wssync.ToSession("tab-1"), mustEvent(t, "seq", i)); err != nil {
			t.Fatal(err)
		}
	}
	wstest.Eventually(t, "B queued them", func() bool { return b.Stats().MessagesQueued == 5 })
	again := joined(t, urlB, "alice", "tab-1")
	waitEvents(t, ctx, again, "seq", 5)
	if got := fmt.Sprint(eventsOf(again, "seq")); got != "[0 1 2 3 4]" {
		t.Errorf("backlog %s", got)
	}
}

// The same ID from a Publisher and from a Manager arrives once on every node, whichever
// copy reaches a node first (the bus is held so that the Manager's local copy wins here).
func TestAttackSameIDFromPublisherAndManager(t *testing.T) {
	t.Parallel()
	bus := &aeGatedBus{Backend: wsmemory.New()}
	a, urlA := roomNode(t, bus)
	_, urlB := roomNode(t, bus)
	near := joined(t, urlA, "alice", "tab-1")
	far := joined(t, urlB, "alice", "tab-2")
	msg := mustEvent(t, "job_done", 7).WithID("job-7")
	ctx := wstest.Context(t)
	bus.hold.Lock()
	_, err1 := wssync.NewPublisher(bus).Send(ctx, wssync.ToUser("alice"), msg)
	d, err2 := a.Send(ctx, wssync.ToUser("alice"), msg)
	bus.hold.Unlock()
	if err1 != nil || err2 != nil || d.Delivered != 1 {
		t.Fatalf("%v %v %+v", err1, err2, d)
	}
	if _, err := a.Send(ctx, wssync.ToEveryone(), mustEvent(t, "marker", nil)); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*wssynctest.Client{"near": near, "far": far} {
		waitType(t, c, "marker")
		if n := len(eventsOf(c, "job_done")); n != 1 {
			t.Errorf("%s got job_done %d times", name, n)
		}
	}
}

// The pong echoes ping data of exactly 256 bytes and answers null to 257; a ping of a
// megabyte is answered null, and an over-limit one closes with 1009.
func TestAttackPingEchoBound(t *testing.T) {
	t.Parallel()
	sess := wssync.NewSession()
	c := dial(t, serve(t, sess))
	at := strings.Repeat("a", 254) // with its quotes: 256 bytes
	for _, data := range []string{at, at + "a", strings.Repeat("m", 1<<20-64)} {
		if err := c.Send("ping", data); err != nil {
			t.Fatal(err)
		}
	}
	wstest.Eventually(t, "3 pongs", func() bool { return len(eventsOf(c, "pong")) == 3 })
	got := eventsOf(c, "pong")
	if got[0] != `"`+at+`"` || got[1] != "null" || got[2] != "null" {
		t.Errorf("pongs %.40q…", got)
	}
	_ = c.Send("ping", strings.Repeat("h", 8<<20)) // the server may close before it is all written
	if code := wstest.CloseCode(t, c); code != wssync.CloseMessageTooBig {
		t.Errorf("close %d for an 8 MiB ping", code)
	}
}

// A transient message travels the bus as transient: the other node does not queue it for
// its disconnected session.
func TestAttackTransientStaysTransientAcrossTheBus(t *testing.T) {
	t.Parallel()
	bus := wsmemory.New()
	a, _ := roomNode(t, bus)
	b, urlB := roomNode(t, bus)
	c := joined(t, urlB, "alice", "tab-1")
	sess, _ := b.Session("tab-1")
	sess.Disconnect()
	wstest.WaitClosed(t, c)
	wstest.Eventually(t, "disconnected", func() bool { return !sess.Connected() })
	ctx := wstest.Context(t)
	if _, err := a.Send(ctx, wssync.ToSession("tab-1"), mustEvent(t, "typing", true).Transient()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Send(ctx, wssync.ToSession("tab-1"), mustEvent(t, "kept", 1)); err != nil {
		t.Fatal(err)
	}
	wstest.Eventually(t, "B queued the second", func() bool { return b.Stats().MessagesQueued == 1 })
	again := joined(t, urlB, "alice", "tab-1")
	waitType(t, again, "kept")
	if n := len(eventsOf(again, "typing")); n != 0 {
		t.Errorf("a transient message was kept on the other node")
	}
}

// With an auth hook that names the user, the user a client claims in `_USER_SESSION` is
// ignored: a client calling itself alice does not receive ToUser("alice").
func TestAttackClaimedUserDoesNotGetAnotherUsersEvents(t *testing.T) {
	t.Parallel()
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		_, err := wssync.Register(sess, "VIEW", &Notes{})
		return err
	}, wssync.WithAuth(func(r *http.Request) (wssync.Identity, error) {
		return wssync.Identity{User: r.URL.Query().Get("u")}, nil // the session id from the handshake
	}))
	base := serveManager(t, m)
	alice := dialAs(t, base+"?u=alice", "alice", "tab-1")
	mallory := dialAs(t, base+"?u=mallory", "alice", "tab-2") // claims to be alice
	waitType(t, alice, "_SET:VIEW")
	waitType(t, mallory, "_SET:VIEW")
	d, err := m.Send(wstest.Context(t), wssync.ToUser("alice"), mustEvent(t, "secret", 1))
	if err != nil || d.Delivered != 1 {
		t.Errorf("delivery %+v, %v; want alice's one tab", d, err)
	}
	if _, err := m.Send(wstest.Context(t), wssync.ToEveryone(), mustEvent(t, "marker", nil)); err != nil {
		t.Fatal(err)
	}
	waitType(t, mallory, "marker")
	if n := len(eventsOf(mallory, "secret")); n != 0 {
		t.Errorf("a client claiming alice got alice's event")
	}
}
