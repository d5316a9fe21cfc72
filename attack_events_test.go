package wssync_test

// Attacks on the promises of addressed messages (Manager.Send, Publisher.Send, the event
// bus, the backlog, duplicate IDs, ping). A test that shows a promise broken is skipped
// with "Known limit ..." where the design keeps the behaviour and the docs say so; the
// others guard promises that held.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
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

// aeQueryAuth identifies a connection by its query (?u=USER&s=SESSION): no handshake, so a
// raw socket can be driven by hand.
func aeQueryAuth() wssync.ManagerOption {
	return wssync.WithAuth(func(r *http.Request) (wssync.Identity, error) {
		q := r.URL.Query()
		if q.Get("u") == "" {
			return wssync.Identity{}, errors.New("no user")
		}
		return wssync.Identity{User: q.Get("u"), Session: q.Get("s")}, nil
	})
}

func aeURL(base, user, session string) string {
	return base + "?u=" + url.QueryEscape(user) + "&s=" + url.QueryEscape(session)
}

// aeBlocker registers a "block" event whose handler signals entered and waits for release:
// it holds the connection's dispatcher, so the connection cannot finish closing.
type aeBlocker struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func newBlocker(t *testing.T) *aeBlocker {
	b := &aeBlocker{entered: make(chan struct{}, 1), release: make(chan struct{})}
	t.Cleanup(b.open)
	return b
}

func (b *aeBlocker) open() { b.once.Do(func() { close(b.release) }) }

func (b *aeBlocker) register(sess *wssync.Session) error {
	return wssync.On(sess, "block", func(ctx context.Context, _ json.RawMessage) error {
		select {
		case b.entered <- struct{}{}:
		default:
		}
		<-b.release
		return nil
	})
}

// rawReadUntilError reads frames until the connection fails, at most limit of them, and
// returns the error that ended it.
func rawReadUntilError(t *testing.T, ws *websocket.Conn, limit int) error {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(wstest.Timeout))
	for range limit {
		if _, _, err := ws.ReadMessage(); err != nil {
			return err
		}
	}
	t.Fatalf("connection still open after %d frames", limit)
	return nil
}

// aeBlockedManager serves sessions that register VIEW and the blocker, identified by query.
func aeBlockedManager(t *testing.T, b *aeBlocker, opts ...wssync.ManagerOption) (*wssync.Manager, string) {
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		if _, err := wssync.Register(sess, "VIEW", &Notes{}); err != nil {
			return err
		}
		return b.register(sess)
	}, append([]wssync.ManagerOption{aeQueryAuth()}, opts...)...)
	return m, serveManager(t, m)
}

// A connection that the server is closing (here: a frame that is not UTF-8, 1007) is not a
// slow consumer, and the session is on its way to disconnected: a message sent then should
// be kept in the backlog (Queued), not counted TooSlow and lost. The frame comes while a
// handler runs on the reader, so it is read once a ping hands reading over (pings every
// 10 ms here).
func TestAttackSendToAClosingConnectionIsKeptNotTooSlow(t *testing.T) {
	t.Parallel()
	b := newBlocker(t)
	m, base := aeBlockedManager(t, b, wssync.WithLimits(wssync.Limits{PingInterval: 10 * time.Millisecond}))
	ws := wstest.RawDial(t, aeURL(base, "alice", "tab-1"), nil)
	if err := ws.WriteJSON(map[string]any{"type": "block"}); err != nil {
		t.Fatal(err)
	}
	wstest.Receive(t, b.entered, "the blocking handler")
	if err := ws.WriteMessage(websocket.TextMessage, []byte{0xff, 0xfe}); err != nil {
		t.Fatal(err)
	}
	var ce *websocket.CloseError
	if err := rawReadUntilError(t, ws, 100); !errors.As(err, &ce) || ce.Code != wssync.CloseInvalidPayload {
		t.Fatalf("read ended with %v, want close %d", err, wssync.CloseInvalidPayload)
	}
	// The server has closed the connection; only the blocked handler keeps it "live".
	d, err := m.Send(wstest.Context(t), wssync.ToSession("tab-1"), mustEvent(t, "after_close", 1))
	if err != nil {
		t.Fatal(err)
	}
	b.open()
	if d.TooSlow != 0 || d.Queued != 1 {
		t.Errorf("delivery %+v: want the message queued for the disconnecting session, not TooSlow", d)
	}
	if st := m.Stats(); st.SlowCloses != 0 {
		t.Errorf("SlowCloses %d for a connection closed for invalid UTF-8", st.SlowCloses)
	}
	sess, _ := m.Session("tab-1")
	wstest.Eventually(t, "the session is disconnected", func() bool { return !sess.Connected() })
	again := wstest.Dial(t, aeURL(base, "alice", "tab-1"))
	waitType(t, again, "_SET:VIEW")
	if _, err := m.Send(wstest.Context(t), wssync.ToSession("tab-1"), mustEvent(t, "marker", nil)); err != nil {
		t.Fatal(err)
	}
	waitType(t, again, "marker")
	if n := len(eventsOf(again, "after_close")); n != 1 {
		t.Errorf("the reconnected client got after_close %d times, want once (frames %s)", n, frameTypes(again.Frames()))
	}
}

