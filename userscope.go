package wssync

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// ErrNoUser is the error of RegisterUser for a session that no Manager identified with a
// user (one made by NewSession, or an identity with an empty User).
var ErrNoUser = errors.New("wssync: the session has no user on a Manager")

// ErrSessionClosed is the error of RegisterUser for a session already closed.
var ErrSessionClosed = errors.New("wssync: the session is closed")

// RegisterUser returns the object under key that every session (browser tab) of sess's
// user shares on sess's Manager, and joins sess to it. The first session of the user to
// ask builds it with build, called once, outside every lock, with that session's ctx
// (which ends when that session closes: do not keep it); the others wait for that build
// and share its result. The object is freed — its tasks cancelled, every subscriber left,
// the Manager's reference dropped, as with Unregister — when the last session that joined
// it through RegisterUser closes (its client went away for the session TTL, or the
// Manager let it go or shut down). A session of the user that asks after that gets a
// fresh object from build. A session that calls RegisterUser twice with one key gets the
// same object. Unregistering the object yourself frees it early: the user's next
// RegisterUser builds a fresh one.
//
// The key is the same in every session of the user and distinct between users only in
// the Manager's memory, so the options may not include WithBackend (a backend would hold
// one state per key for every user); RegisterUser refuses them. An error of build is
// returned to the session that built and to those that waited for it, and the next call
// builds again. RegisterUser fails with ErrNoUser for a session without a Manager or a
// user, ErrSessionClosed for a closed one, ErrDuplicateKey when the session has another
// object under key or the user's object under key has another type, and with the errors
// of NewShared.
//
// It blocks while another session of the user builds the object. Call it from a
// Manager's factory or a handler, not under an object's lock.
func RegisterUser[T any](sess *Session, key string, build func(ctx context.Context) (*T, error), opts ...RegisterOption) (*Synced[T], error) {
	u := sess.users
	user := sess.id.User
	if u == nil || user == "" {
		return nil, ErrNoUser
	}
	reg := newRegistration(opts)
	if reg.backend != nil {
		return nil, errors.New("wssync: RegisterUser does not take WithBackend: a user's object lives on its Manager")
	}
	for {
		s, err := joinUserObject(sess, u, user, key, build, reg)
		if !errors.Is(err, ErrUnregistered) {
			return s, err
		}
		// The application unregistered the object itself: the next call builds afresh.
	}
}

// joinUserObject is one attempt of RegisterUser. It returns ErrUnregistered, having taken
// the object out of the table, when the application unregistered the object itself.
func joinUserObject[T any](sess *Session, u *userObjects, user, key string, build func(ctx context.Context) (*T, error), reg registration) (*Synced[T], error) {
	e, builder, already := u.hold(user, key, sess)
	if sess.isClosed() {
		u.release(sess, user, key)
		return nil, ErrSessionClosed
	}
	if builder {
		e.finish(u, user, key, func() (any, func(), error) {
			obj, err := build(sess.ctx)
			if err == nil && obj == nil {
				err = fmt.Errorf("%w: the build func of %q returned nil", ErrNotStructPointer, key)
			}
			if err != nil {
				return nil, nil, err
			}
			s, err := newShared(key, obj, reg)
			if err != nil {
				return nil, nil, err
			}
			return s, s.Unregister, nil
		})
	}
	<-e.ready
	if e.err != nil {
		return nil, e.err
	}
	s, ok := e.synced.(*Synced[T])
	if !ok {
		u.release(sess, user, key)
		return nil, fmt.Errorf("%w: the user object %q is a %T, not a *Synced[%T]", ErrDuplicateKey, key, e.synced, *new(T))
	}
	if already {
		return s, nil
	}
	if err := s.Join(sess); err != nil {
		if errors.Is(err, ErrUnregistered) {
			u.discard(user, key, e)
		} else {
			u.release(sess, user, key)
		}
		return nil, err
	}
	if sess.isClosed() { // closed while joining: its Close may have left before the Join
		s.Leave(sess)
		return nil, ErrSessionClosed
	}
	return s, nil
}

