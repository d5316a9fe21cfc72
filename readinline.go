package wssync

import (
	"math"
	"time"
)

// Frames handled on the reader. A goroutine handoff per frame (reader to dispatcher) costs
// a thread wake-up that a raw echo does not pay, most of an action's round trip on an
// otherwise idle machine. So when the inbound queue is empty and no dispatcher runs, the
// reader handles the frame it read itself, as the dispatcher would have, next in order.
//
// While it does, nothing reads the socket: frames wait in the kernel, and pongs are not
// read. Two things keep keepalive independent of how long a handler runs. Once the
// handler returns, the read deadline is set from then (the reader was busy: the peer is
// not late). And when a ping finds the reader still handling the frame the previous ping
// found it handling, a new goroutine takes the reading over (takeOver): it reads pongs,
// frames and the client's close meanwhile, and queues the frames, which the first
// goroutine dispatches once its handler returns. The first frame the new reader would
// handle itself, it gives back with the reading (readLoop), and ends: until then (a read
// in progress cannot be moved) the connection has two goroutines, the first waiting. A
// handler longer than one ping interval thus leaves the socket unread for at most two.

// handedOff is handling's value once reading went to another goroutine.
const handedOff = math.MaxUint64

// readResult is how reading ended: the close code and text for the connection's end.
type readResult struct {
	code int
	text string
}

// readStop says why readFrames returned.
type readStop uint8

const (
	readEnded     readStop = iota // the connection is ending (readResult says how)
	readHandedOff                 // another goroutine reads now
	readGivenBack                 // a reader that took over has a frame to handle: reading goes back
)

// handleInline handles f on the reader, which claimed the inbound queue as its dispatcher
// (claimIdle). It reports false when reading was handed to another goroutine meanwhile:
// the caller has then dispatched the frames that one queued, and must stop reading.
func (c *conn) handleInline(f inFrame) bool {
	c.inlined++
	n := c.inlined
	c.handling.Store(n)
	c.handleOne(f)
	handedOff := !c.handling.CompareAndSwap(n, 0)
	// End the reader's turn as dispatcher; after a hand-off, first the frames the new
	// reader queued meanwhile, which come after f.
	c.dispatchQueued()
	if handedOff {
		return false
	}
	c.readDeadline.force(time.Now())
	return true
}

// takeOver runs on each ping: when the reader has been handling one frame itself since
// the previous ping, a new goroutine takes the reading over.
func (c *conn) takeOver() {
	h := c.handling.Load()
	if h == 0 || h == handedOff || c.pingSaw.Swap(h) != h {
		return
	}
	if !c.handling.CompareAndSwap(h, handedOff) {
		return // the handler just returned
	}
	if !c.work.start(c.readOn) {
		c.readEnd <- readResult{code: CloseGoingAway} // the connection is ending anyway
	}
}

// readOn is the reader that took over from one busy with a long handler: it reads until
// the connection ends or it has a frame to handle, which goes back with the reading.
func (c *conn) readOn() {
	c.readDeadline.force(time.Now()) // nothing was read while the handler ran: the peer is not late
	switch stop, r, f := c.readFrames(true); stop {
	case readEnded:
		c.readEnd <- r
	case readGivenBack:
		c.readBack <- f
	}
}
