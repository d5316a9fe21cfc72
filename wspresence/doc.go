// Package wspresence tracks who is in a room across the nodes of a deployment, and syncs
// the room's members to every joined session's client as a shared object.
//
//	store := wsredis.New(client, wsredis.Options{}) // or wsmemory.New() in one process
//	lobby, err := wspresence.New(store, "lobby", "LOBBY")
//	defer lobby.Close()
//	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
//		return lobby.Join(sess)
//	})
//
// A session joined to a Presence is a member while its client is connected. Each node
// writes its own members to the Store with a TTL (DefaultTTL, WithTTL) and refreshes them
// every third of it, so the members of a node that crashed disappear from every other node
// within 4/3 of the TTL. Clients read State under the Presence's key: {"members": [{"user":
// …, "session": …}, …]}, ordered by user then session.
//
// # Concurrency
//
// A Presence runs one goroutine, from New until Close. It writes joins and leaves to the
// store, refreshes this node's members, and rereads the room whenever the store announces
// a change (Store.WatchPresence) and after every write; each reread that finds the room
// changed is published to the clients with wssync.Synced.Update. Join, Leave and the
// session hooks they install never wait for the store: connecting and disconnecting
// clients (whose hooks run under the session's dispatch lock) are not held up by a slow
// one. Close waits for the goroutine, then removes this node's members from the store (one
// call, at most 2 s).
//
// # Logging
//
// A Presence reports an unreachable store to the store's logger, when the store has a
// method Logger() *slog.Logger (wsredis.Backend does), and otherwise logs nothing.
package wspresence
