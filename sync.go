package wssync

import "time"

// Synced is the handle of a registered object: the one way to mutate it and to publish its
// changes.
//
// # The concurrency rule
//
// After Register, touch the struct only inside Update, or between Lock and Unlock (RLock
// and RUnlock to only read). The library takes the same lock to snapshot the struct and
// to apply client writes, so the rule is all it takes for Sync, client writes, actions and
// tasks to be race-free. Sync may be called from any goroutine at any time.
type Synced[T any] struct {
	o    *object
	sess *Session // the session of Register; nil for NewShared
	ptr  *T
}

// Key returns the key the object is registered under, scope prefixes included.
func (s *Synced[T]) Key() string { return s.o.key }

// Lock locks the object for mutation. Call Sync after Unlock to publish the change.
func (s *Synced[T]) Lock() { s.o.state.Lock() }

// Unlock unlocks the object.
func (s *Synced[T]) Unlock() { s.o.state.Unlock() }

// RLock locks the object for reading.
func (s *Synced[T]) RLock() { s.o.state.RLock() }

// RUnlock undoes RLock.
func (s *Synced[T]) RUnlock() { s.o.state.RUnlock() }

// Read calls fn with the object read-locked, to read it through its handle: fn must not
// modify it (and must not call Lock, Update or Sync on it). Several Reads run at once; a
// Read waits for an Update or a client write in progress, never for a client.
func (s *Synced[T]) Read(fn func(v *T)) {
	s.o.state.RLock()
	defer s.o.state.RUnlock() // a panicking fn must not leave the object locked
	fn(s.ptr)
}

// Update calls fn with the object locked, then publishes the change (Sync). fn must not
// call Lock, Update or Sync on the same object.
//
// On an object with a backend (WithBackend), Update holds the object's publish lock for
// the whole call and, when another node committed first, drops fn's edits, catches up and
// calls fn again on the newer state, so a read-modify-write such as a counter increment
// counts every node's increments. fn may therefore run more than once.
func (s *Synced[T]) Update(fn func(v *T)) error {
	if s.o.dist.attached() {
		return s.updateShared(fn)
	}
	func() {
		s.o.state.Lock()
		defer s.o.state.Unlock() // a panicking fn must not leave the object locked
		fn(s.ptr)
	}()
	return s.Sync()
}

// Sync publishes what changed since the last publish as one `_PATCH:KEY` frame (with the
// new version), or nothing when nothing changed. It snapshots each field (one JSON encode
// per field, under the read lock), skips fields whose encoding is unchanged, and diffs the
// rest. A field whose type holds no MarshalJSON, MarshalText or interface is first
// compared with a copy of the value it last encoded (what its slices, maps and pointers
// refer to included), and encoded only if it differs; the copy costs the field's memory
// once more (bounded: a field whose copy would cost more than a few times its encoding
// is not kept). A slice of 32 or more elements of only booleans, numbers, strings, and arrays and
// structs of them (no MarshalJSON or MarshalText; not []byte) costs less: its elements'
// memory is compared with a copy kept from the last Sync, only the elements that differ
// are encoded and diffed, and the rest of its encoding is copied (see docs/architecture.md,
// "The list cache"). That copy costs the slice's memory once more. It never blocks on a client: frames go to bounded per-connection queues. While no
// client is connected it sends nothing and loses nothing: a connecting client gets the
// full state. Safe to call from many goroutines; calls are serialized per object.
//
// Sync returns an error when a field fails to marshal (or its MarshalJSON panics), and
// ErrUnregistered after Unregister. On an object with a backend it also returns an error
// wrapping ErrVersionConflict when the change lost the race to other nodes 32 times in a
// row, and the error of the catch-up that follows a lost race when it could not bring the
// object to the backend's state (the backend stopped answering right after the conflict,
// or its state does not decode into the struct). Then nothing was published: the edits
// stay in the struct, and the next Sync publishes them.
//
// On an object with a backend (WithBackend), Sync also commits the change to the backend
// (one round trip, under the object's publish lock, bounded by 5 s) before it reaches any
// subscriber. When another node committed first, the object catches up and the local edits
// are rebased, as a JSON patch, onto the newer state and committed again; prefer Update for
// read-modify-write changes. An unreachable backend is not an error: the change is
// published locally, and committed once the backend returns.
//
// On an object of a session whose Manager has a session store (WithSessionStore), every
// publish writes the new state through to the store before Sync returns: one
// SessionStore.SaveSession call, under the object's publish lock (so the writes of one
// object reach the store in order), bounded by 2 s. Other Syncs of the object, and client
// writes to it, wait meanwhile; a failed save is logged, not returned.
func (s *Synced[T]) Sync() error { return s.o.sync() }

// Version returns the version of the last published state: 0 at registration, plus one
// per published patch. On an object with a backend it is the backend's version, global to
// every node: it starts at the key's first version, which the backend chooses (see
// WithBackend; wsredis starts from its clock, not from 1), and jumps to the backend's
// version whenever the object catches up with other nodes' changes.
func (s *Synced[T]) Version() uint64 {
	s.o.pub.Lock()
	defer s.o.pub.Unlock()
	return s.o.version
}

// Unregister removes the object from every session it is in: its events, actions and tasks
// are removed, its running tasks cancelled, clients stop receiving its frames, and Sync
// returns ErrUnregistered. The struct itself is untouched. An object with a backend also
// ends its subscription and the goroutine that follows the backend, and waits for both;
// its state stays in the backend.
func (s *Synced[T]) Unregister() {
	o := s.o
	for _, sess := range o.sessions() {
		sess.remove(o)
	}
	o.hmu.Lock()
	o.gone.Store(true)
	o.cancelTasksLocked()
	o.actions, o.tasks = nil, nil
	o.hmu.Unlock()
	o.pub.Lock()
	if o.trailing != nil {
		o.trailing.Stop()
		o.trailing = nil
	}
	o.pub.Unlock()
	o.dist.close()
}

// updateShared is Update for an object with a backend: fn runs again after a lost race.
func (s *Synced[T]) updateShared(fn func(v *T)) (err error) {
	o := s.o
	start := time.Now()
	defer func() { o.observeSync(start, err) }() // runs after pub is unlocked
	o.pub.Lock()
	defer o.pub.Unlock()
	run := func() {
		o.state.Lock()
		defer o.state.Unlock()
		fn(s.ptr)
	}
	run()
	return o.publishLocked(&edit{redo: run})
}

// BackendStatus reports the object's link to its backend (WithBackend); the zero value
// for an object without one. It takes no lock: it answers at once even while a publish
// waits on the backend.
func (s *Synced[T]) BackendStatus() BackendStatus {
	return s.o.dist.status()
}

// Published returns the state as last published (the JSON a client holds once it has
// applied every frame) and its version. It does not read the struct.
func (s *Synced[T]) Published() (state []byte, version uint64) {
	s.o.pub.Lock()
	defer s.o.pub.Unlock()
	return s.o.appendState(nil), s.o.version
}
