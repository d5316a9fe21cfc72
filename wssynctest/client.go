// Package wssynctest is a test client for wssync servers: it dials a real WebSocket, keeps
// the state of every key the way a browser client does (applying its own writes at once,
// holding back writes of a key until its first `_SET` on the connection, then `_SET` and
// `_PATCH` with version checks), records every frame, and sends client events. Tests of wssync and of
// applications built on it use it over loopback.
package wssynctest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync/internal/jsontree"
	"github.com/wssync/wssync/internal/proto"
)

// Frame is one frame received from the server.
type Frame struct {
	Type   string          `json:"type"`
	Data   json.RawMessage `json:"data"`
	V      *uint64         `json:"v"`
	Epoch  string          `json:"epoch"` // on _SET: the incarnation of the key's history
	ID     string          `json:"id"`
	Error  json.RawMessage `json:"error"`
	Binary []byte          `json:"-"` // payload of a binary frame (Type is "" then)
}

// Client is a connected test client. Its methods are safe for concurrent use.
type Client struct {
	ws      *websocket.Conn
	writeMu sync.Mutex

	gateMu     sync.Mutex
	gate       chan struct{} // non-nil while paused; closed by Resume
	identity   *[2]string    // answer to _REQUEST_USER_SESSION, if any
	answered   chan struct{} // closed once the answer is sent
	closing    chan struct{} // closed by Close, to free a paused reader
	closeOnce  sync.Once
	answerOnce sync.Once

	mu       sync.Mutex
	changed  chan struct{}  // closed and replaced on every received frame
	states   map[string]any // decoded state of each key
	versions map[string]uint64
	epochs   map[string]string     // each key's epoch, from its latest _SET
	resume   []byte                // the _RESUME frame to send first, after identification; nil without WithResume
	resumed  *Resumed              // the server's _RESUMED answer, once it came
	wrote    map[string]bool       // keys with a write of ours applied since their last _SET
	live     map[string]bool       // keys that have had a _SET on this connection
	outbox   map[string][]ownWrite // writes held until the key's first _SET (see Send)
	awaiting map[string]bool       // keys whose patches are skipped until the _SET asked for
	frames   []Frame
	cursor   int
	errs     []error
	closeErr error
	done     chan struct{}
}

// DialOption configures Dial.
type DialOption func(*dialConfig)

type dialConfig struct {
	header   http.Header
	identity *[2]string
	resume   Held
}

// WithHeader sets the HTTP headers of the upgrade request (cookies, Authorization, Origin).
func WithHeader(h http.Header) DialOption { return func(c *dialConfig) { c.header = h } }

// WithIdentity answers the server's `_REQUEST_USER_SESSION` with `_USER_SESSION`
// {"user": user, "session": session}, as ws-sync-react's wsAuth does. Dial then returns
// only once the answer is sent, so frames the caller sends next follow it.
func WithIdentity(user, session string) DialOption {
	return func(c *dialConfig) { c.identity = &[2]string{user, session} }
}

// Dial connects to a wssync endpoint (ws:// URL) and starts reading. Nil options are
// ignored.
func Dial(ctx context.Context, url string, opts ...DialOption) (*Client, error) {
	var cfg dialConfig
	for _, o := range opts {
		if o != nil { // Dial(ctx, url, nil) dials with no options
			o(&cfg)
		}
	}
	dialer := *websocket.DefaultDialer
	if cfg.resume != nil {
		dialer.Subprotocols = []string{proto.Subprotocol, proto.ResumeSubprotocol}
	}
	ws, _, err := dialer.DialContext(ctx, url, cfg.header)
	if err != nil {
		return nil, err
	}
	c := &Client{
		ws:       ws,
		changed:  make(chan struct{}),
		states:   make(map[string]any),
		versions: make(map[string]uint64),
		epochs:   make(map[string]string),
		wrote:    make(map[string]bool),
		live:     make(map[string]bool),
		outbox:   make(map[string][]ownWrite),
		awaiting: make(map[string]bool),
		done:     make(chan struct{}),
		closing:  make(chan struct{}),
		identity: cfg.identity,
		answered: make(chan struct{}),
	}
	if cfg.resume != nil {
		if err := c.seed(cfg.resume); err != nil {
			_ = ws.Close()
			return nil, err
		}
	}
	go c.readLoop()
	if cfg.resume != nil && cfg.identity == nil {
		if err := c.SendRaw(c.resume); err != nil {
			_ = c.Close()
			return nil, err
		}
	}
	if cfg.identity != nil {
		// Frames sent before the server has the ids would be dropped: wait for the handshake.
		select {
		case <-c.answered:
		case <-c.done:
			select {
			case <-c.answered:
				// Answered, then closed by the server (a refused session): the close is
				// the caller's to read, as for any connection that ends.
				return c, nil
			default:
			}
			return nil, fmt.Errorf("wssynctest: connection closed during the handshake: %w", c.CloseError())
		case <-ctx.Done():
			_ = c.Close()
			return nil, ctx.Err()
		}
	}
	return c, nil
}

