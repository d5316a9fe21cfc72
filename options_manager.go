package wssync

import (
	"context"
	"net/http"
	"time"
)

// Defaults of the Manager's settings, the fields of ManagerLimits.
const (
	DefaultSessionTTL           = 5 * time.Minute  // a Manager keeps a disconnected session this long
	DefaultMaxSessions          = 100_000          // sessions a Manager holds at most
	DefaultMaxConnsPerUser      = 32               // live connections per user identity
	DefaultHandshakeTimeout     = 10 * time.Second // wait for _USER_SESSION after _REQUEST_USER_SESSION
	DefaultMaxPendingHandshakes = 1024             // connections waiting for their _USER_SESSION answer at once
)

// ManagerOption configures a Manager. Every SessionOption is one (it then applies to every
// session the Manager builds); the others (WithAuth, WithTokenRefresh, WithManagerLimits,
// WithAnonymousSessions, WithSessionStore) are Manager settings that a lone Session would
// ignore, so NewSession does not accept them.
type ManagerOption interface {
	applyManager(*config)
}

// managerOption is a ManagerOption that is not a SessionOption.
type managerOption func(*config)

func (o managerOption) applyManager(c *config) { o(c) }

func newManagerConfig(opts []ManagerOption) config {
	c := defaultConfig()
	for _, o := range opts {
		o.applyManager(&c)
	}
	return c
}

// ManagerLimits bounds what a Manager holds. A zero field keeps its default (the
// Default* constant named beside it). Pass it with WithManagerLimits.
type ManagerLimits struct {
	// SessionTTL is how long a disconnected session is kept before it is closed
	// (DefaultSessionTTL, 5 minutes).
	SessionTTL time.Duration
	// MaxSessions bounds the sessions held (DefaultMaxSessions, 100,000). A connection that
	// would create one more is closed with CloseTryAgainLater.
	MaxSessions int
	// MaxConnsPerUser bounds the live connections of one user identity
	// (DefaultMaxConnsPerUser, 32): over it the upgrade is refused with 429 (auth hook) or
	// the connection closed with ClosePolicyViolation.
	MaxConnsPerUser int
	// HandshakeTimeout bounds the wait for `_USER_SESSION` (DefaultHandshakeTimeout, 10s).
	HandshakeTimeout time.Duration
	// MaxPendingHandshakes bounds the connections held while they have not answered
	// `_REQUEST_USER_SESSION` yet (DefaultMaxPendingHandshakes, 1024): over it, a request
	// that needs the handshake is refused before the upgrade with HTTP 503 (and a warning
	// is logged). Connections that need no handshake (an auth hook that names the session,
	// anonymous sessions) do not count.
	MaxPendingHandshakes int
}

// WithManagerLimits sets the Manager limits that l's non-zero fields name; the others keep
// their values.
func WithManagerLimits(l ManagerLimits) ManagerOption {
	return managerOption(func(c *config) {
		setPositive(&c.sessionTTL, l.SessionTTL)
		setPositive(&c.maxSessions, l.MaxSessions)
		setPositive(&c.maxConnsPerUser, l.MaxConnsPerUser)
		setPositive(&c.handshakeTimeout, l.HandshakeTimeout)
		setPositive(&c.maxPendingHandshakes, l.MaxPendingHandshakes)
	})
}

// WithAuth makes a Manager identify clients from the HTTP upgrade request (a cookie, a
// bearer token, a query token). auth returns the identity — User is required; with Session
// set, no handshake is needed; without it, the session id comes from the
// `_USER_SESSION` handshake and the session is bound to User. An identity whose Expires has
// passed already is refused with 401, before any state is sent. An error refuses the upgrade
// with 401, or 403 when it wraps ErrForbidden.
func WithAuth(auth func(r *http.Request) (Identity, error)) ManagerOption {
	return managerOption(func(c *config) { c.auth = auth })
}

// WithTokenRefresh lets a connection extend its identity without reconnecting: the client
// sends `_AUTH` with a fresh token, and verify (package wsauth's Verifier.Refresh is one)
// checks it and returns the identity it names. An identity of the connection's user (and
// session, when verify names one) replaces the session's roles, claims and expiry, and the
// connection's expiry moves to the new one; an error, or an identity already expired,
// refuses the frame with CodeTokenRejected and leaves the identity as it was (it still expires when it did); an
// identity of another user or session is refused with CodeTokenWrongUser and the
// connection closed with CloseUnauthorized. verify runs on the connection's dispatcher
// (not under the dispatch lock), with a ctx that ends with the session or after 10 s;
// `_AUTH` frames beyond a burst of 3, then 1 every 10 s, are refused with CodeRateLimited.
// Without this option an `_AUTH` is refused as an unknown event.
//
// Whether or not it is set, a connection whose identity has an expiry (Identity.Expires)
// is sent `_AUTH_EXPIRING` shortly before it (30 s, or half the remaining time when that is
// shorter), and at the expiry `_AUTH_EXPIRED` and a close with CloseTokenExpired (4005).
func WithTokenRefresh(verify func(ctx context.Context, token string) (Identity, error)) ManagerOption {
	return managerOption(func(c *config) { c.tokenRefresh = verify })
}

// WithAnonymousSessions skips the handshake: every connection without an authenticated
// session id gets a new session with a random id (like ws-sync without wsAuth). Such a
// session cannot be resumed by a reconnect; it expires after the TTL.
func WithAnonymousSessions() ManagerOption {
	return managerOption(func(c *config) { c.anonymous = true })
}

// WithDetachedConnections makes the Manager's ServeWS return as soon as the connection is
// upgraded, instead of blocking for its life: the handshake and the connection then run on
// goroutines of their own, which Shutdown waits for as before. The HTTP server's goroutine
// for the request ends, and with it the buffers and request state net/http keeps while a
// handler runs: about a third of an idle connection's memory (docs/benchmarks.md, "Idle
// sessions"). The cost: middleware around ServeWS no longer spans the connection (a
// handler that counts live connections, or closes something when ServeWS returns, must use
// the session hooks OnConnect and OnDisconnect instead), and the request's context ends at
// the upgrade. A panic while serving a detached connection (in a SessionStore, say) is
// logged and ends that connection, as net/http does for a blocking handler: the process
// goes on.
func WithDetachedConnections() ManagerOption {
	return managerOption(func(c *config) { c.detach = true })
}

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
// ignored and logged. The store delivers claims to every node in one order, and the last
// claim in that order wins: a claim that reaches a node while its own claim of the
// session is still on the way there was published before that one, so it is stale and
// ignored (a client that dropped on one node and reconnected to another at once stays
// served). Should an announcement be lost, the node that made it ignores the session's
// other claims for a few seconds, and a node that reconnects the session still reloads it
// from the store's generation counter. Deploy behind any load balancer:
// sticky routing is not needed. Shutdown ends the Manager's watch of other nodes' claims.
func WithSessionStore(store SessionStore) ManagerOption {
	return managerOption(func(c *config) { c.sessionStore = store })
}
