package wsmemory_test

import (
	"context"
	"fmt"
	"log"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wsmemory"
)

// Nodes of one process share a Backend as processes share Redis; SetUnavailable
// simulates an outage, during which an object publishes to its local clients only.
func Example() {
	type Counter struct {
		N int `sync:"n"`
	}
	store := wsmemory.New()
	node, err := wssync.NewShared("COUNTER", &Counter{}, wssync.WithBackend(store))
	if err != nil {
		log.Fatal(err)
	}
	defer node.Unregister()

	_ = node.Update(func(c *Counter) { c.N++ })
	snap, _ := store.Load(context.Background(), "COUNTER", 0)
	fmt.Printf("stored: %s at version %d\n", snap.State, snap.Version)

	store.SetUnavailable(true)
	_ = node.Update(func(c *Counter) { c.N++ })
	fmt.Println("offline:", node.BackendStatus().Offline)
	// Output:
	// stored: {"n":1} at version 2
	// offline: true
}
