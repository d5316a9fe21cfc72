// Package proto names the events of the wssync wire protocol (docs/protocol.md). It is the
// one place that spells them: the server (the root package's protocol.go, which builds
// every outbound frame from these names), the Go test client (wssynctest) and the backend
// conformance suite (backendtest) all import it, so a name is written once and a typo is a
// compile error. It sits under internal/ because the names are the protocol's, documented
// in docs/protocol.md, not part of the Go API. It also holds the protocol's one version
// rule for clients (Classify), which both Go clients apply.
package proto

import "strings"

// Events keyed by an object's key travel as NAME:KEY (see Keyed).
const (
	Set        = "_SET"         // both ways: a key's whole state
	Patch      = "_PATCH"       // both ways: RFC 6902 ops on a key's state
	Get        = "_GET"         // client → server: ask for a fresh _SET
	Action     = "_ACTION"      // both ways: call an action (client) or an exposed action (server)
	TaskStart  = "_TASK_START"  // client → server: start a task
	TaskCancel = "_TASK_CANCEL" // client → server: cancel a running task
	TaskStatus = "_TASK_STATUS" // server → client: a task's lifecycle
)

// Events that name no key.
const (
	Result             = "_RESULT"               // server → client: the outcome of a request with an id
	Error              = "_ERROR"                // server → client: a refused frame that carried no id
	BinMeta            = "_BIN_META"             // both ways: the next frame is binary and belongs to an event
	Toast              = "_TOAST"                // server → client: a notification
	Download           = "_DOWNLOAD"             // server → client: a file to save
	Disconnect         = "_DISCONNECT"           // server → client: the connection was replaced
	RequestUserSession = "_REQUEST_USER_SESSION" // server → client: ask for the client's ids
	UserSession        = "_USER_SESSION"         // client → server: the client's user and session ids
	Auth               = "_AUTH"                 // client → server: a fresh token for the connection's identity
	AuthExpiring       = "_AUTH_EXPIRING"        // server → client: the identity expires soon; send _AUTH
	AuthExpired        = "_AUTH_EXPIRED"         // server → client: the identity expired; the close (4005) follows
	Resume             = "_RESUME"               // client → server: the versions the client holds, its first frame
	Resumed            = "_RESUMED"              // server → client: which keys a _RESUME patched, which it set
)

// The application-level keepalive, named as clients of other WebSocket libraries send it
// (no leading "_"): the server answers {"type":"ping","data":X} with {"type":"pong","data":X}.
const (
	Ping = "ping" // client → server
	Pong = "pong" // server → client
)

// WebSocket subprotocols. A browser cannot set headers on a WebSocket, so a client passes
// its token as an offered subprotocol, BearerPrefix followed by the token, next to
// Subprotocol; the server echoes Subprotocol, never the token.
//
// ResumeSubprotocol, offered next to Subprotocol, announces a client that holds state and
// sends _RESUME as its first frame (docs/protocol.md, "Resume").
const (
	Subprotocol       = "wssync"
	BearerPrefix      = "wssync.bearer."
	ResumeSubprotocol = "wssync.resume"
)

// keySep separates a keyed event's name from its key.
const keySep = ":"

// Keyed is the wire name of event for key: "_PATCH" and "NOTES" give "_PATCH:NOTES".
func Keyed(event, key string) string { return event + keySep + key }

// KeyOf returns the key of a keyed event's wire name, when name is event for some key.
func KeyOf(name, event string) (key string, ok bool) {
	return strings.CutPrefix(name, event+keySep)
}

// KeyedEvents are the events that name a key, client → server.
var KeyedEvents = []string{Set, Patch, Get, Action, TaskStart, TaskCancel}
