package wssync

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// closeGrace bounds how long a closing connection may take: the farewell and close frames
// each get at most this long to be written, and the socket is closed hard this long after
// the close started, whatever the peer does (a peer that stopped reading cannot hold the
// writer, the reader or a Shutdown).
const closeGrace = time.Second

// conn is one WebSocket connection of a session. Its reader (the goroutine that called
// ServeWS) runs for the whole connection; the others run only while they have work, so an
// idle connection costs one goroutine:
//
//   - the reader reads frames and applies the rate limit and the UTF-8 check. A frame
//     that finds the inbound queue empty and no dispatcher running it handles itself
//     (readinline.go); others it queues on the bounded inbound queue. While a handler on
//     the reader outlasts a ping interval, another goroutine reads (takeOver), so
//     keepalive does not depend on how long a handler takes;
//   - the dispatcher, started by the reader when it queues a frame and none runs, handles
//     queued frames one at a time, in arrival order, and ends when the queue is empty.
//     Handlers run under the session's dispatchMu (a session's handlers run serialized,
//     across connections), on the reader or the dispatcher;
//   - the writer, started by a push to the outQueue when none runs, drains it and ends
//     when it is empty;
//   - pings and the resync budget's grants run on timers (time.AfterFunc), and the close
//     frame on a goroutine of its own.
//
// All but the reader are counted in work, and the reader waits for them before it
// returns. Whoever holds writeMu writes data frames: the writer, or whoever ran a handler,
// right after it (so a reply needs no goroutine handoff; what a handler queues for its own
// connection does not start the writer, see reply). Publishers only push to the queue, so they
// never block on the socket.
type conn struct {
	sess *Session
	ws   *websocket.Conn
	q    *outQueue
	in   *inQueue
	log  *slog.Logger

	done          chan struct{} // closed when the connection starts closing
	closeOnce     sync.Once
	closeCode     int
	closeText     string
	farewell      *frame          // sent before the close frame, e.g. _DISCONNECT
	hardClose     *time.Timer     // closes the socket closeGrace after the close started
	pinger        *time.Timer     // sends the next keepalive ping
	work          connWork        // the goroutines other than the reader
	startDispatch func() bool     // starts the dispatcher (connWork.starter)
	handling      atomic.Uint64   // the frame the reader handles itself (its inlined count); 0: none; handedOff
	pingSaw       atomic.Uint64   // handling as the last ping saw it (takeOver)
	readEnd       chan readResult // capacity 1: how reading ended, on a goroutine that took it over
	readBack      chan inFrame    // capacity 1: reading given back, with the frame to handle next

	// writeMu is held by whoever writes data frames: the writer goroutine, or the
	// goroutine that just ran a handler (reader or dispatcher), flushing its replies.
	writeMu       sync.Mutex
	writeDeadline lazyDeadline // guarded by writeMu

	resyncs resyncBudget // client-requested _SETs (_GET, refused writes)
	expiry  expiryClock  // closes the connection when its identity expires
	hold    resumeHold   // on for a client that offered resume, until its first frame

	// sendReady: addressed messages go to this connection at once, not to the session's
	// backlog (from attach, or for a resuming connection once its state is queued). Guarded
	// by the session's sendMu.
	sendReady bool

	// dispatcher-only state (connected is read by serve once run has returned)
	connected bool // the OnConnect hooks ran: the OnDisconnect hooks run at the end
	binMeta   *binMeta
	badFrames int
	refused   bool        // the frame being dispatched was refused (by refuse, wherever called)
	authLimit tokenBucket // `_AUTH` frames

	// reader-only state (whichever goroutine reads now: see handleInline)
	readDeadline lazyDeadline
	inlined      uint64 // frames handled on the reader so far
	limit        tokenBucket
	limited      int  // frames dropped in the current overload episode
	over         bool // in an overload episode: rate_limited was sent, no more until it ends
}

func newConn(s *Session, ws *websocket.Conn) *conn {
	c := &conn{
		sess:     s,
		ws:       ws,
		q:        newOutQueue(s.cfg.maxQueuedFrames, s.cfg.maxQueuedBytes, s.metrics),
		in:       newInQueue(maxInboundFrames, int(s.cfg.readLimit)),
		log:      s.cfg.logger.With("remote", ws.RemoteAddr().String()),
		done:     make(chan struct{}),
		readEnd:  make(chan readResult, 1),
		readBack: make(chan inFrame, 1),
		limit:    newTokenBucket(s.cfg.ratePerSecond, s.cfg.rateBurst),

		authLimit: newTokenBucket(authPerSecond, authBurst),
	}
	c.writeDeadline = newLazyDeadline(s.cfg.writeTimeout, ws.SetWriteDeadline)
	c.resyncs.init(s.cfg.resyncPerSecond, s.cfg.resyncBurst, c.grantResyncsLater)
	c.startDispatch = c.work.starter(c.dispatchQueued)
	return c
}

