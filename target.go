package wssync

// Target names the sessions an addressed message goes to (Manager.Send, Publisher.Send):
// one session, every session of a user, the sessions that receive a key, or every
// session. A Target reaches the sessions of every node that shares the Manager's event
// bus (WithEventBus), not only this one's.
type Target struct {
	kind   targetKind
	id     string // the session id, user id or key; "" for everyone
	except string // a session id left out; "" for none
}

type targetKind uint8

const (
	targetNone targetKind = iota // the zero Target: no one
	targetSession
	targetUser
	targetKey
	targetEveryone
)

// ToSession addresses the session with this id.
func ToSession(id string) Target { return Target{kind: targetSession, id: id} }

// ToUser addresses every session of the user, on every node: all the user's tabs and
// devices.
func ToUser(user string) Target { return Target{kind: targetUser, id: user} }

// ToSubscribers addresses the sessions that receive key: for a shared object, the sessions
// joined to it (a room); for a session's own object, that session.
func ToSubscribers(key string) Target { return Target{kind: targetKey, id: key} }

// ToEveryone addresses every session.
func ToEveryone() Target { return Target{kind: targetEveryone} }

// Except leaves the session with this id out of t: "everyone in the room but the one who
// caused it". An empty id leaves no one out.
func (t Target) Except(sessionID string) Target {
	t.except = sessionID
	return t
}

// String describes t for logs.
func (t Target) String() string {
	var s string
	switch t.kind {
	case targetSession:
		s = "session " + t.id
	case targetUser:
		s = "user " + t.id
	case targetKey:
		s = "subscribers of " + t.id
	case targetEveryone:
		s = "everyone"
	default:
		return "no one"
	}
	if t.except != "" {
		s += " except session " + t.except
	}
	return s
}

// valid reports whether t names someone: a kind, and an id where the kind needs one.
func (t Target) valid() bool {
	if len(t.except) > maxTargetID {
		return false
	}
	switch t.kind {
	case targetSession, targetUser, targetKey:
		return t.id != "" && len(t.id) <= maxTargetID
	case targetEveryone:
		return t.id == ""
	}
	return false
}

// maxTargetID bounds the ids and keys a Target names (Except's included), as they travel
// in every envelope.
const maxTargetID = 1024

// matches reports whether t addresses sess, leaving the key test to the caller
// (Manager.localTargets) for targetKey.
func (t Target) matches(sess *Session) bool {
	if t.except != "" && sess.id.Session == t.except {
		return false
	}
	switch t.kind {
	case targetSession:
		return sess.id.Session == t.id
	case targetUser:
		return sess.id.User == t.id
	case targetKey:
		return sess.has(t.id)
	case targetEveryone:
		return true
	}
	return false
}
