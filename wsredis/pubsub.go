package wsredis

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wssync/wssync"
)

// Subscribe calls deliver with every change committed to key from now on, from the
// backend's goroutine, one call at a time and in version order, until stop is called.
// Every subscriber of the Backend shares that goroutine (with Options.ShardedPubSub, every
// subscriber of an object on the same primary): deliver must return quickly, and must
// not call its own stop, which waits for it.
//
// Subscribe blocks until Redis confirms the subscription, at most OpTimeout, so that a Load
// after it misses nothing. If Redis does not confirm it by then (it is unreachable),
// Subscribe returns anyway and the backend delivers Change{Lost: true} once the
// subscription is in place. Likewise after any interruption of the Pub/Sub connection: the
// backend subscribes again with backoff and then delivers Change{Lost: true} to every
// subscriber, which should reload.
//
// stop unsubscribes (the channel, when this was its last subscriber), waits for a running
// deliver call to return, and returns; deliver is not called after that. Calling stop more
// than once is harmless.
func (b *Backend) Subscribe(key string, deliver func(wssync.Change)) (stop func()) {
	return b.subscribeFeed(b.changesChannel(key), func(payload string, lost bool) {
		if lost {
			deliver(wssync.Change{Lost: true})
			return
		}
		v, patch, ok := parseMessage(payload)
		if !ok {
			b.log.Warn("wsredis: malformed message on a change channel; delivering Lost", "key", key, "message", payload)
			deliver(wssync.Change{Lost: true})
			return
		}
		deliver(wssync.Change{Version: v, Patch: patch})
	})
}

// subscribeFeed subscribes a channel of one object or room: a shard channel with
// Options.ShardedPubSub, else a channel of the Backend's one hub.
func (b *Backend) subscribeFeed(channel string, handle func(payload string, lost bool)) (stop func()) {
	if b.shards != nil {
		return b.shards.subscribe(channel, handle)
	}
	return b.hub.subscribe(channel, handle)
}

// hub multiplexes every subscription of a Backend over one go-redis PubSub, read by one
// goroutine (run) that the first subscription starts and close ends.
//
// It does not rely on go-redis's own reconnecting: when a read or a write on the PubSub
// fails, or a SUBSCRIBE confirmation arrives that the hub did not ask for (go-redis
// resubscribed on a new connection by itself), the hub closes that PubSub, opens a new one
// with backoff, subscribes every channel on it, and delivers Lost to every subscriber.
//
// A subscriber receives messages once it is live: the hub writes a PING with a numbered
// token after its SUBSCRIBE, and Redis answers in order, so the answer to token n means
// every channel subscribed before PING n is in place.
//
// Every write to the PubSub happens under mu, so the order of SUBSCRIBE, UNSUBSCRIBE and
// PING on the wire is the order of the hub's own bookkeeping.
type hub struct {
	newPubSub func(ctx context.Context) *redis.PubSub // an unconnected PubSub on the hub's server
	log       *slog.Logger
	opts      Options

	// sharded hubs subscribe with SSUBSCRIBE, one command per slot (Redis refuses one
	// whose channels are in different slots), and hand the subscribers of a channel that
	// left their server (an unrequested sunsubscribe, a MOVED reply) to moved, which runs
	// on run's goroutine and must not block. dialFailed, when set, is called after each
	// failed attempt to connect.
	sharded    bool
	moved      func(owners []*routedSub)
	dialFailed func()

	ctx    context.Context // canceled by close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the goroutine run
	buf    []*sub         // run's scratch list of subscribers to deliver to; run's only

	mu      sync.Mutex
	closed  bool
	started bool
	ps      *redis.PubSub            // in use; nil while connecting or backing off
	attempt chan struct{}            // closed when the connection in use or being made fails; nil while backing off
	subs    map[string]map[*sub]bool // channel → its subscribers
	pending map[string]int           // SUBSCRIBE confirmations expected on ps, per channel
	unsubs  map[string]int           // sharded: SUNSUBSCRIBE confirmations expected on ps, per channel
	seq     uint64                   // the last PING token written
	waiting []*sub                   // subscribers whose PING is unanswered, in token order
	first   uint64                   // the token written when ps was set up
	broken  time.Time                // when the connection broke; zero once it is back
}

// sub is one subscriber of a channel.
type sub struct {
	channel string
	handle  func(payload string, lost bool)
	owner   *routedSub // the routed subscription this one serves on a sharded hub; else nil

	// Guarded by hub.mu.
	token    uint64        // the PING answering for its subscription on ps; 0 for none
	live     bool          // its channel is subscribed on ps: messages are delivered
	returned bool          // subscribe returned: a gap from now on needs a Lost
	signaled bool          // ready is closed
	removed  bool          // stop was called
	ready    chan struct{} // closed when it is live before subscribe returned

	dmu     sync.Mutex // held while handle runs
	stopped bool       // guarded by dmu
}

