package patch

import (
	"bytes"
	"encoding/json"
	"slices"
	"unicode/utf8"
)

// member is an object member with its key decoded.
type member struct {
	key    []byte // decoded key; aliases the input unless the key had escapes
	plain  bool   // key is also its own JSON text (no escapes, valid UTF-8)
	vs, ve int    // extent of the value, when known
}

// diffObject emits the ops turning the object at old[oi] into the object at
// new[ni], matching members by key, and returns where the objects end.
// Member order does not matter; for duplicate keys the last one counts, as
// it does for encoding/json and JavaScript's JSON.parse.
//
// encoding/json writes struct fields in declaration order and map keys
// sorted, so members normally pair up by position: those are diffed as they
// are read, without first collecting the values (which would mean scanning
// them twice). From the first pair of different keys on, the remaining
// members of both sides are collected and matched by key.
func (d *differ) diffObject(oi, ni, depth int) (oEnd, nEnd int, err error) {
	depth++
	if depth > maxDepth {
		return oi, ni, errSyntax("exceeded max depth")
	}
	mark, n0, base := len(d.dst), d.n, len(d.members)
	defer func() { d.members = d.members[:base] }()

	ot := memberIter{b: d.old, pos: oi + 1, depth: depth}
	nt := memberIter{b: d.new, pos: ni + 1, depth: depth}
	var (
		okey, nkey     []byte
		oflags, nflags int
		omore, nmore   bool
	)
	for {
		if okey, oflags, omore, err = ot.key(); err != nil {
			return ot.pos, nt.pos, err
		}
		if nkey, nflags, nmore, err = nt.key(); err != nil {
			return ot.pos, nt.pos, err
		}
		if !omore || !nmore || !bytes.Equal(okey, nkey) {
			break
		}
		m, err := decodeKey(okey, oflags)
		if err != nil {
			return ot.pos, nt.pos, err
		}
		d.members = append(d.members, m)
		l := d.pushKey(m)
		oe, ne, err := d.diffValue(ot.pos, nt.pos, depth)
		d.path = d.path[:l]
		if err != nil {
			return oe, ne, err
		}
		ot.skipTo(oe)
		nt.skipTo(ne)
	}
	paired := len(d.members)
	if omore {
		if err := d.collectMembers(&ot, okey, oflags); err != nil {
			return ot.pos, nt.pos, err
		}
	}
	orest := len(d.members)
	if nmore {
		if err := d.collectMembers(&nt, nkey, nflags); err != nil {
			return ot.pos, nt.pos, err
		}
	}
	ms := d.members
	if d.hasDuplicateKey(ms[base:paired], ms[paired:orest]) || d.hasDuplicateKey(ms[base:paired], ms[orest:]) {
		// Pairing by position was wrong. Rare: start over the slow way.
		d.dst, d.n = d.dst[:mark], n0
		d.members = d.members[:base]
		return d.diffObjectByKey(oi, ni, depth)
	}
	return ot.pos, nt.pos, d.mergeMembers(ms[paired:orest], ms[orest:], depth)
}

// diffObjectByKey is diffObject without the positional pairing, for
// objects with duplicate keys.
func (d *differ) diffObjectByKey(oi, ni, depth int) (oEnd, nEnd int, err error) {
	ot := memberIter{b: d.old, pos: oi + 1, depth: depth}
	nt := memberIter{b: d.new, pos: ni + 1, depth: depth}
	base := len(d.members)
	if err := d.collectMembers(&ot, nil, 0); err != nil {
		return ot.pos, nt.pos, err
	}
	mid := len(d.members)
	if err := d.collectMembers(&nt, nil, 0); err != nil {
		return ot.pos, nt.pos, err
	}
	om, nm := uniqueSorted(d.members[base:mid]), uniqueSorted(d.members[mid:])
	return ot.pos, nt.pos, d.mergeMembers(om, nm, depth)
}

// collectMembers appends the remaining members of an object to d.members,
// scanning their values. If key is not nil, it has already been consumed
// (with flags) and its value is next.
func (d *differ) collectMembers(it *memberIter, key []byte, flags int) error {
	for {
		if key == nil {
			var more bool
			var err error
			if key, flags, more, err = it.key(); err != nil || !more {
				return err
			}
		}
		m, err := decodeKey(key, flags)
		if err != nil {
			return err
		}
		if m.vs, m.ve, err = it.value(); err != nil {
			return err
		}
		d.members = append(d.members, m)
		key = nil
	}
}