// userObjects is a Manager's table of per-user objects. Its lock is a leaf: build, Join
// and Unregister run after it is released.
type userObjects struct {
	mu     sync.Mutex
	byUser map[string]map[string]*userObject // user -> key -> object
	freed  atomic.Int64                      // objects freed so far, for tests and stats
}

// userObject is one user's object under one key, while some session holds it.
type userObject struct {
	ready   chan struct{}     // closed once built, or once the build failed
	synced  any               // the *Synced[T], after ready
	free    func()            // its Unregister, after ready
	err     error             // the build's error, after ready
	holders map[*Session]bool // the sessions that asked for it and have not closed
	dropped bool              // every holder left while it was being built
}

func newUserObjects() *userObjects {
	return &userObjects{byUser: make(map[string]map[string]*userObject)}
}

// hold returns the user's object under key, creating its entry when there is none (then
// builder is true: the caller builds it), and records sess as a holder. already reports
// that sess held it before.
func (u *userObjects) hold(user, key string, sess *Session) (e *userObject, builder, already bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	keys := u.byUser[user]
	if keys == nil {
		keys = make(map[string]*userObject)
		u.byUser[user] = keys
	}
	e = keys[key]
	if e == nil {
		e = &userObject{ready: make(chan struct{}), holders: make(map[*Session]bool)}
		keys[key] = e
		builder = true
	}
	already = e.holders[sess]
	e.holders[sess] = true
	return e, builder, already
}

// finish builds the entry's object with build and publishes it to the waiters. A failed
// build leaves the table, so the next RegisterUser builds again; an object whose holders
// all left during the build is freed at once.
func (e *userObject) finish(u *userObjects, user, key string, build func() (any, func(), error)) {
	synced, free, err := build()
	u.mu.Lock()
	e.synced, e.free, e.err = synced, free, err
	dropped := e.dropped
	if err == nil && dropped {
		e.err = ErrSessionClosed
	}
	if err != nil && !dropped {
		u.removeLocked(user, key, e)
	}
	u.mu.Unlock()
	close(e.ready)
	if err == nil && dropped {
		u.freed.Add(1)
		free()
	}
}

// release drops sess as a holder of the user's object under key, freeing the object when
// it was the last.
func (u *userObjects) release(sess *Session, user, key string) {
	u.mu.Lock()
	e := u.byUser[user][key]
	free := e != nil && u.dropLocked(sess, user, key, e)
	u.mu.Unlock()
	if free {
		u.freeBuilt(e)
	}
}

// releaseAll drops sess as a holder of every object of its user, freeing those it was
// the last holder of. Session.Close calls it once the session is closed.
func (u *userObjects) releaseAll(sess *Session) {
	user := sess.id.User
	var freeing []*userObject
	u.mu.Lock()
	for key, e := range u.byUser[user] {
		if u.dropLocked(sess, user, key, e) {
			freeing = append(freeing, e)
		}
	}
	u.mu.Unlock()
	for _, e := range freeing {
		u.freeBuilt(e)
	}
}

// dropLocked removes sess from e's holders, and e from the table when no holder is left.
// It reports whether e is built and must now be freed; one still building is marked
// dropped, and its builder frees it.
func (u *userObjects) dropLocked(sess *Session, user, key string, e *userObject) bool {
	if !e.holders[sess] {
		return false
	}
	delete(e.holders, sess)
	if len(e.holders) > 0 {
		return false
	}
	u.removeLocked(user, key, e)
	select {
	case <-e.ready:
		return e.err == nil
	default:
		e.dropped = true
		return false
	}
}

func (u *userObjects) removeLocked(user, key string, e *userObject) {
	if keys := u.byUser[user]; keys[key] == e {
		delete(keys, key)
		if len(keys) == 0 {
			delete(u.byUser, user)
		}
	}
}

// freeBuilt unregisters a built object no session holds any more.
func (u *userObjects) freeBuilt(e *userObject) {
	u.freed.Add(1)
	e.free()
}

// discard takes e, which the application unregistered, out of the table; its holders
// hold nothing any more.
func (u *userObjects) discard(user, key string, e *userObject) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.removeLocked(user, key, e)
}

// count returns how many user objects the table holds.
func (u *userObjects) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, keys := range u.byUser {
		n += len(keys)
	}
	return n
}
