package wssync

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync/internal/patch"
	"github.com/wssync/wssync/internal/proto"
)

// inbound is one decoded client frame.
type inbound struct {
	event string          // the frame's "type"
	data  json.RawMessage // the frame's "data"; nil when absent
	id    string          // the request id (our extension); "" when absent
	base  []byte          // the "base" member, undecoded (see parseBase); nil when absent
	bin   []byte          // the binary payload, for events announced by _BIN_META
}

// eventHandler handles one client event. It runs on the connection's dispatcher goroutine
// under the session's dispatchMu, so a session's events are handled one at a time, in
// arrival order. A returned *Error goes
// to the client; any other error is logged and reported as CodeInternal.
type eventHandler func(c *conn, in *inbound) error

// binMeta is a pending `_BIN_META`: the next frame is binary and belongs to event.
type binMeta struct {
	event    string
	metadata json.RawMessage
}

// maxRequestID bounds the request ids a client may send, as they are echoed back.
const maxRequestID = 128

// decodeInbound parses a text frame into an inbound without copying its data. It never
// panics on any input; every refusal is an *Error with a documented code.
func decodeInbound(data []byte) (*inbound, *Error) {
	in := &inbound{}
	var typ, id []byte
	err := patch.ObjectMembers(data, func(key string, value []byte) error {
		switch key { // the last of duplicate members wins, as with encoding/json
		case "type":
			typ = value
		case "data":
			in.data = value
		case "id":
			id = value
		case "base":
			in.base = value
		}
		return nil
	})
	if err != nil {
		if json.Valid(data) {
			return nil, errorf(CodeBadEnvelope, "", "a frame must be a JSON object with a string \"type\"")
		}
		return nil, errorf(CodeMalformedJSON, "", "frame is not valid JSON")
	}
	var ok bool
	if in.event, ok = patch.String(typ); !ok || in.event == "" {
		return nil, errorf(CodeBadEnvelope, "", "a frame must be a JSON object with a non-empty string \"type\"")
	}
	if bytes.Equal(in.data, []byte("null")) {
		in.data = nil
	}
	if id != nil && !bytes.Equal(id, []byte("null")) {
		if in.id, ok = patch.String(id); !ok || in.id == "" || len(in.id) > maxRequestID {
			return nil, &Error{Code: CodeBadEnvelope, Event: in.event,
				Message: fmt.Sprintf("\"id\" must be a non-empty string of at most %d bytes", maxRequestID)}
		}
	}
	return in, nil
}

// handleFrame decodes and dispatches one client frame, reporting refusals to the client.
func (c *conn) handleFrame(mt int, data []byte) {
	if mt == websocket.BinaryMessage {
		meta := c.binMeta
		c.binMeta = nil
		if meta == nil {
			c.refuse(nil, errorf(CodeBinaryUnexpected, "", "binary frame without a preceding %s", proto.BinMeta))
			return
		}
		c.dispatch(&inbound{event: meta.event, data: meta.metadata, bin: data})
		return
	}
	if c.binMeta != nil {
		ev := c.binMeta.event
		c.binMeta = nil
		c.refuse(&inbound{event: proto.BinMeta}, errorf(CodeBinaryMissing, "", "%s for %q was followed by a text frame, not a binary one", proto.BinMeta, clip(ev, maxEchoedName)))
	}
	in, err := decodeInbound(data)
	if err != nil {
		c.refuse(nil, err)
		return
	}
	switch in.event {
	case proto.BinMeta:
		c.acceptBinMeta(in)
	case proto.Auth:
		c.handleAuth(in)
	case proto.Resume: // only a resuming connection's first frame (firstFrame) is one
		c.refuse(in, errorf(CodeBadData, "", "%s is taken only as the first frame of a connection that offered the subprotocol %s", proto.Resume, proto.ResumeSubprotocol))
	case proto.Ping:
		c.handlePing(in)
	default:
		c.dispatch(in)
	}
}

// acceptBinMeta records a `_BIN_META` announcement for the next frame.
func (c *conn) acceptBinMeta(in *inbound) {
	var m struct {
		Type     string          `json:"type"`
		Metadata json.RawMessage `json:"metadata"`
	}
	if in.data == nil || json.Unmarshal(in.data, &m) != nil || m.Type == "" {
		c.refuse(in, errorf(CodeBadData, "", "%s data must be {\"type\": EVENT, \"metadata\": {...}}", proto.BinMeta))
		return
	}
	if _, ok := c.sess.handler(m.Type); !ok {
		c.refuse(in, c.sess.unknownEvent(m.Type))
		return
	}
	c.binMeta = &binMeta{event: m.Type, metadata: m.Metadata}
	c.badFrames = 0
}

