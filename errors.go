package wssync

import (
	"errors"
	"fmt"
)

// Sentinel errors returned by the Go API. They are matched with errors.Is through any
// wrapping the library adds.
var (
	// ErrDuplicateKey: a key is registered twice in one session.
	ErrDuplicateKey = errors.New("wssync: key already registered")
	// ErrNotStructPointer: Register was given something other than a non-nil pointer to a struct.
	ErrNotStructPointer = errors.New("wssync: object must be a non-nil pointer to a struct")
	// ErrBadTag: a `sync` tag is malformed or names an unknown option.
	ErrBadTag = errors.New("wssync: bad sync tag")
	// ErrUnsupportedType: a synced field has a type JSON cannot carry (chan, func, complex, ...).
	ErrUnsupportedType = errors.New("wssync: unsupported field type")
	// ErrDuplicateName: two synced fields (or computed values) share one wire name.
	ErrDuplicateName = errors.New("wssync: duplicate wire name")
	// ErrBadKey: a key is empty or contains a character the wire format reserves.
	ErrBadKey = errors.New("wssync: bad key")
	// ErrUnregistered: the object was unregistered, or its session closed.
	ErrUnregistered = errors.New("wssync: object is not registered")
	// ErrDuplicateHandler: an action, task or event name already has a handler.
	ErrDuplicateHandler = errors.New("wssync: handler already registered")
	// ErrNotConnected: a server-to-client send found no live connection; nothing was queued.
	ErrNotConnected = errors.New("wssync: no client connected")
)

// Error is a refusal of client input, as sent to the client in an `_ERROR` frame or in the
// error of a `_RESULT` frame. Code is one of the stable Code* constants; Path is a JSON
// Pointer into the key's state (or into action params) when one applies.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	Event   string `json:"event,omitempty"`
	Path    string `json:"path,omitempty"`
	Action  string `json:"action,omitempty"` // the action or task name, for refused calls
}

// Error implements the error interface.
func (e *Error) Error() string {
	s := "wssync: " + string(e.Code) + ": " + e.Message
	if e.Path != "" {
		s += " (at " + e.Path + ")"
	}
	return s
}

// Is makes errors.Is(err, &Error{Code: c}) match any *Error with code c.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Message == "" && t.Path == ""
}

func errorf(code Code, path, format string, args ...any) *Error {
	return &Error{Code: code, Path: path, Message: fmt.Sprintf(format, args...)}
}

// FieldError lets a validation hook point the client at the offending value: return
// &FieldError{Path: "/title", Message: "too long"} and the client's `_ERROR` carries that path.
type FieldError struct {
	Path    string // JSON Pointer into the key's state, e.g. "/title"
	Message string
}

// Error implements the error interface.
func (e *FieldError) Error() string { return e.Path + ": " + e.Message }
