package wssync

import "sync"

// maxInboundFrames bounds the frames read from a connection and not yet dispatched.
const maxInboundFrames = 32

// inFrame is one frame read from a client, waiting for the dispatcher.
type inFrame struct {
	mt   int
	data []byte
}

// inQueue is a connection's bounded inbound queue, between its reader and its dispatcher.
// It holds at most maxFrames frames and, beyond its first frame, maxBytes bytes (the read
// limit), so a connection holds at most about twice the read limit of unhandled input. When
// it is full the reader waits: the server stops reading the connection, and TCP flow
// control slows the client down, until the dispatcher has caught up.
//
// The dispatcher runs only while there are frames: the push that finds none running tells
// the reader to start one, and the dispatcher ends when it finds the queue empty (next).
// Both happen under mu, so a frame is never left queued with no dispatcher to take it.
type inQueue struct {
	maxFrames, maxBytes int

	mu      sync.Mutex
	frames  []inFrame
	one     [1]inFrame // frames' storage while it holds at most one: no allocation per frame
	bytes   int
	running bool          // a dispatcher is running (or about to: begin, or a push said start)
	drained chan struct{} // made by finish while a dispatcher runs; closed when it ends
	room    chan struct{} // capacity 1: a frame was popped
}

func newInQueue(maxFrames, maxBytes int) *inQueue {
	return &inQueue{
		maxFrames: maxFrames,
		maxBytes:  maxBytes,
		room:      make(chan struct{}, 1),
	}
}

// notify makes a pending or later receive on ch return, without blocking.
func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// push queues f, waiting while the queue is full. It reports in start that no dispatcher
// was running: the caller must start one, which is then counted as running. It reports
// whether it had to wait, and false in ok when done was closed first.
func (q *inQueue) push(f inFrame, done <-chan struct{}) (start, waited, ok bool) {
	for {
		q.mu.Lock()
		n := len(q.frames)
		if n == 0 || (n < q.maxFrames && q.bytes+len(f.data) <= q.maxBytes) {
			if n == 0 {
				q.frames = q.one[:0]
			}
			q.frames = append(q.frames, f)
			q.bytes += len(f.data)
			start = !q.running
			q.running = true
			q.mu.Unlock()
			return start, waited, true
		}
		q.mu.Unlock()
		waited = true
		select {
		case <-q.room:
		case <-done:
			return false, waited, false
		}
	}
}

// claimIdle reports whether the queue is empty with no dispatcher running, counting the
// caller as the running dispatcher if so: the reader then handles the frame it just read
// itself (conn.handleInline), in order, as nothing is queued before it. The caller ends
// that with next, like any dispatcher.
func (q *inQueue) claimIdle() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.frames) > 0 || q.running {
		return false
	}
	q.running = true
	return true
}

// begin counts a dispatcher as running before any frame is queued (one that first runs the
// connect hooks): frames pushed meanwhile are left to it.
func (q *inQueue) begin() {
	q.mu.Lock()
	q.running = true
	q.mu.Unlock()
}

// next takes the oldest frame for the running dispatcher. When the queue is empty, or done
// is closed, it ends the dispatcher instead (it is no longer counted as running) and
// reports false; the dispatcher must then return.
func (q *inQueue) next(done <-chan struct{}) (inFrame, bool) {
	q.mu.Lock()
	if len(q.frames) == 0 || isClosed(done) {
		q.running = false
		if q.drained != nil {
			close(q.drained)
			q.drained = nil
		}
		q.mu.Unlock()
		return inFrame{}, false
	}
	f := q.frames[0]
	q.frames[0] = inFrame{}
	q.frames = q.frames[1:]
	if len(q.frames) == 0 {
		q.frames = nil // let a grown backing array go; the next push uses one
	}
	q.bytes -= len(f.data)
	q.mu.Unlock()
	notify(q.room)
	return f, true
}

// finish is called once the reader has ended: it returns a channel closed once no
// dispatcher runs: the one running, if any, still handles what is queued.
func (q *inQueue) finish() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.running {
		return closedChan
	}
	if q.drained == nil {
		q.drained = make(chan struct{})
	}
	return q.drained
}

// closedChan is a channel that is always closed.
var closedChan = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// isClosed reports whether ch is closed (nil is never closed).
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
