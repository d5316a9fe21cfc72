package wspresence_test

import (
	"context"
	"encoding/json"
	"log"
	"net/http"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wsmemory"
	"github.com/wssync/wssync/wspresence"
)

// Every session the factory joins is listed in the lobby while its client is connected,
// on every node that shares the store; clients read the list under "LOBBY".
func Example() {
	store := wsmemory.New() // wsredis.New(client, opts) across processes
	lobby, err := wspresence.New(store, "lobby", "LOBBY")
	if err != nil {
		log.Fatal(err)
	}
	defer lobby.Close()

	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		return lobby.Join(sess)
	})
	http.HandleFunc("/ws", m.ServeWS)
}

// Members carry a status set from Go, and clients may set their own "typing" flag
// (MetaAction on the key); every node's OnChange hears of joins, leaves and updates.
func ExamplePresence_SetMeta() {
	store := wsmemory.New()
	lobby, err := wspresence.New(store, "lobby", "LOBBY",
		wspresence.WithClientMeta(wspresence.ClientMeta{}), // sendAction({type: "meta", meta: {typing: true}})
		wspresence.OnChange(func(d wspresence.Diff) {
			for _, m := range d.Joined {
				log.Printf("%s joined", m.User)
			}
			for _, m := range d.Updated {
				log.Printf("%s is now %s", m.User, m.Meta)
			}
		}))
	if err != nil {
		log.Fatal(err)
	}
	defer lobby.Close()

	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		if err := lobby.Join(sess); err != nil {
			return err
		}
		return lobby.SetMeta(sess, map[string]string{"status": "available"})
	})
	http.HandleFunc("/ws", m.ServeWS)
}

// Is user 42 online on any node, and on which tabs? An Online tracks every session of the
// factory; no client receives the list.
func ExampleOnline() {
	store := wsmemory.New() // the same wsredis.Backend on every node
	online, err := wspresence.NewOnline(store, "online")
	if err != nil {
		log.Fatal(err)
	}
	defer online.Close()
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		return online.Track(sess)
	})
	http.HandleFunc("/ws", m.ServeWS)

	http.HandleFunc("/api/online", func(w http.ResponseWriter, r *http.Request) {
		sessions, err := online.Sessions(r.Context(), "42")
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"online": len(sessions) > 0, "tabs": len(sessions)})
	})
}
