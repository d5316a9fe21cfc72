package patch

import (
	"bytes"
	"encoding/json"
	"slices"
	"unicode/utf8"
)

// member is an object member with its key decoded.
type member struct {
	key   []byte // decoded key; aliases the input unless the key had escapes
	plain bool   // key is also its own JSON text (no escapes, valid UTF-8)
	val   []byte
}

// diffObject emits the ops turning object old into object new, matching
// members by key. Member order does not matter; for duplicate keys the last
// one counts, as it does for encoding/json and JavaScript's JSON.parse.
func (d *differ) diffObject(old, new []byte, depth int) error {
	depth++
	if depth > maxDepth {
		return errSyntax("exceeded max depth")
	}
	base := len(d.members)
	defer func() { d.members = d.members[:base] }()

	if err := d.readMembers(old, depth); err != nil {
		return err
	}
	mid := len(d.members)
	if err := d.readMembers(new, depth); err != nil {
		return err
	}
	// Sub-slices stay valid even if recursion below grows d.members.
	om := uniqueSorted(d.members[base:mid])
	nm := uniqueSorted(d.members[mid:])

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
			d.emit(opAdd, d.path, nm[j].val)
			d.path = d.path[:l]
			j++
		default:
			if !bytes.Equal(om[i].val, nm[j].val) {
				l := d.pushKey(nm[j])
				err := d.diffValue(om[i].val, nm[j].val, depth)
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

// readMembers validates object b (exactly one object, no surrounding space)
// and appends its members to d.members.
func (d *differ) readMembers(b []byte, depth int) error {
	it := memberIter{b: b, pos: 1, depth: depth}
	for {
		rm, more, err := it.next()
		if err != nil {
			return err
		}
		if !more {
			break
		}
		m := member{key: rm.key[1 : len(rm.key)-1], plain: true, val: rm.val}
		if rm.flags&strEscaped != 0 || (rm.flags&strNonASCII != 0 && !utf8.Valid(m.key)) {
			// Rare: let encoding/json decode escapes and replace invalid
			// UTF-8 exactly like the patch's consumer will.
			var s string
			if err := json.Unmarshal(rm.key, &s); err != nil {
				return err
			}
			m.key, m.plain = []byte(s), false
		}
		d.members = append(d.members, m)
	}
	if it.pos != len(b) {
		return errSyntax("unexpected data after object")
	}
	return nil
}

// uniqueSorted sorts ms by key (in place) and drops all but the last member
// of each key. encoding/json emits map keys sorted, so this is usually just
// a check.
func uniqueSorted(ms []member) []member {
	sorted := true
	for i := 1; i < len(ms); i++ {
		if bytes.Compare(ms[i-1].key, ms[i].key) >= 0 {
			sorted = false
			break
		}
	}
	if sorted {
		return ms
	}
	slices.SortStableFunc(ms, func(a, b member) int { return bytes.Compare(a.key, b.key) })
	out := ms[:0]
	for i := range ms {
		if i+1 < len(ms) && bytes.Equal(ms[i].key, ms[i+1].key) {
			continue // a later duplicate wins
		}
		out = append(out, ms[i])
	}
	return out
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
