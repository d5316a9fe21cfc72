package wspresence

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/wssync/wssync"
)

// DefaultTTL is how long a member stays listed after its node last refreshed it.
// Nodes refresh their members every third of it, so a crashed node's members disappear
// from every other node within 4/3 of the TTL, plus a store round trip.
const DefaultTTL = 15 * time.Second

// storeTimeout bounds one store call.
const storeTimeout = 2 * time.Second

// Member is one session in a room.
type Member struct {
	User    string `json:"user"`
	Session string `json:"session"`
}

// State is the synced state of a Presence: the room's members, ordered by user then
// session. Clients read it under the Presence's key.
type State struct {
	Members []Member `sync:"members"`
}

// Presence tracks who is in a room across nodes: the sessions joined to it on any node
// whose client is connected. Each node keeps its members in a Store with a TTL and
// refreshes them every TTL/3, so the members of a node that crashed disappear within 4/3
// of the TTL. The room is exposed to Go (Members) and, as State, to every joined
// session's client under the key given to New.
//
// All methods are safe for concurrent use, and none waits for the store but Close: a
// session that connects or disconnects is written to the store by the Presence's
// goroutine, never by the session's own (which runs its event handlers). Close stops
// that goroutine.
type Presence struct {
	store  Store
	room   string
	ttl    time.Duration
	log    *slog.Logger
	state  State
	synced *wssync.Synced[State]

	refreshing sync.Mutex // one read-and-publish at a time, so an older read never wins

	mu      sync.Mutex
	local   map[string]Member            // this node's connected members, by session id
	pending map[string]bool              // members to write to the store: true adds, false removes
	hooks   map[*wssync.Session][]func() // hook removers of joined sessions
	seen    []Member                     // the room as last read
	notify  chan struct{}                // a watcher noticed a change
	dirty   chan struct{}                // pending has entries
	quit    chan struct{}
	done    chan struct{}
	stop    func() // ends the watch
}

// Option configures New.
type Option func(*Presence)

// WithTTL sets how long a member outlives its node's last refresh (DefaultTTL).
func WithTTL(d time.Duration) Option {
	return func(p *Presence) {
		if d > 0 {
			p.ttl = d
		}
	}
}

// New tracks room in store and publishes its members as a shared object under key
// (sessions that Join it receive it). It reports an unreachable store to the store's
// logger, when the store has one (a method Logger() *slog.Logger, as wsredis.Backend has);
// else it logs nothing. It starts one goroutine, ended by Close.
func New(store Store, room, key string, opts ...Option) (*Presence, error) {
	p := &Presence{
		store:   store,
		room:    room,
		ttl:     DefaultTTL,
		log:     slog.New(slog.DiscardHandler),
		local:   make(map[string]Member),
		pending: make(map[string]bool),
		hooks:   make(map[*wssync.Session][]func()),
		notify:  make(chan struct{}, 1),
		dirty:   make(chan struct{}, 1),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	if lb, ok := store.(interface{ Logger() *slog.Logger }); ok && lb.Logger() != nil {
		p.log = lb.Logger()
	}
	for _, opt := range opts {
		opt(p)
	}
	p.state.Members = []Member{}
	s, err := wssync.NewShared(key, &p.state)
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
func (p *Presence) Join(sess *wssync.Session) error {
	if err := p.synced.Join(sess); err != nil {
		return err
	}
	removers := []func(){
		// Both hooks read whether sess is connected now rather than assume it: when a
		// connection is replaced, the old one's OnDisconnect runs after the new one's
		// OnConnect, and the session is still here.
		sess.OnConnect(func(context.Context) { p.follow(sess) }),
		sess.OnDisconnect(func(context.Context) { p.follow(sess) }),
		sess.OnClose(func(context.Context) { p.Leave(sess) }),
	}
	p.mu.Lock()
	p.hooks[sess] = removers
	p.mu.Unlock()
	p.follow(sess)
	return nil
}

// Leave ends sess's membership.
func (p *Presence) Leave(sess *wssync.Session) {
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
// watch, and unregisters its shared object. It waits for the store's answer (at most 2 s).
func (p *Presence) Close() {
	close(p.quit)
	<-p.done
	p.stop()
	p.mu.Lock()
	ids := make([]string, 0, len(p.local)+len(p.pending))
	for id := range p.local {
		ids = append(ids, id)
	}
	for id, here := range p.pending {
		if !here { // left, not yet written: remove it with the others
			ids = append(ids, id)
		}
	}
	clear(p.local)
	clear(p.pending)
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
			p.log.Warn("wspresence: cannot remove members from the presence store", "room", p.room, "err", err)
		}
		cancel()
	}
	p.synced.Unregister()
}

// follow makes sess a connected member if it is connected, and removes it if not. It
// reads Connected under p.mu, so of hooks racing on one session the last to run sees the
// last change.
func (p *Presence) follow(sess *wssync.Session) {
	p.update(sess, sess.Connected)
}

// set adds or removes sess as a connected member.
func (p *Presence) set(sess *wssync.Session, here bool) {
	p.update(sess, func() bool { return here })
}

// update records whether sess is a connected member, and has the Presence's goroutine
// write a change to the store: update runs in session hooks, under the session's dispatch
// lock, which a store call (up to storeTimeout) must not hold.
func (p *Presence) update(sess *wssync.Session, connected func() bool) {
	id := sess.Identity()
	if id.Session == "" {
		id.Session = fmt.Sprintf("%p", sess) // a lone Session has no id: any unique name
	}
	m := Member{User: id.User, Session: id.Session}
	p.mu.Lock()
	here := connected()
	_, was := p.local[id.Session]
	if here {
		p.local[id.Session] = m
	} else {
		delete(p.local, id.Session)
	}
	if was != here {
		p.pending[id.Session] = here
	}
	p.mu.Unlock()
	if was == here {
		return
	}
	select {
	case p.dirty <- struct{}{}:
	default:
	}
}

// run writes joins and leaves to the store as they come, refreshes this node's members
// every TTL/3, and rereads the room on every notice.
func (p *Presence) run() {
	defer close(p.done)
	tick := time.NewTicker(p.ttl / 3)
	defer tick.Stop()
	for {
		select {
		case <-p.quit:
			return
		case <-p.dirty:
			p.flush()
			p.refresh()
		case <-p.notify:
			p.refresh()
		case <-tick.C:
			p.heartbeat()
			p.refresh()
		}
	}
}

// flush writes the pending joins and leaves to the store, in one call each. A failed
// write is not retried as such: the next heartbeat sets every connected member again,
// and a member that left is gone from the store once its entry expires.
func (p *Presence) flush() {
	p.mu.Lock()
	set := make(map[string][]byte)
	var removed []string
	for id, here := range p.pending {
		if here {
			set[id], _ = json.Marshal(p.local[id])
		} else {
			removed = append(removed, id)
		}
	}
	clear(p.pending)
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	var err error
	if len(set) > 0 {
		err = p.store.SetPresence(ctx, p.room, set, p.ttl)
	}
	if len(removed) > 0 {
		if rerr := p.store.RemovePresence(ctx, p.room, removed...); err == nil {
			err = rerr
		}
	}
	if err != nil {
		p.log.Warn("wspresence: cannot update the presence store; the next refresh retries", "room", p.room, "err", err)
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
		p.log.Warn("wspresence: cannot refresh members in the presence store", "room", p.room, "err", err)
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
		p.log.Warn("wspresence: cannot read the presence store", "room", p.room, "err", err)
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
		_ = p.synced.Update(func(s *State) { s.Members = members })
	}
}
