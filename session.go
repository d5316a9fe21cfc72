package wssync

import (
	"context"
	"net/http"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync/internal/proto"
)

// Session is the server side of one client: the objects registered in it, its event table,
// and at most one live WebSocket connection. The session outlives connections: every new
// connection replaces the previous one and receives the full state of every key.
//
// All methods are safe for concurrent use.
type Session struct {
	cfg       config
	upgrader  websocket.Upgrader
	metrics   *metrics
	id        Identity                 // as first identified; User and Session never change
	ident     atomic.Pointer[Identity] // the latest connection's identity, claims included
	storeGen  atomic.Uint64            // the generation of the stored record this node last wrote or read
	unbound   atomic.Bool              // the store could not be asked to bind the id (see Manager.keepBindings)
	users     *userObjects             // the Manager's per-user objects (RegisterUser); nil without a Manager
	claims    sessionClaimWatch        // this session's claims, with a store that announces them per session
	attaching func()                   // tests only: runs in attach once the _SETs are queued, before c is live

	ctx    context.Context // cancelled by Close: handlers' and tasks' ctx
	cancel context.CancelFunc

	mu           sync.Mutex
	objects      map[string]*object
	events       map[string]eventHandler
	eventTypes   map[string]reflect.Type // the data type of each custom event (On), for Schema
	closed       bool
	onConnect    hookList
	onDisconnect hookList
	onClose      hookList
	keys         sync.Map // the keys of objects, a copy read without mu (Session.has)

	// sendMu guards the backlog of addressed messages kept while disconnected
	// (session_take.go) and the handing of a new connection to them.
	sendMu     sync.Mutex
	backlog    backlog
	sendClosed bool

	dispatchMu sync.Mutex     // client events run one at a time, across connections
	tasks      sync.WaitGroup // running tasks started in this session
	news       taskNews       // final task statuses no connection has written yet

	live  atomic.Pointer[conn] // the current connection, nil while disconnected
	conns sync.WaitGroup       // ServeWS calls in progress
}

// NewSession returns a session with no objects and no connection, for serving one client
// (mount its ServeWS). To serve many clients, use a Manager.
func NewSession(opts ...SessionOption) *Session {
	cfg := newSessionConfig(opts)
	m := newMetrics()
	m.sessions.Add(1)
	m.sessionsTotal.Add(1)
	return newSession(&cfg, m, Identity{})
}

// writeBuffers lends write buffers to connections only while they write, so an idle
// connection holds none.
var writeBuffers sync.Pool

func newSession(cfg *config, m *metrics, id Identity) *Session {
	s := &Session{
		cfg:     *cfg,
		metrics: m,
		id:      id,
		objects: make(map[string]*object),
		events:  make(map[string]eventHandler),
	}
	s.ident.Store(&id)
	s.ctx, s.cancel = context.WithCancel(context.WithValue(context.Background(), sessionKey{}, s))
	s.upgrader = newUpgrader(&s.cfg)
	return s
}

// detachedReadBuffer is the read buffer of a detached connection (WithDetachedConnections).
// Client frames are mostly small, and a frame larger than the buffer is read straight into
// the message; net/http's 4 KiB buffer, which gorilla would otherwise keep, is four times
// what an idle connection needs. A connection whose ServeWS blocks keeps net/http's: the
// blocked handler holds it anyway.
const detachedReadBuffer = 1024

// newUpgrader is the upgrader of a Session or Manager: cfg's origin check, the shared write
// buffers, and the wssync subprotocol, echoed when the client offers it (a browser that
// offers subprotocols, one of them a token, fails a response that selects none; the token
// itself is never echoed), and permessage-deflate when the client offers it (WithCompression).
func newUpgrader(cfg *config) websocket.Upgrader {
	u := websocket.Upgrader{
		CheckOrigin:       loggedOriginCheck(cfg),
		WriteBufferPool:   &writeBuffers,
		Subprotocols:      []string{proto.Subprotocol},
		EnableCompression: cfg.compressMin >= 0,
	}
	if cfg.detach {
		u.ReadBufferSize = detachedReadBuffer
	}
	return u
}

type sessionKey struct{}

// SessionFrom returns the session whose handler, task, hook or factory received ctx. A
// shared object's handlers use it to tell which session called them.
func SessionFrom(ctx context.Context) (*Session, bool) {
	s, ok := ctx.Value(sessionKey{}).(*Session)
	return s, ok
}

// Identity returns the identity a Manager identified the session's latest connection by:
// the user and session ids, which never change, and the roles, claims and expiry the auth
// hook returned for that connection (a reconnect or an `_AUTH` refresh replaces them).
// It is empty for a session made with NewSession. The roles and claims are shared: do not
// modify them.
func (s *Session) Identity() Identity { return *s.ident.Load() }

