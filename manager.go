package wssync

import (
	"context"
	"errors"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
)

// ErrForbidden, returned (wrapped or not) by an auth hook, makes the upgrade answer 403
// instead of 401.
var ErrForbidden = errors.New("wssync: forbidden")

// Manager serves many sessions from one route. It identifies each connection (an auth
// hook on the HTTP upgrade, or the `_REQUEST_USER_SESSION` handshake ws-sync-react's wsAuth
// speaks), builds a session with the factory on first sight, hands reconnections the same
// session (and its full state), keeps a disconnected session for the session TTL and then
// closes it: tasks cancelled, shared objects left, memory freed.
//
// All methods are safe for concurrent use.
type Manager struct {
	cfg      config
	factory  func(ctx context.Context, sess *Session) error
	metrics  *metrics
	upgrader websocket.Upgrader

	node       string          // this Manager's name in session claims
	stopClaims func()          // ends the watch of other nodes' claims; nil without a session store, or with claimsBy
	claimsBy   ClaimsBySession // the store, when it announces claims per session: each session watches its own
	stopKeep   func()          // ends keepBindings and waits for it; nil without a session store
	stopBus    func()          // ends the subscription to the event bus; nil without one
	busStopped atomic.Bool     // stopBus was called: Send's publish no longer reaches this Manager
	seen       *seenIDs        // the IDs of the addressed messages delivered here (send.go)
	rebind     chan struct{}   // wakes keepBindings for a session the store could not bind

	// This node's claims not seen back on the bus yet (claims.go); guarded by mu.
	inFlight     map[string][]inFlightClaim // by session id
	claimSeq     uint64                     // numbers this node's claims
	inFlightMost time.Duration              // when an inFlight mark expires

	mu       sync.Mutex
	sessions map[string]*managed // by session id
	perUser  map[string]int      // live connections per user
	users    *userObjects        // the objects RegisterUser shares among a user's sessions
	closing  bool
	pending  int                          // connections in the handshake (startHandshake)
	shaking  map[*websocket.Conn]struct{} // those upgraded already, for Shutdown to end
	work     sync.WaitGroup               // ServeWS calls and expiries in progress
}

// managed is a session held by a Manager.
type managed struct {
	sess   *Session
	ready  chan struct{} // closed once the factory has run
	err    error         // the factory's error
	live   int           // connections being served
	expiry *time.Timer   // runs while live == 0
	gen    int           // bumps on every connect, so a stale expiry does nothing
}

// NewManager returns a Manager that builds sessions with factory. factory builds the
// objects of a new session (Register, Join, On...), the first time a session id is seen;
// an error refuses the connection (1011) and drops the session. Options are every
// SessionOption (applied to every session) and the Manager's own (see ManagerOption).
func NewManager(factory func(ctx context.Context, sess *Session) error, opts ...ManagerOption) *Manager {
	cfg := newManagerConfig(opts)
	m := &Manager{
		cfg:      cfg,
		factory:  factory,
		metrics:  newMetrics(),
		sessions: make(map[string]*managed),
		perUser:  make(map[string]int),
		users:    newUserObjects(),
		shaking:  make(map[*websocket.Conn]struct{}),
	}
	m.upgrader = newUpgrader(&cfg)
	m.seen = newSeenIDs(DefaultSeenMessages)
	if cfg.sessionStore != nil || cfg.eventBus != nil {
		m.node = newNodeID()
	}
	if cfg.eventBus != nil {
		m.stopBus = cfg.eventBus.SubscribeEvents(m.received)
	}
	if cfg.sessionStore != nil {
		m.rebind = make(chan struct{}, 1)
		m.inFlight = make(map[string][]inFlightClaim)
		m.inFlightMost = claimInFlightMost
		if m.claimsBy = claimsBySession(cfg.sessionStore); m.claimsBy == nil {
			m.stopClaims = cfg.sessionStore.WatchClaims(m.claimed)
		}
		m.stopKeep = m.startKeepBindings()
	}
	return m
}

// Stats returns the Manager's counters and gauges, summed over its sessions.
func (m *Manager) Stats() Stats { return m.metrics.snapshot() }

// Session returns the live session with this id, if the Manager holds it.
func (m *Manager) Session(id string) (*Session, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ms, ok := m.sessions[id]
	if !ok {
		return nil, false
	}
	built, failed := ms.built()
	return ms.sess, built && !failed
}

// built reports whether the factory of ms has run, and whether it failed. The caller holds
// the Manager's mu.
func (ms *managed) built() (built, failed bool) {
	select {
	case <-ms.ready:
		return true, ms.err != nil
	default:
		return false, false
	}
}

