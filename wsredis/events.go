package wsredis

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/wssync/wssync"
)

var _ wssync.EventBus = (*Backend)(nil)

// PublishEvent implements wssync.EventBus with one PUBLISH on the events channel
// (Prefix + "events") and returns what PUBLISH returns: how many Redis connections
// subscribed to the channel received it. Each Backend that has SubscribeEvents callbacks
// subscribes once, on its one Pub/Sub connection, so that is the number of Backends
// (nodes) that will deliver it, the publisher's own included when it subscribes. On a
// Redis Cluster, PUBLISH counts the subscribers of the cluster node that ran it only.
//
// The PUBLISH runs in a script routed by the channel's name as its key (routedPublish), so
// that on a Redis Cluster every event leaves from the one cluster node that owns that
// slot, and reaches every subscriber in the order it was published: a plain PUBLISH goes
// to whichever cluster node the client picks, and one sender's events would then arrive
// out of order.
//
// An error means the outcome is unknown: a Redis that was paused (or a network that
// held the command) may still run the PUBLISH later, so the payload may be delivered
// after PublishEvent returned the error. It blocks for one round trip, bounded by ctx or,
// when ctx has no deadline, by Options.OpTimeout.
func (b *Backend) PublishEvent(ctx context.Context, payload []byte) (receivers int, err error) {
	ctx, cancel := b.opContext(ctx)
	defer cancel()
	ch := b.eventsChannel()
	n, err := routedPublish.Run(ctx, b.client, []string{ch}, ch, payload).Int64()
	if err != nil {
		return 0, fmt.Errorf("wsredis: publish event: %w", err)
	}
	return int(n), nil
}

// routedPublish publishes ARGV[2] on channel ARGV[1]. It touches no key: KEYS[1] only
// routes it, on a Redis Cluster, to the node that owns that key's slot, so that every
// publish routed by one key leaves from one server, in order (see PublishEvent and
// ClaimSession).
var routedPublish = redis.NewScript(`return redis.call('PUBLISH', ARGV[1], ARGV[2])`)

// SubscribeEvents implements wssync.EventBus on the Backend's one Pub/Sub connection
// (see Subscribe): deliver runs on the backend's goroutine, one call at a time, in the
// order Redis ran the PUBLISHes, and must return quickly. It blocks like Subscribe until
// Redis confirmed the subscription (at most OpTimeout), so that an event published after
// it returns is delivered. Events published while the subscription is broken are lost:
// nothing is redelivered, and delivery resumes once the backend is subscribed again.
// stop ends the subscription and waits for a running deliver call to return.
func (b *Backend) SubscribeEvents(deliver func(payload []byte)) (stop func()) {
	return b.hub.subscribe(b.eventsChannel(), func(payload string, lost bool) {
		if !lost {
			deliver([]byte(payload))
		}
	})
}

// NewPublisher returns a wssync.Publisher that sends addressed messages through Redis to
// every wssync node whose Manager has a Backend with the same Prefix as its event bus
// (wssync.WithEventBus). It is for a process that serves no WebSocket (a worker, a cron
// job, an HTTP handler of another service): it starts no goroutine, holds no
// subscription and no connection of its own, and only PUBLISHes through client, which
// the caller keeps owning. Each Send is one PUBLISH; Delivery.Nodes is how many nodes
// Redis handed the message to.
//
// To change shared objects' state from the same process, give wssync.UpdateShared a
// Backend made with New(client, opts): New starts nothing either, until something
// subscribes.
func NewPublisher(client redis.UniversalClient, opts Options) *wssync.Publisher {
	return wssync.NewPublisher(New(client, opts))
}
