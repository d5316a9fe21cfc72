// Package wspresence tracks who is in a room across the nodes of a deployment, with what
// each member is doing, and answers whether a user is online anywhere.
//
//	store := wsredis.New(client, wsredis.Options{}) // or wsmemory.New() in one process
//	lobby, err := wspresence.New(store, "lobby", "LOBBY")
//	defer lobby.Close()
//	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
//		return lobby.Join(sess)
//	})
//
// # Rooms
//
// A session joined to a Presence is a member while its client is connected. Each node
// writes its own members to the Store with a TTL (DefaultTTL, WithTTL) and refreshes them
// every third of it, so the members of a node that crashed disappear from every other node
// within 4/3 of the TTL. Clients read State under the Presence's key: {"members": [{"user":
// …, "session": …, "meta": …}, …]}, ordered by user then session. Where session ids are
// secrets (the `_REQUEST_USER_SESSION` handshake without an auth hook, in which the ids
// resume a session), WithClientView replaces them with what clients may see.
//
// # Meta
//
// Each member carries Meta, a JSON value of at most DefaultMaxMeta bytes (WithMaxMeta): a
// cursor, "typing", a status. SetMeta sets it from Go; with WithClientMeta the client sets
// its own with the action MetaAction on the Presence's key, within a per-session rate, the
// size bound and an optional Accept hook that refuses, takes or merges the update. Every
// refusal is a documented error (ErrMetaTooLarge, ErrMetaNotJSON, ErrNotMember from Go;
// rate_limited, too_large, rejected for clients) that leaves the Meta as it was. A change
// of Meta is written to the store like a join and reaches every node within a round trip,
// without the member reconnecting.
//
// # Changes
//
// OnChange callbacks receive a Diff — the members that joined, left or updated their Meta
// — on every node, for changes made on any node. They run on the Presence's goroutine,
// one at a time, in the order this node read the changes, after the clients were sent the
// same room, with no lock held. Changes between two reads of the room are coalesced into
// one Diff.
//
// # Online
//
// An Online tracks every session of a Manager's factory (Track) in a room no client
// receives, and answers Sessions(ctx, user) and IsOnline(ctx, user) from the store: they
// agree with every node, and the sessions of a node killed without cleaning up are gone
// from the answers once their entries expire, at most the TTL after its last refresh.
//
// # Concurrency
//
// A Presence (and an Online) runs one goroutine, from New until Close. It writes joins,
// leaves and Meta to the store, refreshes this node's members, and rereads the room
// whenever the store announces a change (Store.WatchPresence) and after every write; each
// reread that finds the room changed is published to the clients with
// wssync.Synced.Update, then handed to OnChange. An Online without OnChange only writes.
// Join, Leave, SetMeta and the session hooks they install never wait for the store:
// connecting and disconnecting clients (whose hooks run under the session's dispatch
// lock) are not held up by a slow one. Close waits for the goroutine, then removes this
// node's members from the store (one call, at most 2 s).
//
// # Logging
//
// A Presence reports an unreachable store to the store's logger, when the store has a
// method Logger() *slog.Logger (wsredis.Backend does), and otherwise logs nothing.
package wspresence
