package wssync

import (
	"bytes"
	"reflect"
	"slices"

	"github.com/wssync/wssync/internal/patch"
)

// logCache is the field cache of a List (list.go): the field's encoding, where each
// element lies in it, and how far into the List's history it is. A Sync replays the
// changes recorded since, on runs of unchanged elements, encodes only the elements they
// touched, and splices the new encoding from the old one; the ops are the changes
// themselves, with the diff of each replaced element. No element is compared: what the
// List did not record (a change through a value At returned) is not seen.
//
// A logCache is used under the object's pub lock and the state (read) lock only; it
// reads the List and never writes it.
type logCache struct {
	h     *listHistory // the List's history it follows, and how far
	gen   uint64
	full  []byte // the field's encoding at gen; never modified once built
	off   []int  // off[k]: where element k starts in full; off[n] = len(full)
	spare []int  // the offsets before, reused
	valid bool

	// The last snapshot's ops, from base (the full before it) to full; ops false: none known.
	base  []byte
	edits []listEdit
	ops   bool

	// A replay's scratch.
	runs  []logRun
	slots []logSlot
	steps []logStep
	mid   []byte
}

// logRun is a stretch of the list during a replay: old elements [from, from+n) unchanged
// (slot < 0), or one element, slots[slot] (n == 1).
type logRun struct{ from, n, slot int }

// logSlot is an element a replay touched: old element old replaced (old ≥ 0), or one
// inserted (old < 0); gone once deleted again. pos, start and end: where it ends up in the
// new list and its encoding in mid.
type logSlot struct {
	old             int
	gone            bool
	pos, start, end int
}

// logStep is one op of a replay, at the index it had then: 'r' (slot's element
// replaced), 'a' (slot's element added) or 'd' (the element at index removed).
type logStep struct {
	kind  byte
	index int
	slot  int
}

// newLogCaches returns the log cache of each List field (nil for other fields), or nil
// when no field is a List.
func newLogCaches(fields []boundField) []*logCache {
	var out []*logCache
	for i := range fields {
		if fs := fields[i].spec; fs != nil && isList(fs.typ) {
			if out == nil {
				out = make([]*logCache, len(fields))
			}
			out[i] = &logCache{}
		}
	}
	return out
}

// isList reports whether t is a List.
func isList(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && reflect.PointerTo(t).Implements(recordedListType)
}

// snapshot returns the encoding of the List l: last itself when it encodes as last,
// otherwise a slice the caller may keep.
func (c *logCache) snapshot(l recordedList, enc *fieldEncoder, last []byte) ([]byte, error) {
	h, head, gen, n := l.history()
	c.ops = false
	follows := c.valid && h != nil && h == c.h && head
	if follows && gen == c.gen && n == len(c.off)-1 {
		return c.adopt(last), nil
	}
	c.valid = false // until this snapshot succeeds
	replayed := false
	if follows && gen > c.gen && gen-c.gen <= listLogSize {
		var err error
		if replayed, err = c.replay(l, enc, gen, n); err != nil {
			return nil, err
		}
	}
	if !replayed {
		if err := c.rebuild(l, enc, n); err != nil {
			return nil, err
		}
	}
	// A value behind its history's head (an older copy put back) is encoded, but not
	// followed: its elements may have changed in place after it was copied, so the next
	// snapshot encodes whole again, until the field holds a head.
	c.h, c.gen, c.valid = h, gen, head
	if !c.ops {
		return c.adopt(last), nil
	}
	return c.full, nil
}

// adopt returns last instead of full when they are the same bytes, so that an unchanged
// field keeps its published slice; a compare only when full is not last already.
func (c *logCache) adopt(last []byte) []byte {
	if !reused(c.full, last) && bytes.Equal(c.full, last) {
		c.full = last
	}
	return c.full
}

// rebuild encodes the whole list.
func (c *logCache) rebuild(l recordedList, enc *fieldEncoder, n int) error {
	b, err := l.encodeAll(enc)
	if err != nil {
		return err
	}
	c.full = bytes.Clone(b)
	if n == 0 {
		c.off = append(c.off[:0], len(c.full))
	} else {
		c.off = splitArray(c.off[:0], c.full, n)
	}
	clear(c.edits) // their old and new encodings would keep earlier fulls alive
	c.base, c.edits = nil, c.edits[:0]
	return nil
}

