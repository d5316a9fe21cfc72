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
// `sync:"name,write"` (or `sync:",write"`); `sync:"name,write=admin|editor"` limits the
// writers to some roles, and `sync:"notes,write,owner=author"` lets each element of a list
// or map be written only by the user its author member names. [WithComputed] adds derived read-only values;
// [Session.Scope] prefixes keys. Values marshal with encoding/json.
//
// # Concurrency
//
// One rule: after Register, touch a registered struct only inside [Synced.Update], or
// between [Synced.Lock] and [Synced.Unlock] ([Synced.RLock] to read). The library takes the
// same lock to snapshot the struct and to apply client writes, so Sync, client writes and
// your own goroutines are race-free. Sync may be called from any goroutine; calls on one
// object are serialized.
//
// Goroutines. An idle connection has one: its reader (the goroutine running ServeWS). A
// frame read while nothing is queued is handled on the reader itself, so a round trip
// costs no goroutine handoff; frames read while one is handled wait in a bounded inbound
// queue for the dispatcher, a goroutine started for them that ends when the queue is
// empty. Either way a session's handlers run one at a time, in arrival order, under the
// session's dispatch lock (so they are serialized across its connections too), and write
// their replies themselves when no writer is writing. While a handler runs on the reader,
// nothing reads; when it outlasts a ping interval, a new goroutine takes the reading over
// (so pongs, frames and a client's close are read however long a handler runs) and gives
// it back with the next frame. A writer, started when something is queued for the client,
// drains the bounded outbound queue and ends when it is empty. The reader waits for all of
// them before ServeWS returns. Keepalive pings and the _SETs the resync budget held back
// are sent from timers, and the close frame from a goroutine of its own. Sync only
// queues, and never waits for a client. A shared object with a backend has one goroutine that applies other nodes'
// changes and retries an unreachable backend. A Manager builds each new session (the
// factory) in a goroutine of its own while the session's connections wait, expires a
// disconnected session on a timer, and with a session store runs one goroutine that keeps
// the store's bindings alive. Each task runs in its own goroutine, a SyncThrottled's
// trailing sync on a timer, and the end of a resuming connection's wait for its first
// frame (the handshake timeout) on a timer. Everything else runs on the caller's goroutine.
//
// Where your code runs:
//   - Action, ActionResult and [On] handlers and the Validate methods of their params: on
//     the connection's reader or its dispatcher (see above), under the dispatch lock;
//     OnConnect hooks: on the dispatcher, under the dispatch lock;
//   - a Task's function and its OnCancel hook: on the task's goroutine, no lock held;
//   - OnDisconnect hooks: on the reader, once the connection's other goroutines have
//     ended; not under the dispatch lock, so possibly while a newer connection's handlers run;
//   - OnClose hooks: on the goroutine that closed the session (for a Manager: its expiry
//     timer, Shutdown, the goroutine that lets a session go to another node, or the
//     connection whose factory failed); a Manager's session factory: on the Manager's
//     build goroutine;
//   - MarshalJSON methods of synced fields and [WithComputed] values: on whichever
//     goroutine publishes, under the object's publish lock and read lock; also under the
//     write lock while a client write, a catch-up, a replay or a restore reads the current
//     values;
//   - ValidateWrite, ValidateWriteContext, the `sync` tag's write rules, `validate` tags
//     and UnmarshalJSON of written fields: on the
//     dispatcher, under the publish lock and the write lock; UnmarshalJSON also runs when
//     other nodes' changes or a stored session are applied to the struct, under the same
//     two locks;
//   - a [WithViews] view function: under the object's publish lock, when a session joins
//     the object and whenever the session's identity changes (on the goroutine that
//     joins, or that sets the identity: a connection's reader, a token refresh's
//     dispatcher); it must be a pure function of the identity;
//   - Update's function: on the caller, under the write lock; on an object with a backend
//     also under the publish lock, and it may run again there after a lost race.
//
// On an object with a backend, an edit made while the backend was unreachable is made
// again (Update's function, or a client write with its validation) on the object's
// backend goroutine, under the same locks.
//
// Lock order. A goroutine takes these locks only in this order (holding a lock, it takes
// only locks further down the list):
//
//	session dispatch lock   the handlers of one session
//	resync budget           a connection's client-requested _SETs
//	session lock            a session's objects, events and hooks
//	connection write lock   the socket's data frames: the writer, or the dispatcher
//	object publish lock     snapshot, diff, version, backend commit, fan-out
//	object lock             the struct: Lock/RLock/Update
//	object handler lock     an object's actions and running tasks
//	connection expiry clock when the connection's identity expires (its timer's notice and close)
//	session send lock       a session's backlog of addressed messages, and a connection becoming live
//	session task news       task statuses no connection has written yet (taken by the writer once one is written)
//	connection queue lock   a connection's outbound queue
//
// A subscriber is handed each published frame under the publish lock, in version order,
// and only queues it. A Manager's lock, its table of per-user objects (RegisterUser), a
// connection's inbound queue, its count of running goroutines (taken under its queue lock
// to start the writer), its resume hold and a backend link's inbox are leaves:
// nothing is taken while one is held. A wspresence.Presence serializes
// its refreshes with a lock taken before the publish lock.
//
// What blocks, and for how long. The dispatch lock is held as long as a handler runs:
// frames that arrive meanwhile wait (in the kernel, then, once a ping has handed the
// reading over, in the inbound queue) and then the server stops reading, but keepalive
// goes on; keep handlers short and use a Task for long work. The
// publish lock is held for the snapshot and diff (your MarshalJSON and computed values
// included), never across a client's socket, but across I/O in two cases: with
// [WithSessionStore] each publish of a session's own object saves it to the store (a 2 s
// bound); with [WithBackend] each publish commits to the backend and a catch-up loads from
// it (5 s per backend call; at most 32 commits per publish, each lost race followed by a
// catch-up of at most 32 loads), and Update's function runs under it. A `_RESUME` is
// answered on the dispatcher, under the dispatch lock: a key of a shared object whose
// history does not reach back to the client's version waits there for one backend load
// (5 s bound), not holding the key's publish lock. A connection's
// writer holds the write lock while it drains the queue (each frame, or a binary payload
// with its _BIN_META, within the write timeout), and waits there for an object's publish lock to
// build a _SET, as the dispatcher does to size a requested one. A wspresence.Presence
// only records joins and leaves in its session hooks and calls its store from its own
// goroutine, so no store call runs under a dispatch lock. Every other
// lock is held for in-memory work only, though the session lock (in Join) and the resync
// budget wait for a publish lock, and so for what that one waits on.
//
// What you may do. A handler, hook or task may call Update, Sync or SyncThrottled on any
// object, Register, Join, Leave and Unregister, Toast, Send, SendAction and Disconnect. It
// must not call Close on its own session (Close waits for the session's handlers and
// tasks), nor Manager.Shutdown without a deadline. Calling Sync at the end of an action
// is harmless (the action's object is synced after it returns anyway). Inside Update's
// function, between Lock and Unlock, and in a computed value, MarshalJSON, ValidateWrite
// or ValidateWriteContext, touch the struct and nothing else of the same object: Lock and Update
// wait for the lock already held, and Sync, SyncThrottled, Version, Published,
// SendAction and Unregister take the publish lock, which comes before the object lock
// (BackendStatus takes no lock, so a metrics scrape never waits on a backend call). Nesting the Update of one object in another's makes a lock order of your
// own: keep it one way.
//
// # Sessions and connections
//
// A Session has at most one live connection. A newer connection replaces the older, which
// is sent `_DISCONNECT` and closed with [CloseReplaced]. Every connection first receives
// `_SET:KEY` with the full state of every key (unless registered [WithoutReplay]); while no
// connection is live, Sync sends nothing and loses nothing.
//
// Resume. A client that still holds state offers the subprotocol wssync.resume and sends
// `_RESUME` as its first frame, with the version and epoch of each key it holds; each key
// then gets only the `_PATCH` frames the client missed, when they are all in the key's
// history ([WithHistory]: the latest 64 patches by default, and for a shared object with a
// backend also the backend's log, so this works on any node), or a `_SET`. Every `_SET`
// carries the key's epoch, which names the incarnation of its versions (a restarted
// process, a rebuilt session, a backend restarted empty all start a new one). On every
// connect, resume or not, the client is also told the tasks its session started that still
// run, and the final status of those that ended while no connection could deliver it.
//
// A client that falls behind has its queued patches for a key replaced by one fresh
// `_SET`; one that cannot take even that is closed with [CloseSlowConsumer]. Pings detect
// dead peers.
//
// # Tokens and expiry
//
// An identity may expire (Identity.Expires, from a token's exp with the package
// github.com/wssync/wssync/wsauth): its connection is sent `_AUTH_EXPIRING` shortly before,
// and at the expiry `_AUTH_EXPIRED` and a close with [CloseTokenExpired]. With
// [WithTokenRefresh] the client can send a fresh token in an `_AUTH` frame and stay
// connected. One timer per connection does it; no goroutine waits.
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
// the fields' write rules and the struct's [WriteValidator] or [WriteContextValidator]
// (which sees who writes), and only then assigned. A refused write leaves the struct
// exactly as it was; the client gets an `_ERROR` frame with a stable [Code] and a JSON
// Pointer, then the authoritative `_SET`. A write that carries a request "id" is answered
// with exactly one `_RESULT`: the version it produced, or its error. A write that carries
// a "base" version is conditional: one made against an older version applies only when
// the fields it touches did not change since ([StaleRebase], the default) or not at all
// ([StaleRefuse], see [WithStaleWrites]). The full protocol, error codes and close codes
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
// # Schema
//
// [Session.Schema] describes every key, action, task and custom event as JSON Schema
// (draft 2020-12), from the registrations: wire names, types as encoding/json writes them,
// readOnly for fields clients may not write, `validate` tags as constraints.
// [Manager.Schema] does it for a dry-run session of the factory. cmd/wssync-gen turns the
// schema into TypeScript declarations for the typed hooks of @wssync/react.
//
// # Many clients and shared state
//
// A [Manager] serves many sessions from one route: it identifies each connection (the
// ws-sync handshake, [WithAuth], or [WithAnonymousSessions]), builds new sessions with a
// factory function ([NewManager]), resumes them on reconnect, and frees them after a TTL. [NewShared]
// makes an object that any number of sessions [Synced.Join]: each change is diffed and
// encoded once for all of them, or once per view with [WithViews], which shows each
// session, by its identity, only the parts of the object its view does not hide;
// [RegisterUser] one that all sessions of one user share, freed with the last of them.
// [Manager.Stats] reports counters for monitoring, [WithObserver] the durations (Sync,
// fan-out latency); the package github.com/wssync/wssync/wsprom exports both to
// Prometheus, and github.com/wssync/wssync/wshealth serves liveness and readiness
// endpoints. A Manager and a Session are http.Handlers (ServeHTTP is ServeWS).
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
// tracks who is in a room across nodes. [WithEventBus] carries [Manager.Send] to the
// sessions of every node; from a process with no Manager, a [Publisher] sends the same
// messages and [UpdateShared] changes a shared object's stored state, which every node
// applies as another node's commit.
//
// # Logging
//
// The library logs nothing unless given a *slog.Logger with [WithLogger].
package wssync
