package wssync

import (
	"slices"
	"sync"
	"time"
)

// maxRecent is how many sent patches a connection remembers for the echo of a write (see
// pushEcho): enough for a client that lags a busy object by a few hundred patches. The
// frames are shared with every connection that sent them; maxRecentBytes is the largest
// one kept (a larger one is remembered as touching any path).
//
// echoWindow is how long a sent patch may still be on its way to the client (see
// pushEcho): longer than a client that keeps up with its queue lags.
//
// maxEchoScanBytes bounds the bytes of patches one echo reads for their paths, so a client
// that stops reading and writes on does not make each write parse its whole queue; past
// it, a patch counts as touching any path (the echo then sends the written fields whole).
const (
	maxRecent        = 256
	maxRecentBytes   = 4 << 10
	maxEchoScanBytes = 256 << 10
	echoWindow       = 10 * time.Second
)

// outKind says what a queued item is.
type outKind uint8

const (
	outFrame  outKind = iota // an ordinary frame (error, result, toast, ...)
	outPatch                 // a _PATCH of obj; may be dropped in favour of a fresh _SET
	outResync                // send obj's current _SET here
)

type outItem struct {
	kind   outKind
	obj    *object
	f      *frame
	bin    []byte // a binary frame sent right after f (f is its _BIN_META)
	echo   bool   // an outPatch that is the echo of this client's own write
	idle   bool   // an echo with no ops: it changes nothing on the client
	onSent func() // called once f is written (task news, see tasknews.go); nil for most
}

// sentPatch is a patch a connection sent, remembered for the echo of a later write.
type sentPatch struct {
	obj *object
	f   *frame // nil: too big to keep, or a _SET (touches any path)
	at  time.Time
}

// outQueue is a connection's bounded outbound queue. Publishers push without blocking; the
// connection's writer goroutine pops. When the queue is over its limits, queued patches are
// replaced by one resync marker per key (the writer then sends a fresh _SET); if ordinary
// frames alone exceed the limits, push reports overflow and the connection is closed.
//
// It also tracks, per object, whether the client holds a base to apply patches to: patches
// are dropped until the client has been sent a _SET on this connection.
type outQueue struct {
	maxItems int
	maxBytes int
	metrics  *metrics

	mu      sync.Mutex
	items   []outItem
	head    int
	nFrames int // items counted against maxItems (not resync markers)
	bytes   int
	based   map[*object]bool // a _SET was sent; patches apply
	recent  []sentPatch      // the last patches popped (maxRecent), for pushEcho
	dropped time.Time        // when the newest patch dropped from recent was popped
	setSent map[*object]bool // a _SET of the object was popped on this connection
	closed  bool

	// The writer goroutine runs only while there is something to write: a push that wakes
	// (see pushPatch) starts one through start when none is writing, and it ends when it
	// finds the queue empty (endIfEmpty). Both happen under mu, so nothing is left queued
	// with no writer to take it.
	writing bool
	start   func() bool // starts the writer goroutine; false: the connection has ended
}

func newOutQueue(maxItems, maxBytes int, m *metrics) *outQueue {
	return &outQueue{
		maxItems: maxItems,
		maxBytes: maxBytes,
		metrics:  m,
		based:    make(map[*object]bool),
		setSent:  make(map[*object]bool),
	}
}

// startWriter lets the queue start its writer goroutine with start, and starts it for
// what is queued already. Until then pushes only queue (the connection is not live yet).
func (q *outQueue) startWriter(start func() bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.start = start
	q.signalLocked()
}

// signal makes sure a writer goroutine will write what is queued.
func (q *outQueue) signal() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.signalLocked()
}

// signalLocked starts the writer goroutine if something is queued and none is writing.
func (q *outQueue) signalLocked() {
	if q.writing || q.closed || q.head == len(q.items) || q.start == nil {
		return
	}
	q.writing = q.start()
}

// endIfEmpty ends the writer goroutine when nothing is queued, and reports whether it did;
// the writer then returns.
func (q *outQueue) endIfEmpty() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head < len(q.items) && !q.closed {
		return false
	}
	q.writing = false
	return true
}

// pushPatch queues a patch of o, or, when the queue is over its limits, replaces o's queued
// patches (and this one) by a single resync marker. With wake false the writer goroutine
// is not signalled for the patch: the caller is the connection's dispatcher, which drains
// the queue itself next (conn.flushInline), or signals the writer when it cannot.
func (q *outQueue) pushPatch(o *object, f *frame, wake bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || !q.based[o] {
		return // no base on the client yet: the coming _SET covers this change
	}
	if q.full(len(f.data)) {
		q.resyncLocked(o) // the queued _SET covers this patch and the ones it drops
		q.metrics.slowDrops.Add(1)
		return
	}
	q.appendWaking(outItem{kind: outPatch, obj: o, f: f}, len(f.data), wake)
}

