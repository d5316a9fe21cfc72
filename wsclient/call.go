package wsclient

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/wssync/wssync/internal/proto"
)

// reply is the answer to a request: a _RESULT's data or error, a pong, or the loss of the
// connection.
type reply struct {
	data json.RawMessage
	err  error
}

// Call calls the action name of key with params (a struct or map marshalling to a JSON
// object, or nil) and decodes its result into R. It sends `_ACTION:KEY` with a request id
// and waits for the server's `_RESULT`: a refusal or failure is returned as a *Error with
// the server's code (bad_params, action_failed, unknown_action, ...).
//
// Call waits for an identified connection first. It is not retried: if the connection
// ends before the answer, it returns ErrConnectionLost and the action may or may not have
// run. ctx bounds the whole call (use context.WithTimeout for a timeout).
func Call[R any](ctx context.Context, c *Client, key, name string, params any) (R, error) {
	var r R
	data, err := c.request(ctx, proto.Keyed(proto.Action, key), name, params)
	if err != nil {
		return r, err
	}
	if len(data) > 0 && string(data) != "null" {
		if err := json.Unmarshal(data, &r); err != nil {
			return r, fmt.Errorf("wsclient: result of %s on %q does not decode into %T: %w", name, key, r, err)
		}
	}
	return r, nil
}

// Action calls the action name of key with params and waits for its outcome, discarding
// the result (see Call).
func (c *Client) Action(ctx context.Context, key, name string, params any) error {
	_, err := c.request(ctx, proto.Keyed(proto.Action, key), name, params)
	return err
}

// request sends event with data {"type": name, ...params} and a fresh id, and waits for
// its _RESULT.
func (c *Client) request(ctx context.Context, event, name string, params any) (json.RawMessage, error) {
	_, r, err := c.requestOn(ctx, event, name, params)
	return r, err
}

// requestOn is request that also returns the connection the request went on.
func (c *Client) requestOn(ctx context.Context, event, name string, params any) (*conn, json.RawMessage, error) {
	data, err := callData(name, params)
	if err != nil {
		return nil, nil, err
	}
	return c.roundTrip(ctx, func(id string) outFrame { return outFrame{Type: event, Data: data, ID: id} }, "")
}

// roundTrip sends the frame build makes with a fresh request id (or, when id is given,
// with that id: a ping) and waits for the answer registered under it.
func (c *Client) roundTrip(ctx context.Context, build func(id string) outFrame, id string) (*conn, json.RawMessage, error) {
	cn, err := c.ready(ctx)
	if err != nil {
		return nil, nil, err
	}
	ch := make(chan reply, 1)
	c.mu.Lock()
	if c.conn != cn { // lost meanwhile
		c.mu.Unlock()
		return nil, nil, ErrConnectionLost
	}
	if id == "" {
		c.nextID++
		id = "c" + strconv.FormatUint(c.nextID, 10)
	}
	c.pending[id] = ch
	c.mu.Unlock()
	if err := cn.write(build(id)); err != nil {
		c.forget(id)
		return nil, nil, err // matches ErrConnectionLost
	}
	select {
	case r := <-ch:
		return cn, r.data, r.err
	case <-ctx.Done():
		c.forget(id)
		return nil, nil, ctx.Err()
	case <-c.done:
		c.forget(id)
		return nil, nil, c.Err()
	}
}

// forget drops a request that no longer waits.
func (c *Client) forget(id string) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// answerLocked hands an answer to the request waiting for id; answers nobody waits for
// (a request that timed out) are dropped.
func (c *Client) answerLocked(id string, r reply) {
	if ch, ok := c.pending[id]; ok {
		delete(c.pending, id)
		ch <- r // buffered: never blocks
	}
}