// A client that said goodbye (a close frame, echoed by the server) has no connection any
// more: a message sent after that is not Delivered; it should wait in the backlog.
func TestAttackSendAfterThePeerClosedIsNotDelivered(t *testing.T) {
	t.Skip("Known limit, documented in docs/go-guide.md (Addressed messages): a message sent after the client closed its socket (but while a handler runs) is counted Delivered and lost instead of queued")
	t.Parallel()
	b := newBlocker(t)
	m, base := aeBlockedManager(t, b)
	ws := wstest.RawDial(t, aeURL(base, "alice", "tab-1"), nil)
	if err := ws.WriteJSON(map[string]any{"type": "block"}); err != nil {
		t.Fatal(err)
	}
	wstest.Receive(t, b.entered, "the blocking handler")
	if err := ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	// The server's reader echoes the close frame as it ends: once we read it, the server
	// knows this connection is over.
	var ce *websocket.CloseError
	if err := rawReadUntilError(t, ws, 100); !errors.As(err, &ce) {
		t.Fatalf("read ended with %v, want the echoed close", err)
	}
	d, err := m.Send(wstest.Context(t), wssync.ToSession("tab-1"), mustEvent(t, "after_bye", 1))
	if err != nil {
		t.Fatal(err)
	}
	b.open()
	if d.Delivered != 0 || d.Queued != 1 {
		t.Errorf("delivery %+v: want queued for the session whose client left, not delivered", d)
	}
	sess, _ := m.Session("tab-1")
	wstest.Eventually(t, "the session is disconnected", func() bool { return !sess.Connected() })
	again := wstest.Dial(t, aeURL(base, "alice", "tab-1"))
	waitType(t, again, "_SET:VIEW")
	if _, err := m.Send(wstest.Context(t), wssync.ToSession("tab-1"), mustEvent(t, "marker", nil)); err != nil {
		t.Fatal(err)
	}
	waitType(t, again, "marker")
	if n := len(eventsOf(again, "after_bye")); n != 1 {
		t.Errorf("after_bye arrived %d times after reconnecting, want once", n)
	}
}

// A session whose factory is still running exists (its client is connected, waiting for
// its state): a message to it should be kept for it, or at least be counted. Sent from the
// factory itself (a welcome toast) it vanishes the same way.
func TestAttackSendToASessionBeingBuiltIsKept(t *testing.T) {
	t.Parallel()
	building := make(chan struct{}, 1)
	release := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	t.Cleanup(open)
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		building <- struct{}{}
		<-release
		_, err := wssync.Register(sess, "VIEW", &Notes{})
		return err
	}, aeQueryAuth())
	base := serveManager(t, m)
	c := wstest.Dial(t, aeURL(base, "alice", "tab-1"))
	wstest.Receive(t, building, "the factory")
	d, err := m.Send(wstest.Context(t), wssync.ToSession("tab-1"), mustEvent(t, "welcome", 1))
	open()
	if err != nil {
		t.Fatal(err)
	}
	if d.Queued+d.Delivered+d.NotConnected == 0 {
		t.Errorf("delivery %+v: the session being built is not counted at all", d)
	}
	waitType(t, c, "_SET:VIEW")
	if _, err := m.Send(wstest.Context(t), wssync.ToSession("tab-1"), mustEvent(t, "marker", nil)); err != nil {
		t.Fatal(err)
	}
	waitType(t, c, "marker")
	if n := len(eventsOf(c, "welcome")); n != 1 {
		t.Errorf("welcome arrived %d times, want once", n)
	}
}

