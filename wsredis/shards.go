package wsredis

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// shards carries the change feed over sharded pub/sub (Options.ShardedPubSub): each
// object's channel is a shard channel, which Redis Cluster keeps on the node that owns
// its slot (the commit script SPUBLISHes it there), and shards subscribes it on a hub of
// that node's own. So a Backend holds one Pub/Sub connection per primary it has
// subscribers on, each read by its goroutine, instead of one connection that hears every
// change of the cluster over the cluster bus.
//
// When a channel leaves its node (a slot migration or a failover: Redis sends an
// unrequested sunsubscribe, or answers SSUBSCRIBE with MOVED), its hub hands the
// subscribers back (moved), and shards subscribes them again where the cluster client
// says the slot is now, with backoff while that is still the old node; each gets Lost
// once it is live there. A hub that cannot connect asks shards to check its channels'
// owners (recheck), so that subscribers follow a failover to another address.
type shards struct {
	cluster *redis.ClusterClient // nil: a single server, one hub
	single  redis.UniversalClient
	log     *slog.Logger
	opts    Options

	mu       sync.Mutex
	closed   bool
	hubs     map[string]*hub // node address → its hub
	checking map[*hub]bool   // a recheck of the hub is running
	wg       sync.WaitGroup  // moves and rechecks
	lastMove time.Time       // when moved was last called
	streak   int             // moves less than a second apart, in a row
	ctx      context.Context // canceled by close
	cancel   context.CancelFunc
}

// routedSub is one subscription of the change feed; it follows its channel from hub to
// hub. mu orders stop and moves.
type routedSub struct {
	channel string
	handle  func(payload string, lost bool)

	mu      sync.Mutex
	stop    func() // of the subscription on the hub it is on now
	gen     int    // moves so far
	stopped bool
}

func newShards(client redis.UniversalClient, log *slog.Logger, opts Options) *shards {
	ctx, cancel := context.WithCancel(context.Background())
	s := &shards{single: client, log: log, opts: opts, hubs: make(map[string]*hub),
		checking: make(map[*hub]bool), ctx: ctx, cancel: cancel}
	s.cluster, _ = client.(*redis.ClusterClient)
	return s
}

// subscribe subscribes channel on the hub of the node that owns it, waiting like
// hub.subscribe.
func (s *shards) subscribe(channel string, handle func(payload string, lost bool)) (stop func()) {
	r := &routedSub{channel: channel, handle: handle}
	h := s.hubFor(channel)
	if h == nil {
		return func() {}
	}
	hstop := h.subscribeFor(channel, handle, r, false)
	r.mu.Lock()
	if r.gen == 0 {
		r.stop = hstop
	} // else it moved while subscribing: hstop belongs to a subscriber stopped already
	r.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.stopped = true
			if r.stop != nil {
				r.stop()
			}
		})
	}
}

// hubFor returns the hub of the node that owns channel's slot, made on first use, or nil
// once closed. When the cluster client cannot tell (no node answers), it returns the hub
// of any node it knows; the hub's SSUBSCRIBE then meets MOVED or the hub fails to connect,
// and either way the subscriber is routed again.
func (s *shards) hubFor(channel string) *hub {
	var client *redis.Client
	addr := ""
	if s.cluster != nil {
		// one OpTimeout in all for asking the cluster client
		ctx, cancel := context.WithTimeout(s.ctx, s.opts.OpTimeout)
		c, err := s.cluster.MasterForKey(ctx, channel)
		if err != nil {
			s.log.Debug("wsredis: no node known for a shard channel yet", "channel", channel, "err", err)
			c = s.anyNode(ctx)
		}
		cancel()
		if c != nil {
			client, addr = c, c.Options().Addr
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	if h := s.hubs[addr]; h != nil {
		return h
	}
	h := newHub(s.single, s.log, s.opts)
	if client != nil {
		h.newPubSub = func(ctx context.Context) *redis.PubSub { return client.Subscribe(ctx) }
	}
	// A cluster client could not route: the single client's PubSub (any node) will
	// answer MOVED for each slot, and its subscribers move on.
	h.sharded = true
	h.moved = s.moved
	if s.cluster != nil {
		h.dialFailed = func() { s.recheck(h) }
	}
	s.hubs[addr] = h
	return h
}

// anyNode returns the client of some primary the cluster client knows, or nil.
func (s *shards) anyNode(ctx context.Context) *redis.Client {
	var found *redis.Client
	var once sync.Once
	_ = s.cluster.ForEachMaster(ctx, func(_ context.Context, c *redis.Client) error {
		once.Do(func() { found = c })
		return nil
	})
	return found
}

// moved subscribes again, on another goroutine, subscribers a hub handed back. Moves
// that follow each other within a second wait first, with backoff, so that a view of the
// cluster that still names the old node does not bounce them between two nodes at full
// speed.
func (s *shards) moved(owners []*routedSub) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if time.Since(s.lastMove) < time.Second {
		s.streak++
	} else {
		s.streak = 0
	}
	s.lastMove = time.Now()
	wait := time.Duration(0)
	if s.streak > 0 {
		wait = backoff(s.opts, min(s.streak, 32))
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if s.cluster != nil {
			s.cluster.ReloadState(s.ctx) // starts a reload; a first attempt may still see the old owner
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-s.ctx.Done():
				t.Stop()
				return
			}
		}
		for _, r := range owners {
			s.resubscribe(r)
		}
	}()
}

// resubscribe subscribes r on the hub that owns its channel now; it gets Lost once it is
// live there.
func (s *shards) resubscribe(r *routedSub) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return
	}
	r.gen++ // the first stop, if subscribe has not stored it yet, is stale
	h := s.hubFor(r.channel)
	if h == nil {
		r.stop = nil
		return
	}
	r.stop = h.subscribeFor(r.channel, r.handle, r, true)
}

// recheck asks, after h failed to connect, which node owns each of h's channels, and moves
// those that another node owns now (a failover to a replica at another address). One runs
// at a time per hub.
func (s *shards) recheck(h *hub) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.checking[h] {
		return
	}
	s.checking[h] = true
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			delete(s.checking, h)
			s.mu.Unlock()
		}()
		s.cluster.ReloadState(s.ctx)
		elsewhere := make(map[string]bool)
		for _, c := range h.channels() {
			ctx, cancel := context.WithTimeout(s.ctx, s.opts.OpTimeout)
			owner, err := s.cluster.MasterForKey(ctx, c)
			cancel()
			if err == nil && s.hubOf(owner.Options().Addr) != h {
				elsewhere[c] = true
			}
		}
		if len(elsewhere) > 0 {
			h.release(nil, func(c string) bool { return elsewhere[c] })
		}
	}()
}

func (s *shards) hubOf(addr string) *hub {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hubs[addr]
}

// close closes every hub and waits for moves in progress.
func (s *shards) close() {
	s.mu.Lock()
	s.closed = true
	hubs := make([]*hub, 0, len(s.hubs))
	for _, h := range s.hubs {
		hubs = append(hubs, h)
	}
	s.mu.Unlock()
	s.cancel()
	for _, h := range hubs {
		h.close()
	}
	s.wg.Wait()
}