// Conn exposes the underlying connection, for tests that need raw control.
func (c *Client) Conn() *websocket.Conn { return c.ws }

func (c *Client) readLoop() {
	defer close(c.done)
	for {
		c.gateMu.Lock()
		gate := c.gate
		c.gateMu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-c.closing:
			}
		}
		mt, data, err := c.ws.ReadMessage()
		c.mu.Lock()
		if err != nil {
			c.closeErr = err
			c.notifyLocked()
			c.mu.Unlock()
			return
		}
		var f Frame
		if mt == websocket.BinaryMessage {
			f.Binary = data
		} else if err := json.Unmarshal(data, &f); err != nil {
			c.errs = append(c.errs, fmt.Errorf("undecodable frame %q: %w", data, err))
		}
		c.frames = append(c.frames, f)
		c.applyLocked(f)
		c.notifyLocked()
		c.mu.Unlock()
		if f.Type == proto.RequestUserSession && c.identity != nil {
			_ = c.Send(proto.UserSession, map[string]string{"user": c.identity[0], "session": c.identity[1]})
			if c.resume != nil {
				_ = c.SendRaw(c.resume) // the first frame after identification
			}
			c.answerOnce.Do(func() { close(c.answered) })
		}
	}
}

func (c *Client) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// applyLocked keeps the per-key state, checking versions as docs/protocol.md prescribes.
// A server that sends a patch out of order is recorded in Errs.
func (c *Client) applyLocked(f Frame) {
	if key, ok := proto.KeyOf(f.Type, proto.Set); ok {
		v, err := jsontree.Decode(f.Data)
		if err != nil {
			c.errs = append(c.errs, fmt.Errorf("%s: %w", f.Type, err))
			return
		}
		c.states[key] = v
		if f.V != nil {
			c.versions[key] = *f.V
		}
		c.epochs[key] = f.Epoch
		delete(c.wrote, key)
		delete(c.awaiting, key)
		c.live[key] = true
		c.flushOutboxLocked(key)
		return
	}
	if f.Type == proto.Resumed {
		c.applyResumedLocked(f)
		return
	}
	key, ok := proto.KeyOf(f.Type, proto.Patch)
	if !ok {
		return
	}
	if c.awaiting[key] {
		return
	}
	cur, have := c.states[key]
	if !have {
		c.errs = append(c.errs, fmt.Errorf("%s before any _SET", f.Type))
		return
	}
	// A duplicate or a gap is a server fault here (a key's version is its _SET's, 0 without one).
	if proto.Classify(c.versions[key], true, f.V) != proto.Apply {
		c.errs = append(c.errs, fmt.Errorf("%s: version %d after %d", f.Type, *f.V, c.versions[key]))
		return
	}
	cur, err := jsontree.Apply(cur, f.Data)
	if err != nil && c.wrote[key] {
		// A patch computed before our own write, applied on top of it, may not apply
		// (an index past an array we changed): ask for the state, as a browser client does.
		// The echo of the write, or the _SET, brings the published state.
		delete(c.states, key)
		c.awaiting[key] = true
		b, _ := json.Marshal(map[string]any{"type": proto.Keyed(proto.Get, key), "data": map[string]any{}})
		if err := c.SendRaw(b); err != nil {
			c.errs = append(c.errs, err)
		}
		return
	}
	if err != nil {
		c.errs = append(c.errs, fmt.Errorf("%s does not apply: %w", f.Type, err))
		delete(c.states, key) // no trustworthy base until the next _SET
		return
	}
	c.states[key] = cur
	if f.V != nil {
		c.versions[key] = *f.V
	}
}

// Pause stops reading frames from the connection (after the frame being read, if any), so
// the server sees a client that has fallen behind. Resume undoes it.
func (c *Client) Pause() {
	c.gateMu.Lock()
	defer c.gateMu.Unlock()
	if c.gate == nil {
		c.gate = make(chan struct{})
	}
}

// Resume resumes reading after Pause.
func (c *Client) Resume() {
	c.gateMu.Lock()
	defer c.gateMu.Unlock()
	if c.gate != nil {
		close(c.gate)
		c.gate = nil
	}
}