// Sessions returns the sessions the Manager holds and whose factory has run.
func (m *Manager) Sessions() []*Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Session, 0, len(m.sessions))
	for _, ms := range m.sessions {
		if built, failed := ms.built(); built && !failed {
			out = append(out, ms.sess)
		}
	}
	return out
}

// ServeWS identifies the client, upgrades the request and serves it as its session's
// connection until it closes (with WithDetachedConnections, it returns after the upgrade
// and the connection is served on goroutines of its own). Refusals before the upgrade are HTTP errors: 401/403 from
// the auth hook, 429 over the per-user connection limit, 503 while shutting down or
// while ManagerLimits.MaxPendingHandshakes connections wait for their handshake answer.
func (m *Manager) ServeWS(w http.ResponseWriter, r *http.Request) {
	if !m.enter() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	detached := false
	defer func() {
		if !detached {
			m.work.Done()
		}
	}()
	var id Identity
	if m.cfg.auth != nil {
		var err error
		id, err = m.cfg.auth(r)
		if err != nil {
			status := http.StatusUnauthorized
			if errors.Is(err, ErrForbidden) {
				status = http.StatusForbidden
			}
			m.cfg.logger.Info("wssync: auth refused", "err", err, "remote", r.RemoteAddr)
			http.Error(w, http.StatusText(status), status)
			return
		}
		if id.User == "" {
			m.cfg.logger.Error("wssync: auth hook returned no user")
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if id.expired(time.Now()) {
			// A verifier's leeway for clock skew may pass a token already past its exp; the
			// connection would close at once with 4005, after its state had been sent.
			m.cfg.logger.Info("wssync: auth refused: the identity has expired", "user", id.User, "remote", r.RemoteAddr)
			http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
			return
		}
		if !m.userConnAllowed(id.User) {
			http.Error(w, "too many connections", http.StatusTooManyRequests)
			return
		}
	}
	handshake := id.Session == "" && !m.cfg.anonymous
	if handshake && !m.startHandshake() {
		m.cfg.logger.Warn("wssync: too many pending handshakes; upgrade refused", "remote", r.RemoteAddr)
		http.Error(w, "too many pending handshakes", http.StatusServiceUnavailable)
		return
	}
	ws, err := m.upgrader.Upgrade(w, r, nil)
	if err != nil {
		if handshake {
			m.endHandshake(nil)
		}
		m.cfg.logger.Info("wssync: upgrade refused", "err", err, "remote", r.RemoteAddr)
		return
	}
	remote, resume := r.RemoteAddr, offersResume(r)
	if m.cfg.detach {
		detached = true
		go func() {
			defer m.work.Done()
			defer m.recoverDetached(ws, remote)
			m.upgraded(ws, id, handshake, remote, resume)
		}()
		return
	}
	m.upgraded(ws, id, handshake, remote, resume)
}

// recoverDetached ends a detached connection whose serving panicked (in application code
// such as a SessionStore) as net/http ends a blocking ServeWS's: the panic is logged and
// the process goes on. The socket is closed, which net/http does not do for a hijacked one.
func (m *Manager) recoverDetached(ws *websocket.Conn, remote string) {
	if r := recover(); r != nil {
		m.cfg.logger.Error("wssync: panic serving a detached connection", "remote", remote, "panic", r, "stack", string(debug.Stack()))
		_ = ws.Close()
	}
}

// upgraded serves an upgraded connection to its end: the handshake when handshake is set,
// then the session of id. remote is the client's address, for the log; resume: the client
// offered the subprotocol wssync.resume.
func (m *Manager) upgraded(ws *websocket.Conn, id Identity, handshake bool, remote string, resume bool) {
	var err error
	switch {
	case handshake:
		if m.trackHandshake(ws) {
			id, err = m.identify(ws, id)
		} else {
			err = errShuttingDown
		}
		m.endHandshake(ws)
	case id.Session == "": // anonymous
		id.Session = uuid.NewString()
		if id.User == "" {
			id.User = id.Session
		}
	}
	if err != nil {
		code, why := ClosePolicyViolation, m.handshakeFailed(err, remote)
		switch {
		case errors.Is(err, errInvalidUTF8):
			code, why = CloseInvalidPayload, "text frame is not valid UTF-8"
		case errors.Is(err, websocket.ErrReadLimit):
			code, why = CloseMessageTooBig, "frame too large" // gorilla has sent it already
		case m.isClosing():
			code, why = CloseGoingAway, "shutting down"
		}
		m.closeNow(ws, code, why)
		return
	}
	m.serve(ws, id, resume)
}

// enter registers a ServeWS call unless the Manager is shutting down.
func (m *Manager) enter() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closing {
		return false
	}
	m.work.Add(1)
	return true
}

