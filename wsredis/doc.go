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
//	wssync:{KEY}:changes            channel: "<version> <patch>" for every commit
//	wssync:session:{ID}             hash: _user, _gen, "o:<object key>" → "<version> <state>"
//	                                (_user alone from BindSession on: the session's binding)
//	wssync:sessions:claims          channel: "<byte length of ID> <ID><byte length of user>
//	                                <user><claimant>" for every ClaimSession (one channel
//	                                for all sessions)
//	wssync:events                   channel: every addressed message (PublishEvent), as
//	                                wssync encodes it (one channel for all messages)
//	wssync:presence:{ROOM}:expiry   sorted set: entry id, score = expiry (ms, Redis's clock)
//	wssync:presence:{ROOM}:data     hash: entry id → data
//	wssync:presence:{ROOM}:changes  channel: "set" or "remove" when entries changed
//
// The braces are Redis Cluster hash tags, so all keys of one object, session or room live
// in one slot. Object keys, session ids and rooms go in as they are, except that an empty
// one, or one starting with '}' or '\', gets a '\' in front (Redis would ignore an empty
// tag). The claims and events channels have no hash tag: in a Redis Cluster, PUBLISH reaches the
// subscribers on every node whatever the channel's slot. Objects never expire; session
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
// call at a time. Subscribe returns once Redis confirmed the subscription (at most
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
// goroutine: they must return quickly and must not call their own stop function. Close
// stops that goroutine and waits for it; the caller closes the client afterwards.
//
// # Logging
//
// The backend writes no logs unless Options.Logger is set. Logger returns it (or a logger
// that discards everything), and wssync uses it for the objects attached to the backend.
package wsredis
