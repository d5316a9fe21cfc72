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
type inQueue struct {
	maxFrames, maxBytes int

	mu       sync.Mutex
	frames   []inFrame
	one      [1]inFrame // frames' storage while it holds at most one: no allocation per frame
	bytes    int
	finished bool          // the reader has ended: pop reports false once the queue is empty
	ready    chan struct{} // capacity 1: a frame was pushed, or the reader finished
	room     chan struct{} // capacity 1: a frame was popped
}

func newInQueue(maxFrames, maxBytes int) *inQueue {
	return &inQueue{
		maxFrames: maxFrames,
		maxBytes:  maxBytes,
		ready:     make(chan struct{}, 1),
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

// push queues f, waiting while the queue is full. It reports whether it had to wait, and
// false in ok when done was closed first.
func (q *inQueue) push(f inFrame, done <-chan struct{}) (waited, ok bool) {
	for {
		q.mu.Lock()
		n := len(q.frames)
		if n == 0 || (n < q.maxFrames && q.bytes+len(f.data) <= q.maxBytes) {
			if n == 0 {
				q.frames = q.one[:0]
			}
			q.frames = append(q.frames, f)
			q.bytes += len(f.data)
			q.mu.Unlock()
			notify(q.ready)
			return waited, true
		}
		q.mu.Unlock()
		waited = true
		select {
		case <-q.room:
		case <-done:
			return waited, false
		}
	}
}

// pop takes the oldest frame, waiting for one. It reports false when done is closed, or
// when the reader has finished and the queue is empty.
func (q *inQueue) pop(done <-chan struct{}) (inFrame, bool) {
	for {
		select {
		case <-done:
			return inFrame{}, false
		default:
		}
		q.mu.Lock()
		if len(q.frames) > 0 {
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
		finished := q.finished
		q.mu.Unlock()
		if finished {
			return inFrame{}, false
		}
		select {
		case <-q.ready:
		case <-done:
			return inFrame{}, false
		}
	}
}

// finish records that the reader has ended; the dispatcher still takes what is queued.
func (q *inQueue) finish() {
	q.mu.Lock()
	q.finished = true
	q.mu.Unlock()
	notify(q.ready)
}
