package patch

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// span is the extent of one array element, as offsets into d.old or d.new.
type span struct {
	start, end int
	// same is set on a new element known to equal the old element at the
	// same position of the middle section (see diffArray).
	same bool
}

// hunk is one run of edits: old middle elements [o0,o1) become new middle
// elements [n0,n1). Unchanged elements lie between hunks.
type hunk struct{ o0, o1, n0, n1 int }

// diffArray emits the ops turning the array at old[oi] into the array at
// new[ni] and returns where the arrays end.
//
// Arrays are where large values live, so the work is arranged to touch as
// few bytes as possible:
//
//  1. old is scanned once (this is also its validation). Its elements
//     inside the common prefix of the inputs (see differ) are the same in
//     new and are only counted.
//  2. new is scanned from the end of those. An element equal to the
//     expected old one is recognized by a byte comparison instead of a
//     scan, and the scan stops at the first element that lines up with an
//     old element inside the common suffix: from there on, new is old
//     shifted byte for byte.
//  3. The remaining middle sections are compared element by element (see
//     diffMiddle).
func (d *differ) diffArray(oi, ni, depth int) (oEnd, nEnd int, err error) {
	depth++
	if depth > maxDepth {
		return oi, ni, errSyntax("exceeded max depth")
	}
	base := len(d.spans)
	defer func() { d.spans = d.spans[:base] }()
	old, new := d.old, d.new

	prefix, resume := 0, ni+1 // common elements; offset just past the last one
	ot := elemIter{b: old, pos: oi + 1, depth: depth}
	for {
		more, err := ot.more()
		if err != nil {
			return ot.pos, ni, err
		}
		if !more {
			break
		}
		s, e, err := ot.value()
		if err != nil {
			return ot.pos, ni, err
		}
		// e < prefix, not e <= prefix: the byte after the element must be
		// common too, or "[12" would count as a prefix of "[123".
		if oi == ni && len(d.spans) == base && e < d.prefix {
			prefix, resume = prefix+1, e
			continue
		}
		d.spans = append(d.spans, span{start: s, end: e})
	}
	oEnd = ot.pos
	olds := d.spans[base:] // stays valid while d.spans grows below

	tail := len(olds) // olds[tail:] are common with the end of new
	nb := len(d.spans)
	nt := elemIter{b: new, pos: resume, depth: depth, after: prefix > 0}
	for j, k, next := 0, 0, 0; ; j++ {
		more, err := nt.more()
		if err != nil {
			return oEnd, nt.pos, err
		}
		if !more {
			nEnd = nt.pos
			break
		}
		q := nt.pos
		if q >= d.suffixFrom {
			// new[q:] == old[q-delta:]; if q-delta starts an old element,
			// both parse identically from here to the end.
			t := q - d.delta
			for k < len(olds) && olds[k].start < t {
				k++
			}
			if k < len(olds) && olds[k].start == t {
				tail, nEnd = k, oEnd+d.delta
				break
			}
		}
		// Guess which old element this is: the one after the last match,
		// or its neighbours (an element was removed, or the last miss was
		// an insertion rather than a modification). Equal bytes followed
		// by the same delimiter parse as the same, already validated, value.
		if c, ok := matchOld(old, new, olds, q, next); ok {
			e := q + olds[c].end - olds[c].start
			nt.skip(e - q)
			d.spans = append(d.spans, span{start: q, end: e, same: c == j})
			next = c + 1
			continue
		}
		s, e, err := nt.value()
		if err != nil {
			return oEnd, nt.pos, err
		}
		d.spans = append(d.spans, span{start: s, end: e})
		next++
	}
	om, nm := olds[:tail], d.spans[nb:]

	// Trim equal elements off both ends of the middle sections.
	lo := 0
	for lo < len(om) && lo < len(nm) && (nm[lo].same || spanEqual(old, new, om[lo], nm[lo])) {
		lo++
	}
	hi := 0
	for lo < len(om)-hi && lo < len(nm)-hi && spanEqual(old, new, om[len(om)-1-hi], nm[len(nm)-1-hi]) {
		hi++
	}
	err = d.diffMiddle(om[lo:len(om)-hi], nm[lo:len(nm)-hi], prefix+lo, new[ni:nEnd], depth)
	return oEnd, nEnd, err
}

// matchOld reports whether new holds, at offset q, the same element as
// olds[c] for a c close to next.
func matchOld(old, new []byte, olds []span, q, next int) (c int, ok bool) {
	for _, c := range [3]int{next, next + 1, next - 1} {
		if c < 0 || c >= len(olds) {
			continue
		}
		o := olds[c]
		if e := q + o.end - o.start; e < len(new) && new[e] == old[o.end] && bytes.Equal(new[q:e], old[o.start:o.end]) {
			return c, true
		}
	}
	return 0, false
}

