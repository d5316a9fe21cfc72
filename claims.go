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
	delete(m.sessions, c.ID)
	if ms.expiry != nil {
		ms.expiry.Stop()
		ms.expiry = nil
	}
	m.work.Add(1)
	m.mu.Unlock()
	m.metrics.sessionsMoved.Add(1)
	go func() { // Close waits for connections and tasks: not in the watch's callback
		defer m.work.Done()
		<-ms.ready
		ms.sess.replacedElsewhere()
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
// The returned stop ends the loop and waits for it.
func (m *Manager) startKeepBindings() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	every := (m.cfg.sessionTTL + m.cfg.pongTimeout) / 3
	go func() {
		defer close(done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for _, s := range m.connected() {
				if ctx.Err() != nil {
					return
				}
				if _, err := s.bind(ctx); errors.Is(err, ErrForeignSession) {
					m.cfg.logger.Warn("wssync: a held session is bound to another identity in the store", "session", s.id.Session)
				} else if err != nil && ctx.Err() == nil {
					m.cfg.logger.Warn("wssync: cannot extend the session's binding", "session", s.id.Session, "err", err)
				}
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
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
