// Package wsredis implements wssync.Backend, wssync.SessionStore, wssync.EventBus and
// wspresence.Store on Redis with github.com/redis/go-redis/v9, so that several wssync
// processes behind a load balancer share objects, sessions, addressed messages and
// presence. It takes any go-redis client (its tests run against Redis 7.0, standalone and
// as a Redis Cluster).
//
//	client := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
//	backend := wsredis.New(client, wsredis.Options{Logger: slog.Default()})
//	defer backend.Close() // before client.Close
//
//	board, err := wssync.NewShared("BOARD", &Board{}, wssync.WithBackend(backend))
//	m := wssync.NewManager(factory, wssync.WithSessionStore(backend), wssync.WithEventBus(backend))
//	lobby, err := wspresence.New(backend, "lobby", "LOBBY")
//
// A process that serves no WebSocket sends addressed messages with NewPublisher and
// changes shared objects with wssync.UpdateShared on a Backend of its own; neither starts
// a goroutine.
//
// # Data
//
// Every key starts with Options.Prefix ("wssync:" by default):
//
//	wssync:{KEY}:state              hash: v (version), s (state), f (first version), o (origin), t (highest version of a forgotten ID)
//	wssync:{KEY}:log                list of "<version> <patch>", newest first, LogLength long
//	                                (the patches of the commits after the one that created KEY)
//	wssync:{KEY}:ids                sorted set: commit ID, score = the version it made ("x:"+ID: fenced), CommitIDs long
//	wssync:{KEY}:changes            channel: "<version> <patch>" for every commit (a shard
//	                                channel with Options.ShardedPubSub: SPUBLISH, SSUBSCRIBE)
//	wssync:session:{ID}             hash: _user, _gen, "o:<object key>" → "<version> <state>"
//	                                (_user alone from BindSession on: the session's binding)
//	wssync:sessions:claims          channel: "<byte length of ID> <ID><byte length of user>
//	                                <user><claimant>" for every ClaimSession (one channel
//	                                for all sessions; not used with Options.ShardedPubSub)
//	wssync:session:{ID}:claims      shard channel of the session's claims, as above, with
//	                                Options.ShardedPubSub (SPUBLISH, WatchSessionClaims)
//	wssync:events                   channel: every addressed message (PublishEvent), as
//	                                wssync encodes it (one channel for all messages)
//	wssync:presence:{ROOM}:expiry   sorted set: entry id, score = expiry (ms, Redis's clock)
//	wssync:presence:{ROOM}:data     hash: entry id → data
//	wssync:presence:{ROOM}:changes  channel: "set" or "remove" when entries changed (a shard
//	                                channel with Options.ShardedPubSub)
//
// The braces are Redis Cluster hash tags, so all keys of one object, session or room live
// in one slot. Object keys, session ids and rooms go in as they are, except that an empty
// one, or one starting with '}' or '\', gets a '\' in front (Redis would ignore an empty
// tag). The one claims channel and the events channel have no hash tag: in a Redis
// Cluster, PUBLISH reaches the subscribers on every node whatever the channel's slot. Objects never expire; session
// records expire after the TTL of their last write; presence keys a minute after their
// last entry.
//
// Every write is one Lua script, so it is atomic and takes one round trip: Commit checks
// the version, stores the state, appends the patch to the log and publishes it; SetPresence
// reads the time from Redis's clock, so the clocks of the nodes do not matter. Versions are
// kept as decimal strings.
//
// # Versions
//
// The commit that creates an object gives it, instead of version 1, the time of Redis's
// clock in microseconds since the Unix epoch (about 1.8e15 in 2027, below 2^53 until the
// year 2255); every later commit adds one. Redis without persistence comes back empty after
// a restart, and objects are created again: their new versions are above every version of
// their earlier incarnation (unless it made more than one commit per microsecond over its
// life, or Redis's clock went back), so a node that still holds an old version never takes
// a patch of the new incarnation for one that follows its state. Load from such an old
// version returns the whole state, and a commit based on it is a conflict. The patch of
// the commit that created an object is published but not kept in the log: it leads from
// nothing, and Load sends the state to a caller that has nothing.
//
// # Subscriptions
//
// A Backend holds one Pub/Sub connection, opened by the first Subscribe, WatchPresence,
// WatchClaims or SubscribeEvents, and one goroutine that reads it and calls every subscriber's function, one
// call at a time (with Options.ShardedPubSub, Subscribe and WatchPresence use the
// connections of Sharded pub/sub instead). Subscribe returns once Redis confirmed the subscription (at most
// Options.OpTimeout), so a Load after it misses nothing; so do WatchPresence and
// WatchClaims, so a claim published after WatchClaims returned reaches it.
//
// When the connection breaks (Redis restarts, a network failure, CLIENT KILL, a ping that
// gets no answer for Options.HealthInterval), the backend logs a warning, opens a new
// connection with exponential backoff and full jitter (Options.MinBackoff, MaxBackoff),
// subscribes every channel on it, logs that it is back, and delivers Change{Lost: true} to
// every subscriber and calls every presence watcher: messages published in between are
// gone, and the subscribers reload. Claim watchers just resume: a claim lost in between is
// not redelivered. It does not rely on go-redis's own silent reconnecting: a SUBSCRIBE
// confirmation it did not ask for counts as a break too.
//
// On a Redis Cluster with plain pub/sub, a change's PUBLISH runs on the primary that owns
// the object and crosses the cluster bus to the primaries the other nodes' connections are
// on; Redis drops it, with no sign to anyone, for a primary whose bus link is down at
// that moment. A later change reveals the gap by its version; for the last change before
// a quiet spell there is none. So on such a client the Backend asks each object to check
// its version after Options.CheckInterval without a delivery (wssync.VersionChecker,
// DefaultCheckInterval): one load script whose reply holds no state when nothing changed
// (TestVersionCheckCost). With ShardedPubSub the message never crosses the bus.
//
// # Sharded pub/sub
//
// With Options.ShardedPubSub, the commit script publishes each change with SPUBLISH
// instead of PUBLISH, and Subscribe uses SSUBSCRIBE; so do the presence scripts and
// WatchPresence, for a room's notices. An object's (or room's) channel shares the hash
// tag of its keys, so on a Redis Cluster the message leaves from the primary that owns the
// object and reaches only the subscribers connected to that primary: it does not cross
// the cluster bus to every other node, as a PUBLISH does (TestShardedPubSubTraffic
// measures both; see docs/scale-out.md). On one server it changes nothing but the
// commands.
//
// On a *redis.ClusterClient the Backend holds one Pub/Sub connection per primary that
// owns an object or room it subscribes to (not one per object), each opened through the cluster
// client's client for that primary, read by a goroutine of its own, and subscribed with
// one SSUBSCRIBE per slot. Subscribe asks the cluster client which primary owns the
// channel's slot first (at most OpTimeout more when it does not know the cluster yet). Everything in Subscriptions holds per connection: a broken one
// is set up again with backoff and its subscribers get Lost, the others are untouched.
// When an object's slot leaves its primary (a slot migration, a failover), Redis
// unsubscribes the channel there (an sunsubscribe the backend did not ask for) or answers
// SSUBSCRIBE with MOVED; the backend then subscribes the channel on the primary the cluster
// client names for the slot, retrying with backoff while it still names the old one, and
// delivers Lost once it is subscribed. A connection that cannot be set up makes the backend
// ask again which primary owns each of its channels, so subscribers follow a primary that
// moved to another address. During a migration, the changes committed on the new primary
// before the slot is handed over (CLUSTER SETSLOT … NODE) do not reach the subscribers
// still on the old one; the Lost after the handover covers them.
//
// It is an explicit option, not detected from the client, because every node must agree:
// a node that SUBSCRIBEs hears nothing a node SPUBLISHes, and the reverse. Switch all nodes
// at once, or bring the new setting up under a new Prefix. It needs Redis 7.0 or later.
//
// Claims go by session too (ClaimsBySession reports true): ClaimSession SPUBLISHes on the
// session's own channel, which shares the hash tag of its record, and a wssync.Manager
// watches each session it holds (WatchSessionClaims) instead of every claim, so a claim
// reaches the nodes that hold the session, not every node, and stays off the cluster bus
// (TestClaimsTraffic measures both ways; see docs/scale-out.md). Addressed messages
// (PublishEvent) stay on plain pub/sub: a ToUser or ToEveryone message is for whichever
// nodes serve its users, which no node knows.
//
// # Events
//
// PublishEvent is one PUBLISH on the events channel and returns what PUBLISH returns: the
// Redis connections subscribed to it, one per Backend that has SubscribeEvents callbacks
// (each node's Manager, with wssync.WithEventBus), which wssync reports as
// Delivery.Nodes. SubscribeEvents shares the Backend's one Pub/Sub connection, goroutine
// and reconnect logic (see Subscriptions). The guarantee is Redis Pub/Sub's:
//
//   - at most once per send: a node whose subscription is broken when the message is
//     published never gets it, and nothing is redelivered;
//   - a send that returned an error may still be delivered later, by a Redis that was
//     paused (or a network that held the command) and runs it when it resumes;
//   - the same Message sent again (same ID) is delivered once per node, since each node
//     drops an ID it delivered among its last wssync.DefaultSeenMessages: after an error,
//     send it again;
//   - the messages one sender sent one after another, each once and without error, reach
//     every node in that order (a message sent again may arrive after later ones).
//
// So send a message again (the same Message) when Send returns an error or
// Delivery.Nodes is lower than the other nodes you run: each node delivers it once.
// TestEventsThroughRedisFaults does so with a Redis paused and killed under three nodes,
// and counts duplicates (none) and losses (none of a message an attempt handed to every
// node).
//
// # Concurrency
//
// A Backend is safe for concurrent use. Load, Commit and the session and presence
// methods block for one round trip, bounded by their context or, when it has no deadline,
// by Options.OpTimeout. Deliver, changed and claimed functions run on the backend's
// goroutine (with Options.ShardedPubSub, a deliver or changed function runs on the
// goroutine of its object's or room's primary: the functions of objects on different
// primaries may run at the same time, those of one subscriber never do): they must return quickly and must not call
// their own stop function. Close stops every such goroutine and waits for them; the caller
// closes the client afterwards.
//
// # Logging
//
// The backend writes no logs unless Options.Logger is set. Logger returns it (or a logger
// that discards everything), and wssync uses it for the objects attached to the backend.
package wsredis