// mergeMembers emits the ops turning old members om into new members nm.
// Both are sorted by key without duplicates, or get sorted here.
func (d *differ) mergeMembers(om, nm []member, depth int) error {
	sortMembers(om)
	sortMembers(nm)
	i, j := 0, 0
	for i < len(om) || j < len(nm) {
		c := 0
		switch {
		case i == len(om):
			c = 1
		case j == len(nm):
			c = -1
		default:
			c = bytes.Compare(om[i].key, nm[j].key)
		}
		switch {
		case c < 0:
			l := d.pushKey(om[i])
			d.emit(opRemove, d.path, nil)
			d.path = d.path[:l]
			i++
		case c > 0:
			l := d.pushKey(nm[j])
			d.emit(opAdd, d.path, d.new[nm[j].vs:nm[j].ve])
			d.path = d.path[:l]
			j++
		default:
			o, n := om[i], nm[j]
			if !bytes.Equal(d.old[o.vs:o.ve], d.new[n.vs:n.ve]) {
				l := d.pushKey(n)
				_, _, err := d.diffValue(o.vs, n.vs, depth)
				d.path = d.path[:l]
				if err != nil {
					return err
				}
			}
			i++
			j++
		}
	}
	return nil
}

// decodeKey makes a member from a raw key (with quotes).
func decodeKey(raw []byte, flags int) (member, error) {
	m := member{key: raw[1 : len(raw)-1], plain: true}
	if flags&strEscaped != 0 || (flags&strNonASCII != 0 && !utf8.Valid(m.key)) {
		// Rare: let encoding/json decode escapes and replace invalid UTF-8
		// exactly as the patch's consumer will.
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return m, err
		}
		m.key, m.plain = []byte(s), false
	}
	return m, nil
}

func compareMembers(a, b member) int { return bytes.Compare(a.key, b.key) }

// sortMembers sorts ms by key. encoding/json writes map keys sorted, so
// this is usually just a check.
func sortMembers(ms []member) {
	if !slices.IsSortedFunc(ms, compareMembers) {
		slices.SortStableFunc(ms, compareMembers)
	}
}

// uniqueSorted sorts ms by key (in place) and drops all but the last member
// of each key.
func uniqueSorted(ms []member) []member {
	sortMembers(ms) // stable: duplicates stay in input order
	out := ms[:0]
	for i := range ms {
		if i+1 < len(ms) && bytes.Equal(ms[i].key, ms[i+1].key) {
			continue // a later duplicate wins
		}
		out = append(out, ms[i])
	}
	return out
}

// hasDuplicateKey reports whether some key occurs twice in a and b together.
func (d *differ) hasDuplicateKey(a, b []member) bool {
	if n := len(a) + len(b); n <= 8 {
		// Typical structs: quadratic is cheapest.
		for i := range n {
			ki := memberAt(a, b, i).key
			for j := i + 1; j < n; j++ {
				if bytes.Equal(ki, memberAt(a, b, j).key) {
					return true
				}
			}
		}
		return false
	}
	keys := d.keys[:0]
	for _, m := range a {
		keys = append(keys, m.key)
	}
	for _, m := range b {
		keys = append(keys, m.key)
	}
	d.keys = keys
	slices.SortFunc(keys, bytes.Compare)
	for i := 1; i < len(keys); i++ {
		if bytes.Equal(keys[i-1], keys[i]) {
			return true
		}
	}
	return false
}

func memberAt(a, b []member, i int) member {
	if i < len(a) {
		return a[i]
	}
	return b[i-len(a)]
}

// pushKey appends "/" and m's key, escaped for a JSON Pointer and then for a
// JSON string, to d.path, and returns the length to restore.
func (d *differ) pushKey(m member) int {
	l := len(d.path)
	d.path = append(d.path, '/')
	key := m.key
	if m.plain && bytes.IndexByte(key, '~') < 0 && bytes.IndexByte(key, '/') < 0 {
		// The common case: the raw key is already valid string content.
		d.path = append(d.path, key...)
		return l
	}
	for {
		i := bytes.IndexAny(key, "~/")
		if i < 0 {
			d.path = appendStringContent(d.path, key)
			return l
		}
		d.path = appendStringContent(d.path, key[:i])
		if key[i] == '~' {
			d.path = append(d.path, '~', '0')
		} else {
			d.path = append(d.path, '~', '1')
		}
		key = key[i+1:]
	}
}
