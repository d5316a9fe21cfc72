package wssync

import (
	"bytes"
	"reflect"
	"slices"
	"strconv"
	"unsafe"

	"github.com/wssync/wssync/internal/patch"
)

// listCache makes Sync of a large slice field cost O(change) instead of a full encode and
// diff. It applies to a slice whose element type has a plan (see elemPlan): an element
// whose memory equals a saved copy's, and whose slices, maps and pointers refer to values
// equal to kept copies of theirs, encodes as it did. The cache keeps that copy of the
// elements (its own backing array, which also keeps their strings alive), the kept copies
// of what they refer to (deep), the field's encoding and where each element lies in it. A
// Sync compares the elements with the copies, re-encodes only the elements that differ, and
// splices the new field encoding together from the old one. Unequal bytes with an equal
// encoding (a new string of the same text, padding, a new slice of the same elements) cost
// one element's encode and nothing else: the comparison is conservative, never wrong.
//
// A listCache is used under the object's pub lock and the state (read) lock only.
type listCache struct {
	plan   *elemPlan     // the element type's; no refs: flat elements
	size   uintptr       // element size
	shadow reflect.Value // []E: the elements as last encoded; its own array
	deep   []keptRef     // n × len(plan.refs): what element k referred to, kept at k*len(plan.refs)
	kept   int           // bytes of the copies in deep
	full   []byte        // the field's encoding of shadow; never modified once built
	off    []int         // off[k]: where element k starts in full; off[n] = len(full)
	valid  bool          // shadow, deep, full and off agree
	skip   int           // snapshots left that bypass the cache after it outgrew its budget

	// The last snapshot's ops, from base (the full before it) to full; ops false: none known.
	base  []byte
	edits []listEdit
	ops   bool
}

// listEdit is one op of a snapshot: element index becomes val (replace, diffed with old),
// is added, or is removed.
type listEdit struct {
	kind     byte // 'r', 'a' or 'd'
	index    int
	old, val []byte
}

const (
	// listCacheMin is the length from which a slice is encoded through its cache; below
	// it a whole encode is as cheap, and the empty and nil slices need no special case.
	listCacheMin = 32
	// listMaxEdits bounds the elements added, removed or replaced that a snapshot turns
	// into ops of its own; past it the field's whole encodings are diffed (AppendDiff).
	listMaxEdits = 64
	// cmpBlock is how many elements one memory comparison covers before it looks closer.
	cmpBlock = 64
	// listKeepRatio and listKeepSlack bound the memory a cache keeps (the element copy, the
	// kept copies of what elements refer to, their bookkeeping): at most listKeepRatio times
	// the field's encoding plus listKeepSlack. Past it, the field takes the whole-field path
	// for listBackoff snapshots, then the cache is tried again.
	listKeepRatio = 4
	listKeepSlack = 64 << 10
	listBackoff   = 64
)

// newListCache returns a cache for a field of type t, nil if t is not a slice whose
// element type has a plan.
func newListCache(t reflect.Type) *listCache {
	if t.Kind() != reflect.Slice || marshals(t) || t.Elem().Kind() == reflect.Uint8 {
		return nil // []byte-like slices encode as base64, not as arrays
	}
	pl := newElemPlan(t.Elem())
	if pl == nil {
		return nil
	}
	return &listCache{plan: pl, size: pl.size}
}

// newListCaches returns the list cache of each field (nil for a field without one), or
// nil when no field has one.
func newListCaches(fields []boundField) []*listCache {
	var out []*listCache
	for i := range fields {
		if fields[i].spec == nil {
			continue
		}
		if c := newListCache(fields[i].spec.typ); c != nil {
			if out == nil {
				out = make([]*listCache, len(fields))
			}
			out[i] = c
		}
	}
	return out
}

// marshals reports whether t or *t has a method through which encoding/json may encode
// it by user code: MarshalJSON, MarshalText, IsZero (which an omitzero field calls), or,
// in a build with GOEXPERIMENT=jsonv2, MarshalJSONTo and AppendText. Methods are matched
// by name, so that the check needs no experimental package and errs on the safe side.
func marshals(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	for _, name := range encodingMethods {
		if _, ok := p.MethodByName(name); ok { // the method set of *t includes t's
			return true
		}
	}
	return false
}

// encodingMethods are the names of the methods encoding/json calls on a value.
var encodingMethods = []string{"MarshalJSON", "MarshalText", "IsZero", "MarshalJSONTo", "AppendText"}