func (m *Manager) userConnAllowed(user string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.perUser[user] < m.cfg.maxConnsPerUser
}

// serve finds or builds the session for id and serves ws on it; resume: the client offered
// the subprotocol wssync.resume.
func (m *Manager) serve(ws *websocket.Conn, id Identity, resume bool) {
	var seq uint64 // this connection's claim, in flight from before it takes the session
	if m.cfg.sessionStore != nil {
		seq = m.markClaim(id.Session)
	}
	ms, created, code, why := m.acquire(id)
	if ms == nil {
		if m.cfg.sessionStore != nil {
			m.unmarkClaim(id.Session, seq)
		}
		m.closeNow(ws, code, why)
		return
	}
	<-ms.ready
	if ms.err == nil && m.cfg.sessionStore != nil {
		if !created {
			err := ms.sess.refresh(ms.sess.ctx)
			if errors.Is(err, ErrForeignSession) {
				// served while the store was unreachable; the store names another user
				m.cfg.logger.Warn("wssync: a held session is bound to another identity in the store; closing it", "session", id.Session)
				m.unmarkClaim(id.Session, seq)
				m.dropForeign(ms.sess)
				m.closeNow(ws, CloseUnauthorized, "session belongs to another identity")
				m.release(id, ms)
				return
			} else if err != nil {
				m.cfg.logger.Warn("wssync: cannot check the stored session", "session", id.Session, "err", err)
			}
		}
		if m.claimsBy != nil {
			// Before the claim is published, so that it comes back, and so does every claim
			// after it; one published before the watch is stale anyway.
			sess := ms.sess
			sess.claims.start(func() func() {
				return m.claimsBy.WatchSessionClaims(id.Session, func(c SessionClaim) { m.claimedFor(sess, c) })
			})
		}
		m.claim(id, seq)
	} else if m.cfg.sessionStore != nil {
		m.unmarkClaim(id.Session, seq)
	}
	switch {
	case ms.err == nil:
		ms.sess.setIdentity(id) // this connection's claims, for its handlers
		ms.sess.serve(ws, resume)
	case errors.Is(ms.err, ErrForeignSession):
		m.closeNow(ws, CloseUnauthorized, "session belongs to another identity")
	default:
		m.closeNow(ws, CloseInternalError, "session setup failed")
	}
	m.release(id, ms)
}

// acquire returns the session of id (creating it, and starting its factory, on first
// sight) and counts the connection. It refuses with a close code and reason. A session
// held for another user whose factory has not run yet may turn out not to be that user's
// (the store binds it to id.User): acquire waits for it before it decides.
func (m *Manager) acquire(id Identity) (ms *managed, created bool, code int, why string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for {
		if m.closing {
			return nil, false, CloseGoingAway, "shutting down"
		}
		if m.perUser[id.User] >= m.cfg.maxConnsPerUser {
			return nil, false, ClosePolicyViolation, "too many connections"
		}
		var ok bool
		ms, ok = m.sessions[id.Session]
		if !ok || ms.sess.id.User == id.User {
			break
		}
		select {
		case <-ms.ready:
		default:
			m.mu.Unlock()
			<-ms.ready
			m.mu.Lock()
			continue // the map may have changed meanwhile
		}
		if ms.err == nil {
			m.cfg.logger.Warn("wssync: session id presented by another identity", "session", id.Session)
			return nil, false, CloseUnauthorized, "session belongs to another identity"
		}
		// The other user's session failed (bound to someone else, or its factory): it is
		// on its way out, and its release leaves a successor in the map alone.
		delete(m.sessions, id.Session)
		ms = nil
		break
	}
	if ms == nil {
		if len(m.sessions) >= m.cfg.maxSessions {
			return nil, false, CloseTryAgainLater, "too many sessions"
		}
		ms = &managed{sess: newSession(&m.cfg, m.metrics, id), ready: make(chan struct{})}
		ms.sess.users = m.users
		m.sessions[id.Session] = ms
		m.metrics.sessions.Add(1)
		m.metrics.sessionsTotal.Add(1)
		m.work.Add(1)
		go m.build(ms)
		created = true
	}
	if ms.expiry != nil {
		ms.expiry.Stop()
		ms.expiry = nil
	}
	ms.live++
	ms.gen++
	m.perUser[id.User]++
	return ms, created, 0, ""
}