// "Duplicate is set when this node had delivered a message with the same ID already", and
// "a Send that failed can be sent again with the same Message". A node that did not
// deliver it (no session of the user yet, or the connection was too slow to take it)
// still drops the resend as a duplicate.
func TestAttackResendOfAnUndeliveredIDIsNotADuplicate(t *testing.T) {
	t.Parallel()
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		_, err := wssync.Register(sess, "VIEW", &Notes{})
		return err
	}, wssync.WithLimits(wssync.Limits{MaxQueuedBytes: 2048}))
	base := serveManager(t, m)
	ctx := wstest.Context(t)

	t.Run("no session yet", func(t *testing.T) {
		msg := mustEvent(t, "job_done", "report.pdf").WithID("job-1")
		if d, err := m.Send(ctx, wssync.ToUser("alice"), msg); err != nil || d.Sessions() != 0 {
			t.Fatalf("first send %+v, %v; want no session reached", d, err)
		}
		c := dialAs(t, base, "alice", "tab-1")
		waitType(t, c, "_SET:VIEW")
		d, err := m.Send(ctx, wssync.ToUser("alice"), msg) // the user is here now: try again
		if err != nil || d.Duplicate || d.Delivered != 1 {
			t.Errorf("resend %+v, %v; want delivered: this node never delivered job-1", d, err)
		}
	})
	t.Run("too slow", func(t *testing.T) {
		msg := mustEvent(t, "big", strings.Repeat("x", 4096)).WithID("job-2")
		c := dialAs(t, base, "bob", "tab-2")
		waitType(t, c, "_SET:VIEW")
		if d, _ := m.Send(ctx, wssync.ToUser("bob"), msg); d.TooSlow != 1 {
			t.Fatalf("first send %+v, want too slow", d)
		}
		wstest.WaitClosed(t, c)
		// A client that reads again (a bigger queue does not matter: the ID is the point).
		sess, _ := m.Session("tab-2")
		wstest.Eventually(t, "bob disconnected", func() bool { return !sess.Connected() })
		small := mustEvent(t, "small", 1).WithID("job-2") // same ID, something that fits
		d, err := m.Send(ctx, wssync.ToUser("bob"), small)
		if err != nil || d.Duplicate {
			t.Errorf("resend after TooSlow %+v, %v; want kept for bob, not a duplicate", d, err)
		}
	})
}

// decodeEnvelope says "a node never delivers a frame it could not have sent itself". A
// bus payload carrying a _TOAST, _ACTION or _DOWNLOAD whose data no constructor makes is
// delivered all the same, as a frame a client may choke on.
func TestAttackBusFrameNoConstructorMakes(t *testing.T) {
	t.Parallel()
	bus := wsmemory.New()
	_, base := roomNode(t, bus)
	c := joined(t, base, "alice", "tab-1")
	ctx := wstest.Context(t)
	for i, p := range []string{
		`{"v":1,"id":"g1","to":101,"ev":"_TOAST","d":"junk"}`,
		`{"v":1,"id":"g2","to":101,"ev":"_ACTION:ROOM","k":"ROOM","d":[1,2,3]}`,
		`{"v":1,"id":"g3","to":101,"ev":"_DOWNLOAD","d":{"filename":7,"data":"%%%"}}`,
	} {
		if _, err := bus.PublishEvent(ctx, []byte(p)); err != nil {
			t.Fatalf("payload %d: %v", i, err)
		}
	}
	if _, err := wssync.NewPublisher(bus).Send(ctx, wssync.ToEveryone(), mustEvent(t, "marker", nil)); err != nil {
		t.Fatal(err)
	}
	waitType(t, c, "marker")
	for _, typ := range []string{"_TOAST", "_ACTION:ROOM", "_DOWNLOAD"} {
		if got := eventsOf(c, typ); len(got) != 0 {
			t.Errorf("delivered %s with data %q", typ, got)
		}
	}
}

// aeGatedBus is an EventBus (wsmemory underneath) whose deliveries wait while hold is
// locked: a bus that is merely slow, which at-most-once and per-publisher order allow.
type aeGatedBus struct {
	*wsmemory.Backend
	hold sync.RWMutex
}

