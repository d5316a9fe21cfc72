package wsredis

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wssync/wssync"
)

var (
	_ wssync.Backend        = (*Backend)(nil)
	_ wssync.SessionStore   = (*Backend)(nil)
	_ wssync.VersionChecker = (*Backend)(nil)
)

// DefaultCheckInterval is Options.CheckInterval's default where Redis may drop a change's
// message with no sign: a Redis Cluster with plain pub/sub.
const DefaultCheckInterval = 10 * time.Second

// Options configures a Backend. The zero value works: every zero field takes the default
// written next to it.
type Options struct {
	// Prefix starts every Redis key and channel name the backend uses. Default "wssync:".
	// Backends that share a Redis server see each other's objects if and only if their
	// prefixes are equal. It must not contain '{' or '}', which would break the hash tags
	// that keep each object's keys in one Redis Cluster slot: New panics if it does.
	Prefix string

	// LogLength is how many of its latest patches each object keeps in Redis, so that Load
	// can send a node that is a few versions behind the patches instead of the whole state.
	// Default 64; negative keeps none (Load always returns the whole state).
	LogLength int

	// CommitIDs is how many of its latest commit IDs each object keeps in Redis, so that a
	// node whose commit timed out learns whether it landed (wssync.Backend's Outcome).
	// Default 1024; at least 1.
	CommitIDs int

	// Logger receives warnings when the subscription connection breaks and a message when
	// it is back. Default nil: the backend writes no logs.
	Logger *slog.Logger

	// MinBackoff and MaxBackoff bound the wait between attempts to subscribe again after
	// the subscription connection broke: attempt n waits a random time between 0 and
	// min(MaxBackoff, MinBackoff·2ⁿ) ("full jitter"). Defaults 100 ms and 5 s.
	MinBackoff time.Duration
	MaxBackoff time.Duration

	// OpTimeout bounds each Redis call whose context has no deadline, and how long
	// Subscribe, WatchPresence and WatchClaims wait for Redis to confirm the subscription.
	// Default 2 s. go-redis applies a context's deadline to the socket only when the client was made
	// with ContextTimeoutEnabled; otherwise its own ReadTimeout and WriteTimeout apply.
	OpTimeout time.Duration

	// HealthInterval is how long the subscription connection may stay silent before the
	// backend pings Redis over it; a ping unanswered for another HealthInterval counts as a
	// broken connection (a hung server or a silent network partition). Default 30 s.
	HealthInterval time.Duration

	// ShardedPubSub carries the change feed of shared objects (Commit, Subscribe) and
	// presence notices (SetPresence, RemovePresence, WatchPresence) over sharded pub/sub, Redis 7's SPUBLISH and SSUBSCRIBE, instead of PUBLISH and SUBSCRIBE.
	// On a Redis Cluster (a *redis.ClusterClient) each commit's message then stays on the
	// primary that owns the object or room, instead of crossing the cluster bus to every
	// node, and the Backend holds one Pub/Sub connection per primary that owns an object or
	// room it subscribes to (see the package documentation, Sharded pub/sub). With any other
	// client it uses one connection, as without it. Default false.
	//
	// Session claims go over sharded pub/sub too, each on its session's channel
	// (ClaimsBySession): a wssync.Manager then watches the sessions it holds instead of
	// every claim, and a claim reaches only the nodes that hold its session.
	//
	// Every node of a deployment must use the same setting: a sharded message does not
	// reach a plain subscriber, nor a plain one a sharded subscriber. It needs Redis 7 or
	// later (Commit fails with "unknown command" on Redis 6). Addressed messages
	// (PublishEvent) stay on plain pub/sub either way.
	ShardedPubSub bool

	// CheckInterval is how long a shared object may go without a delivered change before
	// its node asks Redis for the object's version (one Load of no state when nothing
	// changed), to catch up on a change whose message Redis dropped with no sign
	// (wssync.VersionChecker). A Redis Cluster does so with plain pub/sub: a PUBLISH
	// crosses the cluster bus, which drops it while the link between two cluster nodes is
	// down, and when that change was the object's last for a while, no later version
	// reveals the gap. Default DefaultCheckInterval with a *redis.ClusterClient and
	// ShardedPubSub off; otherwise none, since there a message reaches every live
	// subscription or the subscription breaks (and its subscribers reload). Negative: no
	// checks.
	CheckInterval time.Duration
}