// run serves the connection until it closes, then waits for its other goroutines.
func (c *conn) run() {
	c.sess.metrics.connections.Add(1)
	defer c.sess.metrics.connections.Add(-1)
	c.setExpiry(c.sess.Identity().Expires)
	c.pinger = time.AfterFunc(time.Hour, c.ping) // set before it can fire: ping resets it
	c.pinger.Reset(c.sess.cfg.pingInterval)
	c.in.begin()
	c.work.start(c.connect)
	code, text := c.readLoop()
	<-c.in.finish() // the dispatcher handles what was read before the connection ended
	c.closeWith(code, text, nil)
	c.work.wait()
	_ = c.ws.Close()
	c.pinger.Stop()
	c.sess.metrics.countClose(c.closeCode) // the first closeWith's code, whoever made it
	c.stopExpiry()
	c.stopHold()
	c.stopClose()
	c.resyncs.stop()
	c.q.close()
}

// ping sends a keepalive ping, from the pinger's timer, and sets the timer for the next.
func (c *conn) ping() {
	if !c.work.enter() {
		return
	}
	defer c.work.leave()
	if c.closing() {
		return
	}
	c.takeOver()
	cfg := &c.sess.cfg
	if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(cfg.writeTimeout)); err != nil {
		c.closeWith(CloseGoingAway, "", nil)
		return
	}
	c.q.forgetOldSent(time.Now())
	c.pinger.Reset(cfg.pingInterval)
}

// closeWith starts closing the connection: a goroutine sends farewell (if any) and a close
// frame with code, and the reader reads on until the client answers it; the socket is
// closed hard closeGrace later in any case. Only the first call counts; it reports whether
// this call was the first.
func (c *conn) closeWith(code int, text string, farewell *frame) bool {
	first := false
	c.closeOnce.Do(func() {
		first = true
		c.closeCode, c.closeText, c.farewell = code, text, farewell
		c.hardClose = time.AfterFunc(closeGrace, func() { _ = c.ws.NetConn().Close() })
		close(c.done)
		c.work.start(c.sayGoodbye) // false only once run has ended: the socket is closed then
	})
	return first
}

// stopClose stops the hard close timer once the connection's goroutines have ended. run
// calls it after its own closeWith, so hardClose is set.
func (c *conn) stopClose() { c.hardClose.Stop() }

func (c *conn) closing() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// send queues an ordinary frame; a client too far behind to take it is closed.
func (c *conn) send(f *frame) { c.sendBinary(f, nil) }

// reply is send for the dispatcher's answer to the frame it is handling: the writer
// goroutine is not woken, as the dispatcher writes the queue itself right after the
// handler (flushInline). Only the goroutine running the handler may call it.
func (c *conn) reply(f *frame) {
	if c.closing() {
		return
	}
	if !c.q.pushWaking(f, nil, false) && c.closeWith(CloseSlowConsumer, "client too slow", nil) {
		c.sess.metrics.slowCloses.Add(1)
		c.log.Warn("wssync: slow consumer: closing")
	}
}

// sendBinary queues f and, when data is not nil, the binary frame data right after it
// (f is then its `_BIN_META`). A client too far behind to take them is closed, and counted
// and logged as a slow consumer once, however many frames are pushed after that.
func (c *conn) sendBinary(f *frame, data []byte) { c.offer(f, data) }

// offer is sendBinary reporting whether the queue took the frames: false for a connection
// closing already or closed now as too slow.
func (c *conn) offer(f *frame, data []byte) bool {
	if c.closing() {
		return false
	}
	if c.q.push(f, data) {
		return true
	}
	if c.closeWith(CloseSlowConsumer, "client too slow", nil) {
		c.sess.metrics.slowCloses.Add(1)
		c.log.Warn("wssync: slow consumer: closing")
	}
	return false
}

// errInvalidUTF8 is a text frame that is not valid UTF-8 (RFC 6455 §8.1: close 1007).
var errInvalidUTF8 = errors.New("wssync: text frame is not valid UTF-8")

// readMessage reads one message of at most limit bytes once inflated from ws (readLimited),
// refusing a text message that is not valid UTF-8 with errInvalidUTF8. Every read of
// client frames goes through it.
func readMessage(ws *websocket.Conn, limit int64) (int, []byte, error) {
	mt, data, err := readLimited(ws, limit)
	if err == nil && mt == websocket.TextMessage && !utf8.Valid(data) {
		return mt, nil, errInvalidUTF8
	}
	return mt, data, err
}

