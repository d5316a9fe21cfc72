package wssync

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// DefaultPresenceTTL is how long a member stays listed after its node last refreshed it.
// Nodes refresh their members every third of it, so a crashed node's members disappear
// from every other node within 4/3 of the TTL, plus a store round trip.
const DefaultPresenceTTL = 15 * time.Second

// Member is one session in a room.
type Member struct {
	User    string `json:"user"`
	Session string `json:"session"`
}

// PresenceState is the synced state of a Presence: the room's members, ordered by user
// then session. Clients read it under the Presence's key.
type PresenceState struct {
	Members []Member `sync:"members"`
}

// Presence tracks who is in a room across nodes: the sessions joined to it on any node
// whose client is connected. Each node keeps its members in a PresenceStore with a TTL and
// refreshes them every TTL/3, so the members of a node that crashed disappear within 4/3
// of the TTL. The room is exposed to Go (Members) and, as PresenceState, to every joined
// session's client under the key given to NewPresence.
//
// All methods are safe for concurrent use. Close stops the Presence's goroutine.
type Presence struct {
	store  PresenceStore
	room   string
	ttl    time.Duration
	log    *slog.Logger
	state  PresenceState
	synced *Synced[PresenceState]

	refreshing sync.Mutex // one read-and-publish at a time, so an older read never wins

	mu     sync.Mutex
	local  map[string]Member     // this node's connected members, by session id
	hooks  map[*Session][]func() // hook removers of joined sessions
	seen   []Member              // the room as last read
	notify chan struct{}         // a watcher noticed a change
	quit   chan struct{}
	done   chan struct{}
	stop   func() // ends the watch
}

// PresenceOption configures NewPresence.
type PresenceOption func(*Presence)

// WithPresenceTTL sets how long a member outlives its node's last refresh
// (DefaultPresenceTTL).
func WithPresenceTTL(d time.Duration) PresenceOption {
	return func(p *Presence) {
		if d > 0 {
			p.ttl = d
		}
	}
}

// WithPresenceLogger sets where the Presence reports an unreachable store (no logs by
// default).
func WithPresenceLogger(l *slog.Logger) PresenceOption {
	return func(p *Presence) { p.log = l }
}

// NewPresence tracks room in store and publishes its members as a shared object under key
// (sessions that Join it receive it). It starts one goroutine, ended by Close.
func NewPresence(store PresenceStore, room, key string, opts ...PresenceOption) (*Presence, error) {
	p := &Presence{
		store:  store,
		room:   room,
		ttl:    DefaultPresenceTTL,
		log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		local:  make(map[string]Member),
		hooks:  make(map[*Session][]func()),
		notify: make(chan struct{}, 1),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	for _, opt := range opts {
		opt(p)
	}
	p.state.Members = []Member{}
	s, err := NewShared(key, &p.state)
	if err != nil {
		return nil, err
	}
	p.synced = s
	p.stop = store.WatchPresence(room, func() {
		select {
		case p.notify <- struct{}{}:
		default:
		}
	})
	p.refresh()
	go p.run()
	return p, nil
}

// Join makes sess a member of the room while its client is connected, and sends it the
// room's members. A session that closes leaves.
func (p *Presence) Join(sess *Session) error {
	if err := p.synced.Join(sess); err != nil {
		return err
	}
	removers := []func(){
		sess.OnConnect(func(context.Context) { p.set(sess, true) }),
		sess.OnDisconnect(func(context.Context) { p.set(sess, false) }),
		sess.OnClose(func(context.Context) { p.Leave(sess) }),
	}
	p.mu.Lock()
	p.hooks[sess] = removers
	p.mu.Unlock()
	if sess.Connected() {
		p.set(sess, true)
	}
	return nil
}

// Leave ends sess's membership.
func (p *Presence) Leave(sess *Session) {
	p.mu.Lock()
	removers := p.hooks[sess]
	delete(p.hooks, sess)
	p.mu.Unlock()
	for _, remove := range removers {
		remove()
	}
	p.set(sess, false)
	p.synced.Leave(sess)
}

// Members returns the room's members on every node, as last read from the store.
func (p *Presence) Members() []Member {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.seen)
}

