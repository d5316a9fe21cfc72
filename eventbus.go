package wssync

import "context"

// EventBus carries addressed messages (Manager.Send, Publisher.Send) between processes:
// every node's Manager subscribes to it and delivers what it receives to its own sessions.
// The package wsredis implements it on Redis pub/sub; wsmemory in memory, for several
// nodes in one process.
//
// The bus carries opaque payloads, at most once: a payload published while a subscriber's
// connection to the bus is broken is lost for that subscriber. Payloads from one
// publisher that published them one after another reach each subscriber in that order.
// Implementations must be safe for concurrent use.
type EventBus interface {
	// PublishEvent hands payload to every SubscribeEvents callback subscribed now, in
	// every process, the publisher's own included, and returns how many it reached. An
	// error means the outcome is unknown: subscribers may still receive it later (a
	// Redis that was paused runs the commands queued meanwhile when it resumes).
	PublishEvent(ctx context.Context, payload []byte) (receivers int, err error)

	// SubscribeEvents calls deliver with every payload published from now on, one call at
	// a time, in the order the bus received them, until stop is called. stop waits for a
	// running deliver call to return. deliver must not keep payload after it returns.
	SubscribeEvents(deliver func(payload []byte)) (stop func())
}

// WithEventBus makes the Manager a node on bus: its Send reaches the sessions of every
// Manager on the bus, and it delivers to its own sessions what the others send. A
// wsredis.Backend (or wsmemory.Backend) given to WithSessionStore is usually the bus too:
//
//	mgr := wssync.NewManager(factory, wssync.WithSessionStore(store), wssync.WithEventBus(store))
//
// Shutdown ends the Manager's subscription.
func WithEventBus(bus EventBus) ManagerOption {
	return managerOption(func(c *config) { c.eventBus = bus })
}