// build runs the factory for a new session. With a session store, it first binds the
// session id to its user: a session bound to another user is refused without running the
// factory.
func (m *Manager) build(ms *managed) {
	defer m.work.Done()
	sess := ms.sess
	defer func() { // after ready is closed: keepBindings passes over sessions not ready
		if sess.unbound.Load() {
			m.wakeRebind()
		}
	}()
	defer close(ms.ready)
	if m.cfg.sessionStore != nil {
		if _, err := sess.bind(sess.ctx); errors.Is(err, ErrForeignSession) {
			m.cfg.logger.Warn("wssync: session id bound to another identity", "session", sess.id.Session)
			ms.err = err
			return
		} else if err != nil {
			m.cfg.logger.Warn("wssync: cannot bind the session to its user in the store", "session", sess.id.Session, "err", err)
			sess.unbound.Store(true)
		}
	}
	_, err := callSafely(func() (any, error) { return nil, m.factory(sess.ctx, sess) })
	if err != nil {
		m.cfg.logger.Error("wssync: session factory failed", "err", err)
		ms.err = err
	} else if m.cfg.sessionStore != nil {
		if err := sess.restore(sess.ctx); errors.Is(err, ErrForeignSession) {
			m.cfg.logger.Warn("wssync: stored session belongs to another identity", "session", sess.id.Session)
			ms.err = err
		} else if err != nil {
			m.cfg.logger.Warn("wssync: cannot load the stored session; it starts afresh", "session", sess.id.Session, "err", err)
		}
	}
}

// wakeRebind asks keepBindings to retry the sessions the store could not bind.
func (m *Manager) wakeRebind() {
	select {
	case m.rebind <- struct{}{}:
	default:
	}
}

// release counts a connection's end; the last one starts the session's expiry. A session
// whose factory failed is dropped at once.
func (m *Manager) release(id Identity, ms *managed) {
	m.mu.Lock()
	if m.perUser[id.User]--; m.perUser[id.User] <= 0 {
		delete(m.perUser, id.User)
	}
	ms.live--
	if ms.live > 0 || m.closing {
		m.mu.Unlock()
		return
	}
	if ms.err != nil {
		if m.sessions[id.Session] == ms {
			delete(m.sessions, id.Session)
		}
		m.mu.Unlock()
		ms.sess.Close()
		return
	}
	if m.sessions[id.Session] != ms { // let go (claimed elsewhere, or bound to another user)
		m.mu.Unlock()
		return
	}
	gen := ms.gen
	ms.expiry = time.AfterFunc(m.cfg.sessionTTL, func() { m.expire(id.Session, ms, gen) })
	m.mu.Unlock()
	if m.cfg.sessionStore != nil {
		ms.sess.touch() // the record outlives the disconnection by the session TTL
	}
}

// expire closes a session that stayed disconnected for the TTL.
func (m *Manager) expire(sid string, ms *managed, gen int) {
	m.mu.Lock()
	if ms.live > 0 || ms.gen != gen || m.sessions[sid] != ms || m.closing {
		m.mu.Unlock()
		return
	}
	m.work.Add(1)
	delete(m.sessions, sid)
	ms.expiry = nil
	m.mu.Unlock()
	defer m.work.Done()
	ms.sess.Close()
}

// Shutdown stops accepting connections (new upgrades get 503), closes every connection
// with 1001 (going away), those still in the `_USER_SESSION` handshake included, cancels
// every task, and waits for all of it, or until ctx ends: then it returns ctx's error and
// the rest finishes in the background. A connection whose peer does not read is not waited
// for: its socket is closed hard a second after the close started. What can still hold
// Shutdown: handlers and tasks that ignore their ctx.
func (m *Manager) Shutdown(ctx context.Context) error {
	m.mu.Lock()
	m.closing = true
	for ws := range m.shaking {
		_ = ws.SetReadDeadline(time.Now()) // ends the wait for _USER_SESSION: closed with 1001
	}
	all := make([]*managed, 0, len(m.sessions))
	for sid, ms := range m.sessions {
		if ms.expiry != nil {
			ms.expiry.Stop()
		}
		all = append(all, ms)
		delete(m.sessions, sid)
	}
	m.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for _, ms := range all {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ms.sess.cancel() // a factory still running sees its ctx end
				<-ms.ready
				ms.sess.Close()
			}()
		}
		wg.Wait()
		m.work.Wait()
		if m.stopClaims != nil {
			m.stopClaims()
		}
		if m.stopKeep != nil {
			m.stopKeep()
		}
		if m.stopBus != nil {
			m.busStopped.Store(true)
			m.stopBus()
		}
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// closeNow sends a close frame and closes ws, for connections refused before serving,
// and counts the close (Stats.ClosesByCode).
func (m *Manager) closeNow(ws *websocket.Conn, code int, reason string) {
	m.metrics.countClose(code)
	_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	_ = ws.Close()
}

// ShuttingDown reports whether Shutdown has begun (new upgrades are then refused with
// 503): a readiness probe fails from then on (package wshealth).
func (m *Manager) ShuttingDown() bool { return m.isClosing() }
