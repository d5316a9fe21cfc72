package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"

	"github.com/wssync/wssync"
)

// room knows the sessions that joined the shared list, so that an action handler can name
// the tab that called it and notify the others.
//
// Handlers of a shared object's actions receive only a context, not the calling
// *wssync.Session. wssync passes each session's own context both to the SessionFactory and
// to that session's handlers, so the room indexes members by that context. This relies on
// an undocumented detail (see the example's README); the tests in this package fail if it
// changes, and a lookup that misses degrades to "someone" and notifies everyone.
type room struct {
	mu      sync.Mutex
	members map[context.Context]member
}

type member struct {
	sess *wssync.Session
	name string
}

func newRoom() *room { return &room{members: make(map[context.Context]member)} }

// join adds sess, known by its context ctx, and returns its display name.
func (r *room) join(ctx context.Context, sess *wssync.Session) string {
	name := displayName(sess.ID().User)
	r.mu.Lock()
	r.members[ctx] = member{sess: sess, name: name}
	r.mu.Unlock()
	return name
}

func (r *room) leave(ctx context.Context) {
	r.mu.Lock()
	delete(r.members, ctx)
	r.mu.Unlock()
}

// name returns the display name of the session whose handler runs with ctx.
func (r *room) name(ctx context.Context) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m, ok := r.members[ctx]; ok {
		return m.name
	}
	return "Someone"
}

// toastOthers sends a toast to every member but the one whose handler runs with ctx.
// Toasts are not queued for disconnected tabs (Toast returns ErrNotConnected): a tab that
// comes back sees the change in its state, which is what matters.
func (r *room) toastOthers(ctx context.Context, kind wssync.ToastKind, msg string) {
	r.mu.Lock()
	others := make([]*wssync.Session, 0, len(r.members))
	for c, m := range r.members {
		if c != ctx {
			others = append(others, m.sess)
		}
	}
	r.mu.Unlock()
	for _, s := range others {
		_ = s.Toast(kind, msg)
	}
}

// displayName derives a short public name from a user id. The id itself is never shown:
// with the wsAuth handshake it is half of what lets a client resume a session.
func displayName(user string) string {
	sum := sha256.Sum256([]byte(user))
	return "Guest " + hex.EncodeToString(sum[:2])
}
