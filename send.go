package wssync

import (
	"context"
	"errors"
	"fmt"
)

// ErrNoTarget is the error of Send for the zero Target, or one whose id is empty, or
// whose id or Except is longer than 1024 bytes.
var ErrNoTarget = errors.New("wssync: the target names no one")

// ErrNoMessage is the error of Send for the zero Message.
var ErrNoMessage = errors.New("wssync: empty message")

// Send delivers msg to the sessions to names: on this node at once (each live connection
// queues it, each disconnected session keeps it in its backlog, see WithEventBacklog), and
// on every other node through the event bus (WithEventBus), which delivers it there the
// same way. Delivery counts what happened on this node and how many other nodes the bus
// reached.
//
// Messages from one goroutine reach each recipient in the order sent, on every node. The
// bus delivers at most once; Send returns an error when it cannot tell whether the bus
// took the message (Redis down or stalled until ctx ended). Sending the same Message (same
// ID) again is then safe: a node that delivered it already drops it
// (Delivery.Duplicate here, Stats.MessagesDuplicate on every node).
func (m *Manager) Send(ctx context.Context, to Target, msg Message) (Delivery, error) {
	if !to.valid() {
		return Delivery{}, ErrNoTarget
	}
	if msg.event == "" {
		return Delivery{}, ErrNoMessage
	}
	var payload []byte
	if m.cfg.eventBus != nil {
		var err error
		if payload, err = encodeEnvelope(m.node, to, msg); err != nil {
			return Delivery{}, err
		}
	}
	d := m.deliverLocal(to, msg)
	if payload == nil {
		return d, nil
	}
	n, err := m.cfg.eventBus.PublishEvent(ctx, payload)
	if err != nil {
		return d, fmt.Errorf("wssync: event bus: %w", bare(err))
	}
	if !m.busStopped.Load() {
		n-- // the bus reached this Manager's own subscription too
	}
	d.Nodes = max(n, 0)
	return d, nil
}

// deliverLocal hands msg to this node's sessions that to names, once per message ID.
func (m *Manager) deliverLocal(to Target, msg Message) Delivery {
	var d Delivery
	if !m.seen.first(msg.id) {
		m.metrics.messagesDuplicate.Add(1)
		d.Duplicate = true
		return d
	}
	f := msg.frame() // encoded once for every session it reaches
	if to.kind != targetSession {
		f.shared = true // and framed once for every connection (frame.prepared)
	}
	for _, sess := range m.sendTargets(to) {
		if to.matches(sess) {
			d.add(sess.take(msg, f))
		}
	}
	if d.Sessions() == 0 {
		// Nothing here took it: the ID is not spent, so the same message sent again once
		// its recipient is here is delivered, not dropped as a duplicate.
		m.seen.forget(msg.id)
	}
	return d
}

// sendTargets returns the sessions to may name: the sessions the Manager holds, those
// whose factory still runs included (a message to them waits in their backlog, so a
// "welcome" sent from the factory arrives after the first connection's state).
func (m *Manager) sendTargets(to Target) []*Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	if to.kind == targetSession {
		if ms, ok := m.sessions[to.id]; ok {
			if _, failed := ms.built(); !failed {
				return []*Session{ms.sess}
			}
		}
		return nil
	}
	out := make([]*Session, 0, len(m.sessions))
	for _, ms := range m.sessions {
		if _, failed := ms.built(); !failed {
			out = append(out, ms.sess)
		}
	}
	return out
}

// received delivers a payload from the event bus. Its own messages the Manager delivered
// when it sent them.
func (m *Manager) received(payload []byte) {
	from, to, msg, err := decodeEnvelope(payload)
	if err != nil {
		m.cfg.logger.Warn("wssync: dropped a message from the event bus", "err", err, "bytes", len(payload))
		return
	}
	if from == m.node {
		return
	}
	m.deliverLocal(to, msg)
}
