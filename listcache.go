package wssync

import (
	"bytes"
	"reflect"
	"strconv"
	"unsafe"

	"github.com/wssync/wssync/internal/patch"
)

// listCache makes Sync of a large slice field cost O(change) instead of a full encode and
// diff. It applies to a slice whose element type is shallow (see shallowType): such an
// element's encoding is a function of its memory alone, so an element whose bytes equal a
// saved copy's encodes as the copy did. The cache keeps that copy of the elements (its own
// backing array, which also keeps their strings alive), the field's encoding and where each
// element lies in it. A Sync compares the elements' memory with the copy, re-encodes only
// the elements whose bytes differ, and splices the new field encoding together from the old
// one. Unequal bytes with an equal encoding (a new string of the same text, padding) cost
// one element's encode and nothing else: the comparison is conservative, never wrong.
//
// A listCache is used under the object's pub lock and the state (read) lock only.
type listCache struct {
	size   uintptr       // element size
	shadow reflect.Value // []E: the elements as last encoded; its own array
	full   []byte        // the field's encoding of shadow; never modified once built
	off    []int         // off[k]: where element k starts in full; off[n] = len(full)
	valid  bool          // shadow, full and off agree

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
)

// newListCache returns a cache for a field of type t, nil if t is not a slice of shallow
// elements.
func newListCache(t reflect.Type) *listCache {
	if t.Kind() != reflect.Slice || marshals(t) || !shallowType(t.Elem(), 0) || t.Elem().Kind() == reflect.Uint8 {
		return nil // []byte-like slices encode as base64, not as arrays
	}
	return &listCache{size: t.Elem().Size()}
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

// shallowType reports whether the encoding of a t depends on its memory alone: t holds
// no pointer, slice, map, interface, func or chan, and nothing in it has an encoding of
// its own (see marshals).
func shallowType(t reflect.Type, depth int) bool {
	if depth > 16 || marshals(t) {
		return false
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.String:
		return true
	case reflect.Array:
		return shallowType(t.Elem(), depth+1)
	case reflect.Struct:
		for i := range t.NumField() {
			if !shallowType(t.Field(i).Type, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

// snapshot returns the encoding of the slice v: last itself when it encodes as last,
// otherwise a new slice the caller may keep. ok is false when v is not encoded through
// the cache (nil or short); the caller encodes it whole then.
func (c *listCache) snapshot(v reflect.Value, enc *fieldEncoder, last []byte) (full []byte, ok bool, err error) {
	c.ops = false
	if v.IsNil() || v.Len() < listCacheMin {
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
	return c.full, true, nil
}

// drop forgets the saved elements.
func (c *listCache) drop() {
	c.valid, c.ops = false, false
	c.shadow, c.full, c.off, c.base, c.edits = reflect.Value{}, nil, nil, nil, nil
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

// prefix returns how many leading elements of a and b (memory of n elements each, at
// most) are byte-equal.
func (c *listCache) prefix(a, b []byte, n int) int {
	s := int(c.size)
	k := 0
	for k+cmpBlock <= n && bytes.Equal(a[k*s:(k+cmpBlock)*s], b[k*s:(k+cmpBlock)*s]) {
		k += cmpBlock
	}
	for k < n && bytes.Equal(a[k*s:(k+1)*s], b[k*s:(k+1)*s]) {
		k++
	}
	return k
}

// suffix returns how many trailing elements of a and b (at most n) are byte-equal.
func (c *listCache) suffix(a, b []byte, n int) int {
	s := int(c.size)
	la, lb := len(a), len(b)
	k := 0
	for k+cmpBlock <= n && bytes.Equal(a[la-(k+cmpBlock)*s:la-k*s], b[lb-(k+cmpBlock)*s:lb-k*s]) {
		k += cmpBlock
	}
	for k < n && bytes.Equal(a[la-(k+1)*s:la-k*s], b[lb-(k+1)*s:lb-k*s]) {
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
	s := c.suffix(old, cur, m-p)
	mo, mn := n0-p-s, n1-p-s // the middles that differ: old [p, p+mo), new [p, p+mn)

	// Encode the new middle; a pair of same-index elements whose memory is equal in a
	// same-length middle needs no encode.
	var mid []byte
	ends := make([]int, 0, mn) // where each new middle element ends in mid
	edits := c.edits[:0]
	for k := range mn {
		if mo == mn && k < mo && c.size > 0 && bytes.Equal(old[(p+k)*int(c.size):(p+k+1)*int(c.size)], cur[(p+k)*int(c.size):(p+k+1)*int(c.size)]) {
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

// appendOps appends the ops of the last snapshot at the field's pointer and reports
// whether it knew them: only when that snapshot went from base to full.
func (c *listCache) appendOps(buf []byte, n int, pointer string, base, full []byte, opt *patch.Options) ([]byte, int, bool, error) {
	if c == nil || !c.ops || !reused(c.base, base) || !reused(c.full, full) {
		return buf, n, false, nil
	}
	var err error
	for _, e := range c.edits {
		switch e.kind {
		case 'r':
			if buf, n, err = patch.AppendDiff(buf, n, pointer+"/"+strconv.Itoa(e.index), e.old, e.val, opt); err != nil {
				return nil, 0, true, err
			}
		case 'a':
			buf, n = patch.AppendAdd(buf, n, pointer, e.index, e.val)
		default:
			buf, n = patch.AppendRemove(buf, n, pointer, e.index)
		}
	}
	return buf, n, true, nil
}
