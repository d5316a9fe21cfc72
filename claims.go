package wssync

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"
)

// A session lives on one node at a time. A Manager with a session store announces every
// connection it serves (SessionStore.ClaimSession, under its node id and with the
// session's user); a Manager that holds the same session for the same user from an
// earlier connection then lets it go: its live connection, if any, gets _DISCONNECT and
// close 4000 (as when a newer connection replaces it on one node, so the client does not
// reconnect there), its tasks are cancelled and its objects freed. A later connection to
// that node builds the session again from the store. A claim that names another user is
// ignored (and logged): a node only claims a session it bound to its user, so such a claim
// cannot take the session from the user it belongs to.

// newNodeID names a Manager in its claims.
func newNodeID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// claim announces that this node serves session id for user.
func (m *Manager) claim(id Identity) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	c := SessionClaim{ID: id.Session, User: id.User, Claimant: m.node}
	if err := m.cfg.sessionStore.ClaimSession(ctx, c); err != nil {
		m.cfg.logger.Warn("wssync: cannot announce the session to other nodes", "session", id.Session, "err", err)
	}
}

// claimed is the WatchClaims callback: another node now serves session c.ID, so this one
// lets its copy go, unless the claim names another user than the session's.
func (m *Manager) claimed(c SessionClaim) {
	if c.Claimant == m.node {
		return
	}
	m.mu.Lock()
	ms, ok := m.sessions[c.ID]
	if !ok || m.closing {
		m.mu.Unlock()
		return
	}
	if ms.sess.id.User != c.User {
		m.mu.Unlock()
		m.cfg.logger.Warn("wssync: ignored a claim of a session for another identity", "session", c.ID, "claimant", c.Claimant)
		return
	}
	m.metrics.sessionsMoved.Add(1)
	m.letGoLocked(ms, (*Session).replacedElsewhere)
}

// letGoLocked removes ms from the Manager and ends its session with end, in a goroutine of
// its own since Close waits for connections and tasks. The caller holds m.mu, which
// letGoLocked releases.
func (m *Manager) letGoLocked(ms *managed, end func(*Session)) {
	delete(m.sessions, ms.sess.id.Session)
	if ms.expiry != nil {
		ms.expiry.Stop()
		ms.expiry = nil
	}
	m.work.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.work.Done()
		<-ms.ready
		end(ms.sess)
	}()
}

// replacedElsewhere closes the session because another node serves it now.
func (s *Session) replacedElsewhere() {
	if c := s.live.Swap(nil); c != nil {
		c.closeWith(CloseReplaced, "replaced by a connection on another server", disconnectFrame())
	}
	s.Close()
}

// startKeepBindings keeps the store's bindings (and records) of the sessions with a live
// connection from expiring, however long they go without a change: every third of the
// record's TTL it extends each one (SessionStore.BindSession). A disconnected session's
// record is extended when it disconnects, and the Manager drops it before that runs out.
//
// A session the store could not bind (it was unreachable when the session was built) is
// retried soon and often, from rebindFirst doubling to rebindMost, until the store
// answers; when it names another user, the first bind after the outage has won and this
// node's copy is let go with 4004 (dropForeign). The returned stop ends the loop and
// waits for it.
func (m *Manager) startKeepBindings() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	every := (m.cfg.sessionTTL + m.cfg.pongTimeout) / 3
	go func() {
		defer close(done)
		timer := time.NewTimer(every)
		defer timer.Stop()
		last, backoff := time.Now(), rebindFirst
		for {
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			case <-m.rebind:
				timer.Stop()
			}
			full := time.Since(last) >= every
			if full {
				last = time.Now()
			}
			pending := m.keepBindings(ctx, full)
			if ctx.Err() != nil {
				return
			}
			wait := every - time.Since(last)
			if pending {
				wait, backoff = min(wait, backoff), min(backoff*2, rebindMost)
			} else {
				backoff = rebindFirst
			}
			timer.Reset(max(wait, 0))
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// rebindFirst and rebindMost bound the retries of a bind the store could not answer.
const (
	rebindFirst = 100 * time.Millisecond
	rebindMost  = 2 * time.Second
)

// keepBindings binds the connected sessions again: all of them when full, else only
// those the store could not bind. It reports whether any of those is still unbound.
func (m *Manager) keepBindings(ctx context.Context, full bool) (pending bool) {
	for _, s := range m.connected() {
		if ctx.Err() != nil {
			return false
		}
		if !full && !s.unbound.Load() {
			continue
		}
		_, err := s.bind(ctx)
		switch {
		case errors.Is(err, ErrForeignSession):
			m.cfg.logger.Warn("wssync: a held session is bound to another identity in the store; closing it", "session", s.id.Session)
			s.unbound.Store(false)
			m.dropForeign(s)
		case err != nil:
			if ctx.Err() == nil {
				m.cfg.logger.Warn("wssync: cannot extend the session's binding", "session", s.id.Session, "err", err)
			}
			pending = pending || s.unbound.Load()
		default:
			s.unbound.Store(false)
		}
	}
	return pending
}

// dropForeign lets go of this node's copy of s, which the store binds to another user
// (this node served it while the store was unreachable): its connection is closed with
// 4004 and its tasks cancelled, and a later connection builds the session anew.
func (m *Manager) dropForeign(s *Session) {
	m.mu.Lock()
	ms, ok := m.sessions[s.id.Session]
	if !ok || ms.sess != s || m.closing {
		m.mu.Unlock()
		return
	}
	m.letGoLocked(ms, (*Session).closeForeign)
}

// closeForeign closes the session because the store binds its id to another user.
func (s *Session) closeForeign() {
	if c := s.live.Swap(nil); c != nil {
		c.closeWith(CloseUnauthorized, "session belongs to another identity", nil)
	}
	s.Close()
}

// connected returns the sessions built without error that have a live connection.
func (m *Manager) connected() []*Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Session
	for _, ms := range m.sessions {
		select {
		case <-ms.ready:
			if ms.err == nil && ms.live > 0 {
				out = append(out, ms.sess)
			}
		default:
		}
	}
	return out
}
