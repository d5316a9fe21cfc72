package wssync

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"
	"strings"
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
//
// Claims carry no order of their own; the store's bus gives it: every watcher, the
// claimant included, sees all claims in one order (SessionStore.ClaimSession). A node
// marks each connection it is about to serve as a claim in flight, from before it takes
// the session until it sees its own claim back on the bus. A foreign claim that arrives
// while one of its own is in flight was published before it, so it is stale (the client
// has moved on to this node) and is ignored; the claimant lets go when it sees this
// node's claim after its own. The last claim in the bus's order wins on every node. A
// claim the bus loses never comes back, so a mark expires after claimInFlightMost: until
// then the node ignores the session's foreign claims, and a node that reconnects a session
// it kept still reloads it from the store's generation counter.

// claimInFlightMost bounds how long an own claim counts as in flight: a ClaimSession call
// (storeTimeout) and its delivery, with room to spare.
const claimInFlightMost = 2*storeTimeout + time.Second

// inFlightClaim is an own claim of a session not seen back on the bus yet.
type inFlightClaim struct {
	seq   uint64
	since time.Time // marked, or published
}

// newNodeID names a Manager in its claims.
func newNodeID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// claimant names this node's claim seq: the node id, a dot and the claim's number, so the
// node knows which of its claims came back.
func (m *Manager) claimant(seq uint64) string {
	return m.node + "." + strconv.FormatUint(seq, 10)
}

// ownClaim returns the number of c when this node made it.
func (m *Manager) ownClaim(c SessionClaim) (seq uint64, own bool) {
	rest, ok := strings.CutPrefix(c.Claimant, m.node+".")
	if !ok {
		return 0, false
	}
	seq, err := strconv.ParseUint(rest, 10, 64)
	return seq, err == nil
}

// markClaim records a claim of session sid in flight, before the node takes the session
// for a connection, and returns its number for claim or unmarkClaim.
func (m *Manager) markClaim(sid string) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.claimSeq++
	m.inFlight[sid] = append(m.inFlight[sid], inFlightClaim{seq: m.claimSeq, since: time.Now()})
	return m.claimSeq
}

// unmarkClaim forgets claim seq of session sid: it came back, or will not be published.
func (m *Manager) unmarkClaim(sid string, seq uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.unmarkClaimLocked(sid, seq)
}

func (m *Manager) unmarkClaimLocked(sid string, seq uint64) {
	marks := slices.DeleteFunc(m.inFlight[sid], func(c inFlightClaim) bool { return c.seq == seq })
	if len(marks) == 0 {
		delete(m.inFlight, sid)
		return
	}
	m.inFlight[sid] = marks
}

// claimInFlightLocked reports whether an own claim of session sid is in flight, dropping
// the marks older than m.inFlightMost (claimInFlightMost but in tests). The caller holds
// m.mu.
func (m *Manager) claimInFlightLocked(sid string, now time.Time) bool {
	marks := slices.DeleteFunc(m.inFlight[sid], func(c inFlightClaim) bool { return now.Sub(c.since) > m.inFlightMost })
	if len(marks) == 0 {
		delete(m.inFlight, sid)
		return false
	}
	m.inFlight[sid] = marks
	return true
}

// sweepClaimsInFlight drops the expired marks of every session: those whose claim the bus
// lost, of sessions no claim names again.
func (m *Manager) sweepClaimsInFlight() {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	for sid := range m.inFlight {
		m.claimInFlightLocked(sid, now)
	}
}

// claim announces that this node serves session id for user, as its claim seq (marked by
// markClaim). A claim the store refused keeps its mark until it expires: it may have been
// published all the same.
func (m *Manager) claim(id Identity, seq uint64) {
	m.mu.Lock()
	for i, c := range m.inFlight[id.Session] {
		if c.seq == seq {
			m.inFlight[id.Session][i].since = time.Now() // in flight from its publication
		}
	}
	m.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	c := SessionClaim{ID: id.Session, User: id.User, Claimant: m.claimant(seq)}
	if err := m.cfg.sessionStore.ClaimSession(ctx, c); err != nil {
		m.cfg.logger.Warn("wssync: cannot announce the session to other nodes", "session", id.Session, "err", err)
	}
}

// claimed is the WatchClaims callback. An own claim is no longer in flight. A foreign one
// means another node now serves session c.ID, so this one lets its copy go, unless the
// claim names another user than the session's, or it is stale: published before a claim
// of this node still in flight.
func (m *Manager) claimed(c SessionClaim) { m.claimedFor(nil, c) }

// claimedFor is claimed for the watch of one copy of a session, sess (ClaimsBySession): a
// foreign claim lets go of that copy only. An older copy's watch may still be handing over
// a claim when a newer copy's own claim has come back on the newer copy's watch; that claim
// came before the newer copy's, and the newer watch hears every claim that came after it.
// With sess nil (WatchClaims), a claim concerns whichever copy the Manager holds.
func (m *Manager) claimedFor(sess *Session, c SessionClaim) {
	m.mu.Lock()
	if seq, own := m.ownClaim(c); own {
		m.unmarkClaimLocked(c.ID, seq)
		m.mu.Unlock()
		return
	}
	ms, ok := m.sessions[c.ID]
	if !ok || m.closing || (sess != nil && ms.sess != sess) {
		m.mu.Unlock()
		return
	}
	if ms.sess.id.User != c.User {
		m.mu.Unlock()
		m.cfg.logger.Warn("wssync: ignored a claim of a session for another identity", "session", c.ID, "claimant", c.Claimant)
		return
	}
	if m.claimInFlightLocked(c.ID, time.Now()) {
		m.mu.Unlock()
		m.cfg.logger.Debug("wssync: ignored a claim published before this node's own", "session", c.ID, "claimant", c.Claimant)
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
				m.sweepClaimsInFlight()
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
