package wssync

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults of the connection settings. Each Option documents the one it changes.
const (
	DefaultReadLimit       = 1 << 20          // 1 MiB per inbound frame
	DefaultPingInterval    = 25 * time.Second // a ping this often
	DefaultPongTimeout     = 60 * time.Second // no frame or pong for this long: the peer is dead
	DefaultWriteTimeout    = 10 * time.Second // one frame write may block this long
	DefaultMaxQueuedFrames = 256              // outbound frames queued per connection
	DefaultMaxQueuedBytes  = 4 << 20          // outbound bytes queued per connection
	DefaultMaxBadFrames    = 32               // consecutive refused frames before a 1008 close
	DefaultRatePerSecond   = 500              // inbound frames per second per connection, sustained
	DefaultRateBurst       = 1000             // inbound frames per connection in a burst
	DefaultResyncPerSecond = 1 << 20          // bytes of client-requested _SETs per second per connection, sustained
	DefaultResyncBurst     = 4 << 20          // bytes of client-requested _SETs per connection in a burst

	DefaultSessionTTL       = 5 * time.Minute  // a Manager keeps a disconnected session this long
	DefaultMaxSessions      = 100_000          // sessions a Manager holds at most
	DefaultMaxConnsPerUser  = 32               // live connections per user identity
	DefaultHandshakeTimeout = 10 * time.Second // wait for _USER_SESSION after _REQUEST_USER_SESSION
)

// config holds a session's settings; its zero value is replaced field by field by the
// defaults above.
type config struct {
	readLimit       int64
	pingInterval    time.Duration
	pongTimeout     time.Duration
	writeTimeout    time.Duration
	maxQueuedFrames int
	maxQueuedBytes  int
	maxBadFrames    int
	checkOrigin     func(*http.Request) bool
	origins         []string
	logger          *slog.Logger
	ratePerSecond   float64
	rateBurst       int
	resyncPerSecond float64
	resyncBurst     int

	// Manager settings; a lone Session ignores them.
	auth             func(r *http.Request) (Identity, error)
	sessionTTL       time.Duration
	maxSessions      int
	maxConnsPerUser  int
	handshakeTimeout time.Duration
	anonymous        bool
	sessionStore     SessionStore

	maxPendingHandshakes int // WithMaxPendingHandshakes; 0 until NewManager applies the default
}

// Option changes a Session's settings. Options are applied in order by NewSession.
type Option func(*config)

func newConfig(opts []Option) config {
	c := config{
		readLimit:       DefaultReadLimit,
		pingInterval:    DefaultPingInterval,
		pongTimeout:     DefaultPongTimeout,
		writeTimeout:    DefaultWriteTimeout,
		maxQueuedFrames: DefaultMaxQueuedFrames,
		maxQueuedBytes:  DefaultMaxQueuedBytes,
		maxBadFrames:    DefaultMaxBadFrames,
		logger:          slog.New(slog.DiscardHandler),
		ratePerSecond:   DefaultRatePerSecond,
		rateBurst:       DefaultRateBurst,
		resyncPerSecond: DefaultResyncPerSecond,
		resyncBurst:     DefaultResyncBurst,

		sessionTTL:       DefaultSessionTTL,
		maxSessions:      DefaultMaxSessions,
		maxConnsPerUser:  DefaultMaxConnsPerUser,
		handshakeTimeout: DefaultHandshakeTimeout,
	}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// WithReadLimit sets the largest inbound frame in bytes (default DefaultReadLimit, 1 MiB).
// A larger frame closes the connection with 1009 (message too big).
func WithReadLimit(n int64) Option {
	return func(c *config) {
		if n > 0 {
			c.readLimit = n
		}
	}
}

// WithKeepalive sets how often the server pings (default 25s) and how long it waits for any
// frame or pong before it drops the connection as dead (default 60s). pongTimeout should
// exceed ping.
func WithKeepalive(ping, pongTimeout time.Duration) Option {
	return func(c *config) {
		if ping > 0 {
			c.pingInterval = ping
		}
		if pongTimeout > 0 {
			c.pongTimeout = pongTimeout
		}
	}
}

// WithWriteTimeout bounds one frame write (default 10s); a client that does not take a
// frame in that time is dropped.
func WithWriteTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.writeTimeout = d
		}
	}
}

// WithSendQueue bounds each connection's outbound queue in frames (default 256) and bytes
// (default 4 MiB). When a client falls behind, its queued patches for a key are replaced by
// one fresh _SET; if other frames alone exceed the bounds, the connection is closed with
// CloseSlowConsumer.
func WithSendQueue(frames, bytes int) Option {
	return func(c *config) {
		if frames > 0 {
			c.maxQueuedFrames = frames
		}
		if bytes > 0 {
			c.maxQueuedBytes = bytes
		}
	}
}

