package wssync

import (
	"context"
	"fmt"
)

// Publisher sends addressed messages from a process that serves no WebSocket (a worker, a
// cron job, an HTTP handler in another service) to the sessions of every Manager on the
// same event bus. It holds no state and starts no goroutine; wsredis.NewPublisher makes
// one on Redis.
type Publisher struct {
	bus EventBus
}

// NewPublisher returns a Publisher that sends through bus.
func NewPublisher(bus EventBus) *Publisher { return &Publisher{bus: bus} }

// Send publishes msg to the sessions to names, on every node. Delivery.Nodes counts the
// Managers the bus reached; what each did with it they do not report. The guarantees are
// Manager.Send's: at most once per send, in order per sender, and a message sent again
// with the same ID after an error is delivered once.
func (p *Publisher) Send(ctx context.Context, to Target, msg Message) (Delivery, error) {
	if !to.valid() {
		return Delivery{}, ErrNoTarget
	}
	if msg.event == "" {
		return Delivery{}, ErrNoMessage
	}
	payload, err := encodeEnvelope("", to, msg)
	if err != nil {
		return Delivery{}, err
	}
	n, err := p.bus.PublishEvent(ctx, payload)
	if err != nil {
		return Delivery{}, fmt.Errorf("wssync: event bus: %w", err)
	}
	return Delivery{Nodes: n}, nil
}
