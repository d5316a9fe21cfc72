package wssync_test

import (
	"fmt"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wsmemory"
)

// Two nodes share a counter through a backend (here the in-memory one; in production
// wsredis.New on a Redis client). Each increments it once: the second one loses the race,
// catches up and runs its function again, so no increment is lost.
func ExampleWithBackend() {
	type Counter struct {
		N int `sync:"n"`
	}
	store := wsmemory.New()
	a, b := &Counter{}, &Counter{}
	nodeA, err := wssync.NewShared("COUNTER", a, wssync.WithBackend(store))
	if err != nil {
		panic(err)
	}
	defer nodeA.Unregister()
	nodeB, err := wssync.NewShared("COUNTER", b, wssync.WithBackend(store))
	if err != nil {
		panic(err)
	}
	defer nodeB.Unregister()

	_ = nodeA.Update(func(c *Counter) { c.N++ })
	_ = nodeB.Update(func(c *Counter) { c.N++ })

	for nodeA.Version() != nodeB.Version() { // node A applies B's change in the background
		time.Sleep(time.Millisecond)
	}
	nodeA.RLock()
	fmt.Println("node A:", a.N)
	nodeA.RUnlock()
	state, _ := nodeB.Published()
	fmt.Println("node B publishes:", string(state))
	// Output:
	// node A: 2
	// node B publishes: {"n":2}
}
