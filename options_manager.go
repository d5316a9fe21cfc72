package wssync

import (
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
// session the Manager builds); the others (WithAuth, WithManagerLimits,
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
// `_USER_SESSION` handshake and the session is bound to User. An error refuses the upgrade
// with 401, or 403 when it wraps ErrForbidden.
func WithAuth(auth func(r *http.Request) (Identity, error)) ManagerOption {
	return managerOption(func(c *config) { c.auth = auth })
}

// WithAnonymousSessions skips the handshake: every connection without an authenticated
// session id gets a new session with a random id (like ws-sync without wsAuth). Such a
// session cannot be resumed by a reconnect; it expires after the TTL.
func WithAnonymousSessions() ManagerOption {
	return managerOption(func(c *config) { c.anonymous = true })
}