func (g *aeGatedBus) SubscribeEvents(deliver func([]byte)) func() {
	return g.Backend.SubscribeEvents(func(p []byte) {
		g.hold.RLock()
		defer g.hold.RUnlock()
		deliver(p)
	})
}

// "Messages from one goroutine reach each recipient in the order sent." A goroutine that
// sends through a Publisher and then through the Manager (a worker and a handler in one
// process), to a session of the Manager's node, sees the second first: the Manager
// delivers locally at once, the Publisher's message waits for the bus.
func TestAttackOneGoroutinePublisherThenManagerKeepsOrder(t *testing.T) {
	t.Skip("Known limit, documented in docs/go-guide.md (Addressed messages): order from one goroutine holds only per sender: Publisher.Send then Manager.Send to a local session arrive reversed when the bus is slower than the local path")
	t.Parallel()
	bus := &aeGatedBus{Backend: wsmemory.New()}
	m, base := roomNode(t, bus)
	c := joined(t, base, "alice", "tab-1")
	ctx := wstest.Context(t)
	pub := wssync.NewPublisher(bus)
	bus.hold.Lock()
	_, err1 := pub.Send(ctx, wssync.ToSession("tab-1"), mustEvent(t, "seq", 1))
	_, err2 := m.Send(ctx, wssync.ToSession("tab-1"), mustEvent(t, "seq", 2))
	waitEvents(t, ctx, c, "seq", 1)
	bus.hold.Unlock()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	waitEvents(t, ctx, c, "seq", 2)
	if got := fmt.Sprint(eventsOf(c, "seq")); got != "[1 2]" {
		t.Errorf("one goroutine sent 1 then 2; the client got %s", got)
	}
}

// ToSubscribers "addresses the sessions that receive key: for a shared object, the
// sessions joined to it". A per-user object (RegisterUser) is shared by one user's
// sessions, yet ToSubscribers of its key reaches every user's: the Target names the key,
// not the object.
func TestAttackToSubscribersOfAPerUserKeyStaysWithItsUser(t *testing.T) {
	t.Skip("Known limit, documented in docs/go-guide.md (Addressed messages): ToSubscribers(key) of a RegisterUser (or own) object reaches every user's sessions with that key, not the sessions of one object")
	t.Parallel()
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		_, err := wssync.RegisterUser(sess, "CART", func(context.Context) (*Notes, error) {
			return &Notes{Title: sess.Identity().User}, nil
		})
		return err
	})
	base := serveManager(t, m)
	alice := dialAs(t, base, "alice", "tab-1")
	bob := dialAs(t, base, "bob", "tab-2")
	waitType(t, alice, "_SET:CART")
	waitType(t, bob, "_SET:CART")
	// In alice's handler this reads "everyone looking at this cart".
	d, err := m.Send(wstest.Context(t), wssync.ToSubscribers("CART"), mustEvent(t, "cart_changed", "alice's cart"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Delivered != 1 {
		t.Errorf("delivery %+v: alice's cart change reached %d sessions, bob's among them", d, d.Delivered)
	}
}

// Delivery.Nodes "counts the other nodes the event bus handed the message to". Send
// subtracts its own subscription, which Shutdown ended.
func TestAttackNodesAfterShutdown(t *testing.T) {
	t.Parallel()
	bus := wsmemory.New()
	a := wssync.NewManager(func(context.Context, *wssync.Session) error { return nil }, wssync.WithEventBus(bus))
	_, base := roomNode(t, bus)
	c := joined(t, base, "bob", "tab-1")
	if err := a.Shutdown(wstest.Context(t)); err != nil {
		t.Fatal(err)
	}
	d, err := a.Send(wstest.Context(t), wssync.ToEveryone(), mustEvent(t, "late", 1))
	if err != nil {
		t.Fatal(err)
	}
	waitType(t, c, "late") // the other node did get it
	if d.Nodes != 1 {
		t.Errorf("Nodes %d, want 1: the other node got it", d.Nodes)
	}
}

// Send accepts an Except of any length and delivers locally, but every other node drops
// the envelope (an except over 1024 bytes): Send says Nodes 1 and no error.
func TestAttackLongExceptReachesOtherNodes(t *testing.T) {
	t.Parallel()
	bus := wsmemory.New()
	a, _ := roomNode(t, bus)
	_, urlB := roomNode(t, bus)
	far := joined(t, urlB, "bob", "tab-2")
	to := wssync.ToEveryone().Except(strings.Repeat("x", 1025))
	d, err := a.Send(wstest.Context(t), to, mustEvent(t, "hello", 1))
	if err != nil {
		return // refusing the target is a fine answer too
	}
	if d.Nodes != 1 {
		t.Fatalf("delivery %+v", d)
	}
	if _, err := a.Send(wstest.Context(t), wssync.ToEveryone(), mustEvent(t, "marker", nil)); err != nil {
		t.Fatal(err)
	}
	waitType(t, far, "marker")
	if n := len(eventsOf(far, "hello")); n != 1 {
		t.Errorf("the other node's session got hello %d times; Send reported no error", n)
	}
}

// NewAction makes {"type": name, ...params}; params with their own "type" produce a frame
// with two "type" members, and a JavaScript client (JSON.parse: the last wins) runs the
// action the params name instead of name.
func TestAttackNewActionParamsCannotRenameTheAction(t *testing.T) {
	t.Parallel()
	msg, err := wssync.NewAction("ROOM", "refresh", map[string]any{"type": "wipe_all", "page": 2})
	if err != nil {
		return // refusing is fine
	}
	m, base := roomNode(t, wsmemory.New())
	c := joined(t, base, "alice", "tab-1")
	if _, err := m.Send(wstest.Context(t), wssync.ToSubscribers("ROOM"), msg); err != nil {
		t.Fatal(err)
	}
	data := waitType(t, c, "_ACTION:ROOM").Data
	var got struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(data), `"type"`) != 1 || got.Type != "refresh" {
		t.Errorf("action data %s: the name %q is not the action a client runs (%q)", data, "refresh", got.Type)
	}
}

