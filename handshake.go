package wssync

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync/internal/proto"
)

// maxIDLength bounds user and session ids from clients.
const maxIDLength = 128

// startHandshake takes a pending-handshake slot, if one is free.
func (m *Manager) startHandshake() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pending >= m.cfg.maxPendingHandshakes {
		return false
	}
	m.pending++
	return true
}

// trackHandshake records ws as in the handshake, so Shutdown can end it, and sets its
// deadlines to the handshake timeout (under mu, so Shutdown's comes after); false when the
// Manager is shutting down already.
func (m *Manager) trackHandshake(ws *websocket.Conn) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closing {
		return false
	}
	deadline := time.Now().Add(m.cfg.handshakeTimeout)
	_ = ws.SetWriteDeadline(deadline)
	_ = ws.SetReadDeadline(deadline)
	m.shaking[ws] = struct{}{}
	return true
}

// endHandshake frees the slot of startHandshake and forgets ws (nil when it was never
// upgraded).
func (m *Manager) endHandshake(ws *websocket.Conn) {
	m.mu.Lock()
	m.pending--
	delete(m.shaking, ws)
	m.mu.Unlock()
}

// isClosing reports whether Shutdown has begun.
func (m *Manager) isClosing() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closing
}

// errShuttingDown ends a handshake that Shutdown overtook.
var errShuttingDown = errors.New("shutting down")

// pendingHandshakes returns how many connections are in the handshake.
func (m *Manager) pendingHandshakes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pending
}

// Bounds of the `_USER_SESSION` handshake.
const (
	// MaxFramesBeforeHandshake is how many frames (text or binary, each within the read
	// limit) a client may send after `_REQUEST_USER_SESSION` and before its `_USER_SESSION`
	// answer: they are dropped unread; one more closes the connection with 1008.
	MaxFramesBeforeHandshake = 16

	// maxAnswerBytes bounds a `_USER_SESSION` answer: a longer text frame cannot be one
	// (two ids of at most maxIDLength bytes) and is dropped unread, as other early frames.
	maxAnswerBytes = 4096
)

// errHandshakeFrames is the handshake's error when the client sends too many other frames.
var errHandshakeFrames = fmt.Errorf("more than %d frames before %s", MaxFramesBeforeHandshake, proto.UserSession)

// identify completes id with the session id (and, without an auth hook, the user) from
// the `_USER_SESSION` handshake.
func (m *Manager) identify(ws *websocket.Conn, id Identity) (Identity, error) {
	// trackHandshake has set the deadlines
	if err := ws.WriteMessage(websocket.TextMessage, requestUserSessionFrame); err != nil {
		return id, err
	}
	ws.SetReadLimit(m.cfg.readLimit) // a larger frame closes 1009, as after the handshake
	for dropped := 0; ; dropped++ {
		if dropped > MaxFramesBeforeHandshake {
			return id, errHandshakeFrames
		}
		got, ok, err := readAnswer(ws, m.cfg.readLimit)
		if err != nil {
			return id, err
		}
		if !ok {
			continue // ws-sync-react may send before it answers; those frames are dropped
		}
		if got.Session == "" || len(got.Session) > maxIDLength || len(got.User) > maxIDLength ||
			got.User == "" && id.User == "" {
			return id, fmt.Errorf("%s ids must be non-empty strings of at most %d bytes", proto.UserSession, maxIDLength)
		}
		id.Session = got.Session
		if id.User == "" { // an authenticated user is never taken from the client
			id.User = got.User
		}
		return id, nil
	}
}

// readAnswer reads one frame of the handshake. ok is false for a frame that is not
// `_USER_SESSION` (a binary frame, a text frame longer than maxAnswerBytes, one that is not
// an envelope, another event): it is read to its end without being kept. A malformed
// `_USER_SESSION` is an error.
func readAnswer(ws *websocket.Conn, limit int64) (got Identity, ok bool, err error) {
	mt, r, err := ws.NextReader()
	if err != nil {
		return got, false, err
	}
	var data []byte
	if mt == websocket.TextMessage {
		if data, err = io.ReadAll(io.LimitReader(r, maxAnswerBytes+1)); err != nil {
			return got, false, err
		}
	}
	if mt != websocket.TextMessage || len(data) > maxAnswerBytes {
		// read to its end, but no further than the read limit: a compressed frame is bounded
		// on the wire only, and could inflate to gigabytes
		n, err := io.Copy(io.Discard, io.LimitReader(r, limit+1))
		if err == nil && limit > 0 && n+int64(len(data)) > limit {
			err = errInflatedTooLarge
		}
		return got, false, err
	}
	if !utf8.Valid(data) {
		return got, false, errInvalidUTF8 // RFC 6455 §8.1, as after the handshake
	}
	in, perr := decodeInbound(data)
	if perr != nil || in.event != proto.UserSession {
		return got, false, nil
	}
	if in.data == nil || json.Unmarshal(in.data, &got) != nil {
		return got, false, fmt.Errorf("%s data must be {\"user\": string, \"session\": string}", proto.UserSession)
	}
	return got, true, nil
}

// handshakeFailed logs why a connection that never identified itself is closed, and
// returns the close reason. A client that does not answer `_REQUEST_USER_SESSION` at all
// is nearly always one without the handshake switched on: the log names the fix.
func (m *Manager) handshakeFailed(err error, remote string) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() && !m.isClosing() {
		m.cfg.logger.Warn("wssync: closing a connection that never identified itself: no "+proto.UserSession+
			" answer to "+proto.RequestUserSession+"; switch on the client's handshake (wsAuth in @wssync/react "+
			"and ws-sync-react), or identify clients with WithAuth, or use WithAnonymousSessions",
			"waited", m.cfg.handshakeTimeout, "remote", remote)
		return "no " + proto.UserSession + " answer: enable wsAuth"
	}
	m.cfg.logger.Info("wssync: handshake failed", "err", err, "remote", remote)
	return "identification failed"
}