// newHub returns a hub of plain SUBSCRIBE channels on client; in a Redis Cluster, the
// client picks any node, and PUBLISH reaches every node.
func newHub(client redis.UniversalClient, log *slog.Logger, opts Options) *hub {
	ctx, cancel := context.WithCancel(context.Background())
	return &hub{
		newPubSub: func(ctx context.Context) *redis.PubSub { return client.Subscribe(ctx) },
		log:       log,
		opts:      opts,
		ctx:       ctx,
		cancel:    cancel,
		subs:      make(map[string]map[*sub]bool),
	}
}

// subscribe adds a subscriber of channel and waits, at most OpTimeout, until it is live.
func (h *hub) subscribe(channel string, handle func(payload string, lost bool)) (stop func()) {
	return h.subscribeFor(channel, handle, nil, false)
}

// subscribeFor is subscribe for a subscriber that serves owner (nil on a broadcast hub).
// With gap set, it does not wait: the subscriber takes over from one that stopped, so it
// gets Lost once it is live, as after a broken connection.
func (h *hub) subscribeFor(channel string, handle func(payload string, lost bool), owner *routedSub, gap bool) (stop func()) {
	s := &sub{channel: channel, handle: handle, owner: owner, returned: gap, ready: make(chan struct{})}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return func() {}
	}
	set := h.subs[channel]
	if set == nil {
		set = make(map[*sub]bool)
		h.subs[channel] = set
	}
	set[s] = true
	var failed *redis.PubSub
	var err error
	switch {
	case !h.started:
		h.started = true
		h.attempt = make(chan struct{})
		h.wg.Add(1)
		go h.run() // it subscribes every channel, this one included
	case h.ps != nil:
		ctx, cancel := context.WithTimeout(h.ctx, h.opts.OpTimeout)
		if len(set) == 1 {
			h.pending[channel]++
			err = h.subscribeCmd(ctx, h.ps, channel)
		}
		if err == nil {
			err = h.pingLocked(ctx, s)
		}
		cancel()
		if err != nil {
			failed = h.breakLocked()
		}
	}
	wait := h.attempt // nil while backing off: Redis is known to be away
	if gap {
		wait = nil
	}
	h.mu.Unlock()
	h.closeBroken(failed, err)

	if wait != nil {
		t := time.NewTimer(h.opts.OpTimeout)
		select {
		case <-s.ready:
		case <-wait:
		case <-t.C:
		case <-h.ctx.Done():
		}
		t.Stop()
	}
	h.mu.Lock()
	s.returned = true
	h.mu.Unlock()

	var once sync.Once
	return func() { once.Do(func() { h.unsubscribe(s) }) }
}

// pingLocked writes a PING whose answer makes s live.
func (h *hub) pingLocked(ctx context.Context, s *sub) error {
	h.seq++
	s.token = h.seq
	h.waiting = append(h.waiting, s)
	return h.ps.Ping(ctx, strconv.FormatUint(h.seq, 10))
}

// unsubscribe removes s, unsubscribes its channel when s was the last subscriber, and
// waits for a running handle call of s to return.
func (h *hub) unsubscribe(s *sub) {
	h.mu.Lock()
	if s.removed {
		// Stopped before, or handed to another hub when its channel left this one
		// (release): the channel is not this subscriber's here any more, and an
		// SUNSUBSCRIBE now would be answered MOVED and leave its count in unsubs, which
		// would swallow Redis's own sunsubscribe of the channel after it came back.
		h.mu.Unlock()
		s.dmu.Lock()
		s.stopped = true
		s.dmu.Unlock()
		return
	}
	s.removed = true
	set := h.subs[s.channel]
	delete(set, s)
	var failed *redis.PubSub
	var err error
	if len(set) == 0 {
		delete(h.subs, s.channel)
		if h.ps != nil {
			ctx, cancel := context.WithTimeout(h.ctx, h.opts.OpTimeout)
			if h.sharded {
				h.unsubs[s.channel]++
				err = h.ps.SUnsubscribe(ctx, s.channel)
			} else {
				err = h.ps.Unsubscribe(ctx, s.channel)
			}
			cancel()
			if err != nil {
				failed = h.breakLocked()
			}
		}
	}
	h.mu.Unlock()
	h.closeBroken(failed, err)

	s.dmu.Lock()
	s.stopped = true
	s.dmu.Unlock()
}

// deliver calls s.handle unless s was stopped.
func (s *sub) deliver(payload string, lost bool) {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	if !s.stopped {
		s.handle(payload, lost)
	}
}

