package wspresence

import (
	"context"
	"fmt"

	"github.com/wssync/wssync"
)

// Online answers whether a user is online on any node, and with which sessions: every
// session a Manager's factory tracks (Track) is listed in the store while its client is
// connected, as a Presence's members are, but no client receives the list. Lookups read
// the store, so they agree with every node: a session that disconnects is gone within a
// store round trip, and the sessions of a node that died without cleaning up are gone
// once their entries expire, at most the TTL (DefaultTTL, WithTTL) after its last
// refresh.
//
//	online, err := wspresence.NewOnline(store, "online")
//	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
//		return online.Track(sess)
//	})
//	here, err := online.IsOnline(ctx, "42") // on any node
//
// Several Managers (and nodes) share one Online by naming the same room in one store.
// OnChange, WithTTL and WithMaxMeta apply as to a Presence; WithClientMeta does not (no
// client sees the room). Without OnChange an Online only writes: it reads the store for
// lookups alone.
type Online struct {
	p *Presence
}

// NewOnline tracks sessions in room of store. It starts one goroutine, ended by Close.
func NewOnline(store Store, room string, opts ...Option) (*Online, error) {
	p, err := newPresence(store, room, "", opts)
	if err != nil {
		return nil, err
	}
	return &Online{p: p}, nil
}

// Track lists sess while its client is connected, until the session closes or Untrack.
// It never waits for the store.
func (o *Online) Track(sess *wssync.Session) error { return o.p.Join(sess) }

// Untrack stops listing sess.
func (o *Online) Untrack(sess *wssync.Session) { o.p.Leave(sess) }

// SetMeta sets sess's Member.Meta (a status, a device), as Presence.SetMeta does.
func (o *Online) SetMeta(sess *wssync.Session, v any) error { return o.p.SetMeta(sess, v) }

// Sessions returns user's connected sessions on every node, ordered by session id, read
// from the store (one call, which reads every tracked session: its cost grows with how
// many are online). An error means the store did not answer.
func (o *Online) Sessions(ctx context.Context, user string) ([]Member, error) {
	all, err := o.All(ctx)
	if err != nil {
		return nil, err
	}
	var out []Member
	for _, m := range all {
		if m.User == user {
			out = append(out, m)
		}
	}
	return out, nil
}

// IsOnline reports whether user has a connected session on any node, as Sessions reads it.
func (o *Online) IsOnline(ctx context.Context, user string) (bool, error) {
	ms, err := o.Sessions(ctx, user)
	return len(ms) > 0, err
}

// All returns every connected session on every node, ordered by user then session, read
// from the store.
func (o *Online) All(ctx context.Context) ([]Member, error) {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	entries, err := o.p.store.Presence(ctx, o.p.room)
	if err != nil {
		return nil, fmt.Errorf("wspresence: online lookup: %w", err)
	}
	out := make([]Member, 0, len(entries))
	for id, data := range entries {
		if m, ok := decodeMember(id, data); ok {
			out = append(out, m)
		}
	}
	sortMembers(out)
	return out, nil
}

// Close stops tracking: this node's sessions are removed from the store (one call, at
// most 2 s) and the goroutine ends.
func (o *Online) Close() { o.p.Close() }
