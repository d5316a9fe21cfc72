package wsmemory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wssync/wssync"
)

// Backend is a wssync.Backend, wssync.SessionStore and presence store (see the package
// wspresence) held in memory: several nodes of one process (tests, a development setup)
// share it as they would share Redis. It keeps the last LogLength patches of each key for
// catch-up, delivers each subscription's changes in order from a goroutine of its own, and
// can simulate the failures of a real transport (Interrupt, SetUnavailable, LoseNext, Wipe).
//
// The zero value is not usable; call New. All methods are safe for concurrent use.
type Backend struct {
	mu       sync.Mutex
	keys     map[string]*memKey
	sessions map[string]*memSession
	rooms    map[string]map[string]memEntry
	watchers map[string]map[*memSub]struct{}
	claims   map[*memSub]struct{}
	bySess   map[string]map[*memSub]struct{} // WatchSessionClaims, with WithClaimsBySession
	perSess  bool                            // WithClaimsBySession
	events   map[*memSub]struct{}            // SubscribeEvents
	down     bool                            // SetUnavailable
}

// ErrUnavailable is what every call of a Backend returns while it simulates an outage
// (SetUnavailable).
var ErrUnavailable = errors.New("wsmemory: backend unavailable")

// LogLength is how many patches per key a Backend keeps for catch-up.
const LogLength = 64

// CommitIDs is how many commit IDs per key a Backend remembers (see wssync.Backend's
// Commit and Outcome).
const CommitIDs = 1024

var (
	_ wssync.Backend      = (*Backend)(nil)
	_ wssync.SessionStore = (*Backend)(nil)
)

type memKey struct {
	version uint64
	state   []byte
	log     [][]byte // the patches to versions version-len(log)+1 … version
	subs    map[*memSub]struct{}
	lose    int // deliveries still to drop (LoseNext)

	epoch, origin uint64           // see wssync.Snapshot
	high          uint64           // the highest version ever handed out; survives Wipe
	ids           map[string]memID // the commit IDs remembered, landed or fenced
	order         []string         // ids in the order remembered, oldest first
	forgot        uint64           // the highest version of a forgotten ID
}

// memID is what a Backend remembers of a commit ID: the version it made, or that
// Outcome fenced it.
type memID struct {
	version uint64
	fenced  bool
}

type memSession struct {
	rec     wssync.SessionRecord
	expires time.Time
}

type memEntry struct {
	data    []byte
	expires time.Time
}

// New returns an empty Backend.
func New(opts ...Option) *Backend {
	m := &Backend{
		keys:     make(map[string]*memKey),
		sessions: make(map[string]*memSession),
		rooms:    make(map[string]map[string]memEntry),
		watchers: make(map[string]map[*memSub]struct{}),
		claims:   make(map[*memSub]struct{}),
		bySess:   make(map[string]map[*memSub]struct{}),
		events:   make(map[*memSub]struct{}),
	}
	for _, o := range opts {
		o(m)
	}
	return m
}

func (m *Backend) key(k string) *memKey {
	mk := m.keys[k]
	if mk == nil {
		mk = &memKey{subs: make(map[*memSub]struct{})}
		m.keys[k] = mk
	}
	return mk
}

// Load implements wssync.Backend.
func (m *Backend) Load(_ context.Context, key string, since uint64) (wssync.Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return wssync.Snapshot{}, ErrUnavailable
	}
	mk := m.key(key)
	switch {
	case mk.version == 0:
		return wssync.Snapshot{}, nil
	case since == mk.version && since >= mk.epoch:
		return wssync.Snapshot{Version: mk.version}, nil
	case since >= mk.epoch && since < mk.version && mk.version-since <= uint64(len(mk.log)):
		ps := mk.log[uint64(len(mk.log))-(mk.version-since):]
		return wssync.Snapshot{Version: mk.version, Patches: cloneAll(ps)}, nil
	}
	return wssync.Snapshot{Version: mk.version, State: bytes.Clone(mk.state), Epoch: mk.epoch, Origin: mk.origin}, nil
}

