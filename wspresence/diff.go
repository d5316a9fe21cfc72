package wspresence

import (
	"bytes"
	"fmt"
)

// Diff is what changed in a room between two reads of it on this node: the members that
// joined, the ones that left, and the ones whose Meta changed (with the new Meta). Each
// list is ordered by user, then session. A member that joined and left between two reads
// is in none of them.
type Diff struct {
	Joined  []Member
	Left    []Member
	Updated []Member
}

// empty reports whether d has no change.
func (d Diff) empty() bool { return len(d.Joined)+len(d.Left)+len(d.Updated) == 0 }

// diff compares two reads of a room, each ordered by user then session.
func diff(old, cur []Member) Diff {
	var d Diff
	before := make(map[string]Member, len(old))
	for _, m := range old {
		before[m.Session] = m
	}
	for _, m := range cur {
		o, ok := before[m.Session]
		switch {
		case !ok:
			d.Joined = append(d.Joined, m)
		case !bytes.Equal(o.Meta, m.Meta) || o.User != m.User:
			d.Updated = append(d.Updated, m)
		}
		delete(before, m.Session)
	}
	for _, m := range old {
		if _, gone := before[m.Session]; gone {
			d.Left = append(d.Left, m)
		}
	}
	return d
}

// OnChange calls fn with every change this node sees in the room: members that joined,
// left or updated their Meta, on any node. Calls come from the Presence's goroutine, one
// at a time, in the order the changes were read, after the clients were sent the same
// room, and with no lock of the Presence held: fn may call Members, SetMeta, Join or
// Leave, but not Close (which waits for that goroutine). While fn runs, the Presence
// writes and reads nothing, so fn should return quickly. The first call lists the room as
// New found it (all Joined). Several OnChange options are called in the order given.
//
// While the store is unreachable, the room shrinks to this node's members: fn sees the
// others leave, and join again once the store answers.
func OnChange(fn func(Diff)) Option {
	return func(p *Presence) {
		if fn != nil {
			p.onChange = append(p.onChange, fn)
		}
	}
}

// changed hands d to the OnChange callbacks. A panicking callback is logged, and the
// others still run.
func (p *Presence) changed(d Diff) {
	if d.empty() {
		return
	}
	for _, fn := range p.onChange {
		func() {
			defer func() {
				if r := recover(); r != nil {
					p.log.Error("wspresence: an OnChange callback panicked", "room", p.room, "panic", fmt.Sprint(r))
				}
			}()
			fn(d)
		}()
	}
}
