package wsmemory

import (
	"context"
	"slices"

	"github.com/wssync/wssync"
)

var _ wssync.EventBus = (*Backend)(nil)

// PublishEvent implements wssync.EventBus: it queues payload to every subscription, under
// the Backend's lock, so every subscriber sees the payloads in one order. While the
// Backend is unavailable (SetUnavailable) it fails with ErrUnavailable and delivers
// nothing; Interrupt drops the payloads subscribers had not yet taken, as a broken
// pub/sub connection does.
func (m *Backend) PublishEvent(_ context.Context, payload []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return 0, ErrUnavailable
	}
	for s := range m.events {
		s.push(wssync.Change{Patch: slices.Clone(payload)}) // a Change carries it, as memSubs deliver Changes
	}
	return len(m.events), nil
}

// SubscribeEvents implements wssync.EventBus.
func (m *Backend) SubscribeEvents(deliver func(payload []byte)) (stop func()) {
	return m.watch(func() map[*memSub]struct{} { return m.events }, func(c wssync.Change) {
		if !c.Lost {
			deliver(c.Patch)
		}
	})
}
