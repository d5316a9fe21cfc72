package wspresence

import (
	"context"
	"encoding/json"
	"errors"
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

// State is the synced state of a Presence: the room's members, ordered by user then
// session. Clients read it under the Presence's key.
type State struct {
	Members []Member `sync:"members"`
}

// Presence tracks who is in a room across nodes: the sessions joined to it on any node
// whose client is connected, each with its Meta (SetMeta, WithClientMeta). Each node
// keeps its members in a Store with a TTL and refreshes them every TTL/3, so the members
// of a node that crashed disappear within 4/3 of the TTL. The room is exposed to Go
// (Members, OnChange) and, as State, to every joined session's client under the key given
// to New.
//
// All methods are safe for concurrent use, and none waits for the store but Close: a
// session that connects, disconnects or changes its Meta is written to the store by the
// Presence's goroutine, never by the session's own (which runs its event handlers). Close
// stops that goroutine.
type Presence struct {
	store      Store
	room       string
	ttl        time.Duration
	log        *slog.Logger
	state      State
	synced     *wssync.Synced[State] // nil for an Online: no client sees the room
	watch      bool                  // reread the room: it is synced, or callbacks want diffs
	maxMeta    int
	client     *ClientMeta         // nil: clients may not set their meta
	onChange   []func(Diff)        // OnChange callbacks, in registration order
	clientView func(Member) Member // what clients see of a member; nil: all of it

	refreshing sync.Mutex // one read-and-publish at a time, so an older read never wins

	mu      sync.Mutex
	local   map[string]Member            // this node's connected members, by session id
	pending map[string]bool              // members to write to the store: true adds, false removes
	hooks   map[*wssync.Session][]func() // hook removers of joined sessions
	meta    map[string]json.RawMessage   // meta of joined sessions, by member id
	buckets map[string]*bucket           // client meta rate limits, by member id
	seen    []Member                     // the room as last read
	notify  chan struct{}                // a watcher noticed a change
	dirty   chan struct{}                // pending has entries
	quit    chan struct{}
	done    chan struct{}
	stop    func() // ends the watch
}

// Option configures New and NewOnline.
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
	if key == "" {
		return nil, fmt.Errorf("%w: a Presence needs a key (an Online has none)", wssync.ErrBadKey)
	}
	return newPresence(store, room, key, opts)
}

// newPresence builds a Presence; key "" makes one no client sees (an Online's).
func newPresence(store Store, room, key string, opts []Option) (*Presence, error) {
	p := &Presence{
		store:   store,
		room:    room,
		ttl:     DefaultTTL,
		log:     slog.New(slog.DiscardHandler),
		local:   make(map[string]Member),
		pending: make(map[string]bool),
		hooks:   make(map[*wssync.Session][]func()),
		meta:    make(map[string]json.RawMessage),
		buckets: make(map[string]*bucket),
		maxMeta: DefaultMaxMeta,
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
	p.watch = key != "" || len(p.onChange) > 0
	p.stop = func() {}
	if key != "" {
		s, err := wssync.NewShared(key, &p.state)
		if err != nil {
			return nil, err
		}
		p.synced = s
		if err := p.registerClientMeta(); err != nil {
			s.Unregister()
			return nil, err
		}
	} else if p.client != nil {
		return nil, errors.New("wspresence: WithClientMeta needs a Presence with a key")
	}
	if p.watch {
		p.stop = store.WatchPresence(room, func() {
			select {
			case p.notify <- struct{}{}:
			default:
			}
		})
	}
	var first Diff // the room as found: every member joined
	if p.watch {
		first = p.refresh()
	}
	go p.run(first)
	return p, nil
}

// Join makes sess a member of the room while its client is connected, and sends it the
// room's members. A session that closes leaves.
func (p *Presence) Join(sess *wssync.Session) error {
	if p.synced != nil {
		if err := p.synced.Join(sess); err != nil {
			return err
		}
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
	id := memberID(sess)
	p.mu.Lock()
	removers := p.hooks[sess]
	delete(p.hooks, sess)
	delete(p.meta, id)
	delete(p.buckets, id)
	p.mu.Unlock()
	for _, remove := range removers {
		remove()
	}
	p.set(sess, false)
	if p.synced != nil {
		p.synced.Leave(sess)
	}
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
	clear(p.meta)
	clear(p.buckets)
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
	if p.synced != nil {
		p.synced.Unregister()
	}
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
	id := memberID(sess)
	p.mu.Lock()
	here := connected()
	_, was := p.local[id]
	if here {
		p.local[id] = Member{User: sess.Identity().User, Session: id, Meta: p.meta[id]}
	} else {
		delete(p.local, id)
	}
	if was != here {
		p.pending[id] = here
	}
	p.mu.Unlock()
	if was != here {
		p.wake()
	}
}

// wake tells the Presence's goroutine that pending has entries.
func (p *Presence) wake() {
	select {
	case p.dirty <- struct{}{}:
	default:
	}
}

// memberID is the id of sess's entry: its session id. A lone Session (wssync.NewSession)
// has none, so any name unique to it stands in.
func memberID(sess *wssync.Session) string {
	if id := sess.Identity().Session; id != "" {
		return id
	}
	return fmt.Sprintf("%p", sess)
}

// run writes joins and leaves to the store as they come, refreshes this node's members
// every TTL/3, and rereads the room on every notice.
func (p *Presence) run(first Diff) {
	defer close(p.done)
	p.changed(first)
	tick := time.NewTicker(p.ttl / 3)
	defer tick.Stop()
	for {
		select {
		case <-p.quit:
			return
		case <-p.dirty:
			p.flush()
			p.reread()
		case <-p.notify:
			p.reread()
		case <-tick.C:
			p.heartbeat()
			p.reread()
		}
	}
}

// reread reads the room when something follows it (clients, callbacks), and hands what
// changed to the callbacks.
func (p *Presence) reread() {
	if p.watch {
		p.changed(p.refresh())
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
			set[id] = encodeMember(p.local[id])
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
		entries[id] = encodeMember(m)
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

// refresh reads the room from the store, publishes it to the clients when it changed, and
// returns what changed. While the store is unreachable, the members of this node stand for
// the room.
func (p *Presence) refresh() Diff {
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
		for id, data := range entries {
			if m, ok := decodeMember(id, data); ok {
				members = append(members, m)
			}
		}
	}
	sortMembers(members)
	if members == nil {
		members = []Member{}
	}
	p.mu.Lock()
	d := diff(p.seen, members)
	p.seen = members
	p.mu.Unlock()
	if !d.empty() && p.synced != nil {
		shown := p.clientMembers(members)
		_ = p.synced.Update(func(s *State) { s.Members = shown })
	}
	return d
}