// snapshot returns the encoding of the slice v: last itself when it encodes as last,
// otherwise a new slice the caller may keep. ok is false when v is not encoded through
// the cache (nil or short); the caller encodes it whole then.
func (c *listCache) snapshot(v reflect.Value, enc *fieldEncoder, last []byte) (full []byte, ok bool, err error) {
	c.ops = false
	if c.skip > 0 || v.IsNil() || v.Len() < listCacheMin {
		c.skip = max(c.skip-1, 0)
		c.drop()
		return nil, false, nil
	}
	valid := c.valid
	c.valid = false // until this snapshot succeeds: an error or a panic leaves no half-updated cache
	if !valid {
		if err := c.rebuild(v, enc); err != nil {
			return nil, false, err
		}
	} else if err := c.update(v, enc); err != nil {
		return nil, false, err
	}
	c.valid = true
	switch {
	case reused(c.full, last):
	case (!c.ops || !reused(c.base, last)) && bytes.Equal(c.full, last):
		c.full, c.ops = last, false // keep the published slice: unchanged
	}
	if full := c.full; c.keeps() > listKeepRatio*len(full)+listKeepSlack {
		c.drop() // full is right, but too dear to keep: no ops, the whole-field diff
		c.skip = listBackoff
		return full, true, nil
	}
	return c.full, true, nil
}

// keeps returns the bytes the cache holds besides the field's encodings.
func (c *listCache) keeps() int {
	n := c.kept + cap(c.deep)*keptRefSize + 8*cap(c.off)
	if c.shadow.IsValid() {
		n += c.shadow.Cap() * int(c.size)
	}
	return n
}

// drop forgets the saved elements.
func (c *listCache) drop() {
	c.valid, c.ops = false, false
	if c.full == nil && c.off == nil && c.base == nil && c.edits == nil && c.deep == nil && !c.shadow.IsValid() {
		return // nothing saved: a short slice's every snapshot comes here
	}
	c.shadow, c.full, c.off, c.base, c.edits = reflect.Value{}, nil, nil, nil, nil
	c.deep, c.kept = nil, 0
}

// rebuild encodes v whole and saves it.
func (c *listCache) rebuild(v reflect.Value, enc *fieldEncoder) error {
	b, err := enc.encode(v.Addr().Interface())
	if err != nil {
		return err
	}
	c.full = bytes.Clone(b)
	c.off = splitArray(c.off[:0], c.full, v.Len())
	c.shadow = reflect.MakeSlice(v.Type(), v.Len(), v.Len())
	reflect.Copy(c.shadow, v)
	c.deep, c.kept = nil, 0
	if nr := len(c.plan.refs); nr > 0 {
		c.deep = make([]keptRef, v.Len()*nr)
		live := v.UnsafePointer()
		for k := range v.Len() {
			c.kept += c.plan.keepRefs(unsafe.Add(live, uintptr(k)*c.size), c.deep[k*nr:(k+1)*nr])
		}
	}
	return nil
}

// splitArray appends where each of the n elements of the compact JSON array b starts,
// then len(b). b holds no whitespace (encoding/json's output).
func splitArray(off []int, b []byte, n int) []int {
	off = append(off, 1)
	depth, str := 0, false
	for i := 1; i < len(b)-1; i++ {
		switch ch := b[i]; {
		case str:
			if ch == '\\' {
				i++
			} else if ch == '"' {
				str = false
			}
		case ch == '"':
			str = true
		case ch == '[' || ch == '{':
			depth++
		case ch == ']' || ch == '}':
			depth--
		case ch == ',' && depth == 0:
			off = append(off, i+1)
		}
	}
	return append(off, len(b))
}

// elem returns the encoding of element k of full.
func (c *listCache) elem(k int) []byte { return c.full[c.off[k] : c.off[k+1]-1] }

// mem returns the memory of the elements of slice v.
func (c *listCache) mem(v reflect.Value) []byte {
	return unsafe.Slice((*byte)(v.UnsafePointer()), uintptr(v.Len())*c.size)
}

// same reports whether element j of cur (a live slice's memory) encodes as the copy's
// element i (of old, the copy's memory): equal memory and equal kept references.
func (c *listCache) same(old, cur []byte, i, j int) bool {
	s := int(c.size)
	return bytes.Equal(old[i*s:(i+1)*s], cur[j*s:(j+1)*s]) && c.refsSame(cur, i, j, 1)
}

// refsSame reports whether what elements [j, j+m) of cur refer to equals the kept copies
// of the copy's elements [i, i+m); true for flat elements.
func (c *listCache) refsSame(cur []byte, i, j, m int) bool {
	nr := len(c.plan.refs)
	if nr == 0 {
		return true
	}
	live := unsafe.Pointer(unsafe.SliceData(cur))
	for t := range m {
		if !c.plan.refsEqual(unsafe.Add(live, uintptr(j+t)*c.size), c.deep[(i+t)*nr:(i+t+1)*nr]) {
			return false
		}
	}
	return true
}