// pushEcho queues the echo p of a write of o whose ops touched the footprints wrote, for
// the writer's connection. A patch of o still queued here (not yet sent), or sent so
// recently that it may have crossed the write on the wire, was computed against a state
// without the write, and the writer applies it on top of its write. That is right where
// the two touch unrelated paths; a field where they overlap is sent whole in the echo,
// which then leaves the writer in the published state whatever that patch did there. A
// patch sent within echoWindow counts as recent (a client that ignores versions cannot
// tell the server which it had seen); when more were sent in that time than recent holds,
// every written field is sent whole. With no base on the client, the coming _SET covers
// the write.
func (q *outQueue) pushEcho(o *object, p *echoPlan, wrote [][]string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || !q.based[o] {
		return
	}
	var whole map[int]bool
	budget := maxEchoScanBytes
	since := time.Now().Add(-echoWindow)
	cands := make([]sentPatch, 0, len(q.recent)+len(q.items)-q.head)
	if q.dropped.After(since) {
		cands = append(cands, sentPatch{obj: o}) // some were forgotten: any path
	}
	for _, r := range q.recent {
		if r.obj == o && r.at.After(since) {
			cands = append(cands, r)
		}
	}
	for _, it := range q.items[q.head:] {
		if it.kind == outPatch && it.obj == o {
			cands = append(cands, sentPatch{obj: o, f: it.f})
		}
	}
	for _, it := range cands {
		queued := [][]string{{}} // not read (too big, or over the budget): any path
		if it.f != nil && len(it.f.data) <= budget {
			budget -= len(it.f.data)
			queued = framePaths(it.f)
		}
		for _, x := range wrote {
			for _, y := range queued {
				if overlap(x, y) {
					if whole == nil {
						whole = make(map[int]bool)
					}
					whole[o.fieldOf(x)] = true
				}
			}
		}
	}
	f, ops := p.frame(whole)
	if q.full(len(f.data)) {
		q.resyncLocked(o)
		q.metrics.slowDrops.Add(1)
		return
	}
	// No wake: the caller is the writer's own handler, which writes the queue next (flushInline).
	q.appendWaking(outItem{kind: outPatch, obj: o, f: f, echo: true, idle: ops == 0}, len(f.data), false)
}

// push queues an ordinary frame, and a binary frame after it when bin is not nil. It
// reports false on overflow.
func (q *outQueue) push(f *frame, bin []byte) bool { return q.pushWaking(f, bin, true) }

// pushWaking is push that signals the writer goroutine only with wake (see pushPatch).
func (q *outQueue) pushWaking(f *frame, bin []byte, wake bool) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return true
	}
	n := len(f.data) + len(bin)
	if q.full(n) {
		q.compactAllLocked()
		if q.full(n) {
			return false
		}
	}
	q.appendWaking(outItem{kind: outFrame, f: f, bin: bin}, n, wake)
	return true
}

// pushTracked is push for a frame whose delivery the sender tracks: sent is called once
// the frame has been written to the socket (never when it is dropped with the queue).
func (q *outQueue) pushTracked(f *frame, sent func()) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return true
	}
	if q.full(len(f.data)) {
		q.compactAllLocked()
		if q.full(len(f.data)) {
			return false
		}
	}
	q.append(outItem{kind: outFrame, f: f, onSent: sent}, len(f.data))
	return true
}

// resumeBased bases o on the connection for a client that resumes: the patch frames fs,
// which lead the state the client holds to o's published one, are queued first, and
// o's patches are queued from now on. It reports false, changing nothing, when the
// frames do not fit in the queue or a _SET of o is queued already (a reload of the
// object): the client then gets that _SET. The caller holds o.pub, so no patch of o is
// published in between.
func (q *outQueue) resumeBased(o *object, fs [][]byte) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return true
	}
	n := 0
	for _, b := range fs {
		n += len(b)
	}
	if q.nFrames+len(fs) > q.maxItems || q.bytes+n > q.maxBytes ||
		slices.ContainsFunc(q.items[q.head:], func(it outItem) bool { return it.obj == o }) {
		return false
	}
	for _, b := range fs {
		q.append(outItem{kind: outPatch, obj: o, f: &frame{data: b}}, len(b))
	}
	q.based[o] = true
	q.setSent[o] = true // the client holds a base: a later _SET is not its first
	return true
}

// resync drops o's queued patches and queues one fresh _SET for it.
func (q *outQueue) resync(o *object) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.resyncLocked(o)
	}
}

// moveResync moves o's queued resync marker, if there is one, to the end of the queue, and
// reports whether there was one.
func (q *outQueue) moveResync(o *object) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || !slices.ContainsFunc(q.items[q.head:], func(it outItem) bool { return it.kind == outResync && it.obj == o }) {
		return false
	}
	q.resyncLocked(o)
	return true
}

// forget drops everything about o (it was unregistered).
func (q *outQueue) forget(o *object) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.dropLocked(o)
	delete(q.based, o)
	delete(q.setSent, o)
	q.recent = slices.DeleteFunc(q.recent, func(r sentPatch) bool { return r.obj == o })
}

func (q *outQueue) full(n int) bool {
	return q.nFrames+1 > q.maxItems || q.bytes+n > q.maxBytes
}

func (q *outQueue) append(it outItem, n int) { q.appendWaking(it, n, true) }

