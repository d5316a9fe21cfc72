package wsclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync/internal/proto"
)

// conn is one WebSocket connection of a Client. Its fields other than ws and writeMu are
// guarded by the Client's mu.
type conn struct {
	ws       *websocket.Conn
	writeMu  sync.Mutex
	ready    bool          // identified: frames sent now reach the session
	everUp   bool          // ready at some point (read by the supervisor after the end)
	replaced bool          // the server sent _DISCONNECT: the close that follows is terminal
	binMeta  *binAnnounce  // a _BIN_META whose binary frame has not come yet
	ended    chan struct{} // closed when the reader has stopped
	endErr   error         // why the reader stopped
}

// helloPing is the data of the ping sent right after the upgrade. A server without a
// handshake answers it with a pong, which marks the connection identified even when the
// session has no key (so no _SET comes); a server with the handshake drops it unread.
const helloPing = "wsclient-hello"

var errNoSocket = errors.New("wsclient: no socket")

// connect opens one connection: a fresh token, the upgrade, the reader.
func (c *Client) connect(ctx context.Context) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.dialTimeout)
	defer cancel()
	h := c.cfg.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	d := websocket.Dialer{Proxy: http.ProxyFromEnvironment, HandshakeTimeout: c.cfg.dialTimeout}
	if !c.cfg.noResume {
		d.Subprotocols = []string{proto.Subprotocol, proto.ResumeSubprotocol}
	}
	if c.cfg.token != nil {
		tok, err := c.cfg.token(ctx)
		if err != nil {
			return nil, err
		}
		if c.cfg.tokenProto {
			if len(d.Subprotocols) == 0 {
				d.Subprotocols = []string{proto.Subprotocol}
			}
			d.Subprotocols = append(d.Subprotocols, proto.BearerPrefix+tok)
		} else {
			h.Set("Authorization", "Bearer "+tok)
		}
	}
	ws, resp, err := d.DialContext(ctx, c.url, h)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		if resp != nil && errors.Is(err, websocket.ErrBadHandshake) {
			return nil, &HandshakeError{Status: resp.StatusCode}
		}
		return nil, err
	}
	cn := &conn{ws: ws, ended: make(chan struct{})}
	_ = ws.SetReadDeadline(time.Now().Add(c.cfg.readTimeout))
	ws.SetPingHandler(func(data string) error {
		// The server's keepalive ping: the connection is alive; answer as gorilla's default does.
		_ = ws.SetReadDeadline(time.Now().Add(c.cfg.readTimeout))
		err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(writeTimeout))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	c.mu.Lock()
	c.conn = cn
	// On a server without the handshake, _RESUME must be the first frame; a server with
	// it drops both frames unread, and _RESUME goes again after _USER_SESSION.
	c.sendResumeLocked(cn)
	c.mu.Unlock()
	// The hello ping goes before the reader starts: once it runs, it may answer the
	// handshake at once, and a ping written between _USER_SESSION and the second _RESUME
	// would be the connection's first frame, which ends the server's wait for _RESUME.
	_ = cn.write(outFrame{Type: proto.Ping, Data: helloPing})
	c.wg.Add(1)
	go c.read(cn)
	c.cfg.logger.Debug("wsclient: connected", "url", c.url)
	return cn, nil
}

// serve waits until cn ends, or closes it when the client is closed, and returns why it
// ended: a terminal *CloseError, or the error to retry after.
func (c *Client) serve(cn *conn) error {
	select {
	case <-cn.ended:
	case <-c.ctx.Done():
		cn.writeMu.Lock()
		_ = cn.ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		cn.writeMu.Unlock()
		_ = cn.ws.Close()
		<-cn.ended
		return ErrClosed
	}
	c.mu.Lock()
	replaced, err := cn.replaced, cn.endErr
	c.mu.Unlock()
	var ce *CloseError
	if errors.As(closeReason(err), &ce) {
		return ce
	}
	if replaced { // _DISCONNECT, then the connection broke before the close frame
		return &CloseError{Code: CloseReplaced, Reason: "replaced"}
	}
	return err
}

func (cn *conn) wasReady() bool { return cn.everUp }

// write sends one frame. Writes of a connection are serialized; each is bounded by
// writeTimeout so a stalled server cannot hold a caller for ever. A failed write closes
// the connection and returns an error matching ErrConnectionLost.
func (cn *conn) write(f outFrame) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	if cn.ws == nil {
		return errNoSocket // a conn built by a unit test
	}
	cn.writeMu.Lock()
	defer cn.writeMu.Unlock()
	_ = cn.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := cn.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		// A connection that failed a write is broken (gorilla/websocket: no further writes):
		// closing it ends the reader now, which starts the reconnect.
		_ = cn.ws.Close()
		return fmt.Errorf("%w: %w", ErrConnectionLost, err)
	}
	return nil
}