// Commit implements wssync.Backend.
func (m *Backend) Commit(_ context.Context, key string, p wssync.Proposal) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return ErrUnavailable
	}
	mk := m.key(key)
	if id, ok := mk.ids[p.ID]; ok {
		if id.fenced {
			return fmt.Errorf("%w: commit %q of key %q was fenced", wssync.ErrVersionConflict, p.ID, key)
		}
		return nil // landed before
	}
	if mk.version != p.Base {
		return fmt.Errorf("%w: key %q is at version %d, not %d", wssync.ErrVersionConflict, key, mk.version, p.Base)
	}
	patch := bytes.Clone(p.Patch)
	if p.Base == 0 {
		mk.version = mk.high + 1
		mk.epoch, mk.origin = mk.version, p.Origin
		mk.log = nil
	} else {
		mk.version++
		mk.log = append(mk.log, patch)
		if len(mk.log) > LogLength {
			mk.log = append(mk.log[:0:0], mk.log[len(mk.log)-LogLength:]...)
		}
	}
	mk.high = max(mk.high, mk.version)
	mk.state = bytes.Clone(p.State)
	mk.remember(p.ID, memID{version: mk.version})
	if mk.lose > 0 {
		mk.lose--
		return nil
	}
	for s := range mk.subs {
		s.push(wssync.Change{Version: mk.version, Patch: patch})
	}
	return nil
}

// remember records id, forgetting the oldest beyond CommitIDs. The caller holds mu.
func (mk *memKey) remember(id string, v memID) {
	if mk.ids == nil {
		mk.ids = make(map[string]memID)
	}
	mk.ids[id] = v
	mk.order = append(mk.order, id)
	for len(mk.order) > CommitIDs {
		old := mk.order[0]
		mk.order = mk.order[1:]
		mk.forgot = max(mk.forgot, mk.ids[old].version)
		delete(mk.ids, old)
	}
}

// Outcome implements wssync.Backend.
func (m *Backend) Outcome(_ context.Context, key, id string, base uint64) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return 0, ErrUnavailable
	}
	mk := m.key(key)
	if r, ok := mk.ids[id]; ok {
		return r.version, nil // 0 when fenced before
	}
	mk.remember(id, memID{version: 0, fenced: true})
	if mk.version != base && mk.epoch <= base && mk.forgot > base {
		return 0, fmt.Errorf("%w: key %q forgot the IDs of commits after version %d", wssync.ErrOutcomeUnknown, key, base)
	}
	return 0, nil
}

// Wipe simulates a backend that lost its data (a Redis restarted without persistence):
// every key's state, log and commit IDs are gone, and a key created again gets a version
// above every one it had. Subscriptions stay, and receive wssync.Change{Lost: true}.
func (m *Backend) Wipe() {
	m.mu.Lock()
	for _, mk := range m.keys {
		mk.version, mk.state, mk.log = 0, nil, nil
		mk.epoch, mk.origin, mk.ids, mk.order, mk.forgot = 0, 0, nil, nil, 0
	}
	m.mu.Unlock()
	m.Interrupt()
}

// Subscribe implements wssync.Backend.
func (m *Backend) Subscribe(key string, deliver func(wssync.Change)) (stop func()) {
	return m.watch(func() map[*memSub]struct{} { return m.key(key).subs }, deliver)
}

// watch starts a memSub that calls deliver, registered in the set that set returns (called
// with mu held), until the returned stop.
func (m *Backend) watch(set func() map[*memSub]struct{}, deliver func(wssync.Change)) (stop func()) {
	s := newMemSub(deliver)
	m.mu.Lock()
	set()[s] = struct{}{}
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		delete(set(), s)
		m.mu.Unlock()
		s.stop()
	}
}

// Interrupt simulates a broken connection: every subscription loses what it had not yet
// delivered and receives wssync.Change{Lost: true}; every presence watcher is called; every
// event subscription loses the payloads it had not yet delivered.
func (m *Backend) Interrupt() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, mk := range m.keys {
		for s := range mk.subs {
			s.interrupt()
		}
	}
	for _, ws := range m.watchers {
		for s := range ws {
			s.interrupt()
		}
	}
	for s := range m.events {
		s.interrupt()
	}
	for _, set := range m.bySess {
		for s := range set {
			s.interrupt()
		}
	}
}

// SetUnavailable simulates an outage: while down is true every call fails with
// ErrUnavailable and nothing is delivered; when it turns false again, every
// subscription receives wssync.Change{Lost: true}, as after a reconnect.
func (m *Backend) SetUnavailable(down bool) {
	m.mu.Lock()
	was := m.down
	m.down = down
	m.mu.Unlock()
	if was && !down {
		m.Interrupt()
	}
}

