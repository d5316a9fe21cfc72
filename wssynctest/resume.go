package wssynctest

import (
	"encoding/json"
	"fmt"

	"github.com/wssync/wssync/internal/proto"
)

// Held is what a client holds of its keys, to resume with on its next connection
// (docs/protocol.md, "Resume"): take it from a Client with Held, give it to Dial with
// WithResume.
type Held map[string]HeldKey

// HeldKey is the state of one key a client holds, at version V of epoch Epoch.
type HeldKey struct {
	State json.RawMessage
	V     uint64
	Epoch string
}

// Resumed is the server's `_RESUMED` answer: the keys it brought up to date with patches,
// and those it sent a `_SET` of.
type Resumed struct {
	Patched []string `json:"patched"`
	Set     []string `json:"set"`
}

// WithResume makes the client resume with what h holds: it offers the subprotocol
// wssync.resume, starts from h's states and versions, and sends `_RESUME` with h's
// versions and epochs as its first frame (after `_USER_SESSION`, with WithIdentity).
// Writes of a key are held until the server's answer for it: a `_SET`, or `_RESUMED`
// listing it as patched.
func WithResume(h Held) DialOption {
	return func(c *dialConfig) {
		c.resume = h
		if c.resume == nil {
			c.resume = Held{}
		}
	}
}

// Held returns the state, version and epoch of every key the client holds and knows the
// epoch of (every key whose `_SET` came from a wssync server that resumes).
func (c *Client) Held() Held {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := make(Held, len(c.states))
	for key, s := range c.states {
		e := c.epochs[key]
		if e == "" || c.awaiting[key] {
			continue
		}
		b, _ := json.Marshal(s) // decoded JSON always marshals
		h[key] = HeldKey{State: b, V: c.versions[key], Epoch: e}
	}
	return h
}

// Resumed returns the server's `_RESUMED` answer, once it has come.
func (c *Client) Resumed() (Resumed, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.resumed == nil {
		return Resumed{}, false
	}
	return *c.resumed, true
}

// seed starts the client from h and builds its `_RESUME` frame. It runs before the
// reader starts.
func (c *Client) seed(h Held) error {
	entries := make(map[string]any, len(h))
	for key, k := range h {
		v, err := decodeJSON(k.State)
		if err != nil {
			return fmt.Errorf("wssynctest: held state of %q: %w", key, err)
		}
		c.states[key], c.versions[key], c.epochs[key] = v, k.V, k.Epoch
		entries[key] = map[string]any{"v": k.V, "epoch": k.Epoch}
	}
	b, err := json.Marshal(map[string]any{"type": proto.Resume, "data": entries})
	if err != nil {
		return err
	}
	c.resume = b
	return nil
}

// applyResumedLocked records `_RESUMED`: each patched key is now live on the connection
// (its held writes go out). The caller holds mu.
func (c *Client) applyResumedLocked(f Frame) {
	var r Resumed
	if err := json.Unmarshal(f.Data, &r); err != nil {
		c.errs = append(c.errs, fmt.Errorf("%s: %w", f.Type, err))
		return
	}
	c.resumed = &r
	for _, key := range r.Patched {
		if _, ok := c.states[key]; !ok {
			c.errs = append(c.errs, fmt.Errorf("%s: %q patched, but the client holds no state of it", f.Type, key))
			continue
		}
		c.live[key] = true
		c.flushOutboxLocked(key)
	}
}
