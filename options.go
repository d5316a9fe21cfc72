package wssync

import (
	"log/slog"
	"net/http"
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
	logger          *slog.Logger
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
// request whose Origin header is absent or matches its Host (same origin).
func WithCheckOrigin(f func(r *http.Request) bool) Option {
	return func(c *config) { c.checkOrigin = f }
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