// readLoop reads frames until the connection fails or starts closing, and returns the
// close code for its end. While a frame it handles itself runs long, another goroutine
// reads (takeOver); that one gives reading back with the next frame to handle.
func (c *conn) readLoop() (int, string) {
	cfg := &c.sess.cfg
	c.ws.SetReadLimit(cfg.readLimit)
	c.readDeadline = newLazyDeadline(cfg.pongTimeout, c.ws.SetReadDeadline)
	c.readDeadline.force(time.Now())
	c.ws.SetPongHandler(func(string) error { c.readDeadline.extend(time.Now()); return nil })
	stop, r, _ := c.readFrames(false)
	for stop == readHandedOff {
		select {
		case r = <-c.readEnd:
			return r.code, r.text
		case f := <-c.readBack:
			if c.handleInline(f) {
				stop, r, _ = c.readFrames(false)
			}
		}
	}
	return r.code, r.text
}

// readFrames is the reading of readLoop, on whichever goroutine reads now. A reader that
// took over (taken) stops at the first frame it would handle itself, and returns it.
func (c *conn) readFrames(taken bool) (readStop, readResult, inFrame) {
	cfg := &c.sess.cfg
	for {
		mt, data, err := readMessage(c.ws, cfg.readLimit)
		if err != nil {
			code, text := c.readFailed(err)
			return readEnded, readResult{code: code, text: text}, inFrame{}
		}
		if c.closing() {
			// Read on, discarding, until the client answers the close frame (or the hard
			// close, closeGrace after it started): a socket closed with unread input resets
			// the connection, and the client might not get the close frame and its code.
			continue
		}
		now := time.Now() // one clock read per frame, for the deadline and the rate limit
		c.readDeadline.extend(now)
		m := c.sess.metrics
		m.framesIn.Add(1)
		m.bytesIn.Add(int64(len(data)))
		if !c.admit(now) {
			continue
		}
		f := inFrame{mt: mt, data: data}
		if c.in.claimIdle() {
			if taken {
				return readGivenBack, readResult{}, f
			}
			if !c.handleInline(f) {
				return readHandedOff, readResult{}, inFrame{}
			}
			continue
		}
		start, waited, ok := c.in.push(f, c.done)
		if !ok {
			continue // closing: read on until the client's close
		}
		if start {
			c.startDispatch() // run has not waited yet: it starts
		}
		if waited {
			c.readDeadline.force(time.Now()) // nothing was read while the queue was full: the peer is not late
		}
	}
}

// connect is the connection's first dispatcher: it runs the OnConnect hooks, then
// handles the frames queued meanwhile.
func (c *conn) connect() {
	if !c.closing() { // a refused connection, or one closed before it started, runs no hooks
		c.sess.dispatchMu.Lock()
		c.sess.runHooks(&c.sess.onConnect, c.sess.ctx)
		c.sess.dispatchMu.Unlock()
		c.connected = true
	}
	c.dispatchQueued()
}

// dispatchQueued handles queued frames one at a time until the queue is empty or the
// connection starts closing; only in.next ends it, so the queue knows it has ended.
func (c *conn) dispatchQueued() {
	for {
		f, ok := c.in.next(c.done)
		if !ok {
			return
		}
		c.handleOne(f)
	}
}

// handleOne handles one frame read from the client and writes what it queued, on the
// dispatcher or on the reader (handleInline).
func (c *conn) handleOne(f inFrame) {
	if c.hold.holding() && c.firstFrame(f.mt, f.data) {
		c.flushInline()
		return
	}
	c.handleFrame(f.mt, f.data)
	if !c.closing() {
		c.flushInline()
	}
}

// admit applies the inbound rate limit to a frame read at now: a frame over it is dropped.
// The first drop of an overload episode is answered with CodeRateLimited; a client that
// goes on to have more than a burst of frames dropped in the same episode is closed with
// CloseRateLimited. The episode ends when the client has kept under the rate long enough
// to refill its whole burst.
func (c *conn) admit(now time.Time) bool {
	if c.limit.allow(now) {
		if c.over && c.limit.full() {
			c.over, c.limited = false, 0
		}
		return true
	}
	c.sess.metrics.rateLimited.Add(1)
	c.limited++
	switch {
	case !c.over:
		c.over = true
		c.report(nil, errorf(CodeRateLimited, "", "too many frames; slow down"))
	case c.limited > c.sess.cfg.rateBurst:
		c.log.Warn("wssync: rate limit exceeded: closing")
		c.closeWith(CloseRateLimited, "rate limit exceeded", nil)
	}
	return false
}

