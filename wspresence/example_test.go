package wspresence_test

import (
	"context"
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