// breakLocked takes the PubSub in use out of service: no subscriber is live any more, and
// run will set up a new one. It returns the PubSub for closeBroken, or nil when there was
// none in use.
func (h *hub) breakLocked() *redis.PubSub {
	ps := h.ps
	if ps == nil {
		return nil
	}
	h.ps = nil
	if h.attempt != nil {
		close(h.attempt)
		h.attempt = nil
	}
	h.pending = nil
	h.unsubs = nil
	h.waiting = nil
	for _, set := range h.subs {
		for s := range set {
			s.live = false
			s.token = 0
		}
	}
	if h.broken.IsZero() {
		h.broken = time.Now()
	}
	return ps
}

// closeBroken closes a PubSub that breakLocked took out of service, outside mu (go-redis
// may hold the PubSub's lock while it dials), and logs why. The goroutine run, reading
// it, gets an error and sets up a new one.
func (h *hub) closeBroken(ps *redis.PubSub, err error) {
	if ps == nil {
		return
	}
	_ = ps.Close()
	h.log.Warn("wsredis: subscription connection broken; subscribing again", "err", err)
}

// close ends run and makes every later subscribe a no-op.
func (h *hub) close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		h.wg.Wait()
		return
	}
	h.closed = true
	ps := h.ps
	h.ps = nil
	if h.attempt != nil {
		close(h.attempt)
		h.attempt = nil
	}
	h.mu.Unlock()
	h.cancel()
	if ps != nil {
		_ = ps.Close()
	}
	h.wg.Wait()
}

// run sets up a PubSub, reads it until it breaks, and starts over, until close. After a
// connection that worked, the first new attempt is immediate; the next ones back off.
func (h *hub) run() {
	defer h.wg.Done()
	failures := 0
	for {
		if failures > 0 {
			wait := h.backoff(failures)
			h.log.Debug("wsredis: subscribing again", "attempt", failures+1, "wait", wait)
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-h.ctx.Done():
				t.Stop()
				return
			}
		}
		ps, err := h.dial()
		switch {
		case ps != nil:
			if h.read(ps) {
				failures = 0
			} else {
				failures++
			}
		case err != nil:
			failures++
			if h.dialFailed != nil {
				h.dialFailed()
			}
			h.mu.Lock()
			initial := h.broken.IsZero()
			h.mu.Unlock()
			if initial && failures == 1 {
				h.log.Warn("wsredis: cannot subscribe; retrying", "err", err)
			} else {
				h.log.Debug("wsredis: subscribing failed", "attempt", failures, "err", err)
			}
		default:
			return // closed
		}
	}
}

// backoff returns the wait before attempt n ≥ 1: full jitter over MinBackoff·2ⁿ⁻¹, capped
// at MaxBackoff.
func (h *hub) backoff(n int) time.Duration { return backoff(h.opts, n) }

// backoff returns a wait of full jitter over opts.MinBackoff·2ⁿ⁻¹, capped at
// opts.MaxBackoff, for attempt n ≥ 1.
func backoff(opts Options, n int) time.Duration {
	limit := opts.MaxBackoff
	if n < 32 {
		limit = min(limit, opts.MinBackoff<<(n-1))
	}
	if limit <= 0 {
		limit = opts.MaxBackoff
	}
	return rand.N(limit) + 1
}

// dial makes one attempt at setting up a PubSub: it connects, subscribes every channel and
// writes the PING whose answer makes every subscriber live. It returns nil and nil when
// the hub is closed.
func (h *hub) dial() (*redis.PubSub, error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, nil
	}
	if h.attempt == nil {
		h.attempt = make(chan struct{})
	}
	h.mu.Unlock()

	ctx, cancel := context.WithTimeout(h.ctx, h.opts.OpTimeout)
	defer cancel()
	ps := h.newPubSub(h.ctx) // no channel: it connects on first use
	// Connect outside mu, which subscribe and stop need; run reads the answer.
	err := ps.Ping(ctx, "connect")
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		_ = ps.Close()
		return nil, nil
	}
	if err == nil {
		channels := make([]string, 0, len(h.subs))
		for c := range h.subs {
			channels = append(channels, c)
		}
		if len(channels) > 0 {
			err = h.subscribeCmd(ctx, ps, channels...)
		}
		if err == nil {
			h.seq++
			err = ps.Ping(ctx, strconv.FormatUint(h.seq, 10))
		}
		if err == nil {
			h.ps = ps
			h.first = h.seq
			h.pending = make(map[string]int, len(channels))
			h.unsubs = make(map[string]int)
			h.waiting = h.waiting[:0]
			for _, c := range channels {
				h.pending[c] = 1
				for s := range h.subs[c] {
					s.token = h.seq
					h.waiting = append(h.waiting, s)
				}
			}
			h.mu.Unlock()
			return ps, nil
		}
	}
	close(h.attempt)
	h.attempt = nil
	h.mu.Unlock()
	_ = ps.Close()
	return nil, err
}