var _ = strconv.Itoa
var _ *wssynctest.Client

// With a session store that is unreachable, a node serves a session id it does not hold
// "from the factory alone" and "never serves a stored record of another user". Its
// addressed messages are not so careful: ToSession names an id, not a user, so a client of
// another user presenting the id on that node receives what is sent to the owner's session.
func TestAttackToSessionDuringAStoreOutageReachesTheOwnerOnly(t *testing.T) {
	t.Skip("Known limit, documented in docs/go-guide.md (Addressed messages): while the session store is unreachable, another user presenting a session id on another node receives the ToSession messages meant for the owner")
	t.Parallel()
	store, bus := wsmemory.New(), wsmemory.New()
	a, urlA := roomNode(t, bus, wssync.WithSessionStore(store))
	_, urlB := roomNode(t, bus, wssync.WithSessionStore(store))
	alice := joined(t, urlA, "alice", "tab-1") // bound to alice in the store
	store.SetUnavailable(true)
	t.Cleanup(func() { store.SetUnavailable(false) })
	mallory := joined(t, urlB, "mallory", "tab-1") // served from the factory: no stored state
	if _, err := a.Send(wstest.Context(t), wssync.ToSession("tab-1"), mustEvent(t, "secret", "for alice")); err != nil {
		t.Fatal(err)
	}
	waitType(t, alice, "secret")
	if _, err := a.Send(wstest.Context(t), wssync.ToEveryone(), mustEvent(t, "marker", nil)); err != nil {
		t.Fatal(err)
	}
	waitType(t, mallory, "marker")
	if got := eventsOf(mallory, "secret"); len(got) != 0 {
		t.Errorf("mallory, presenting alice's session id on another node, got %q", got)
	}
}