// State returns the client's current JSON state of key, its version, and whether a _SET
// for it has arrived.
func (c *Client) State(key string) (json.RawMessage, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.states[key]
	if !ok {
		return nil, 0, false
	}
	b, _ := json.Marshal(s) // decoded JSON always marshals
	return b, c.versions[key], true
}

// Decode unmarshals the client's current state of key into v.
func (c *Client) Decode(key string, v any) error {
	s, _, ok := c.State(key)
	if !ok {
		return fmt.Errorf("wssynctest: no state for %q", key)
	}
	return json.Unmarshal(s, v)
}

// Errs returns the protocol violations seen so far: patches out of version order, patches
// before a _SET, patches that do not apply, undecodable frames. A correct server causes none.
func (c *Client) Errs() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return errors.Join(c.errs...)
}

// Frames returns a copy of every frame received so far.
func (c *Client) Frames() []Frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Frame(nil), c.frames...)
}

// WaitFor blocks until cond (called with the client's lock held, so it must not call the
// client) returns true, the connection closes, or ctx ends.
func (c *Client) WaitFor(ctx context.Context, cond func() bool) error {
	for {
		c.mu.Lock()
		ok, ch, closed := cond(), c.changed, c.closeErr
		c.mu.Unlock()
		if ok {
			return nil
		}
		if closed != nil {
			return fmt.Errorf("wssynctest: connection closed while waiting: %w", closed)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// WaitState blocks until key's state, decoded into a fresh T, satisfies cond.
func WaitState[T any](ctx context.Context, c *Client, key string, cond func(T) bool) (T, error) {
	var last T
	err := c.WaitFor(ctx, func() bool {
		s, ok := c.states[key]
		if !ok {
			return false
		}
		b, _ := json.Marshal(s)
		var v T
		if json.Unmarshal(b, &v) != nil {
			return false
		}
		last = v
		return cond(v)
	})
	return last, err
}

// WaitVersion blocks until the client holds version v (or later) of key, and returns that
// state.
func (c *Client) WaitVersion(ctx context.Context, key string, v uint64) (json.RawMessage, error) {
	var state json.RawMessage
	err := c.WaitFor(ctx, func() bool {
		s, ok := c.states[key]
		if ok && c.versions[key] >= v {
			state, _ = json.Marshal(s)
			return true
		}
		return false
	})
	return state, err
}

// Next returns the next frame not yet returned by Next or WaitFrame, waiting for it.
func (c *Client) Next(ctx context.Context) (Frame, error) {
	return c.WaitFrame(ctx, func(Frame) bool { return true })
}

// WaitFrame consumes frames in order until one satisfies match, and returns it.
func (c *Client) WaitFrame(ctx context.Context, match func(Frame) bool) (Frame, error) {
	var found Frame
	err := c.WaitFor(ctx, func() bool {
		for c.cursor < len(c.frames) {
			f := c.frames[c.cursor]
			c.cursor++
			if match(f) {
				found = f
				return true
			}
		}
		return false
	})
	return found, err
}

// ownWrite is a write of the client, held until its key's first _SET.
type ownWrite struct {
	frame []byte // the whole frame, as sent
	data  []byte // its data
	patch bool   // a _PATCH (else a _SET)
}

// Send sends one event frame {"type": event, "data": data}. A write (`_PATCH:KEY` or
// `_SET:KEY`) is first applied to the client's own state, as ws-sync-react and our hook
// do: the server's echo to a writer is only what turns its state, so written, into the
// published one. A write that does not apply locally is sent anyway and leaves the state
// as it was (the server refuses it and sends the authoritative `_SET`).
//
// A write of a key that has not had its `_SET` on this connection yet is held, as
// ws-sync-react holds it, and sent right after that `_SET`, applied on top of it. Sent
// earlier, it could cross the `_SET` on the wire: the server may apply it after building
// the `_SET`, and echo it as if the client held the `_SET` plus its write, while the
// `_SET` has replaced the client's state. Use SendRaw to send a write at once.
func (c *Client) Send(event string, data any) error { return c.send(event, data, WriteOpts{}) }

// send is Send with the extension fields of w on the frame.
func (c *Client) send(event string, data any, w WriteOpts) error {
	msg := map[string]any{"type": event, "data": data}
	if w.ID != "" {
		msg["id"] = w.ID
	}
	if w.Base != nil {
		msg["base"] = *w.Base
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	key, patch := proto.KeyOf(event, proto.Patch)
	if !patch {
		var set bool
		if key, set = proto.KeyOf(event, proto.Set); !set {
			return c.SendRaw(b)
		}
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if !c.live[key] {
		c.outbox[key] = append(c.outbox[key], ownWrite{frame: b, data: raw, patch: patch})
		c.mu.Unlock()
		return nil
	}
	c.applyOwnLocked(key, raw, patch)
	c.mu.Unlock()
	return c.SendRaw(b)
}

// flushOutboxLocked sends the writes of key held until its first _SET, which has just
// been applied, applying each on top of it. A write that cannot be sent is lost with the
// connection, as one sent on a connection that then drops.
func (c *Client) flushOutboxLocked(key string) {
	for _, w := range c.outbox[key] {
		c.applyOwnLocked(key, w.data, w.patch)
		_ = c.SendRaw(w.frame)
	}
	delete(c.outbox, key)
}

// applyOwnLocked applies the client's own write (raw, the data of a _PATCH or, patch
// false, of a _SET) to its state of key. The caller holds mu.
func (c *Client) applyOwnLocked(key string, raw []byte, patch bool) {
	cur, ok := c.states[key]
	if !ok {
		return
	}
	var next any
	var err error
	if patch {
		if next, err = jsontree.Clone(cur); err == nil {
			next, err = jsontree.Apply(next, raw)
		}
	} else {
		next, err = jsontree.Merge(cur, raw) // fields left out keep their value
	}
	if err != nil {
		return
	}
	c.states[key] = next
	c.wrote[key] = true
}

// SendFrame marshals v and sends it as one text frame.
func (c *Client) SendFrame(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.SendRaw(b)
}

// SendRaw sends b as one text frame, unchecked: for tests of malformed input.
func (c *Client) SendRaw(b []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// SendBinary sends `_BIN_META` for event with metadata, then data as a binary frame.
func (c *Client) SendBinary(event string, metadata any, data []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	meta, err := json.Marshal(map[string]any{"type": proto.BinMeta, "data": map[string]any{"type": event, "metadata": metadata}})
	if err != nil {
		return err
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := c.ws.WriteMessage(websocket.TextMessage, meta); err != nil {
		return err
	}
	return c.ws.WriteMessage(websocket.BinaryMessage, data)
}

// Op is one RFC 6902 operation.
type Op struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	From  string `json:"from,omitempty"`
	Value any    `json:"value,omitempty"`
}

// Replace is the op {"op":"replace","path":path,"value":value}.
func Replace(path string, value any) Op { return Op{Op: "replace", Path: path, Value: value} }

// Patch sends `_PATCH:key` with ops.
func (c *Client) Patch(key string, ops ...Op) error {
	return c.Send(proto.Keyed(proto.Patch, key), ops)
}

// Set sends `_SET:key` with a whole state.
func (c *Client) Set(key string, state any) error { return c.Send(proto.Keyed(proto.Set, key), state) }

// WriteOpts are the extension fields of an acknowledged, conditional write (docs/protocol.md,
// "Acknowledged and conditional writes").
type WriteOpts struct {
	ID   string  // the request id: the server answers with one `_RESULT`; "" for none
	Base *uint64 // the version of the key the write was made against; nil for none
}

// Base returns a pointer to v, for WriteOpts.Base.
func Base(v uint64) *uint64 { return &v }

// PatchWith sends `_PATCH:key` with ops and the fields of w, held and applied like Send.
func (c *Client) PatchWith(key string, w WriteOpts, ops ...Op) error {
	return c.send(proto.Keyed(proto.Patch, key), ops, w)
}

// SetWith sends `_SET:key` with a whole state and the fields of w, held and applied like Send.
func (c *Client) SetWith(key string, w WriteOpts, state any) error {
	return c.send(proto.Keyed(proto.Set, key), state, w)
}

// WaitResult waits for the `_RESULT` frame of request id, whether or not Next or WaitFrame
// have passed it, and returns it.
func (c *Client) WaitResult(ctx context.Context, id string) (Frame, error) {
	var found Frame
	err := c.WaitFor(ctx, func() bool {
		for _, f := range c.frames {
			if f.Type == proto.Result && f.ID == id {
				found = f
				return true
			}
		}
		return false
	})
	return found, err
}

// Get sends `_GET:key`, asking for a fresh `_SET`.
func (c *Client) Get(key string) error { return c.Send(proto.Keyed(proto.Get, key), map[string]any{}) }

// Done is closed when the connection has closed.
func (c *Client) Done() <-chan struct{} { return c.done }

// CloseError returns the error that ended the connection (a *websocket.CloseError when the
// server closed it with a code), or nil while it is open.
func (c *Client) CloseError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeErr
}

// Close closes the connection and waits for the reader to stop.
func (c *Client) Close() error {
	c.closeOnce.Do(func() { close(c.closing) })
	c.writeMu.Lock()
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.writeMu.Unlock()
	err := c.ws.Close()
	<-c.done
	return err
}
