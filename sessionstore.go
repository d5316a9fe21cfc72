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

// persist writes o's published state to the session store, when s (o's owner; nil for a
// shared object) has one and an id. The caller holds o's pub lock, so writes of one
// object reach the store in order; the publish waits for the store's answer (at most
// storeTimeout).
func (s *Session) persist(o *object) {
	if s == nil || s.cfg.sessionStore == nil || s.id.Session == "" {
		return
	}
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
	// The versions are the stored session's, but not what changed at each: no base from
	// before the restore can be answered for (writebase.go).
	o.record.reset(so.Version)
	// Another node's versions: the same numbers may name other states here.
	o.epoch = newEpoch()
	o.hist.reset()
	o.resyncAllLocked()
	return nil
}