// diffMiddle emits the ops turning the old elements om into the new
// elements nm, where om[0] is at index first of the array and whole is the
// new array. Both sections start and end with a differing element (or are
// empty).
func (d *differ) diffMiddle(om, nm []span, first int, whole []byte, depth int) error {
	old, new := d.old, d.new
	n, m := len(om), len(nm)
	hb := len(d.hunks)
	defer func() { d.hunks = d.hunks[:hb] }()

	switch {
	case n == 0 && m == 0:
		return nil
	case n == 0 || m == 0:
		d.hunks = append(d.hunks, hunk{0, n, 0, m})
	case d.maxEdit > 0 && d.myers(old, new, om, nm, d.maxEdit):
	case d.aligned(old, new, om, nm):
		// Too many edits for Myers, but most elements line up by position.
	default:
		d.emit(opReplace, d.path, whole)
		return nil
	}

	shift := 0 // elements added minus removed so far
	for _, h := range d.hunks[hb:] {
		at := first + h.o0 + shift
		pairs := min(h.o1-h.o0, h.n1-h.n0)
		// A removal next to an insertion is a modification: diff in place.
		for t := range pairs {
			l := d.pushIndex(at + t)
			_, _, err := d.diffValue(om[h.o0+t].start, nm[h.n0+t].start, depth)
			d.path = d.path[:l]
			if err != nil {
				return err
			}
		}
		at += pairs
		for range h.o1 - h.o0 - pairs {
			l := d.pushIndex(at)
			d.emit(opRemove, d.path, nil)
			d.path = d.path[:l]
		}
		for t := h.n0 + pairs; t < h.n1; t++ {
			l := d.pushIndex(at)
			d.emit(opAdd, d.path, new[nm[t].start:nm[t].end])
			d.path = d.path[:l]
			at++
		}
		shift += (h.n1 - h.n0) - (h.o1 - h.o0)
	}
	return nil
}

// aligned pairs om and nm position by position, except for one block of
// the |n-m| extra elements of the longer side, which is added or removed at
// the split point that leaves the fewest differing pairs. If at most half of
// the pairs (rounded up) differ it appends the resulting hunks and reports
// true. This covers scattered in-place modifications, alone or together
// with one insertion or removal, at linear cost.
func (d *differ) aligned(old, new []byte, om, nm []span) bool {
	c := min(len(om), len(nm))
	od, nd := len(om)-c, len(nm)-c // size of the block; one of them is 0
	// Pair i is om[i]↔nm[i] before the split and om[i+od]↔nm[i+nd] after.
	front := func(i int) bool { return nm[i].same || spanEqual(old, new, om[i], nm[i]) }
	back := func(i int) bool { return spanEqual(old, new, om[i+od], nm[i+nd]) }

	budget := (c + 1) / 2
	split, cost := c, 0
	if od+nd == 0 {
		for i := range c {
			if !front(i) {
				if cost++; cost > budget {
					return false
				}
			}
		}
	} else {
		// cost(s) = differing front pairs below s + differing back pairs
		// from s on; sweep s from 0 to c.
		for i := range c {
			if !back(i) {
				cost++
			}
		}
		best, bestSplit := cost, 0
		for i := range c {
			if !front(i) {
				cost++
			}
			if !back(i) {
				cost--
			}
			if cost < best {
				best, bestSplit = cost, i+1
			}
		}
		split, cost = bestSplit, best
	}
	if cost > budget {
		return false
	}

	hb := len(d.hunks)
	add := func(h hunk) {
		if l := len(d.hunks) - 1; l >= hb && d.hunks[l].o1 == h.o0 && d.hunks[l].n1 == h.n0 {
			d.hunks[l].o1, d.hunks[l].n1 = h.o1, h.n1
			return
		}
		d.hunks = append(d.hunks, h)
	}
	for i := range split {
		if !front(i) {
			add(hunk{i, i + 1, i, i + 1})
		}
	}
	if od+nd > 0 {
		add(hunk{split, split + od, split, split + nd})
	}
	for i := split; i < c; i++ {
		if !back(i) {
			add(hunk{i + od, i + od + 1, i + nd, i + nd + 1})
		}
	}
	return true
}

func spanEqual(old, new []byte, o, n span) bool {
	return o.end-o.start == n.end-n.start && bytes.Equal(old[o.start:o.end], new[n.start:n.end])
}

// commonPrefix returns the length of the longest common prefix of a and b.
func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	// Large blocks first: bytes.Equal is vectorized.
	for i+512 <= n && bytes.Equal(a[i:i+512], b[i:i+512]) {
		i += 512
	}
	for i+8 <= n {
		if x := binary.LittleEndian.Uint64(a[i:]) ^ binary.LittleEndian.Uint64(b[i:]); x != 0 {
			return i + bits.TrailingZeros64(x)/8
		}
		i += 8
	}
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

// commonSuffix returns the length of the longest common suffix of a and b.
func commonSuffix(a, b []byte) int {
	n := min(len(a), len(b))
	a, b = a[len(a)-n:], b[len(b)-n:]
	i := n // a[i:] == b[i:]
	for i >= 512 && bytes.Equal(a[i-512:i], b[i-512:i]) {
		i -= 512
	}
	for i >= 8 {
		if x := binary.BigEndian.Uint64(a[i-8:]) ^ binary.BigEndian.Uint64(b[i-8:]); x != 0 {
			return n - i + bits.TrailingZeros64(x)/8
		}
		i -= 8
	}
	for i > 0 && a[i-1] == b[i-1] {
		i--
	}
	return n - i
}