func (o Options) withDefaults() Options {
	if o.Prefix == "" {
		o.Prefix = "wssync:"
	}
	if o.LogLength == 0 {
		o.LogLength = 64
	}
	if o.LogLength < 0 {
		o.LogLength = 0
	}
	if o.CommitIDs <= 0 {
		o.CommitIDs = 1024
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.OpTimeout <= 0 {
		o.OpTimeout = 2 * time.Second
	}
	if o.HealthInterval <= 0 {
		o.HealthInterval = 30 * time.Second
	}
	return o
}

// checkInterval resolves Options.CheckInterval for client.
func (o Options) checkInterval(client redis.UniversalClient) time.Duration {
	switch {
	case o.CheckInterval < 0:
		return 0
	case o.CheckInterval > 0:
		return o.CheckInterval
	}
	if _, cluster := client.(*redis.ClusterClient); cluster && !o.ShardedPubSub {
		return DefaultCheckInterval
	}
	return 0
}

// Backend is a wssync.Backend, wssync.SessionStore (and wssync.ClaimsBySession),
// wssync.EventBus and presence store (wspresence.Store) on Redis. Create it with New; it is safe for concurrent use. It
// holds one Pub/Sub connection of the client, opened by the first Subscribe,
// WatchPresence, WatchClaims or SubscribeEvents, and one goroutine reading it; with
// Options.ShardedPubSub, Subscribe and WatchPresence use one more connection and
// goroutine per Redis Cluster primary they subscribe on. Close ends them all.
type Backend struct {
	client redis.UniversalClient
	opts   Options
	log    *slog.Logger
	hub    *hub    // claims, events, presence; and the change feed unless sharded is set
	shards *shards // the change feed with Options.ShardedPubSub; else nil
	check  time.Duration
}

// New returns a Backend that stores its data through client, which the caller keeps
// owning: Close does not close it. New does not contact Redis.
//
// Every node of a deployment uses the same Options (above all Prefix and LogLength) and
// its own Backend; a client may be a *redis.Client, a *redis.ClusterClient or a
// failover client. New panics if opts.Prefix contains a brace, a programming error.
func New(client redis.UniversalClient, opts Options) *Backend {
	opts = opts.withDefaults()
	if !validPrefix(opts.Prefix) {
		panic("wsredis: Options.Prefix must not contain '{' or '}': " + opts.Prefix)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Backend{client: client, opts: opts, log: log, check: opts.checkInterval(client)}
	b.hub = newHub(client, log, opts)
	if opts.ShardedPubSub {
		b.shards = newShards(client, log, opts)
	}
	return b
}

// Logger returns the logger of Options, or a logger that discards everything when none
// was set; never nil.
func (b *Backend) Logger() *slog.Logger { return b.log }

// CheckInterval is Options.CheckInterval as resolved for the client: how long a shared
// object on the Backend may go without a delivered change before it checks its version in
// Redis; 0 for never (wssync.VersionChecker).
func (b *Backend) CheckInterval() time.Duration { return b.check }

// Close ends every subscription, presence watch and claim watch and waits for the
// backend's goroutine to return; no deliver, changed or claimed function is called after
// Close returns. Subscribe, WatchPresence and WatchClaims after Close return a stop
// function that does nothing. Close does not close the client. It is safe to call more
// than once.
func (b *Backend) Close() {
	if b.shards != nil {
		b.shards.close()
	}
	b.hub.close()
}

// opContext returns ctx bounded by OpTimeout when it has no deadline of its own.
func (b *Backend) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, b.opts.OpTimeout)
}
