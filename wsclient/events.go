package wsclient

import (
	"encoding/json"

	"github.com/wssync/wssync/internal/proto"
)

// Toast is a `_TOAST` notification.
type Toast struct {
	Kind    string `json:"type"` // default, message, info, success, warning or error
	Message string `json:"message"`
}

// handlers are the callbacks registered per frame type. Guarded by the Client's mu.
type handlers struct {
	byType map[string]map[int]func(json.RawMessage)
	status map[int]func(Status)
	binary map[string]map[int]func(Binary) // by the event of their _BIN_META
	next   int
}

// OnEvent calls fn with the data of every frame of type name, on the dispatcher: a custom
// event the server sends (`{"type":"note_added","data":...}`), or any protocol frame by
// its full type (`_DOWNLOAD`, `_ACTION:KEY` for the server's exposed actions). fn must not
// call Close. It returns a function that removes fn.
func (c *Client) OnEvent(name string, fn func(data json.RawMessage)) (remove func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := &c.handlers
	if h.byType == nil {
		h.byType = map[string]map[int]func(json.RawMessage){}
	}
	if h.byType[name] == nil {
		h.byType[name] = map[int]func(json.RawMessage){}
	}
	id := h.next
	h.next++
	h.byType[name][id] = fn
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(h.byType[name], id)
	}
}

// OnToast calls fn for every `_TOAST`, on the dispatcher. It returns a function that
// removes fn.
func (c *Client) OnToast(fn func(Toast)) (remove func()) {
	return c.OnEvent(proto.Toast, func(data json.RawMessage) {
		var t Toast
		if json.Unmarshal(data, &t) == nil {
			fn(t)
		}
	})
}

// OnError calls fn for every `_ERROR`: the server refused a frame of this client that
// carried no request id, such as a write (Update, Patch, Set). After a refused write the
// server sends the key's `_SET`, so the Binding converges on its own. It returns a
// function that removes fn.
func (c *Client) OnError(fn func(*Error)) (remove func()) {
	return c.OnEvent(proto.Error, func(data json.RawMessage) {
		var e Error
		if json.Unmarshal(data, &e) == nil {
			fn(&e)
		}
	})
}

// dispatchLocked queues the callbacks of frame f.
func (h *handlers) dispatchLocked(d *dispatcher, f inFrame) {
	fns := h.byType[f.Type]
	if len(fns) == 0 {
		return
	}
	list := make([]func(json.RawMessage), 0, len(fns))
	for _, fn := range fns {
		list = append(list, fn)
	}
	data := f.Data
	d.enqueue(func() {
		for _, fn := range list {
			fn(data)
		}
	})
}

// OnAction calls fn with the params of every exposed action name the server sends for key
// (`_ACTION:KEY` {"type": name, ...params}; Synced.SendAction on the server), on the
// dispatcher. params is the whole action object, "type" included. It returns a function
// that removes fn.
func (c *Client) OnAction(key, name string, fn func(params json.RawMessage)) (remove func()) {
	return c.OnEvent(proto.Keyed(proto.Action, key), func(data json.RawMessage) {
		var a struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(data, &a) == nil && a.Type == name {
			fn(data)
		}
	})
}
