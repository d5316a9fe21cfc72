package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	"github.com/wssync/wssync"
)

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

// nameOf is the display name of the identity whose handler runs with ctx.
func nameOf(ctx context.Context) string {
	id, _ := wssync.IdentityFrom(ctx)
	return displayName(id)
}

// tabOf is the public tag of a session (a browser tab) in the online list: it tells the
// tabs apart, and a tab finds itself, without showing the session id, which with the
// wsAuth handshake is what resumes the session.
func tabOf(sessionID string) string {
	sum := sha256.Sum256([]byte("notes tab\x00" + sessionID))
	return hex.EncodeToString(sum[:8])
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