// replay applies the List's changes after c.gen up to gen to the cached encoding. It
// reports false, changing nothing, when the changes include a Reset, touch more than
// listMaxEdits elements or do not add up to a list of n elements: the caller rebuilds.
func (c *logCache) replay(l recordedList, enc *fieldEncoder, gen uint64, n int) (bool, error) {
	n0 := len(c.off) - 1
	c.runs, c.slots, c.steps = c.runs[:0], c.slots[:0], c.steps[:0]
	if n0 > 0 {
		c.runs = append(c.runs, logRun{from: 0, n: n0, slot: -1})
	}
	length, touched := n0, 0
	for g := c.gen + 1; g <= gen; g++ {
		ch := l.change(g)
		switch {
		case ch.kind == 's' && ch.at >= 0 && ch.at < length:
			touched++
			c.replaySet(ch.at)
		case ch.kind == 'i' && ch.at >= 0 && ch.at <= length && ch.n > 0:
			touched += ch.n
			if touched > listMaxEdits {
				return false, nil
			}
			c.replayInsert(ch.at, ch.n)
			length += ch.n
		case ch.kind == 'd' && ch.at >= 0 && ch.n > 0 && ch.at+ch.n <= length:
			touched += ch.n
			if touched > listMaxEdits {
				return false, nil
			}
			c.replayDelete(ch.at, ch.n)
			length -= ch.n
		default: // a Reset, or a history that does not fit the cache's
			return false, nil
		}
		if touched > listMaxEdits {
			return false, nil
		}
	}
	if length != n {
		return false, nil
	}

	// Encode the touched elements where they end up.
	c.mid = c.mid[:0]
	pos := 0
	for _, r := range c.runs {
		if r.slot >= 0 {
			b, err := l.encodeElem(enc, pos)
			if err != nil {
				return false, err
			}
			s := &c.slots[r.slot]
			s.pos, s.start = pos, len(c.mid)
			c.mid = append(c.mid, b...)
			s.end = len(c.mid)
		}
		pos += r.n
	}
	if !c.anyEdit() {
		c.ops = false
		return true, nil // replaced with what they were: the encoding stands
	}
	c.splice(n)
	c.resolve()
	c.ops = len(c.edits) > 0
	return true, nil
}

// split makes a run start at index i of the list being replayed and returns that run's
// index (len(c.runs) when i is the end).
func (c *logCache) split(i int) int {
	pos := 0
	for r := range c.runs {
		if pos == i {
			return r
		}
		if run := c.runs[r]; i < pos+run.n { // inside a run of unchanged elements
			k := i - pos
			c.runs = slices.Insert(c.runs, r+1, logRun{from: run.from + k, n: run.n - k, slot: -1})
			c.runs[r].n = k
			return r + 1
		}
		pos += c.runs[r].n
	}
	return len(c.runs)
}

func (c *logCache) replaySet(i int) {
	r := c.split(i)
	if c.runs[r].slot >= 0 {
		return // touched already: its op carries the element as it ends up
	}
	c.split(i + 1)
	s := len(c.slots)
	c.slots = append(c.slots, logSlot{old: c.runs[r].from})
	c.runs[r] = logRun{n: 1, slot: s}
	c.steps = append(c.steps, logStep{kind: 'r', index: i, slot: s})
}

func (c *logCache) replayInsert(i, n int) {
	r := c.split(i)
	added := make([]logRun, n)
	for k := range n {
		s := len(c.slots)
		c.slots = append(c.slots, logSlot{old: -1})
		added[k] = logRun{n: 1, slot: s}
		c.steps = append(c.steps, logStep{kind: 'a', index: i + k, slot: s})
	}
	c.runs = slices.Insert(c.runs, r, added...)
}

