package wsmemory

import "github.com/wssync/wssync"

// Option configures a Backend made by New.
type Option func(*Backend)

// WithClaimsBySession makes the Backend announce each claim only to the WatchSessionClaims
// callbacks of its session (wssync.ClaimsBySession), and to no WatchClaims callback, as
// wsredis does with Options.ShardedPubSub: a Manager on it then watches each session it
// holds, not every claim.
func WithClaimsBySession() Option { return func(m *Backend) { m.perSess = true } }

// ClaimsBySession implements wssync.ClaimsBySession: true with WithClaimsBySession.
func (m *Backend) ClaimsBySession() bool { return m.perSess }

// WatchSessionClaims implements wssync.ClaimsBySession: claimed gets every claim of
// session id announced from now on, from a goroutine of the watch's own, one at a time.
// Without WithClaimsBySession it watches every claim and skips the other sessions'.
func (m *Backend) WatchSessionClaims(id string, claimed func(wssync.SessionClaim)) (stop func()) {
	if !m.perSess {
		return m.WatchClaims(func(c wssync.SessionClaim) {
			if c.ID == id {
				claimed(c)
			}
		})
	}
	s := newMemSub(claimDecoder(claimed))
	m.mu.Lock()
	set := m.bySess[id]
	if set == nil {
		set = make(map[*memSub]struct{})
		m.bySess[id] = set
	}
	set[s] = struct{}{}
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		if set := m.bySess[id]; set != nil {
			delete(set, s)
			if len(set) == 0 {
				delete(m.bySess, id)
			}
		}
		m.mu.Unlock()
		s.stop()
	}
}

// SessionClaimWatches reports how many sessions have a WatchSessionClaims running, for
// tests that check the watches end with their sessions.
func (m *Backend) SessionClaimWatches() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.bySess)
}