// setIdentity records the identity of a new connection or a refreshed token. The user and
// session ids stay those the session was created with. The session's view of each object
// with views is chosen again for it (see WithViews). The caller holds no object's lock.
func (s *Session) setIdentity(id Identity) {
	id.User, id.Session = s.id.User, s.id.Session
	s.ident.Store(&id)
	s.reviewViews()
}

// isClosed reports whether Close has begun.
func (s *Session) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// ServeWS upgrades the request to a WebSocket and serves it as the session's connection
// until either side closes it. A connection already live is sent `_DISCONNECT` and closed
// with CloseReplaced. ServeWS blocks for the life of the connection, as an http.Handler may.
func (s *Session) ServeWS(w http.ResponseWriter, r *http.Request) {
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.cfg.logger.Info("wssync: upgrade refused", "err", err, "remote", r.RemoteAddr)
		return // Upgrade has written the HTTP error
	}
	s.serve(ws, offersResume(r))
}

// serve runs one upgraded connection to its end. resume: the client offered the
// subprotocol wssync.resume, so its state waits for its first frame (resume.go).
func (s *Session) serve(ws *websocket.Conn, resume bool) {
	c := newConn(s, ws)
	c.hold.on = resume
	if !s.attach(c) {
		c.closeWith(CloseSessionClosed, "session closed", nil)
		c.run() // returns at once: the conn is already closing
		return
	}
	defer s.conns.Done()
	c.startHold()
	c.run()
	s.live.CompareAndSwap(c, nil)
	if c.connected { // OnDisconnect pairs with OnConnect: hooks that count connections stay even
		s.runHooks(&s.onDisconnect, s.ctx)
	}
}

// attach makes c the live connection, replacing the previous one. Every replaying object is
// queued for a _SET before c becomes visible to publishers, so no patch reaches c first;
// for a connection that holds for a resume none is, and patches are dropped until its
// first frame decides (resume.go). c's writer may start only once c is visible: a _SET
// built before that could reach the client while a patch published meanwhile found no
// live connection and was dropped, leaving the client one version behind for good.
func (s *Session) attach(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns.Add(1)
	for _, o := range s.objects {
		if o.replay && !c.hold.on {
			c.q.resync(o)
		}
	}
	if s.attaching != nil {
		s.attaching() // tests: the _SETs are queued, c is not live yet
	}
	s.sendMu.Lock()
	if !c.hold.on { // a resuming connection takes the backlog after its state (releaseBacklog)
		s.flushBacklogLocked(c)
		c.sendReady = true
	}
	old := s.live.Swap(c)
	s.sendMu.Unlock()
	c.q.startWriter(c.work.starter(c.writeQueued))
	if old != nil {
		old.closeWith(CloseReplaced, "replaced by a newer connection", disconnectFrame())
	}
	return true
}

// Disconnect closes the live connection, if any, with CloseGoingAway (1001), keeping the
// session: the client reconnects and receives the full state. It reports whether a
// connection was live.
func (s *Session) Disconnect() bool {
	c := s.live.Swap(nil)
	if c == nil {
		return false
	}
	c.closeWith(CloseGoingAway, "disconnected by the server", nil)
	return true
}

// Connected reports whether the session has a live connection.
func (s *Session) Connected() bool { return s.live.Load() != nil }

// Close closes the live connection with CloseGoingAway, refuses further connections,
// cancels the context of handlers and tasks, waits until every connection goroutine and
// task has ended, and runs the OnClose hooks. Registered objects stay usable; Sync on them
// sends nothing. Close must not be called from a handler or task of the same session.
func (s *Session) Close() {
	s.mu.Lock()
	already := s.closed
	s.closed = true
	s.mu.Unlock()
	if c := s.live.Swap(nil); c != nil {
		c.closeWith(CloseGoingAway, "session closed", nil)
	}
	s.claims.end() // a node that let the session go hears its claims no more
	s.cancel()
	s.conns.Wait()
	s.tasks.Wait()
	if already {
		return
	}
	// Leave every object, so shared ones drop this session and it can be freed.
	s.mu.Lock()
	objs := make([]*object, 0, len(s.objects))
	for _, o := range s.objects {
		objs = append(objs, o)
	}
	s.mu.Unlock()
	for _, o := range objs {
		o.unsubscribe(s)
	}
	if s.users != nil {
		s.users.releaseAll(s) // after closed is set: a RegisterUser from now on refuses
	}
	s.closeBacklog()
	s.metrics.sessions.Add(-1)
	s.runHooks(&s.onClose, context.Background())
}

// deliver implements subscriber: it queues a published patch on the live connection,
// waking its writer unless that connection's dispatcher publishes it and writes it itself
// (object.syncFor). The caller holds o's pub.
func (s *Session) deliver(o *object, f *frame) {
	if c := s.live.Load(); c != nil {
		c.q.pushPatch(o, f, c != o.quiet)
	}
}

// resync implements subscriber: the live connection gets a fresh _SET of o.
func (s *Session) resync(o *object) {
	if c := s.live.Load(); c != nil {
		c.q.resync(o)
	}
}