func (c *logCache) replayDelete(i, n int) {
	r := c.split(i)
	e := c.split(i + n)
	for _, run := range c.runs[r:e] {
		if run.slot >= 0 {
			c.slots[run.slot].gone = true
		}
	}
	c.runs = slices.Delete(c.runs, r, e)
	for range n {
		c.steps = append(c.steps, logStep{kind: 'd', index: i, slot: -1})
	}
}

// anyEdit reports whether the replay changed the encoding: an element added or removed,
// or one replaced by different bytes.
func (c *logCache) anyEdit() bool {
	for _, st := range c.steps {
		if st.kind != 'r' {
			return true
		}
		if s := &c.slots[st.slot]; !s.gone && !bytes.Equal(c.mid[s.start:s.end], c.elem(s.old)) {
			return true
		}
	}
	return false
}

// elem returns the encoding of old element k.
func (c *logCache) elem(k int) []byte { return c.full[c.off[k] : c.off[k+1]-1] }

// splice builds the new encoding of the n elements from the runs: unchanged runs from the
// old encoding, touched elements from mid; base becomes the old encoding, which stays as
// it is. bytes.Join allocates without zeroing: the copy is the cost.
func (c *logCache) splice(n int) {
	old, off := c.full, c.off
	parts := make([][]byte, 0, 2*len(c.runs)+2)
	parts = append(parts, old[:1])
	for k, r := range c.runs {
		if k > 0 {
			parts = append(parts, comma)
		}
		if r.slot < 0 {
			parts = append(parts, old[off[r.from]:off[r.from+r.n]-1])
		} else {
			s := &c.slots[r.slot]
			parts = append(parts, c.mid[s.start:s.end])
		}
	}
	parts = append(parts, old[len(old)-1:])
	full := bytes.Join(parts, nil)

	noff := slices.Grow(c.spare[:0], n+1)
	at := 1
	for _, r := range c.runs {
		if r.slot < 0 {
			shift := at - off[r.from]
			for k := r.from; k < r.from+r.n; k++ {
				noff = append(noff, off[k]+shift)
			}
			at = off[r.from+r.n] + shift
		} else {
			s := &c.slots[r.slot]
			noff = append(noff, at)
			at += s.end - s.start + 1
		}
	}
	if n == 0 {
		at = len(full)
	}
	noff = append(noff, at)
	c.base, c.full = old, full
	c.spare, c.off = off, noff
}

// resolve turns the replay's steps into the snapshot's ops, with the elements' new
// encodings (in the new full). A replaced element deleted later needs no op; one added and
// deleted later is added as null, which keeps the indexes of the ops after it right.
func (c *logCache) resolve() {
	clear(c.edits)
	c.edits = c.edits[:0]
	for _, st := range c.steps {
		if st.kind == 'd' {
			c.edits = append(c.edits, listEdit{kind: 'd', index: st.index})
			continue
		}
		s := &c.slots[st.slot]
		switch st.kind {
		case 'r':
			if s.gone {
				continue
			}
			old, val := c.base[c.spare[s.old]:c.spare[s.old+1]-1], c.newElem(s.pos)
			if !bytes.Equal(old, val) {
				c.edits = append(c.edits, listEdit{kind: 'r', index: st.index, old: old, val: val})
			}
		case 'a':
			val := nullJSON
			if !s.gone {
				val = c.newElem(s.pos)
			}
			c.edits = append(c.edits, listEdit{kind: 'a', index: st.index, val: val})
		}
	}
}

// newElem returns the encoding of element k of the new full.
func (c *logCache) newElem(k int) []byte {
	b := c.full[c.off[k] : c.off[k+1]-1]
	return b[:len(b):len(b)]
}

var nullJSON = []byte("null")

// appendOps appends the ops of the last snapshot at the field's pointer and reports
// whether it knew them: only when that snapshot went from base to full.
func (c *logCache) appendOps(buf []byte, n int, pointer string, base, full []byte, opt *patch.Options) ([]byte, int, bool, error) {
	if c == nil || !c.ops || !reused(c.base, base) || !reused(c.full, full) {
		return buf, n, false, nil
	}
	buf, n, err := appendListEdits(buf, n, pointer, c.edits, opt)
	return buf, n, true, err
}
