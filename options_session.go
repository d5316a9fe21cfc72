package wssync

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults of the connection settings, the fields of Limits.
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
)

// config holds a session's settings, and a Manager's: a Manager applies its connection
// settings to every session it builds. Options set it; newConfig starts from the defaults.
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
	backlogMessages int
	backlogBytes    int
	observer        *Observer // WithObserver; nil without one
	compressMin     int       // WithCompression; negative: permessage-deflate off

	// Manager settings, set only by ManagerOptions.
	auth                 func(r *http.Request) (Identity, error)
	tokenRefresh         func(ctx context.Context, token string) (Identity, error)
	sessionTTL           time.Duration
	maxSessions          int
	maxConnsPerUser      int
	handshakeTimeout     time.Duration
	maxPendingHandshakes int
	anonymous            bool
	detach               bool // WithDetachedConnections
	sessionStore         SessionStore
	eventBus             EventBus
}

func defaultConfig() config {
	return config{
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
		backlogMessages: DefaultBacklogMessages,
		backlogBytes:    DefaultBacklogBytes,
		compressMin:     DefaultCompressionThreshold,

		sessionTTL:           DefaultSessionTTL,
		maxSessions:          DefaultMaxSessions,
		maxConnsPerUser:      DefaultMaxConnsPerUser,
		handshakeTimeout:     DefaultHandshakeTimeout,
		maxPendingHandshakes: DefaultMaxPendingHandshakes,
	}
}

// SessionOption changes a connection setting: the limits, the origin check, the logger.
// NewSession takes SessionOptions only; a Manager accepts them too (a SessionOption is a
// ManagerOption) and applies them to every session it builds. Options apply in order.
type SessionOption func(*config)

func (o SessionOption) applyManager(c *config) { o(c) }

func newSessionConfig(opts []SessionOption) config {
	c := defaultConfig()
	for _, o := range opts {
		o(&c)
	}
	return c
}

// Limits bounds what one connection may cost. A zero field keeps its default (the
// Default* constant named beside it); a negative RatePerSecond or ResyncPerSecond turns
// that limit off. Pass it with WithLimits.
type Limits struct {
	// ReadLimit is the largest inbound frame in bytes (DefaultReadLimit, 1 MiB). A larger
	// frame closes the connection with CloseMessageTooBig.
	ReadLimit int64
	// PingInterval is how often the server pings (DefaultPingInterval, 25s); PongTimeout
	// how long it waits for any frame or pong before it drops the connection as dead
	// (DefaultPongTimeout, 60s). PongTimeout should exceed PingInterval.
	PingInterval, PongTimeout time.Duration
	// WriteTimeout bounds one frame write (DefaultWriteTimeout, 10s); a client that does
	// not take a frame in that time is dropped.
	WriteTimeout time.Duration
	// MaxQueuedFrames and MaxQueuedBytes bound each connection's outbound queue
	// (DefaultMaxQueuedFrames, 256, and DefaultMaxQueuedBytes, 4 MiB). When a client falls
	// behind, its queued patches for a key are replaced by one fresh _SET; if other frames
	// alone exceed the bounds, the connection is closed with CloseSlowConsumer.
	MaxQueuedFrames, MaxQueuedBytes int
	// MaxBadFrames is how many refused frames in a row (malformed, unknown events, refused
	// writes) a connection may send before it is closed with ClosePolicyViolation
	// (DefaultMaxBadFrames, 32).
	MaxBadFrames int
	// RatePerSecond and RateBurst bound the inbound frames of each connection, sustained
	// and at once (DefaultRatePerSecond, 500, and DefaultRateBurst, 1000). A frame over the
	// limit is dropped. The first drop of an overload is answered with one CodeRateLimited
	// error; a client that has more than RateBurst frames dropped before it has kept under
	// the rate long enough to refill its burst is closed with CloseRateLimited.
	RatePerSecond float64
	RateBurst     int
	// ResyncPerSecond and ResyncBurst bound the bytes of the `_SET` frames a client can
	// make its connection send by asking (DefaultResyncPerSecond, 1 MiB/s, and
	// DefaultResyncBurst, 4 MiB): a `_SET` answering `_GET:KEY` or a refused write is
	// charged the size of the state. A request over the budget is not refused: its `_SET`
	// is sent as soon as the budget allows, and further requests for that key meanwhile
	// are merged into it. Over any t seconds a connection sends at most
	// ResyncBurst + t×ResyncPerSecond bytes of requested `_SET`s, plus one state.
	ResyncPerSecond float64
	ResyncBurst     int
}

// WithLimits sets the connection limits that l's non-zero fields name; the others keep
// their values.
func WithLimits(l Limits) SessionOption {
	return func(c *config) {
		setPositive(&c.readLimit, l.ReadLimit)
		setPositive(&c.pingInterval, l.PingInterval)
		setPositive(&c.pongTimeout, l.PongTimeout)
		setPositive(&c.writeTimeout, l.WriteTimeout)
		setPositive(&c.maxQueuedFrames, l.MaxQueuedFrames)
		setPositive(&c.maxQueuedBytes, l.MaxQueuedBytes)
		setPositive(&c.maxBadFrames, l.MaxBadFrames)
		setRate(&c.ratePerSecond, l.RatePerSecond)
		setPositive(&c.rateBurst, l.RateBurst)
		setRate(&c.resyncPerSecond, l.ResyncPerSecond)
		setPositive(&c.resyncBurst, l.ResyncBurst)
	}
}

// setPositive sets *dst to v when v is positive: zero (and nonsense) keeps the setting.
func setPositive[N int | int64 | time.Duration](dst *N, v N) {
	if v > 0 {
		*dst = v
	}
}

// setRate sets a rate: zero keeps it, a negative value turns the limit off (rate 0).
func setRate(dst *float64, v float64) {
	switch {
	case v > 0:
		*dst = v
	case v < 0:
		*dst = 0
	}
}

// WithCheckOrigin replaces the origin check of the WebSocket upgrade. The default accepts a
// request whose Origin header is absent or matches its Host (same origin), plus the origins
// given to WithAllowedOrigins.
func WithCheckOrigin(f func(r *http.Request) bool) SessionOption {
	return func(c *config) { c.checkOrigin = f }
}

// WithAllowedOrigins accepts WebSocket upgrades from these origins (e.g.
// "https://app.example.com") besides the same origin.
func WithAllowedOrigins(origins ...string) SessionOption {
	return func(c *config) { c.origins = append(c.origins, origins...) }
}

// WithLogger sets where the session (or every session of a Manager, and the Manager
// itself) logs refused input and connection failures. The default logs nothing.
func WithLogger(l *slog.Logger) SessionOption {
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
