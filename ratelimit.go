package wssync

import (
	"slices"
	"sync"
	"time"
)

// tokenBucket limits a rate: of inbound frames (one token each), or of bytes. Its owner
// serializes the calls.
type tokenBucket struct {
	rate   float64 // tokens per second; 0 disables the limit
	burst  float64
	tokens float64
	last   time.Time
}

func newTokenBucket(rate float64, burst int) tokenBucket {
	return tokenBucket{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

func (b *tokenBucket) refill(now time.Time) {
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
}

// allow takes one token at time now and reports whether there was one.
func (b *tokenBucket) allow(now time.Time) bool { return b.take(now, 1) }

// take takes n tokens at time now and reports whether it could. A request larger than
// the burst is granted when the bucket is full, and leaves it in debt.
func (b *tokenBucket) take(now time.Time, n int) bool {
	if b.rate <= 0 {
		return true
	}
	b.refill(now)
	if b.tokens < min(float64(n), b.burst) {
		return false
	}
	b.tokens -= float64(n)
	return true
}

// wait is how long after the last refill take(n) would succeed.
func (b *tokenBucket) wait(n int) time.Duration {
	need := min(float64(n), b.burst) - b.tokens
	if need <= 0 || b.rate <= 0 {
		return 0
	}
	return time.Duration(need / b.rate * float64(time.Second))
}

// full reports whether the bucket has refilled its whole burst (as of the last take).
func (b *tokenBucket) full() bool { return b.rate <= 0 || b.tokens >= b.burst-1 }

// resyncBudget bounds the bytes of the `_SET` frames a client can make a connection send
// by asking (`_GET`, or a refused write, which is answered with the authoritative state):
// a byte bucket of resyncPerSecond with bursts of resyncBurst, each `_SET` charged the size
// of the state when it is granted. A request over the budget is not refused: its key waits
// in pending, in request order, and gets one `_SET` when the budget allows; further
// requests for a waiting key are merged into it. So over any t seconds a connection sends
// at most resyncBurst + t×resyncPerSecond bytes of requested `_SET`s, plus one state.
type resyncBudget struct {
	mu      sync.Mutex
	bucket  tokenBucket
	pending []*object   // keys waiting for the budget, in request order
	timer   *time.Timer // fires when the first pending key fits, calling grant
	stopped bool
}

func (b *resyncBudget) init(perSecond float64, burst int, grant func()) {
	b.bucket = newTokenBucket(perSecond, burst)
	b.timer = time.AfterFunc(time.Hour, grant)
	b.timer.Stop()
}

// stop ends the budget with its connection: nothing pending is sent.
func (b *resyncBudget) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopped = true
	b.pending = nil
	b.timer.Stop()
}

// stateSize is the size of o's published state, the charge of one `_SET` of it.
func stateSize(o *object) int {
	o.pub.Lock()
	defer o.pub.Unlock()
	return o.size()
}

// requestResync queues a `_SET` of o that the client asked for (`_GET:KEY`) or that
// answers its refused write, within the connection's resync budget.
func (c *conn) requestResync(o *object) {
	b := &c.resyncs
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped || slices.Contains(b.pending, o) {
		return // the waiting _SET will carry the state as it is when it is sent
	}
	if c.q.moveResync(o) {
		return // a _SET of o is queued and not yet written: it now follows what was queued since
	}
	n := stateSize(o)
	if len(b.pending) == 0 && b.bucket.take(time.Now(), n) {
		c.q.resync(o)
		return
	}
	b.pending = append(b.pending, o)
	c.sess.metrics.resyncsHeld.Add(1)
	if len(b.pending) == 1 {
		b.bucket.refill(time.Now())
		b.timer.Reset(b.bucket.wait(n))
	}
}

// grantResyncsLater is the resync budget's timer: it grants what the budget allows now,
// unless the connection has ended.
func (c *conn) grantResyncsLater() {
	if !c.work.enter() {
		return
	}
	defer c.work.leave()
	c.grantResyncs()
}

// grantResyncs queues the pending `_SET`s the budget allows now, and sets the timer for
// the rest.
func (c *conn) grantResyncs() {
	b := &c.resyncs
	b.mu.Lock()
	defer b.mu.Unlock()
	for !b.stopped && len(b.pending) > 0 {
		o := b.pending[0]
		if !c.sess.holds(o) {
			b.pending = b.pending[1:] // unregistered or left meanwhile
			continue
		}
		n := stateSize(o)
		if !b.bucket.take(time.Now(), n) {
			b.timer.Reset(b.bucket.wait(n))
			return
		}
		b.pending = b.pending[1:]
		c.q.resync(o)
	}
}

// holds reports whether o is registered in s.
func (s *Session) holds(o *object) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.objects[o.key] == o
}
