package wssync

import (
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// conn is one WebSocket connection of a session. Its reader runs in the goroutine that
// called ServeWS and dispatches client frames one at a time; its writer goroutine drains
// the bounded outQueue and sends pings. Whoever holds writeMu writes data frames: the
// writer, or the reader right after a handler (so a reply needs no goroutine handoff).
// Publishers only push to the queue, so they never block on the socket.
type conn struct {
	sess *Session
	ws   *websocket.Conn
	q    *outQueue
	log  *slog.Logger

	done      chan struct{} // closed when the connection starts closing
	closeOnce sync.Once
	closeCode int
	closeText string
	farewell  *frame // sent before the close frame, e.g. _DISCONNECT

	// writeMu is held by whoever writes data frames: the writer goroutine, or the reader
	// flushing the replies to the frame it just handled (saving a goroutine handoff).
	writeMu sync.Mutex

	// reader-only state
	binMeta   *binMeta
	badFrames int
	limit     tokenBucket
	limited   int // frames dropped since the limit last allowed one
}

func newConn(s *Session, ws *websocket.Conn) *conn {
	return &conn{
		sess:  s,
		ws:    ws,
		q:     newOutQueue(s.cfg.maxQueuedFrames, s.cfg.maxQueuedBytes, s.metrics),
		log:   s.cfg.logger.With("remote", ws.RemoteAddr().String()),
		done:  make(chan struct{}),
		limit: newTokenBucket(s.cfg.ratePerSecond, s.cfg.rateBurst),
	}
}

// run serves the connection until it closes, then waits for its writer.
func (c *conn) run() {
	c.sess.metrics.connections.Add(1)
	defer c.sess.metrics.connections.Add(-1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.writeLoop()
	}()
	c.readLoop()
	c.closeWith(CloseNormal, "", nil)
	wg.Wait()
	c.q.close()
}

// closeWith starts closing the connection: the writer sends farewell (if any) and a close
// frame with code, then closes the socket. Only the first call counts.
func (c *conn) closeWith(code int, text string, farewell *frame) {
	c.closeOnce.Do(func() {
		c.closeCode, c.closeText, c.farewell = code, text, farewell
		close(c.done)
	})
}

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

// sendBinary queues f and, when data is not nil, the binary frame data right after it
// (f is then its `_BIN_META`). A client too far behind to take them is closed.
func (c *conn) sendBinary(f *frame, data []byte) {
	if !c.q.push(f, data) {
		c.sess.metrics.slowCloses.Add(1)
		c.log.Warn("wssync: slow consumer: closing")
		c.closeWith(CloseSlowConsumer, "client too slow", nil)
	}
}

func (c *conn) readLoop() {
	cfg := &c.sess.cfg
	if !c.closing() { // a refused connection runs no hooks
		c.sess.dispatchMu.Lock()
		c.sess.runHooks(&c.sess.onConnect, c.sess.ctx)
		c.sess.dispatchMu.Unlock()
	}
	c.ws.SetReadLimit(cfg.readLimit)
	extend := func() { _ = c.ws.SetReadDeadline(time.Now().Add(cfg.pongTimeout)) }
	extend()
	c.ws.SetPongHandler(func(string) error { extend(); return nil })
	for {
		mt, data, err := c.ws.ReadMessage()
		if err != nil {
			c.readFailed(err)
			return
		}
		extend()
		m := c.sess.metrics
		m.framesIn.Add(1)
		m.bytesIn.Add(int64(len(data)))
		if !c.admit() {
			continue
		}
		c.handleFrame(mt, data)
		if c.closing() {
			return
		}
		c.flushInline()
	}
}

// admit applies the inbound rate limit: a frame over it is dropped, the first of a run is
// answered with CodeRateLimited, and a client that goes on past a further burst is closed.
func (c *conn) admit() bool {
	if c.limit.allow(time.Now()) {
		c.limited = 0
		return true
	}
	c.sess.metrics.rateLimited.Add(1)
	c.limited++
	switch {
	case c.limited == 1:
		c.refuse(nil, errorf(CodeRateLimited, "", "too many frames; slow down"))
	case c.limited > c.sess.cfg.rateBurst:
		c.log.Warn("wssync: rate limit exceeded: closing")
		c.closeWith(CloseRateLimited, "rate limit exceeded", nil)
	}
	return false
}

// readFailed picks the close code for a read error.
func (c *conn) readFailed(err error) {
	var ce *websocket.CloseError
	switch {
	case errors.Is(err, websocket.ErrReadLimit):
		c.log.Info("wssync: frame over the read limit", "limit", c.sess.cfg.readLimit)
		c.closeWith(CloseMessageTooBig, "frame too large", nil) // gorilla has already sent 1009
	case errors.As(err, &ce):
		c.closeWith(CloseNormal, "", nil)
	case c.closing():
	default:
		c.log.Debug("wssync: read failed", "err", err)
		c.closeWith(CloseGoingAway, "", nil)
	}
}

func (c *conn) writeLoop() {
	cfg := &c.sess.cfg
	ping := time.NewTicker(cfg.pingInterval)
	defer ping.Stop()
	defer c.ws.Close()
	for {
		select {
		case <-c.done:
			c.sayGoodbye()
			return
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(cfg.writeTimeout)); err != nil {
				c.closeWith(CloseGoingAway, "", nil)
			}
		case <-c.q.wake:
			c.flush(true)
		}
	}
}

// flushInline writes what the reader's last handler queued, from the reader goroutine,
// unless the writer goroutine is already writing (it then drains the queue itself).
func (c *conn) flushInline() {
	if c.q.nonEmpty() {
		c.flush(false)
	}
}

// flush drains the queue under writeMu, waiting for it or, with wait false, only if it is
// free. A write error closes the connection.
func (c *conn) flush(wait bool) {
	if wait {
		c.writeMu.Lock()
	} else if !c.writeMu.TryLock() {
		return
	}
	err := c.drain()
	c.writeMu.Unlock()
	if err != nil {
		c.log.Debug("wssync: write failed", "err", err)
		c.closeWith(CloseGoingAway, "", nil)
	}
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
		frames++
		bytes += int64(len(f.data))
		if it.bin != nil {
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
	f := o.setFrame()
	c.q.markBased(o)
	return f
}

func (c *conn) write(f *frame) error {
	if err := c.ws.SetWriteDeadline(time.Now().Add(c.sess.cfg.writeTimeout)); err != nil {
		return err
	}
	if !f.shared {
		return c.ws.WriteMessage(websocket.TextMessage, f.data)
	}
	pm, err := f.prepared()
	if err != nil {
		return err
	}
	return c.ws.WritePreparedMessage(pm)
}

// sayGoodbye sends the farewell frame and the close frame, each with a short deadline: a
// client that does not read them is not waited for.
func (c *conn) sayGoodbye() {
	const grace = time.Second
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if c.farewell != nil {
		_ = c.ws.SetWriteDeadline(time.Now().Add(grace))
		_ = c.ws.WriteMessage(websocket.TextMessage, c.farewell.data)
	}
	msg := websocket.FormatCloseMessage(c.closeCode, c.closeText)
	_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(grace))
}
