package wssync

import "sync"

// ClaimsBySession is implemented by a SessionStore that can announce each claim only to the
// nodes that hold its session, instead of to every node. With a store that announces
// claims on one channel (WatchClaims), every node hears one message per connection made
// anywhere, so the claim traffic grows with the number of nodes times the connect rate; a
// store whose ClaimsBySession reports true lets each node hear only the claims of the
// sessions it holds. wsredis.Backend does, with Options.ShardedPubSub.
//
// A Manager whose store reports true watches each session it holds with
// WatchSessionClaims, from before it announces its first claim of that session on this
// node until it lets the session go, and never calls WatchClaims. A wrapper around such a
// store (for metrics, say) must implement ClaimsBySession too: without it the Manager
// calls WatchClaims, which hears nothing, and two nodes could each keep serving the session.
type ClaimsBySession interface {
	// ClaimsBySession reports whether ClaimSession announces each claim to the
	// WatchSessionClaims callbacks of its session on every node (the claimant's own
	// included), and to no WatchClaims callback. It returns the same answer for the
	// store's whole life, and the same on every node of a deployment.
	ClaimsBySession() bool

	// WatchSessionClaims calls claimed, one call at a time, with every claim of session id
	// announced from the moment it returns, until stop is called; it blocks until the
	// store confirms the watch (or gives up). Claims of one session reach every callback
	// in one order, as ClaimSession promises for WatchClaims. stop waits for a running call
	// to return; calling it more than once is harmless. claimed must not call stop.
	WatchSessionClaims(id string, claimed func(SessionClaim)) (stop func())
}

// claimsBySession returns store as a ClaimsBySession when it announces claims per session.
func claimsBySession(store SessionStore) ClaimsBySession {
	if cb, ok := store.(ClaimsBySession); ok && cb.ClaimsBySession() {
		return cb
	}
	return nil
}

// sessionClaimWatch is a session's own watch of its claims (ClaimsBySession), started
// once by the first connection of the session that the Manager claims, and stopped when the
// session closes: by Close, or at once when it was closed before the watch started.
type sessionClaimWatch struct {
	once   sync.Once
	mu     sync.Mutex
	stop   func()
	closed bool
}

// start runs watch once (later calls wait for the first to return) and keeps its stop,
// or calls it at once when the session has closed meanwhile.
func (w *sessionClaimWatch) start(watch func() (stop func())) {
	w.once.Do(func() {
		stop := watch()
		w.mu.Lock()
		if !w.closed {
			w.stop = stop
			stop = nil
		}
		w.mu.Unlock()
		if stop != nil {
			stop()
		}
	})
}

// end stops the watch, if it runs, and makes a later start stop its watch at once.
func (w *sessionClaimWatch) end() {
	w.mu.Lock()
	w.closed = true
	stop := w.stop
	w.stop = nil
	w.mu.Unlock()
	if stop != nil {
		stop()
	}
}
