package wsredis_test

import (
	"context"
	"log"
	"log/slog"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wspresence"
	"github.com/wssync/wssync/wsredis"
)

// Board is the shared object of the example.
type Board struct {
	Cards []string `sync:"cards,write"`
}

// Every process of a deployment runs the same code against the same Redis: a change to the
// board on any of them reaches the clients of all, sessions move between them, and the
// lobby lists who is connected anywhere.
func Example() {
	client := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	defer client.Close()
	backend := wsredis.New(client, wsredis.Options{Logger: slog.Default()})
	defer backend.Close() // before the client: it stops the subscription goroutine

	board, err := wssync.NewShared("BOARD", &Board{}, wssync.WithBackend(backend))
	if err != nil {
		log.Fatal(err)
	}
	defer board.Unregister()

	lobby, err := wspresence.New(backend, "lobby", "LOBBY")
	if err != nil {
		log.Fatal(err)
	}
	defer lobby.Close()

	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		if err := board.Join(sess); err != nil {
			return err
		}
		return lobby.Join(sess)
	}, wssync.WithSessionStore(backend))
	http.HandleFunc("/ws", m.ServeWS)
	srv := &http.Server{Addr: ":8080", ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// Options has a working zero value; these are the defaults written out.
func ExampleNew() {
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"redis-1:6379", "redis-2:6379"}})
	defer client.Close()
	backend := wsredis.New(client, wsredis.Options{
		Prefix:         "wssync:",
		LogLength:      64,
		MinBackoff:     100 * time.Millisecond,
		MaxBackoff:     5 * time.Second,
		OpTimeout:      2 * time.Second,
		HealthInterval: 30 * time.Second,
	})
	defer backend.Close()
}

// JobDone is the custom event of ExampleNewPublisher; the React hook receives it with
// useEvent("job_done", handler).
var JobDone = wssync.DefineEvent[string]("job_done")

// A worker that serves no WebSocket tells user 42, on every tab and every node, that a
// job finished, and adds a card to the board every node serves. It needs only a Redis
// client: no Manager, no shared object, no goroutine of its own. (Like every example of
// this package, it needs a Redis on localhost:6379, so it is compiled, not run.)
func ExampleNewPublisher() {
	client := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	defer client.Close()
	ctx := context.Background()

	pub := wsredis.NewPublisher(client, wsredis.Options{}) // the nodes' Prefix
	msg, err := JobDone.Message("report.pdf")
	if err != nil {
		log.Fatal(err)
	}
	// An ID of our own: a retry after an error, or a second worker finishing the same job,
	// reaches each tab once.
	d, err := pub.Send(ctx, wssync.ToUser("42"), msg.WithID("job-7731"))
	if err != nil {
		log.Printf("not sure it was sent (%v); sending again is safe", err)
	}
	log.Printf("handed to %d nodes", d.Nodes)

	v, err := wssync.UpdateShared(ctx, wsredis.New(client, wsredis.Options{}), "BOARD", func(b *Board) error {
		b.Cards = append(b.Cards, "report.pdf is ready")
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("the board is at version %d on every node", v)
}
