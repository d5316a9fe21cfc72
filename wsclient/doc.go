// Package wsclient is a Go client for wssync servers, for Go services, command-line tools
// and tests that watch or drive shared state. It speaks the protocol of docs/protocol.md
// as the browser clients do:
//
//   - Dial connects and identifies itself: it answers the `_REQUEST_USER_SESSION`
//     handshake with stable ids (WithIdentity, else random ones kept for the client's
//     life), sends headers (WithHeader) and a bearer token fetched before every
//     connection (WithTokenSource), and refreshes the token when the server asks.
//   - It reconnects on its own with full-jitter exponential backoff (WithBackoff), and
//     stops on the terminal close codes (1008, 4000 replaced, 4004 unauthorized) and on
//     an upgrade refused with 401/403: Done is closed and Err says why.
//   - Bind[T] keeps a typed local copy of a key, current through `_SET` and `_PATCH`
//     frames; a version gap is repaired with `_GET`. Get, Read, Wait, Changes and
//     OnChange read it; Update, Patch and Set write its writable fields.
//   - Call[R] and Action call actions and return their result or the server's *Error;
//     StartTask, CancelTask, RunTask, RunTaskResult and OnTaskStatus drive tasks; OnEvent, OnAction,
//     OnToast and OnError receive what the server sends; OnStatus reports connects and
//     disconnects; Ping measures the round trip.
//   - SendBinary and ActionBinary send binary frames (`_BIN_META`, then the bytes);
//     OnBinary receives the server's.
//
// A minimal watcher:
//
//	c, err := wsclient.Dial(ctx, "ws://127.0.0.1:8080/ws", wsclient.WithIdentity("u1", "s1"))
//	if err != nil {
//		return err
//	}
//	defer c.Close()
//	notes, err := wsclient.Bind[Notes](c, "NOTES")
//	if err != nil {
//		return err
//	}
//	notes.OnChange(func(n Notes) { fmt.Println(n.Title) })
//
// # Concurrency
//
// Every method is safe for concurrent use. A Client runs a supervisor goroutine (connect,
// reconnect), a reader per connection (applies frames to the state, answers requests) and
// a dispatcher that runs callbacks (OnChange, OnEvent, OnAction, OnToast, OnError,
// OnTaskStatus, OnStatus)
// one at a time, in the order the frames arrived. A callback may call the client's
// blocking methods, but not Close. Close ends every goroutine and waits for them.
//
// Every blocking call takes a ctx and also returns when the client stops. Requests
// (Call, StartTask, ...) wait for an identified connection, are sent once and never
// retried: a connection lost before the answer gives ErrConnectionLost.
//
// # Reconnects and state
//
// On every connection a Binding converges, including on changes made while the client was
// away. The client resumes (docs/protocol.md, "Resume"): it offers the subprotocol
// wssync.resume and sends `_RESUME` with the version and epoch of each key it holds, so
// the server sends only the patches it missed, or a `_SET` when it cannot (another epoch,
// a gap beyond its history), then `_RESUMED` (LastResumed). WithoutResume turns this off;
// a server that does not resume sends every key's `_SET`. Between connections a Binding
// keeps its last state (Live reports false). Writes wait until the key is live on the new
// connection: its `_SET`, or `_RESUMED` listing it as patched.
package wsclient
