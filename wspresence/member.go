package wspresence

import (
	"cmp"
	"encoding/json"
	"slices"
)

// Member is one session in a room.
type Member struct {
	User    string `json:"user"`
	Session string `json:"session"`
	// Meta is the application's data about this member (a cursor, "typing", a status):
	// compact JSON of at most the Presence's limit (DefaultMaxMeta, WithMaxMeta), or nil
	// when none is set. SetMeta sets it, or the client itself (WithClientMeta); it changes
	// without the member reconnecting, and clients read it under the member's "meta".
	Meta json.RawMessage `json:"meta,omitempty"`
}

// encodeMember is the store entry of m.
func encodeMember(m Member) []byte {
	b, _ := json.Marshal(m) // strings and compact JSON: cannot fail
	return b
}

// decodeMember reads the store entry id. An entry that is not a member of this shape (a
// newer or older node's, or garbage) is skipped rather than failing the whole room; its
// id is the session id whatever the entry says.
func decodeMember(id string, data []byte) (Member, bool) {
	var m Member
	if json.Unmarshal(data, &m) != nil {
		return Member{}, false
	}
	m.Session = id
	if len(m.Meta) == 0 || string(m.Meta) == "null" {
		m.Meta = nil
	}
	return m, true
}

// sortMembers orders members by user, then session.
func sortMembers(members []Member) {
	slices.SortFunc(members, compareMembers)
}

func compareMembers(a, b Member) int {
	return cmp.Or(cmp.Compare(a.User, b.User), cmp.Compare(a.Session, b.Session))
}