// LoseNext drops the deliveries of key's next n commits, silently, as a pub/sub transport
// may: subscribers must notice the gap from the versions.
func (m *Backend) LoseNext(key string, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.key(key).lose += n
}

// BindSession implements wssync.SessionStore.
func (m *Backend) BindSession(_ context.Context, id, user string, ttl time.Duration) (string, uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return "", 0, ErrUnavailable
	}
	ms := m.liveSession(id)
	if ms == nil {
		ms = &memSession{rec: wssync.SessionRecord{User: user, Objects: make(map[string]wssync.StoredObject)}}
		m.sessions[id] = ms
	}
	if ms.rec.User != user {
		return ms.rec.User, 0, nil
	}
	ms.expires = time.Now().Add(ttl)
	return user, ms.rec.Generation, nil
}

// SaveSession implements wssync.SessionStore.
func (m *Backend) SaveSession(_ context.Context, id, user, key string, obj wssync.StoredObject, ttl time.Duration) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return 0, ErrUnavailable
	}
	ms := m.liveSession(id)
	if ms == nil {
		ms = &memSession{rec: wssync.SessionRecord{User: user, Objects: make(map[string]wssync.StoredObject)}}
		m.sessions[id] = ms
	}
	if ms.rec.User != user {
		return 0, fmt.Errorf("%w: session %q", wssync.ErrForeignSession, id)
	}
	ms.rec.Generation++
	ms.rec.Objects[key] = wssync.StoredObject{Version: obj.Version, State: bytes.Clone(obj.State)}
	ms.expires = time.Now().Add(ttl)
	return ms.rec.Generation, nil
}

// LoadSession implements wssync.SessionStore.
func (m *Backend) LoadSession(_ context.Context, id string) (wssync.SessionRecord, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return wssync.SessionRecord{}, false, ErrUnavailable
	}
	ms := m.liveSession(id)
	if ms == nil {
		return wssync.SessionRecord{}, false, nil
	}
	rec := ms.rec
	rec.Objects = make(map[string]wssync.StoredObject, len(ms.rec.Objects))
	for k, o := range ms.rec.Objects {
		rec.Objects[k] = wssync.StoredObject{Version: o.Version, State: bytes.Clone(o.State)}
	}
	return rec, true, nil
}

// TouchSession implements wssync.SessionStore.
func (m *Backend) TouchSession(_ context.Context, id string, ttl time.Duration) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return 0, ErrUnavailable
	}
	ms := m.liveSession(id)
	if ms == nil {
		return 0, nil
	}
	ms.expires = time.Now().Add(ttl)
	return ms.rec.Generation, nil
}

// ClaimSession implements wssync.SessionStore. It queues the claim to every watcher
// under the Backend's lock, and each watcher handles its queue in order, so all see the
// claims in one order.
func (m *Backend) ClaimSession(_ context.Context, c wssync.SessionClaim) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return ErrUnavailable
	}
	msg := []byte(strconv.Itoa(len(c.ID)) + " " + c.ID + strconv.Itoa(len(c.User)) + " " + c.User + c.Claimant)
	watchers := m.claims
	if m.perSess {
		watchers = m.bySess[c.ID]
	}
	for s := range watchers { // a Change carries it, as memSubs deliver Changes
		s.push(wssync.Change{Patch: msg})
	}
	return nil
}

// WatchClaims implements wssync.SessionStore. With WithClaimsBySession it hears no claim.
func (m *Backend) WatchClaims(claimed func(wssync.SessionClaim)) (stop func()) {
	return m.watch(func() map[*memSub]struct{} { return m.claims }, claimDecoder(claimed))
}

// claimDecoder decodes the claims the memSubs of claims carry for claimed.
func claimDecoder(claimed func(wssync.SessionClaim)) func(wssync.Change) {
	return func(c wssync.Change) {
		if c.Lost {
			return
		}
		var sc wssync.SessionClaim
		rest, ok := string(c.Patch), true
		sc.ID, rest, ok = cutCounted(rest)
		if ok {
			sc.User, sc.Claimant, ok = cutCounted(rest)
		}
		if ok {
			claimed(sc)
		}
	}
}

