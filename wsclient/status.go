package wsclient

import (
	"errors"

	"github.com/gorilla/websocket"
)

// Status is a change of the client's connection, for OnStatus.
type Status struct {
	// Connected is true when a connection was identified, false when it ended.
	Connected bool
	// Err is why the connection ended: a *CloseError with the server's close code, or the
	// network error. Nil when Connected.
	Err error
}

// OnStatus calls fn, on the dispatcher, each time a connection is identified and each
// time an identified connection ends (the client then reconnects, unless the end is
// terminal: see Done). The end of the connection Close closes is not reported. It does not replay the present status: read
// Connected for that. It returns a function that removes fn.
func (c *Client) OnStatus(fn func(Status)) (remove func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := &c.handlers
	if h.status == nil {
		h.status = map[int]func(Status){}
	}
	id := h.next
	h.next++
	h.status[id] = fn
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(h.status, id)
	}
}

// statusLocked queues the OnStatus callbacks for s.
func (c *Client) statusLocked(s Status) {
	fns := make([]func(Status), 0, len(c.handlers.status))
	for _, fn := range c.handlers.status {
		fns = append(fns, fn)
	}
	if len(fns) == 0 {
		return
	}
	c.disp.enqueue(func() {
		for _, fn := range fns {
			fn(s)
		}
	})
}

// closeReason turns a reader's error into the error Status and the supervisor report: a
// close frame becomes a *CloseError.
func closeReason(err error) error {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return &CloseError{Code: ce.Code, Reason: ce.Text}
	}
	return err
}