// read handles what arrives on ps until ps fails or is closed. It reports whether Redis
// answered the PING written when ps was set up.
func (h *hub) read(ps *redis.PubSub) (worked bool) {
	pinged := false // a health PING is unanswered
	for {
		h.mu.Lock()
		timeout := h.opts.HealthInterval
		if len(h.waiting) > 0 {
			timeout = h.opts.OpTimeout
		}
		h.mu.Unlock()
		msg, err := ps.ReceiveTimeout(h.ctx, timeout)
		if err != nil {
			if n, ok := movedSlot(err); ok && h.sharded {
				// SSUBSCRIBE or SUNSUBSCRIBE of a channel whose slot is elsewhere now;
				// the connection is fine.
				h.release(ps, func(c string) bool { return slot(c) == n })
				continue
			}
			if isTimeout(err) && !pinged {
				pinged = true
				if err = h.healthPing(ps); err == nil {
					continue
				}
			}
			h.fail(ps, err)
			return worked
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Message:
			h.dispatch(ps, m.Channel, m.Payload)
		case *redis.Pong:
			if h.answered(ps, m.Payload) {
				worked = true
			}
		case *redis.Subscription:
			switch m.Kind {
			case "subscribe", "ssubscribe":
				if !h.expected(ps, m.Channel) {
					h.fail(ps, errors.New("go-redis subscribed again on a new connection"))
					return worked
				}
			case "sunsubscribe":
				if !h.unsubscribed(ps, m.Channel) {
					// Redis dropped the channel: its slot moved to another node.
					h.release(ps, func(c string) bool { return c == m.Channel })
				}
			}
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// healthPing writes a PING that makes the connection answer something.
func (h *hub) healthPing(ps *redis.PubSub) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ps != h.ps {
		return errors.New("connection replaced")
	}
	ctx, cancel := context.WithTimeout(h.ctx, h.opts.OpTimeout)
	defer cancel()
	return ps.Ping(ctx, "health")
}

// fail takes ps out of service after err, unless close or a writer did already.
func (h *hub) fail(ps *redis.PubSub, err error) {
	h.mu.Lock()
	var failed *redis.PubSub
	if ps == h.ps && !h.closed {
		failed = h.breakLocked()
	}
	h.mu.Unlock()
	if failed == nil {
		_ = ps.Close() // taken out of service by someone else, who logged
		return
	}
	h.closeBroken(failed, err)
}

// expected counts a SUBSCRIBE confirmation for channel on ps against the SUBSCRIBEs
// written, and reports false for one the hub did not write.
func (h *hub) expected(ps *redis.PubSub, channel string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ps != h.ps {
		return true // ps is out of service already
	}
	if h.pending[channel] == 0 {
		return false
	}
	h.pending[channel]--
	if h.pending[channel] == 0 {
		delete(h.pending, channel)
	}
	return true
}

// dispatch delivers a message to the live subscribers of channel.
func (h *hub) dispatch(ps *redis.PubSub, channel, payload string) {
	h.mu.Lock()
	if ps != h.ps {
		h.mu.Unlock()
		return
	}
	targets := h.buf[:0]
	for s := range h.subs[channel] {
		if s.live {
			targets = append(targets, s)
		}
	}
	h.mu.Unlock()
	for _, s := range targets {
		s.deliver(payload, false)
	}
	clear(targets)
	h.buf = targets[:0]
}

// answered handles the answer to a PING: token n makes every subscriber with a token up to
// n live, and delivers Lost to those that subscribe already returned for. It reports
// whether the answer covers the PING written when ps was set up.
func (h *hub) answered(ps *redis.PubSub, payload string) (setUp bool) {
	n, err := strconv.ParseUint(payload, 10, 64)
	if err != nil {
		return false // "connect" or "health"
	}
	h.mu.Lock()
	if ps != h.ps {
		h.mu.Unlock()
		return false
	}
	lost := h.buf[:0]
	i := 0
	for ; i < len(h.waiting) && h.waiting[i].token <= n; i++ {
		s := h.waiting[i]
		h.waiting[i] = nil
		if s.removed || s.token == 0 {
			continue
		}
		s.live = true
		switch {
		case s.returned:
			lost = append(lost, s)
		case !s.signaled:
			s.signaled = true
			close(s.ready)
		}
	}
	h.waiting = h.waiting[i:]
	setUp = n >= h.first
	var down time.Duration
	if setUp && !h.broken.IsZero() {
		down = time.Since(h.broken)
		h.broken = time.Time{}
	}
	h.mu.Unlock()
	if down > 0 {
		h.log.Info("wsredis: subscription connection restored; delivering Lost to every subscriber",
			"down", down.Round(time.Millisecond), "subscribers", len(lost))
	}
	for _, s := range lost {
		s.deliver("", true)
	}
	clear(lost)
	h.buf = lost[:0]
	return setUp
}
