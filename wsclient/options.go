package wsclient

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// Option configures Dial.
type Option func(*config)

type config struct {
	user, session string
	header        http.Header
	token         func(ctx context.Context) (string, error)
	tokenProto    bool
	noResume      bool
	logger        *slog.Logger
	backoff       Backoff
	readTimeout   time.Duration
	dialTimeout   time.Duration
}

const (
	// defaultReadTimeout: a wssync server pings every 25 s by default; a connection that
	// delivers nothing, not even a ping, for this long is taken for dead.
	defaultReadTimeout = 90 * time.Second
	defaultDialTimeout = 10 * time.Second
	writeTimeout       = 10 * time.Second
)

func newConfig(opts []Option) config {
	c := config{readTimeout: defaultReadTimeout, dialTimeout: defaultDialTimeout}
	for _, o := range opts {
		if o != nil { // a nil option is ignored, not a panic
			o(&c)
		}
	}
	c.backoff = c.backoff.withDefaults()
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// WithIdentity sets the ids the client answers the server's `_REQUEST_USER_SESSION`
// handshake with, as ws-sync-react's wsAuth does: the same ids on every reconnect, so the
// client gets its session back. Without it the client draws a random user and session id
// at Dial and keeps them for its lifetime. A server with an auth hook ignores the user
// and takes only the session id.
func WithIdentity(user, session string) Option {
	return func(c *config) { c.user, c.session = user, session }
}

// WithHeader sets HTTP headers sent with every upgrade request (a cookie, an
// Authorization header, an Origin).
func WithHeader(h http.Header) Option {
	return func(c *config) { c.header = h.Clone() }
}

// WithTokenSource sets a function called before every connection attempt, and when the
// server announces that the identity expires (`_AUTH_EXPIRING` with refresh), for a fresh
// bearer token. The token travels as `Authorization: Bearer TOKEN` on the upgrade (or as
// a subprotocol, WithTokenSubprotocol) and in `_AUTH` frames. An error from it counts as
// a failed attempt: the client retries with backoff. It must honour ctx.
func WithTokenSource(token func(ctx context.Context) (string, error)) Option {
	return func(c *config) { c.token = token }
}

// WithTokenSubprotocol sends the token as the subprotocol `wssync.bearer.TOKEN` beside
// `wssync`, as a browser must, instead of an Authorization header: for servers or proxies
// that only look there.
func WithTokenSubprotocol() Option { return func(c *config) { c.tokenProto = true } }

// WithLogger sets the logger of connection events (connects, disconnects with their close
// code, retries, refused frames). Default: none.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithBackoff bounds the full-jitter exponential backoff between reconnect attempts
// (default 250 ms doubling up to 30 s). The backoff starts again from Min after a
// connection that was identified.
func WithBackoff(b Backoff) Option { return func(c *config) { c.backoff = b } }

// WithReadTimeout sets how long a connection may stay silent (no frame, no ping from the
// server) before the client takes it for dead and reconnects (default 90 s; the server
// pings every 25 s by default).
func WithReadTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.readTimeout = d
		}
	}
}

// WithDialTimeout bounds each connection attempt, the upgrade included (default 10 s).
func WithDialTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.dialTimeout = d
		}
	}
}

// WithoutResume turns resume off: the client does not offer the subprotocol wssync.resume,
// sends no `_RESUME`, and every connection brings a `_SET` of every key. Use it against a
// server that refuses subprotocols it does not know, or to compare with resume.
func WithoutResume() Option { return func(c *config) { c.noResume = true } }