// cutCounted splits "<byte length n> <n bytes>rest" into the n bytes and rest.
func cutCounted(s string) (head, rest string, ok bool) {
	ls, rest, ok := strings.Cut(s, " ")
	n, err := strconv.Atoi(ls)
	if !ok || err != nil || n < 0 || n > len(rest) {
		return "", "", false
	}
	return rest[:n], rest[n:], true
}

// liveSession returns the unexpired record of id, dropping an expired one. The caller
// holds mu.
func (m *Backend) liveSession(id string) *memSession {
	ms := m.sessions[id]
	if ms != nil && !time.Now().Before(ms.expires) {
		delete(m.sessions, id)
		return nil
	}
	return ms
}

// SetPresence implements the presence store of wspresence.
func (m *Backend) SetPresence(_ context.Context, room string, entries map[string][]byte, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return ErrUnavailable
	}
	r := m.room(room)
	expires := time.Now().Add(ttl)
	changed := false
	for id, data := range entries {
		old, ok := r[id]
		changed = changed || !ok || !bytes.Equal(old.data, data)
		r[id] = memEntry{data: bytes.Clone(data), expires: expires}
	}
	if changed {
		m.notifyLocked(room)
	}
	return nil
}

// RemovePresence implements the presence store of wspresence.
func (m *Backend) RemovePresence(_ context.Context, room string, ids ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return ErrUnavailable
	}
	r := m.room(room)
	for _, id := range ids {
		delete(r, id)
	}
	m.notifyLocked(room)
	return nil
}

// Presence implements the presence store of wspresence.
func (m *Backend) Presence(_ context.Context, room string) (map[string][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return nil, ErrUnavailable
	}
	out := make(map[string][]byte)
	for id, e := range m.room(room) {
		out[id] = bytes.Clone(e.data)
	}
	return out, nil
}

// WatchPresence implements the presence store of wspresence.
func (m *Backend) WatchPresence(room string, changed func()) (stop func()) {
	return m.watch(func() map[*memSub]struct{} {
		if m.watchers[room] == nil {
			m.watchers[room] = make(map[*memSub]struct{})
		}
		return m.watchers[room]
	}, func(wssync.Change) { changed() })
}

// room returns room's entries with the expired ones removed. The caller holds mu.
func (m *Backend) room(room string) map[string]memEntry {
	r := m.rooms[room]
	if r == nil {
		r = make(map[string]memEntry)
		m.rooms[room] = r
	}
	now := time.Now()
	maps.DeleteFunc(r, func(_ string, e memEntry) bool { return !now.Before(e.expires) })
	return r
}

func (m *Backend) notifyLocked(room string) {
	for s := range m.watchers[room] {
		s.push(wssync.Change{})
	}
}

func cloneAll(ps [][]byte) [][]byte {
	out := make([][]byte, len(ps))
	for i, p := range ps {
		out[i] = bytes.Clone(p)
	}
	return out
}

// memSub delivers one subscription's changes in order from its own goroutine, so a slow
// subscriber never holds up a commit.
type memSub struct {
	deliver func(wssync.Change)
	once    sync.Once
	mu      sync.Mutex
	queue   []wssync.Change
	wake    chan struct{}
	quit    chan struct{}
	done    chan struct{}
}

func newMemSub(deliver func(wssync.Change)) *memSub {
	s := &memSub{deliver: deliver, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s
}

func (s *memSub) push(c wssync.Change) {
	s.mu.Lock()
	s.queue = append(s.queue, c)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// interrupt drops what is queued and queues the loss notice.
func (s *memSub) interrupt() {
	s.mu.Lock()
	s.queue = s.queue[:0]
	s.mu.Unlock()
	s.push(wssync.Change{Lost: true})
}

func (s *memSub) run() {
	defer close(s.done)
	for {
		select {
		case <-s.quit:
			return
		case <-s.wake:
		}
		for {
			s.mu.Lock()
			if len(s.queue) == 0 {
				s.mu.Unlock()
				break
			}
			c := s.queue[0]
			s.queue = s.queue[1:]
			s.mu.Unlock()
			select {
			case <-s.quit:
				return
			default:
			}
			s.deliver(c)
		}
	}
}

// stop ends the goroutine and waits for a running deliver call. Calling it again does
// nothing.
func (s *memSub) stop() {
	s.once.Do(func() { close(s.quit) })
	<-s.done
}
