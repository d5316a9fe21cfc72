package wsclient

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error of this package matches one of them with errors.Is or is a
// *CloseError, *HandshakeError or *Error (errors.As).
var (
	// ErrClosed: the client was closed with Close.
	ErrClosed = errors.New("wsclient: client closed")
	// ErrTerminal: the server ended the connection in a way that forbids an automatic
	// reconnect (a terminal close code, or the upgrade refused with 401/403). Client.Err
	// returns the *CloseError or *HandshakeError, which matches it.
	ErrTerminal = errors.New("wsclient: terminal disconnect")
	// ErrConnectionLost: the connection ended while a request waited for its answer. The
	// request may or may not have been carried out by the server.
	ErrConnectionLost = errors.New("wsclient: connection lost before the answer")
	// ErrAlreadyBound: Bind was called twice for one key on one client.
	ErrAlreadyBound = errors.New("wsclient: key already bound")
	// ErrTaskCancelled: RunTask's task ended with the status "cancelled".
	ErrTaskCancelled = errors.New("wsclient: task cancelled")
)

// CloseError is the close frame that ended a connection. Client.Err returns it when its
// code is terminal; it is logged otherwise.
type CloseError struct {
	Code   int    // the WebSocket close code, e.g. 4000 (replaced)
	Reason string // the close frame's reason text, as the server wrote it
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("wsclient: connection closed by the server: %d %s", e.Code, e.Reason)
}

// Terminal reports whether the code forbids an automatic reconnect (see Terminal).
func (e *CloseError) Terminal() bool { return Terminal(e.Code) }

// Is makes a terminal CloseError match ErrTerminal.
func (e *CloseError) Is(target error) bool { return target == ErrTerminal && e.Terminal() }

// Close codes a wssync server sends that forbid an automatic reconnect (docs/protocol.md,
// "Close codes"): the connection was replaced by a newer one of the same session, the
// identity does not match the session, or a policy was violated (origin refused, too many
// bad frames). Reconnecting would replace the newer connection, be refused again, or be
// abuse.
const (
	ClosePolicyViolation = 1008
	CloseReplaced        = 4000
	CloseUnauthorized    = 4004
	CloseTokenExpired    = 4005 // not terminal: reconnect with a fresh token
)

// Terminal reports whether a close code forbids an automatic reconnect: 1008, 4000 and
// 4004. Every other code, and a connection that ended without a close frame, is retried
// with backoff.
func Terminal(code int) bool {
	switch code {
	case ClosePolicyViolation, CloseReplaced, CloseUnauthorized:
		return true
	}
	return false
}

// HandshakeError is an upgrade the server refused with an HTTP status. 401 and 403 are
// terminal (the credentials will not change by retrying); other statuses (503 while the
// server shuts down or is full, 429) are retried.
type HandshakeError struct {
	Status int // the HTTP status of the refused upgrade
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("wsclient: upgrade refused with HTTP %d", e.Status)
}

// Terminal reports whether the status forbids retrying: 401 and 403.
func (e *HandshakeError) Terminal() bool { return e.Status == 401 || e.Status == 403 }

// Is makes a terminal HandshakeError match ErrTerminal.
func (e *HandshakeError) Is(target error) bool { return target == ErrTerminal && e.Terminal() }

// Code is a stable, machine-readable error code of the server (the table of
// docs/protocol.md, "Error codes", the values of wssync.Code): "bad_params",
// "action_failed", "read_only", ...
type Code string

// Error is a refusal or failure the server reported, in a `_RESULT` answering a request of
// this client or in an `_ERROR` frame (see OnError), or in a failed task's status.
type Error struct {
	Code    Code   `json:"code"`             // stable machine-readable code
	Message string `json:"message"`          // human-readable, may change between releases
	Event   string `json:"event,omitempty"`  // the type of the client frame it refers to
	Path    string `json:"path,omitempty"`   // a JSON Pointer into the state or the params
	Action  string `json:"action,omitempty"` // the action or task name
}

func (e *Error) Error() string {
	s := "wsclient: server refused"
	if e.Event != "" {
		s += " " + e.Event
	}
	if e.Action != "" {
		s += " " + e.Action
	}
	s += ": " + string(e.Code)
	if e.Path != "" {
		s += " at " + e.Path
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// IsCode reports whether err is (or wraps) a server *Error with code.
func IsCode(err error, code Code) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}