// Close removes this node's members from the room, stops the Presence's goroutine and
// watch, and unregisters its shared object.
func (p *Presence) Close() {
	close(p.quit)
	<-p.done
	p.stop()
	p.mu.Lock()
	ids := make([]string, 0, len(p.local))
	for id := range p.local {
		ids = append(ids, id)
	}
	clear(p.local)
	var removers []func()
	for _, rs := range p.hooks {
		removers = append(removers, rs...)
	}
	clear(p.hooks)
	p.mu.Unlock()
	for _, remove := range removers {
		remove() // takes the session's lock: not under p.mu
	}
	if len(ids) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		if err := p.store.RemovePresence(ctx, p.room, ids...); err != nil {
			p.log.Warn("wssync: cannot remove members from the presence store", "room", p.room, "err", err)
		}
		cancel()
	}
	p.synced.Unregister()
}

// set adds or removes sess as a connected member, in the store at once.
func (p *Presence) set(sess *Session, here bool) {
	id := sess.Identity()
	if id.Session == "" {
		id.Session = fmt.Sprintf("%p", sess) // a lone Session has no id: any unique name
	}
	m := Member(id)
	p.mu.Lock()
	_, was := p.local[id.Session]
	if here {
		p.local[id.Session] = m
	} else {
		delete(p.local, id.Session)
	}
	p.mu.Unlock()
	if was == here {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	var err error
	if here {
		data, _ := json.Marshal(m)
		err = p.store.SetPresence(ctx, p.room, map[string][]byte{id.Session: data}, p.ttl)
	} else {
		err = p.store.RemovePresence(ctx, p.room, id.Session)
	}
	if err != nil {
		p.log.Warn("wssync: cannot update the presence store; the next refresh retries", "room", p.room, "err", err)
	}
	p.refresh()
}

// run refreshes this node's members every TTL/3 and rereads the room on every notice.
func (p *Presence) run() {
	defer close(p.done)
	tick := time.NewTicker(p.ttl / 3)
	defer tick.Stop()
	for {
		select {
		case <-p.quit:
			return
		case <-p.notify:
			p.refresh()
		case <-tick.C:
			p.heartbeat()
			p.refresh()
		}
	}
}

// heartbeat renews the expiry of this node's members.
func (p *Presence) heartbeat() {
	p.mu.Lock()
	entries := make(map[string][]byte, len(p.local))
	for id, m := range p.local {
		entries[id], _ = json.Marshal(m)
	}
	p.mu.Unlock()
	if len(entries) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := p.store.SetPresence(ctx, p.room, entries, p.ttl); err != nil {
		p.log.Warn("wssync: cannot refresh members in the presence store", "room", p.room, "err", err)
	}
}

// refresh reads the room from the store and publishes it when it changed. While the store
// is unreachable, the members of this node stand for the room.
func (p *Presence) refresh() {
	p.refreshing.Lock()
	defer p.refreshing.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	entries, err := p.store.Presence(ctx, p.room)
	cancel()
	var members []Member
	if err != nil {
		p.log.Warn("wssync: cannot read the presence store", "room", p.room, "err", err)
		p.mu.Lock()
		for _, m := range p.local {
			members = append(members, m)
		}
		p.mu.Unlock()
	} else {
		for _, data := range entries {
			var m Member
			if json.Unmarshal(data, &m) == nil {
				members = append(members, m)
			}
		}
	}
	slices.SortFunc(members, func(a, b Member) int {
		return cmp.Or(cmp.Compare(a.User, b.User), cmp.Compare(a.Session, b.Session))
	})
	if members == nil {
		members = []Member{}
	}
	p.mu.Lock()
	changed := !slices.Equal(members, p.seen)
	p.seen = members
	p.mu.Unlock()
	if changed {
		_ = p.synced.Update(func(s *PresenceState) { s.Members = members })
	}
}
