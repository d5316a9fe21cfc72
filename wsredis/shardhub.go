package wsredis

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// The parts of hub that only a sharded hub uses: SSUBSCRIBE by slot, and handing over the
// subscribers of channels that left the hub's server.

// subscribeCmd writes the subscription of channels on ps: one SUBSCRIBE, or on a sharded
// hub one SSUBSCRIBE per slot, since Redis Cluster refuses one whose channels are in
// different slots (CROSSSLOT). Redis answers each in order.
func (h *hub) subscribeCmd(ctx context.Context, ps *redis.PubSub, channels ...string) error {
	if !h.sharded {
		return ps.Subscribe(ctx, channels...)
	}
	bySlot := make(map[int][]string)
	for _, c := range channels {
		bySlot[slot(c)] = append(bySlot[slot(c)], c)
	}
	for _, group := range bySlot {
		if err := ps.SSubscribe(ctx, group...); err != nil {
			return err
		}
	}
	return nil
}

// unsubscribed counts a sunsubscribe for channel on ps against the SUNSUBSCRIBEs the hub
// wrote, and reports false for one it did not write while channel has subscribers: Redis
// unsubscribed them itself, as it does when the channel's slot leaves the server. One that
// arrives after the hub took the connection out of service, or for a channel without
// subscribers, changes nothing.
func (h *hub) unsubscribed(ps *redis.PubSub, channel string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ps != h.ps {
		return true
	}
	if h.unsubs[channel] > 0 {
		h.unsubs[channel]--
		if h.unsubs[channel] == 0 {
			delete(h.unsubs, channel)
		}
		return true
	}
	return len(h.subs[channel]) == 0
}

// release takes the subscribers of the channels that match out of the hub, while ps is
// the connection in use (nil: while there is none), and hands them to moved, which
// subscribes them on the server that owns their slot now. Each is stopped here first, so
// that its function is never called from two hubs; a subscribe still waiting for it
// returns.
func (h *hub) release(ps *redis.PubSub, match func(channel string) bool) {
	h.mu.Lock()
	if ps != h.ps || h.closed {
		h.mu.Unlock()
		return
	}
	var taken []*sub
	for c, set := range h.subs {
		if !match(c) {
			continue
		}
		for s := range set {
			s.removed = true
			s.live = false
			s.token = 0
			if !s.signaled {
				s.signaled = true
				close(s.ready)
			}
			taken = append(taken, s)
		}
		delete(h.subs, c)
		delete(h.pending, c)
	}
	h.mu.Unlock()
	if len(taken) == 0 {
		return
	}
	owners := make([]*routedSub, 0, len(taken))
	for _, s := range taken {
		s.dmu.Lock()
		s.stopped = true
		s.dmu.Unlock()
		owners = append(owners, s.owner)
	}
	h.log.Info("wsredis: shard channels moved to another node; subscribing there", "channels", len(taken))
	h.moved(owners)
}

// channels returns the channels that have subscribers on the hub.
func (h *hub) channels() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.subs))
	for c := range h.subs {
		out = append(out, c)
	}
	return out
}

// movedSlot returns the slot of a MOVED or ASK error reply ("MOVED 3999 127.0.0.1:6381").
func movedSlot(err error) (int, bool) {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return 0, false
	}
	f := strings.Fields(rerr.Error())
	if len(f) != 3 || (f[0] != "MOVED" && f[0] != "ASK") {
		return 0, false
	}
	n, err := strconv.Atoi(f[1])
	if err != nil || n < 0 || n >= slotCount {
		return 0, false
	}
	return n, true
}
