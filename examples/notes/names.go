package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"

	"github.com/wssync/wssync"
)

// room knows the sessions that joined the shared list, so that an action handler can name
// the tab that called it (wssync.SessionFrom of its context) and notify the others.
type room struct {
	mu      sync.Mutex
	members map[*wssync.Session]member
}

type member struct {
	sess *wssync.Session
	name string
}

func newRoom() *room { return &room{members: make(map[*wssync.Session]member)} }

// join adds sess and returns its display name.
func (r *room) join(sess *wssync.Session) string {
	name := displayName(sess.Identity())
	r.mu.Lock()
	r.members[sess] = member{sess: sess, name: name}
	r.mu.Unlock()
	return name
}

func (r *room) leave(sess *wssync.Session) {
	r.mu.Lock()
	delete(r.members, sess)
	r.mu.Unlock()
}

// name returns the display name of the session whose handler runs with ctx.
func (r *room) name(ctx context.Context) string {
	sess, _ := wssync.SessionFrom(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	if m, ok := r.members[sess]; ok {
		return m.name
	}
	return "Someone"
}

// toastOthers sends a toast to every member but the one whose handler runs with ctx.
// Toasts are not queued for disconnected tabs (Toast returns ErrNotConnected): a tab that
// comes back sees the change in its state, which is what matters.
func (r *room) toastOthers(ctx context.Context, kind wssync.ToastKind, msg string) {
	caller, _ := wssync.SessionFrom(ctx)
	r.mu.Lock()
	others := make([]*wssync.Session, 0, len(r.members))
	for s := range r.members {
		if s != caller {
			others = append(others, s)
		}
	}
	r.mu.Unlock()
	for _, s := range others {
		_ = s.Toast(kind, msg)
	}
}

// displayName derives a short public name from an identity: "Admin" for an admin, else
// from the user id. The id itself is never shown: with the wsAuth handshake it is half of
// what lets a client resume a session.
func displayName(id wssync.Identity) string {
	if id.HasRole(adminRole) {
		return "Admin"
	}
	sum := sha256.Sum256([]byte(id.User))
	return "Guest " + hex.EncodeToString(sum[:2])
}

// ownerOf is the public tag of an identity's notes: a hash that tells the author's tabs
// apart from the others' without revealing the user id (see displayName), long enough not
// to collide. Admins (identified by a token) and guests (by the handshake, which trusts
// the client's user id) hash apart, so a guest naming itself "admin" owns nothing of theirs.
func ownerOf(id wssync.Identity) string {
	kind := "guest"
	if id.HasRole(adminRole) {
		kind = adminRole
	}
	sum := sha256.Sum256([]byte("notes owner\x00" + kind + "\x00" + id.User))
	return hex.EncodeToString(sum[:8])
}

// mayChange reports whether the identity whose handler runs with ctx may rename or remove
// note: its author, or an admin. The server's own notes have no owner.
func mayChange(ctx context.Context, note Note) bool {
	id, _ := wssync.IdentityFrom(ctx)
	return id.HasRole(adminRole) || (note.Owner != "" && note.Owner == ownerOf(id))
}