// read is the connection's reader: it applies every frame, then, when the connection
// ends, marks what it held as no longer live.
func (c *Client) read(cn *conn) {
	defer c.wg.Done()
	defer close(cn.ended)
	for {
		mt, data, err := cn.ws.ReadMessage()
		if err != nil {
			_ = cn.ws.Close()
			c.lost(cn, err)
			return
		}
		_ = cn.ws.SetReadDeadline(time.Now().Add(c.cfg.readTimeout))
		if mt == websocket.BinaryMessage {
			c.handleBinary(cn, data)
			continue
		}
		c.handle(cn, data)
	}
}

// lost forgets cn: keys are no longer live (their state stays, for Get), and requests
// waiting for an answer fail with ErrConnectionLost.
func (c *Client) lost(cn *conn, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cn.endErr = err
	if c.conn == cn {
		c.conn = nil
	}
	if cn.everUp && c.ctx.Err() == nil { // not the end Close asked for
		c.statusLocked(Status{Err: closeReason(err)})
	}
	for _, k := range c.keys {
		k.disconnected()
	}
	for id, ch := range c.pending {
		ch <- reply{err: ErrConnectionLost}
		delete(c.pending, id)
	}
	c.notifyLocked()
}

// markReadyLocked records that cn is identified.
func (c *Client) markReadyLocked(cn *conn) {
	if !cn.ready {
		cn.ready, cn.everUp = true, true
		c.statusLocked(Status{Connected: true})
		c.cfg.logger.Debug("wsclient: identified", "url", c.url)
	}
}

// handle applies one text frame. It runs on cn's reader.
func (c *Client) handle(cn *conn, data []byte) {
	var f inFrame
	if err := json.Unmarshal(data, &f); err != nil {
		c.cfg.logger.Warn("wsclient: undecodable frame", "err", err)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.notifyLocked()
	if cn.binMeta != nil { // the announced binary frame did not come: drop the announcement
		c.cfg.logger.Warn("wsclient: "+proto.BinMeta+" not followed by a binary frame", "event", cn.binMeta.Type)
		cn.binMeta = nil
	}
	if f.Type == proto.BinMeta {
		m, err := decodeBinMeta(f.Data)
		if err != nil {
			c.cfg.logger.Warn("wsclient: undecodable frame", "err", err)
			return
		}
		cn.binMeta = m
		return
	}
	if f.Type == proto.RequestUserSession {
		err := cn.write(outFrame{Type: proto.UserSession, Data: map[string]string{"user": c.cfg.user, "session": c.cfg.session}})
		if err != nil {
			c.cfg.logger.Warn("wsclient: answering the handshake", "err", err)
			return
		}
		c.markReadyLocked(cn) // frames written from now on follow the answer
		c.sendResumeLocked(cn)
		return
	}
	c.markReadyLocked(cn) // the server sends nothing else before it has identified us
	if key, ok := proto.KeyOf(f.Type, proto.Set); ok {
		c.keyLocked(key).onSet(f.Data, f.V, f.Epoch, c.cfg.logger)
		return
	}
	if key, ok := proto.KeyOf(f.Type, proto.Patch); ok {
		if c.keyLocked(key).onPatch(f.Data, f.V, c.cfg.logger) {
			if err := cn.write(outFrame{Type: proto.Keyed(proto.Get, key), Data: struct{}{}}); err != nil {
				c.cfg.logger.Warn("wsclient: asking for a fresh state", "key", key, "err", err)
			}
		}
		return
	}
	switch f.Type {
	case proto.Result:
		c.answerLocked(f.ID, reply{data: f.Data, err: errOrNil(f.Error)})
	case proto.Pong:
		var s string
		if json.Unmarshal(f.Data, &s) == nil {
			c.answerLocked(pingID(s), reply{})
		}
	case proto.Resumed:
		c.resumedLocked(f.Data)
	case proto.Disconnect:
		cn.replaced = true
	case proto.AuthExpiring:
		c.refreshLocked(f.Data)
	}
	c.handlers.dispatchLocked(&c.disp, f)
}

// errOrNil keeps a nil *Error from becoming a non-nil error.
func errOrNil(e *Error) error {
	if e == nil {
		return nil
	}
	return e
}

// keyLocked returns the state of key, creating it.
func (c *Client) keyLocked(key string) *keyState {
	k, ok := c.keys[key]
	if !ok {
		k = &keyState{key: key}
		c.keys[key] = k
	}
	return k
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