// prefix returns how many leading elements of a (the copy's memory) and b (the slice's)
// are the same, of n at most.
func (c *listCache) prefix(a, b []byte, n int) int {
	s := int(c.size)
	k := 0
	for k+cmpBlock <= n && bytes.Equal(a[k*s:(k+cmpBlock)*s], b[k*s:(k+cmpBlock)*s]) && c.refsSame(b, k, k, cmpBlock) {
		k += cmpBlock
	}
	for k < n && c.same(a, b, k, k) {
		k++
	}
	return k
}

// suffix returns how many trailing elements of a (n0 elements) and b (n1) are the same,
// of n at most.
func (c *listCache) suffix(a, b []byte, n0, n1, n int) int {
	s := int(c.size)
	la, lb := len(a), len(b)
	k := 0
	for k+cmpBlock <= n && bytes.Equal(a[la-(k+cmpBlock)*s:la-k*s], b[lb-(k+cmpBlock)*s:lb-k*s]) && c.refsSame(b, n0-k-cmpBlock, n1-k-cmpBlock, cmpBlock) {
		k += cmpBlock
	}
	for k < n && c.same(a, b, n0-k-1, n1-k-1) {
		k++
	}
	return k
}

// update brings the cache to v, re-encoding only the elements whose memory changed, and
// records the ops from the old encoding to the new one.
func (c *listCache) update(v reflect.Value, enc *fieldEncoder) error {
	n0, n1 := c.shadow.Len(), v.Len()
	old, cur := c.mem(c.shadow), c.mem(v)
	m := min(n0, n1)
	p := c.prefix(old, cur, m)
	if p == n0 && n0 == n1 {
		return nil // nothing moved
	}
	s := c.suffix(old, cur, n0, n1, m-p)
	mo, mn := n0-p-s, n1-p-s // the middles that differ: old [p, p+mo), new [p, p+mn)

	// Encode the new middle; a pair of same-index elements whose memory is equal in a
	// same-length middle needs no encode.
	var mid []byte
	ends := make([]int, 0, mn) // where each new middle element ends in mid
	edits := c.edits[:0]
	var encoded []int // the middle elements encoded, when mo == mn
	for k := range mn {
		if mo == mn && k < mo && c.size > 0 && c.same(old, cur, p+k, p+k) {
			if k > 0 {
				mid = append(mid, ',')
			}
			mid = append(mid, c.elem(p+k)...)
			ends = append(ends, len(mid))
			continue
		}
		b, err := enc.encode(v.Index(p + k).Addr().Interface())
		if err != nil {
			return err
		}
		if mo == mn {
			encoded = append(encoded, k)
		}
		if k > 0 {
			mid = append(mid, ',')
		}
		start := len(mid)
		mid = append(mid, b...)
		ends = append(ends, len(mid))
		switch {
		case k < mo && bytes.Equal(mid[start:], c.elem(p+k)):
		case k < mo:
			edits = append(edits, listEdit{kind: 'r', index: p + k, old: c.elem(p + k), val: mid[start:len(mid):len(mid)]})
		default:
			edits = append(edits, listEdit{kind: 'a', index: p + k, val: mid[start:len(mid):len(mid)]})
		}
	}
	for range mo - mn {
		edits = append(edits, listEdit{kind: 'd', index: p + mn})
	}
	c.saveDeep(cur, p, mo, mn, encoded)
	c.saveElems(v, p, mo, mn)
	if len(edits) == 0 {
		return nil // bytes moved, encodings did not (mo == mn, or there would be edits)
	}
	c.splice(p, mo, mn, mid, ends)
	c.edits, c.ops = edits, len(edits) <= listMaxEdits
	return nil
}

// splice replaces old elements [p, p+mo) of the encoding with the mn new ones in mid
// (comma-separated, element k ending at ends[k]) and moves base to the old encoding,
// which stays as it is. bytes.Join allocates without zeroing: the copy is the cost.
func (c *listCache) splice(p, mo, mn int, mid []byte, ends []int) {
	n0, q := len(c.off)-1, p+mo
	old, off := c.full, c.off
	parts := make([][]byte, 0, 6)
	parts = append(parts, old[:1])
	sep := p > 0
	if sep {
		parts = append(parts, old[1:off[p]-1]) // elements [0, p) without the comma after
	}
	if mn > 0 {
		if sep {
			parts = append(parts, comma)
		}
		parts, sep = append(parts, mid), true
	}
	if q < n0 {
		if sep {
			parts = append(parts, comma)
		}
		parts = append(parts, old[off[q]:len(old)-1])
	}
	parts = append(parts, old[len(old)-1:])
	full := bytes.Join(parts, nil)

	// The offsets, in place: [0, p) stay; the middle starts where element p did; the
	// elements after it (and the end, off[n0]) move by shift.
	at := off[p]
	tailAt := at + len(mid)
	if mn > 0 {
		tailAt++ // the comma after the middle, or before the "]" that off[n0] follows
	}
	shift := tailAt - off[q]
	if n1 := n0 - mo + mn; mn != mo {
		if n1+1 > cap(off) {
			off = append(off, make([]int, n1+1-len(off))...)
		}
		tail := off[q : n0+1]
		off = off[:n1+1]
		copy(off[p+mn:], tail)
	}
	if shift != 0 {
		for k := p + mn; k < len(off); k++ {
			off[k] += shift
		}
	}
	start := 0
	for k, end := range ends {
		off[p+k] = at + start
		start = end + 1
	}
	c.base, c.full, c.off = old, full, off
}

