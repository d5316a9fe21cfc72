package wspresence

import "slices"

// WithClientView sets what clients see of each member in State: fn's result, ordered by
// its User then Session. Without it they see every member as Members lists it, user and
// session ids included. When a session id is what lets a client resume a session (the
// `_REQUEST_USER_SESSION` handshake, with no auth hook), those ids are secrets: give every
// client a name and a tag derived from them instead, and keep the Meta.
//
// fn runs for every member at each change of the room, where the room is read (in New,
// then on the Presence's goroutine); it must not call the Presence.
func WithClientView(fn func(Member) Member) Option {
	return func(p *Presence) { p.clientView = fn }
}

// clientMembers is the room as clients see it.
func (p *Presence) clientMembers(members []Member) []Member {
	if p.clientView == nil {
		return members
	}
	out := make([]Member, len(members))
	for i, m := range members {
		out[i] = p.clientView(m)
	}
	sortMembers(out)
	return slices.Clip(out)
}