// appendWaking queues it, of n bytes, and signals the writer goroutine when wake is set.
func (q *outQueue) appendWaking(it outItem, n int, wake bool) {
	q.items = append(q.items, it)
	if it.kind != outResync {
		q.nFrames++
		q.bytes += n
	}
	if wake {
		q.signalLocked()
	}
}

// resyncLocked drops o's queued patches and queues one resync marker for it at the end of
// the queue: a marker already queued moves there, so the _SET follows whatever was queued
// before it (a refused write's _ERROR, say).
func (q *outQueue) resyncLocked(o *object) {
	q.dropLocked(o)
	delete(q.based, o)
	q.append(outItem{kind: outResync, obj: o}, 0)
}

// compactAllLocked replaces every queued patch by a resync marker for its object.
func (q *outQueue) compactAllLocked() {
	objs := make(map[*object]bool)
	for _, it := range q.items[q.head:] {
		if it.kind == outPatch {
			objs[it.obj] = true
		}
	}
	for o := range objs {
		q.resyncLocked(o)
		q.metrics.slowDrops.Add(1)
	}
}

// dropLocked removes o's queued patches and resync marker, keeping the order of
// everything else.
func (q *outQueue) dropLocked(o *object) {
	kept := q.items[:q.head]
	for _, it := range q.items[q.head:] {
		if it.obj == o && it.kind != outFrame {
			if it.kind == outPatch {
				q.nFrames--
				q.bytes -= len(it.f.data)
			}
			continue
		}
		kept = append(kept, it)
	}
	clear(q.items[len(kept):])
	q.items = kept
}

// pop returns the next item, or false when the queue is empty.
func (q *outQueue) pop() (outItem, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.items) {
		return outItem{}, false
	}
	it := q.items[q.head]
	// Remember the patches that may cross a write of the client, the echoes of its own
	// writes included: one with ops (a field sent whole, a normalised value) reaching the
	// client after its next write sets those paths back to the published state of the
	// earlier write. An echo without ops changes nothing and is not kept. A _SET, other
	// than the first on this connection, counts as a patch of any path (a write that
	// crossed it was wiped by it). An object with no writable field has no echo to look
	// at them, and a broadcast to many read-only connections would keep maxRecent of them
	// on each.
	if it.kind != outFrame && it.obj.writes && ((it.kind == outPatch && !it.idle) || (it.kind == outResync && q.setSent[it.obj])) {
		r := sentPatch{obj: it.obj, at: time.Now()}
		if it.kind == outPatch && len(it.f.data) <= maxRecentBytes {
			r.f = it.f
		}
		if len(q.recent) == maxRecent {
			q.dropped = q.recent[maxRecent/4-1].at
			n := copy(q.recent, q.recent[maxRecent/4:]) // drop the oldest quarter at once
			clear(q.recent[n:])
			q.recent = q.recent[:n]
		}
		q.recent = append(q.recent, r)
	}
	if it.kind == outResync {
		q.setSent[it.obj] = true
	}
	q.items[q.head] = outItem{}
	q.head++
	if it.kind != outResync {
		q.nFrames--
		q.bytes -= len(it.f.data) + len(it.bin)
	}
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > 64 && q.head*2 > len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	return it, true
}

// nonEmpty reports whether anything is queued.
func (q *outQueue) nonEmpty() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.head < len(q.items)
}

// markBased records that o's _SET was sent: patches apply from now on. The caller holds
// o.pub, so no patch of o is published between the _SET and this call. While another
// resync marker of o is queued (a resync came after this _SET's marker was taken), o stays
// unbased: that marker's _SET, built when it is sent, covers every patch published until
// then, so a patch queued behind it would reach the client after a state that holds it.
func (q *outQueue) markBased(o *object) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	// A resync queued since this _SET was popped (a refusal, a _GET) sends a fresher one:
	// until then patches are still dropped, or they would follow that _SET out of order.
	for _, it := range q.items[q.head:] {
		if it.kind == outResync && it.obj == o {
			return
		}
	}
	q.based[o] = true
}

// stats reports the queue's current size, for tests and metrics.
func (q *outQueue) stats() (frames, bytes, capacity int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.nFrames, q.bytes, cap(q.items)
}

// forgetOldSent drops the recently sent patches older than echoWindow, which no echo
// looks at any more, and lets go of the list when none is left: a connection that was sent
// many patches and then went quiet would otherwise keep up to maxRecent of them (and the
// frames they hold) until its next patch. The keepalive ping calls it.
func (q *outQueue) forgetOldSent(now time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	since := now.Add(-echoWindow)
	n := 0
	for n < len(q.recent) && !q.recent[n].at.After(since) {
		n++
	}
	switch {
	case n == 0:
	case n == len(q.recent):
		q.recent = nil
	default:
		m := copy(q.recent, q.recent[n:])
		clear(q.recent[m:])
		q.recent = q.recent[:m]
	}
}

// close drops everything queued; later pushes are ignored.
func (q *outQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	clear(q.items)
	q.items, q.head, q.nFrames, q.bytes = nil, 0, 0, 0
	q.recent = nil
	clear(q.based)
	clear(q.setSent)
}