var comma = []byte{','}

// saveElems copies the elements of v into the shadow, after a change to old elements
// [p, p+mo) that are new elements [p, p+mn).
func (c *listCache) saveElems(v reflect.Value, p, mo, mn int) {
	n1 := v.Len()
	if mo == mn {
		reflect.Copy(c.shadow.Slice(p, p+mn), v.Slice(p, p+mn))
		return
	}
	n0, q := c.shadow.Len(), p+mo
	if c.shadow.Cap() < n1 || c.shadow.Cap() > 2*n1+cmpBlock {
		c.shadow = reflect.MakeSlice(v.Type(), n1, n1+n1/8)
		reflect.Copy(c.shadow, v)
		return
	}
	sh := c.shadow.Slice(0, max(n0, n1))
	reflect.Copy(sh.Slice(p+mn, n1), sh.Slice(q, n0)) // the common suffix moves (overlap-safe)
	reflect.Copy(sh.Slice(p, p+mn), v.Slice(p, p+mn))
	if n1 < n0 {
		sh.Slice(n1, n0).Clear() // let go of the strings of the dropped elements
	}
	c.shadow = sh.Slice(0, n1)
}

// saveDeep keeps copies of what the new elements of cur refer to, after a change to old
// elements [p, p+mo) that are new elements [p, p+mn): all of them, or, when mo == mn, the
// middle elements encoded (the others equal their copies).
func (c *listCache) saveDeep(cur []byte, p, mo, mn int, encoded []int) {
	nr := len(c.plan.refs)
	if nr == 0 {
		return
	}
	live := unsafe.Pointer(unsafe.SliceData(cur))
	keep := func(dst []keptRef, j int) {
		for _, k := range dst {
			c.kept -= k.size
		}
		c.kept += c.plan.keepRefs(unsafe.Add(live, uintptr(j)*c.size), dst)
	}
	if mo == mn {
		for _, k := range encoded {
			keep(c.deep[(p+k)*nr:(p+k+1)*nr], p+k)
		}
		return
	}
	for _, k := range c.deep[p*nr : (p+mo)*nr] {
		c.kept -= k.size
	}
	fresh := make([]keptRef, mn*nr)
	for k := range mn {
		c.kept += c.plan.keepRefs(unsafe.Add(live, uintptr(p+k)*c.size), fresh[k*nr:(k+1)*nr])
	}
	c.deep = slices.Replace(c.deep, p*nr, (p+mo)*nr, fresh...) // clears what it drops
	if cap(c.deep) > 2*len(c.deep)+cmpBlock*nr {
		c.deep = slices.Clone(c.deep)
	}
}

// appendOps appends the ops of the last snapshot at the field's pointer and reports
// whether it knew them: only when that snapshot went from base to full.
func (c *listCache) appendOps(buf []byte, n int, pointer string, base, full []byte, opt *patch.Options) ([]byte, int, bool, error) {
	if c == nil || !c.ops || !reused(c.base, base) || !reused(c.full, full) {
		return buf, n, false, nil
	}
	buf, n, err := appendListEdits(buf, n, pointer, c.edits, opt)
	return buf, n, true, err
}

// appendListEdits appends the ops of edits, made to the array at pointer, in order.
func appendListEdits(buf []byte, n int, pointer string, edits []listEdit, opt *patch.Options) ([]byte, int, error) {
	var err error
	for _, e := range edits {
		switch e.kind {
		case 'r':
			if buf, n, err = patch.AppendDiff(buf, n, pointer+"/"+strconv.Itoa(e.index), e.old, e.val, opt); err != nil {
				return nil, 0, err
			}
		case 'a':
			buf, n = patch.AppendAdd(buf, n, pointer, e.index, e.val)
		default:
			buf, n = patch.AppendRemove(buf, n, pointer, e.index)
		}
	}
	return buf, n, nil
}