// "A disconnected session keeps it for its next connection": the backlog may hold more
// than a new connection's queue takes (WithEventBacklog and Limits.MaxQueuedFrames are
// set apart); what does not fit is dropped on reconnect although its sender was told
// Queued, which Delivery.Queued does not list among the ways it is lost.
func TestAttackBacklogLargerThanTheQueueIsDelivered(t *testing.T) {
	t.Parallel()
	m, base := roomNode(t, wsmemory.New(), wssync.WithLimits(wssync.Limits{MaxQueuedFrames: 4}))
	c := joined(t, base, "alice", "tab-1")
	sess, _ := m.Session("tab-1")
	sess.Disconnect()
	wstest.WaitClosed(t, c)
	wstest.Eventually(t, "disconnected", func() bool { return !sess.Connected() })
	queued := 0
	for i := range 10 {
		d, _ := m.Send(wstest.Context(t), wssync.ToSession("tab-1"), mustEvent(t, "kept", i))
		queued += d.Queued
	}
	if queued != 2 { // the backlog holds half what the queue takes: the others are NotConnected
		t.Fatalf("%d of 10 queued, want half the queue's 4", queued)
	}
	again := joined(t, base, "alice", "tab-1")
	if _, err := m.Send(wstest.Context(t), wssync.ToSession("tab-1"), mustEvent(t, "marker", nil)); err != nil {
		t.Fatal(err)
	}
	waitType(t, again, "marker")
	if got := eventsOf(again, "kept"); len(got) != queued {
		t.Errorf("the reconnected client got %d of the %d queued messages (dropped %d)", len(got), queued, m.Stats().MessagesDropped)
	}
}

// "Only sessions that have key take it": an exposed action queued for a disconnected
// session that then leaves the key is delivered all the same on its next connection, for
// a key the client no longer has.
func TestAttackQueuedActionAfterLeavingTheKey(t *testing.T) {
	t.Parallel()
	room, err := wssync.NewShared("ROOM", &Notes{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(room.Unregister)
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		if _, err := wssync.Register(sess, "VIEW", &Notes{}); err != nil {
			return err
		}
		return room.Join(sess)
	})
	base := serveManager(t, m)
	c := joined(t, base, "alice", "tab-1")
	sess, _ := m.Session("tab-1")
	sess.Disconnect()
	wstest.WaitClosed(t, c)
	wstest.Eventually(t, "disconnected", func() bool { return !sess.Connected() })
	act, _ := wssync.NewAction("ROOM", "refresh", nil)
	if d, _ := m.Send(wstest.Context(t), wssync.ToSession("tab-1"), act); d.Queued != 1 {
		t.Fatalf("delivery %+v", d)
	}
	room.Leave(sess)
	again := dialAs(t, base, "alice", "tab-1")
	waitType(t, again, "_SET:VIEW")
	if _, err := m.Send(wstest.Context(t), wssync.ToSession("tab-1"), mustEvent(t, "marker", nil)); err != nil {
		t.Fatal(err)
	}
	waitType(t, again, "marker")
	if n := len(eventsOf(again, "_ACTION:ROOM")); n != 0 {
		t.Errorf("frames %s: an action of ROOM reached a session without ROOM", frameTypes(again.Frames()))
	}
}

// Patches are "encoded once; the same frame is queued on every subscriber" (concepts.md).
// An addressed message is framed again for every session it reaches: a 256 KiB download to
// 32 live tabs allocates 32 copies (8 MiB) at once, so ToEveryone of a large message costs
// its size times the sessions, bounded only by each queue's MaxQueuedBytes. Not parallel:
// it reads the process's allocation counter.
func TestAttackSendToManyFramesTheMessageOnce(t *testing.T) {
	const sessions, size = 32, 256 << 10
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		_, err := wssync.Register(sess, "VIEW", &Notes{})
		return err
	})
	base := serveManager(t, m)
	for i := range sessions {
		c := dialAs(t, base, "u"+strconv.Itoa(i), "s"+strconv.Itoa(i))
		waitType(t, c, "_SET:VIEW")
		c.Pause() // the clients of this process must not allocate what they read
		t.Cleanup(c.Resume)
	}
	msg := wssync.NewDownload("report.bin", make([]byte, size*3/4)) // base64: size bytes
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	d, err := m.Send(wstest.Context(t), wssync.ToEveryone(), msg)
	runtime.ReadMemStats(&after)
	if err != nil || d.Delivered != sessions {
		t.Fatalf("delivery %+v, %v", d, err)
	}
	// A copy per session would be 32 × 256 KiB = 8 MiB; the bound is a quarter of that, so
	// the writers' own buffers and other goroutines of the process (TotalAlloc counts them
	// all) cannot make it fail, while any per-session copy does.
	if grew := after.TotalAlloc - before.TotalAlloc; grew > sessions/4*size {
		t.Errorf("one Send of %d KiB to %d sessions allocated %d KiB", size>>10, sessions, grew>>10)
	}
}