// dispatch routes an inbound frame to its handler. A frame counts as refused, toward
// Limits.MaxBadFrames, when its handler returns an error or refuses it through c.refuse (a
// refused write does, then answers with the authoritative state); only a frame nothing
// refused resets the count.
func (c *conn) dispatch(in *inbound) {
	h, ok := c.sess.handler(in.event)
	if !ok {
		c.refuse(in, c.sess.unknownEvent(in.event))
		return
	}
	c.refused = false
	c.sess.dispatchMu.Lock()
	if c.closing() {
		// Replaced or closed while this frame waited for the lock: the newer connection's
		// OnConnect may have run already, and a closing connection's frames are dropped.
		c.sess.dispatchMu.Unlock()
		return
	}
	err := c.callHandler(h, in)
	c.sess.dispatchMu.Unlock()
	if err != nil {
		c.refuse(in, err)
		return
	}
	if !c.refused {
		c.badFrames = 0
	}
}

// callHandler runs h, turning a panic into an internal error: no client frame may take
// the server down.
func (c *conn) callHandler(h eventHandler, in *inbound) (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("wssync: handler panicked", "event", in.event, "panic", r)
			err = errorf(CodeInternal, "", "the server failed to handle %s", in.event)
		}
	}()
	return h(c, in)
}

// refuse reports err to the client (see refusal) and closes the connection after too many
// refusals in a row. It runs on the dispatcher goroutine. The refusal that ends the
// connection is its farewell, written before the close frame: frames still queued at a
// close are dropped, and the client must learn why it is closed.
func (c *conn) refuse(in *inbound, err error) {
	f := c.refusal(in, err)
	c.refused = true
	c.badFrames++
	if c.badFrames >= c.sess.cfg.maxBadFrames {
		c.closeWith(ClosePolicyViolation, "too many refused frames", f)
		return
	}
	c.send(f)
}

// Bounds of the strings an error echoes, as clients control them (an event name, a path,
// an action name, a message quoting them): a 1 MiB event name is not sent back in full.
const (
	maxEchoedName    = 256  // bytes of Event, Action and Path
	maxEchoedMessage = 1024 // bytes of Message
)

// report sends err to the client (see refusal).
func (c *conn) report(in *inbound, err error) { c.send(c.refusal(in, err)) }

// refusal builds the frame that tells the client of err (_RESULT when the frame carried an
// id, else _ERROR), with its strings cut to the echo bounds, and logs and counts it.
func (c *conn) refusal(in *inbound, err error) *frame {
	var e *Error
	event, id := "", ""
	if in != nil {
		event, id = in.event, in.id
	}
	if !errors.As(err, &e) {
		c.log.Error("wssync: handler failed", "event", clip(event, maxEchoedName), "err", err)
		e = errorf(CodeInternal, "", "the server failed to handle the request")
	}
	e = &Error{Code: e.Code, Message: e.Message, Path: e.Path, Event: e.Event, Action: e.Action}
	if in != nil {
		e.Event = event
	}
	e.Event, e.Path, e.Action = clip(e.Event, maxEchoedName), clip(e.Path, maxEchoedName), clip(e.Action, maxEchoedName)
	e.Message = clip(e.Message, maxEchoedMessage)
	c.log.Info("wssync: refused client frame", "code", e.Code, "event", e.Event, "path", e.Path, "msg", e.Message)
	c.sess.metrics.countError(e.Code)
	return errorFrame(e, id)
}

// clip cuts s to at most n bytes, on a rune boundary, marking the cut with "…".
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	cut := n - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// handler looks up the handler of an event.
func (s *Session) handler(event string) (eventHandler, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.events[event]
	return h, ok
}

// unknownEvent explains a missing handler: an unknown key reads better than an unknown event.
func (s *Session) unknownEvent(event string) *Error {
	for _, p := range proto.KeyedEvents {
		if key, ok := proto.KeyOf(event, p); ok {
			return errorf(CodeUnknownKey, "", "no object is registered under key %q", clip(key, maxEchoedName))
		}
	}
	return errorf(CodeUnknownEvent, "", "unknown event %q", clip(event, maxEchoedName))
}

// addHandlers registers handlers; an event already present is an error and nothing is added.
func (s *Session) addHandlersLocked(hs map[string]eventHandler) error {
	for ev := range hs {
		if _, dup := s.events[ev]; dup {
			return fmt.Errorf("wssync: event %q already has a handler", ev)
		}
	}
	for ev, h := range hs {
		s.events[ev] = h
	}
	return nil
}