// WithMaxBadFrames sets how many refused frames in a row (malformed, unknown events,
// refused writes) a connection may send before it is closed with 1008 (default 32).
func WithMaxBadFrames(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxBadFrames = n
		}
	}
}

// WithCheckOrigin replaces the origin check of the WebSocket upgrade. The default accepts a
// request whose Origin header is absent or matches its Host (same origin), plus the origins
// given to WithAllowedOrigins.
func WithCheckOrigin(f func(r *http.Request) bool) Option {
	return func(c *config) { c.checkOrigin = f }
}

// WithAllowedOrigins accepts WebSocket upgrades from these origins (e.g.
// "https://app.example.com") besides the same origin.
func WithAllowedOrigins(origins ...string) Option {
	return func(c *config) { c.origins = append(c.origins, origins...) }
}

// WithRateLimit bounds the inbound frames of each connection: perSecond sustained, burst at
// once (defaults 500 and 1000; perSecond 0 turns the limit off). A frame over the limit is
// dropped. The first drop of an overload is answered with one CodeRateLimited error; a
// client that has more than burst frames dropped before it has kept under the rate long
// enough to refill its burst is closed with CloseRateLimited.
func WithRateLimit(perSecond float64, burst int) Option {
	return func(c *config) {
		c.ratePerSecond = perSecond
		if burst > 0 {
			c.rateBurst = burst
		}
	}
}

// WithResyncLimit bounds the bytes of the `_SET` frames a client can make its connection
// send by asking: a `_SET` answering `_GET:KEY` or a refused write is charged the size of
// the state, against a budget of perSecond bytes sustained with bursts of burst (defaults
// 1 MiB/s and 4 MiB; perSecond 0 turns the budget off). A request over the budget is not
// refused: its `_SET` is sent as soon as the budget allows, and further requests for that
// key meanwhile are merged into it. Over any t seconds a connection sends at most
// burst + t×perSecond bytes of requested `_SET`s, plus one state.
func WithResyncLimit(perSecond float64, burst int) Option {
	return func(c *config) {
		c.resyncPerSecond = perSecond
		if burst > 0 {
			c.resyncBurst = burst
		}
	}
}

// WithLogger sets where the session logs refused input and connection failures. The default
// logs nothing.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// originChecker builds the upgrade's origin check: same origin, or one of the allowed.
func (c *config) originChecker() func(*http.Request) bool {
	if c.checkOrigin != nil {
		return c.checkOrigin
	}
	allowed := append([]string(nil), c.origins...)
	return func(r *http.Request) bool {
		origin := r.Header.Get("Origin")
		if origin == "" {
			return true // not a browser: origin checks protect browsers' cookies
		}
		if u, err := url.Parse(origin); err == nil && strings.EqualFold(u.Host, r.Host) {
			return true
		}
		for _, a := range allowed {
			if strings.EqualFold(a, origin) {
				return true
			}
		}
		return false
	}
}

// WithAuth makes a Manager identify clients from the HTTP upgrade request (a cookie, a
// bearer token, a query token). auth returns the identity — User is required; with Session
// set, no handshake is needed; without it, the session id comes from the
// `_USER_SESSION` handshake and the session is bound to User. An error refuses the upgrade
// with 401, or 403 when it wraps ErrForbidden.
func WithAuth(auth func(r *http.Request) (Identity, error)) Option {
	return func(c *config) { c.auth = auth }
}

// WithSessionTTL sets how long a Manager keeps a disconnected session before closing it
// (default 5 minutes).
func WithSessionTTL(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.sessionTTL = d
		}
	}
}

// WithMaxSessions bounds the sessions a Manager holds (default 100,000). A connection that
// would create one more is closed with 1013 (try again later).
func WithMaxSessions(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxSessions = n
		}
	}
}

// WithMaxConnsPerUser bounds the live connections of one user identity (default 32): over
// it the upgrade is refused with 429 (auth hook) or the connection closed with 1008.
func WithMaxConnsPerUser(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxConnsPerUser = n
		}
	}
}

// WithHandshakeTimeout bounds the wait for `_USER_SESSION` (default 10s).
func WithHandshakeTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.handshakeTimeout = d
		}
	}
}

// WithAnonymousSessions skips the handshake: every connection without an authenticated
// session id gets a new session with a random id (like ws-sync without wsAuth). Such a
// session cannot be resumed by a reconnect; it expires after the TTL.
func WithAnonymousSessions() Option {
	return func(c *config) { c.anonymous = true }
}
