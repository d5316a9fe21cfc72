package main

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wspresence"
)

// Who is online: every tab, guest or admin, on this server or (with -redis) any other,
// is a member of one wspresence room while it is connected. Its Meta is
// {"name": display name, "typing": bool}: the server sets the name when the tab joins,
// the tab sets "typing" itself (MetaAction on ONLINE) while its "new note" field is being
// written in. Clients see each member as its display name and tab tag (WithClientView):
// never the user or session ids, which with the wsAuth handshake resume a session.
const (
	onlineKey  = "ONLINE"
	onlineRoom = "notes-online"
	// maxOnlineMeta bounds a member's Meta: a display name and a flag.
	maxOnlineMeta = 96
)

// onlineMeta is a member's Meta.
type onlineMeta struct {
	Name   string `json:"name"`
	Typing bool   `json:"typing,omitempty"`
}

// typingUpdate is all a tab may send as its Meta: {"typing": bool}.
type typingUpdate struct {
	Typing *bool `json:"typing"`
}

// newOnline tracks the tabs in store.
func newOnline(store wspresence.Store) (*wspresence.Presence, error) {
	return wspresence.New(store, onlineRoom, onlineKey,
		wspresence.WithMaxMeta(maxOnlineMeta),
		wspresence.WithClientView(publicMember),
		// Typing starts and stops: a few updates a second are plenty.
		wspresence.WithClientMeta(wspresence.ClientMeta{Rate: 4, Burst: 8, Accept: acceptTyping}))
}

// publicMember is what a tab sees of a member: its display name and tab tag, and Meta.
func publicMember(m wspresence.Member) wspresence.Member {
	var meta onlineMeta
	_ = json.Unmarshal(m.Meta, &meta) // a member without a name yet shows nameless
	return wspresence.Member{User: meta.Name, Session: tabOf(m.Session), Meta: m.Meta}
}

// acceptTyping merges a tab's {"typing": bool} into its Meta, keeping the name the server
// set; anything else is refused, so a tab cannot rename itself.
func acceptTyping(_ context.Context, m wspresence.Member, proposed json.RawMessage) (json.RawMessage, error) {
	var up typingUpdate
	dec := json.NewDecoder(bytes.NewReader(proposed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&up); err != nil || up.Typing == nil || dec.More() {
		return nil, &wssync.FieldError{Path: "/meta", Message: `a tab may only send {"typing": true|false}`}
	}
	var meta onlineMeta
	_ = json.Unmarshal(m.Meta, &meta)
	meta.Typing = *up.Typing
	return json.Marshal(meta)
}