// readFailed picks the close code for a read error.
func (c *conn) readFailed(err error) (int, string) {
	var ce *websocket.CloseError
	switch {
	case errors.Is(err, errInvalidUTF8):
		c.log.Info("wssync: text frame is not valid UTF-8: closing")
		c.closeWith(CloseInvalidPayload, "text frame is not valid UTF-8", nil) // at once: drop what is queued
	case errors.Is(err, errInflatedTooLarge):
		c.log.Info("wssync: compressed frame inflates past the read limit", "limit", c.sess.cfg.readLimit)
		c.closeWith(CloseMessageTooBig, "frame too large", nil)
	case errors.Is(err, websocket.ErrReadLimit):
		c.log.Info("wssync: frame over the read limit", "limit", c.sess.cfg.readLimit)
		return CloseMessageTooBig, "frame too large" // gorilla has already sent 1009
	case errors.As(err, &ce):
	case c.closing():
	default:
		c.log.Debug("wssync: read failed", "err", err)
		return CloseGoingAway, ""
	}
	return CloseNormal, ""
}

// writeQueued is the writer goroutine: it drains the queue until it finds it empty, or
// the connection starts closing.
func (c *conn) writeQueued() {
	for {
		c.flush(true)
		if c.closing() || c.q.endIfEmpty() {
			return
		}
	}
}

// flushInline writes what the last handler queued, from the goroutine that ran it (reader
// or dispatcher), unless another goroutine holds writeMu. The writer may then have found
// the queue empty just before the handler queued a frame without starting it (reply,
// object.syncFor, a write's echo), so signal makes sure one runs: a writer still running
// drains again before it ends.
func (c *conn) flushInline() {
	if c.q.nonEmpty() && !c.flush(false) {
		c.q.signal()
	}
}

// flush drains the queue under writeMu, waiting for it or, with wait false, only if it is
// free; it reports whether it drained. A write error closes the connection.
func (c *conn) flush(wait bool) bool {
	if wait {
		c.writeMu.Lock()
	} else if !c.writeMu.TryLock() {
		return false
	}
	err := c.drain()
	c.writeMu.Unlock()
	if err != nil {
		c.log.Debug("wssync: write failed", "err", err)
		c.closeWith(CloseGoingAway, "", nil)
	}
	return true
}

// drain writes queued items until the queue is empty or the connection is closing. Its
// counts go to the shared metrics once per drain, not once per frame.
func (c *conn) drain() error {
	var frames, bytes, patches, resyncs int64
	defer func() {
		m := c.sess.metrics
		m.framesOut.Add(frames)
		m.bytesOut.Add(bytes)
		m.patches.Add(patches)
		m.resyncs.Add(resyncs)
	}()
	for !c.closing() {
		it, ok := c.q.pop()
		if !ok {
			return nil
		}
		f := it.f
		switch it.kind {
		case outResync:
			if f = c.resyncFrame(it.obj); f == nil {
				continue
			}
			resyncs++
		case outPatch:
			patches++
		}
		if err := c.write(f); err != nil {
			return err
		}
		if it.onSent != nil {
			it.onSent()
		}
		if it.kind == outPatch {
			c.observePatch(it.obj, f)
		}
		frames++
		bytes += int64(len(f.data))
		if it.bin != nil {
			c.compressFor(len(it.bin))
			if err := c.ws.WriteMessage(websocket.BinaryMessage, it.bin); err != nil {
				return err
			}
		}
	}
	return nil
}

// resyncFrame takes o's current _SET and marks o as based on this connection, atomically
// with respect to o's publishes.
func (c *conn) resyncFrame(o *object) *frame {
	o.pub.Lock()
	defer o.pub.Unlock()
	if o.gone.Load() {
		return nil
	}
	var f *frame
	if v := o.viewOfLocked(c.sess); v != nil {
		f = v.setFrameLocked(o, o.views)
	} else {
		f = o.setFrame()
	}
	c.q.markBased(o)
	return f
}

func (c *conn) write(f *frame) error {
	c.writeDeadline.extend(time.Now())
	c.compressFor(len(f.data))
	if !f.shared {
		return c.ws.WriteMessage(websocket.TextMessage, f.data)
	}
	pm, err := f.prepared()
	if err != nil {
		return err
	}
	return c.ws.WritePreparedMessage(pm)
}

// sayGoodbye sends the farewell frame and the close frame, each with a deadline of
// closeGrace (a client that does not read them is not waited for). The socket stays open
// for the client's answering close, which ends the reader's read; the hard close ends it
// closeGrace after the close started in any case, and run closes the socket at its end.
func (c *conn) sayGoodbye() {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if c.farewell != nil {
		_ = c.ws.SetWriteDeadline(time.Now().Add(closeGrace))
		c.compressFor(len(c.farewell.data))
		_ = c.ws.WriteMessage(websocket.TextMessage, c.farewell.data)
	}
	msg := websocket.FormatCloseMessage(c.closeCode, c.closeText)
	_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(closeGrace))
}
