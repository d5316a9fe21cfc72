package wssync

import (
	"context"
	"time"
)

// MaxStoredObjectBytes bounds one object's state in a SessionStore: a larger state is not
// stored (and a warning is logged), so a session picked up by another node starts that
// object from its factory.
const MaxStoredObjectBytes = 256 << 10

// storeTimeout bounds one SessionStore call made on a client's behalf.
const storeTimeout = 2 * time.Second

// WithSessionStore makes a Manager keep each session's own objects (those of Register) in
// store, so that the session continues on any node: every published change of such an
// object is written through to the store (one call per change, bounded by
// MaxStoredObjectBytes), and the record expires a session TTL after the last write,
// connection or disconnection, or, while a connection is live, is extended every third
// of that TTL. A node that builds a session it does not hold runs the
// factory and then restores each registered object from the record; a node that still
// holds the session from an earlier connection reloads it when another node has changed
// it since.
//
// A session id belongs to one user on every node: the first time a node sees a session
// id, before it runs the factory, it binds the id to the connection's user in the store
// (SessionStore.BindSession). A connection of another user, on any node, is then closed
// with CloseUnauthorized (4004) and never sees the session's state, whether or not the
// session has changed yet; the owner's connections are not disturbed. While the store is
// unreachable a node cannot check the binding: it serves a session it does not hold from
// the factory alone (logged) and never serves a stored record of another user.
//
// A session lives on one node at a time: every connection a Manager serves is announced
// (SessionStore.ClaimSession, with the session's user), and a Manager that holds the same
// session for the same user lets it go (its connection gets _DISCONNECT and 4000, its
// tasks are cancelled, Stats.SessionsMoved counts it); a claim naming another user is
// ignored and logged. Should an announcement be lost, a node that reconnects the session
// still reloads it from the store's generation counter. Deploy behind any load balancer:
// sticky routing is not needed. Shutdown ends the Manager's watch of other nodes' claims.
func WithSessionStore(store SessionStore) ManagerOption {
	return managerOption(func(c *config) { c.sessionStore = store })
}

// persist writes o's published state to the session store. The caller holds o's pub
// lock, so writes of one object reach the store in order.
func (s *Session) persist(o *object) {
	store := s.cfg.sessionStore
	state := o.appendState(nil)
	if len(state) > MaxStoredObjectBytes {
		s.cfg.logger.Warn("wssync: object too large for the session store; not stored", "key", o.key, "bytes", len(state))
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, storeTimeout)
	defer cancel()
	gen, err := store.SaveSession(ctx, s.id.Session, s.id.User, o.key, StoredObject{Version: o.version, State: state}, s.storeTTL())
	if err != nil {
		s.cfg.logger.Warn("wssync: cannot store the session's state", "key", o.key, "err", err)
		return
	}
	s.noteGeneration(gen)
}

// noteGeneration records gen as the record's generation this node knows, keeping the
// highest when several objects' writes answer out of order.
func (s *Session) noteGeneration(gen uint64) {
	for {
		cur := s.storeGen.Load()
		if gen <= cur || s.storeGen.CompareAndSwap(cur, gen) {
			return
		}
	}
}

// storeTTL is how long a session's record outlives its last write: the Manager's session
// TTL, plus the keepalive's bound on noticing a dead connection.
func (s *Session) storeTTL() time.Duration {
	return s.cfg.sessionTTL + s.cfg.pongTimeout
}

// restore loads the session's record, when there is one, into its registered objects.
// It refuses a record of another user.
func (s *Session) restore(ctx context.Context) error {
	store := s.cfg.sessionStore
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	rec, ok, err := store.LoadSession(ctx, s.id.Session)
	if err != nil || !ok {
		return err
	}
	if rec.User != s.id.User {
		return ErrForeignSession
	}
	s.mu.Lock()
	objs := make(map[string]*object, len(s.objects))
	for k, o := range s.objects {
		if o.owner == s {
			objs[k] = o
		}
	}
	s.mu.Unlock()
	for key, so := range rec.Objects {
		if o := objs[key]; o != nil {
			if err := o.restore(so); err != nil {
				s.cfg.logger.Warn("wssync: cannot restore a stored object; it keeps its state", "key", key, "err", err)
			}
		}
	}
	s.storeGen.Store(rec.Generation)
	return nil
}

// bind binds the session id to its user in the store, or extends the binding, and returns
// the record's generation. A session bound to another user is ErrForeignSession.
func (s *Session) bind(ctx context.Context) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	owner, gen, err := s.cfg.sessionStore.BindSession(ctx, s.id.Session, s.id.User, s.storeTTL())
	if err == nil && owner != s.id.User {
		err = ErrForeignSession
	}
	return gen, err
}

// refresh extends the session's record and binding and, when another node wrote it since
// this node last did, reloads it. It runs before a reconnection is served.
func (s *Session) refresh(ctx context.Context) error {
	gen, err := s.bind(ctx)
	if err != nil || gen == 0 || gen == s.storeGen.Load() {
		return err
	}
	return s.restore(ctx)
}

// touch extends the session's record to a session TTL from now.
func (s *Session) touch() {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if _, err := s.cfg.sessionStore.TouchSession(ctx, s.id.Session, s.storeTTL()); err != nil {
		s.cfg.logger.Warn("wssync: cannot extend the stored session", "session", s.id.Session, "err", err)
	}
}

// restore makes a stored state the object's published state and the struct's. A client
// that connects next gets it as its _SET.
func (o *object) restore(so StoredObject) error {
	o.pub.Lock()
	defer o.pub.Unlock()
	next, err := o.splitDoc(so.State)
	if err == nil {
		err = o.moveTo(next, so.Version, nil, true)
	}
	if err != nil {
		return err
	}
	o.resyncAllLocked()
	return nil
}
