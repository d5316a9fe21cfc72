package wsclient

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync/internal/proto"
)

// Binary frames (docs/protocol.md, "Binary frames"): a `_BIN_META` text frame
// {"type": EVENT, "metadata": {...}} announces that the next frame is binary and belongs to
// EVENT, both ways.

// Binary is one binary payload the server sent (Session.SendBinary): the event its
// `_BIN_META` named, that announcement's metadata (JSON, possibly null) and the bytes.
type Binary struct {
	Event    string
	Metadata json.RawMessage
	Data     []byte
}

// binAnnounce is a `_BIN_META` waiting for its binary frame.
type binAnnounce struct {
	Type     string          `json:"type"`
	Metadata json.RawMessage `json:"metadata"`
}

// decodeBinMeta decodes the data of a server's `_BIN_META`. Data that is not
// {"type": non-empty string, ...} is an error.
func decodeBinMeta(data []byte) (*binAnnounce, error) {
	var m binAnnounce
	if err := json.Unmarshal(data, &m); err != nil || m.Type == "" {
		return nil, fmt.Errorf("wsclient: %s data must be {\"type\": EVENT, \"metadata\": ...}: %.64q", proto.BinMeta, data)
	}
	return &m, nil
}

// SendBinary sends `_BIN_META` {"type": event, "metadata": metadata} and then data as a
// binary frame, with nothing between them; the server calls event's handler with
// {"data": bytes, ...metadata}. It waits (within ctx) for an identified connection and
// returns once both frames are written. The protocol carries no request id for binary
// frames: a refusal comes back as `_ERROR` (OnError).
func (c *Client) SendBinary(ctx context.Context, event string, metadata any, data []byte) error {
	meta := outFrame{Type: proto.BinMeta, Data: map[string]any{"type": event, "metadata": metadata}}
	if _, err := json.Marshal(meta); err != nil {
		return fmt.Errorf("wsclient: metadata of %q: %w", event, err)
	}
	cn, err := c.ready(ctx)
	if err != nil {
		return err
	}
	return cn.writeBinary(meta, data)
}

// ActionBinary calls action name of key with params and data as its `data` param, as
// ws-sync-react's sendBinary does: `_BIN_META` for `_ACTION:KEY` with {"type": name,
// ...params}, then the bytes. The action's parameter struct needs a []byte `data` field.
// There is no result: the server's refusal or failure comes as `_ERROR` (OnError).
func (c *Client) ActionBinary(ctx context.Context, key, name string, params any, data []byte) error {
	m, err := callData(name, params)
	if err != nil {
		return err
	}
	return c.SendBinary(ctx, proto.Keyed(proto.Action, key), m, data)
}

// OnBinary calls fn for every binary payload the server sends for event (its `_BIN_META`
// type), on the dispatcher. fn owns b.Data. It returns a function that removes fn.
func (c *Client) OnBinary(event string, fn func(b Binary)) (remove func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := &c.handlers
	if h.binary == nil {
		h.binary = map[string]map[int]func(Binary){}
	}
	if h.binary[event] == nil {
		h.binary[event] = map[int]func(Binary){}
	}
	id := h.next
	h.next++
	h.binary[event][id] = fn
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(h.binary[event], id)
	}
}

// handleBinary delivers one binary frame to the handlers of the `_BIN_META` before it. A
// binary frame without one is dropped. It runs on cn's reader.
func (c *Client) handleBinary(cn *conn, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	meta := cn.binMeta
	cn.binMeta = nil
	if meta == nil {
		c.cfg.logger.Warn("wsclient: binary frame without " + proto.BinMeta + ", dropped")
		return
	}
	fns := c.handlers.binary[meta.Type]
	if len(fns) == 0 {
		return
	}
	list := make([]func(Binary), 0, len(fns))
	for _, fn := range fns {
		list = append(list, fn)
	}
	c.disp.enqueue(func() {
		for _, fn := range list {
			fn(Binary{Event: meta.Type, Metadata: meta.Metadata, Data: append([]byte(nil), data...)})
		}
	})
}

// writeBinary writes the announcement and the binary frame under one hold of the write
// lock, so no other frame of this client comes between them.
func (cn *conn) writeBinary(meta outFrame, data []byte) error {
	b, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	if cn.ws == nil {
		return errNoSocket
	}
	cn.writeMu.Lock()
	defer cn.writeMu.Unlock()
	for _, m := range []struct {
		mt int
		b  []byte
	}{{websocket.TextMessage, b}, {websocket.BinaryMessage, data}} {
		_ = cn.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
		if err := cn.ws.WriteMessage(m.mt, m.b); err != nil {
			_ = cn.ws.Close()
			return fmt.Errorf("%w: %w", ErrConnectionLost, err)
		}
	}
	return nil
}
