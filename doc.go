// Package wssync keeps Go structs and browser state in sync over one persistent WebSocket
// per client session, with JSON Patch (RFC 6902) diffs.
//
// # Model
//
// Tag a struct, register it with a [Session] under a key, mutate it under the concurrency
// rule, and call Sync: the library snapshots the exported fields to JSON, diffs them
// against what it last published, and sends one `_PATCH:KEY` frame to the session's client.
//
//	type Notes struct {
//		Title string   `sync:"title,write"` // the client may write it
//		Notes []string `sync:"notes"`       // read-only for the client
//	}
//
//	sess := wssync.NewSession()
//	notes, err := wssync.Register(sess, "NOTES", &Notes{Title: "My Notes"})
//	http.HandleFunc("/ws", sess.ServeWS)
//	notes.Update(func(n *Notes) { n.Notes = append(n.Notes, "milk") }) // mutates, then Syncs
//
// # Fields and names
//
// Synced fields are the exported fields of the struct, embedded structs flattened. The wire
// name is the `sync` tag's name, else the `json` tag's name, else the Go name in lowerCamel
// case ([WithNaming] changes that rule per registration). `sync:"-"` (or `json:"-"` without a
// sync tag) excludes a field. A field is read-only for clients unless tagged
// `sync:"name,write"` (or `sync:",write"`). [WithComputed] adds derived read-only values;
// [Session.Scope] prefixes keys. Values marshal with encoding/json.
//
// # Concurrency
//
// One rule: after Register, touch a registered struct only inside [Synced.Update], or
// between [Synced.Lock] and [Synced.Unlock] ([Synced.RLock] to read). The library takes the
// same lock to snapshot the struct and to apply client writes, so Sync, client writes and
// your own goroutines are race-free. Sync may be called from any goroutine; calls on one
// object are serialized. Client events of one session are handled one at a time, in
// arrival order, on the connection's dispatcher goroutine.
//
// # Sessions and connections
//
// A Session has at most one live connection. A newer connection replaces the older, which
// is sent `_DISCONNECT` and closed with [CloseReplaced]. Every connection first receives
// `_SET:KEY` with the full state of every key (unless registered [WithoutReplay]); while no
// connection is live, Sync sends nothing and loses nothing.
//
// Each connection has a reader (the goroutine running ServeWS), which only reads, so pongs
// are read while a handler runs; a dispatcher goroutine, which runs the handlers of the
// frames read, from a bounded queue; and a writer goroutine that drains a bounded outbound
// queue: Sync never blocks on a slow client. A client that falls behind
// has its queued patches for a key replaced by one fresh `_SET`; one that cannot take even
// that is closed with [CloseSlowConsumer]. Pings detect dead peers.
//
// # Versions
//
// Every published patch increments the key's version; `_SET` and `_PATCH` frames carry it
// as "v", so a client can detect a gap and ask `_GET:KEY`.
//
// # Client writes and bad input
//
// Client `_SET` and `_PATCH` frames change writable fields only, atomically: the write is
// applied to a copy, decoded with type checks into fresh Go values, optionally vetoed by
// the struct's [WriteValidator], and only then assigned. A refused write leaves the struct
// exactly as it was; the client gets an `_ERROR` frame with a stable [Code] and a JSON
// Pointer, then the authoritative `_SET`. The full protocol, error codes and close codes
// are in docs/protocol.md.
//
// # Actions, tasks and events
//
// [Action] and [ActionResult] register typed handlers for `_ACTION:KEY` frames; params are
// decoded strictly into a Go struct (see [Validator]) and the object is synced after the
// handler returns. [Task] registers long-running work started by `_TASK_START:KEY` and
// cancelled through its context; [On] registers custom session events. Handlers of one
// session run one at a time, in arrival order. The server pushes with
// [Synced.SendAction], [Session.Toast], [Session.Download] and [Session.SendBinary].
//
// # Many clients and shared state
//
// A [Manager] serves many sessions from one route: it identifies each connection (the
// ws-sync handshake, [WithAuth], or [WithAnonymousSessions]), builds new sessions with a
// factory function ([NewManager]), resumes them on reconnect, and frees them after a TTL. [NewShared]
// makes an object that any number of sessions [Synced.Join]: each change is diffed and
// encoded once for all of them. [Manager.Stats] reports counters for monitoring.
//
// # Several processes
//
// A shared object created with [WithBackend] spans processes: the [Backend] (Redis, in
// the package github.com/wssync/wssync/wsredis, or in memory for several nodes of one
// process, in github.com/wssync/wssync/wsmemory) holds its authoritative state and orders every change under one version
// per key. A node commits a change only if no other node committed first, and otherwise
// catches up and retries ([Synced.Update] runs its function again); the other nodes apply
// the same patch and forward it with the same version. Lost deliveries are detected from
// the versions and repaired by a reload; while the backend is unreachable every node
// serves its own clients and resynchronises when it returns. [WithSessionStore] lets a
// session continue on another node, and the package github.com/wssync/wssync/wspresence
// tracks who is in a room across nodes.
//
// # Logging
//
// The library logs nothing unless given a *slog.Logger with [WithLogger].
package wssync
