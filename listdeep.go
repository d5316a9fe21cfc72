package wssync

import (
	"bytes"
	"cmp"
	"reflect"
	"slices"
	"unsafe"
)

// elemPlan tells the list cache how to decide, cheaply and soundly, that a value encodes
// as it did: compare its memory with a kept copy, then follow each slice, map and pointer
// in it (refs) and compare what it refers to with a kept copy of that. A value of a type
// without refs encodes as a function of its memory alone (a string header equal in memory
// names the same immutable bytes); one with refs as a function of its memory outside them
// and of what they refer to: a memory compare alone would miss an in-place edit of a
// nested slice, or one through a pointer or a backing array that two elements share.
//
// Nothing is inferred from pointer identity: every compare is of values, so aliasing,
// reslicing and in-place edits are all seen. Nil and empty differ (null against [] or {}):
// a kept copy records which. Maps are compared by key set and values, never by iteration
// order (encoding/json sorts their keys).
type elemPlan struct {
	typ   reflect.Type
	slice reflect.Type // []typ, for the copies
	size  uintptr
	refs  []refSite // the references in a value's memory, by offset; none: flat
}

// refSite is one slice, map or pointer at offset off of a value.
type refSite struct {
	off  uintptr
	kind reflect.Kind // reflect.Slice, reflect.Map or reflect.Pointer
	typ  reflect.Type // the slice, map or pointer type
	elem *elemPlan    // what it refers to: a slice's elements, a pointer's target, a map's values
	flat bool         // a slice of, or pointer to, flat values: compared by their memory alone
	// fastMap compares a map of one of the common unnamed types without reflect; nil else.
	fastMap func(p unsafe.Pointer, k *keptRef) bool

	// Maps only: scratch values the compare iterates into, so that it allocates nothing.
	// A plan belongs to one cache, used by one goroutine at a time (under the object's pub).
	iter    *reflect.MapIter
	m, k, v reflect.Value // the map, a key and a value, each addressable
}

// keptRef is the kept copy of what one refSite of one value referred to when last encoded.
// It is small (one is kept per reference per element) and its rarer parts are apart.
type keptRef struct {
	ptr  unsafe.Pointer // the copy: a slice's n elements, a pointer's target, a map's values in key order
	more *keptMore      // nil when the copied values hold no references and it is no map's
	n    int            // a slice's or map's length, 1 for a pointer, -1 for nil
	size int            // bytes kept by this copy and what it holds
}

// keptMore is the part of a keptRef that only nested references and maps need.
type keptMore struct {
	kids []keptRef // the kept refs of the copied values: n × len(elem.refs)
	keys []string  // a map's keys, sorted
}

func (k *keptRef) kids() []keptRef {
	if k.more == nil {
		return nil
	}
	return k.more.kids
}

const (
	// planMaxDepth bounds how deep the type walk goes; deeper types are not cached.
	planMaxDepth = 16
	// planMaxRefs bounds the refs of one value (an array of references counts each).
	planMaxRefs = 64
)

var keptRefSize = int(unsafe.Sizeof(keptRef{}))

// newElemPlan returns the plan of t, nil if a value of t may encode through user code or
// as anything but a function of its value (interfaces, funcs, chans, complex numbers, maps
// whose keys are not strings, recursive types).
func newElemPlan(t reflect.Type) *elemPlan {
	return buildPlan(t, nil, 0)
}

func buildPlan(t reflect.Type, stack []reflect.Type, depth int) *elemPlan {
	if slices.Contains(stack, t) { // a recursive type: its values may be cyclic
		return nil
	}
	pl := &elemPlan{typ: t, slice: reflect.SliceOf(t), size: t.Size()}
	if !pl.collect(t, 0, append(stack, t), depth) {
		return nil
	}
	return pl
}

// collect adds the refs of a t at offset base to pl, and reports whether t qualifies.
func (pl *elemPlan) collect(t reflect.Type, base uintptr, stack []reflect.Type, depth int) bool {
	if depth > planMaxDepth || marshals(t) {
		return false
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.String:
		return true
	case reflect.Array:
		n := len(pl.refs)
		if !pl.collect(t.Elem(), base, stack, depth+1) {
			return false
		}
		if t.Len() == 0 {
			pl.refs = pl.refs[:n] // no memory, nothing to follow
		}
		if len(pl.refs) == n {
			return true // flat elements
		}
		one := slices.Clone(pl.refs[n:])
		for i := 1; i < t.Len(); i++ {
			for _, r := range one {
				r.off += uintptr(i) * t.Elem().Size()
				pl.refs = append(pl.refs, r)
			}
		}
		return len(pl.refs) <= planMaxRefs
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.Anonymous && (!f.IsExported() || f.Tag.Get("json") == "-") {
				continue // never encoded; its memory is still compared (an omitzero parent sees it)
			}
			if !pl.collect(f.Type, base+f.Offset, stack, depth+1) {
				return false
			}
		}
		return len(pl.refs) <= planMaxRefs
	case reflect.Slice, reflect.Pointer:
		return pl.addRef(refSite{off: base, kind: t.Kind(), typ: t}, t.Elem(), stack, depth)
	case reflect.Map:
		if t.Key().Kind() != reflect.String || marshals(t.Key()) {
			return false
		}
		return pl.addRef(refSite{off: base, kind: reflect.Map, typ: t}, t.Elem(), stack, depth)
	}
	return false // interface, func, chan, complex, unsafe.Pointer
}

func (pl *elemPlan) addRef(r refSite, elem reflect.Type, stack []reflect.Type, depth int) bool {
	if r.elem = buildPlan(elem, stack, depth+1); r.elem == nil {
		return false
	}
	r.flat = r.kind != reflect.Map && len(r.elem.refs) == 0
	if r.kind == reflect.Map {
		r.fastMap = fastMapEqual[r.typ]
		r.iter = new(reflect.MapIter)
		r.m, r.k, r.v = reflect.New(r.typ).Elem(), reflect.New(r.typ.Key()).Elem(), reflect.New(elem).Elem()
	}
	pl.refs = append(pl.refs, r)
	return len(pl.refs) <= planMaxRefs
}

// sliceHeader is the memory of a slice.
type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}

// memEqual reports whether the n bytes at a and b are equal.
func memEqual(a, b unsafe.Pointer, n uintptr) bool {
	return n == 0 || bytes.Equal(unsafe.Slice((*byte)(a), n), unsafe.Slice((*byte)(b), n))
}

// refsEqual reports whether what the refs of the value at p refer to equals kept (one
// keptRef per ref, in plan order). The value's own memory is compared by the caller.
func (pl *elemPlan) refsEqual(p unsafe.Pointer, kept []keptRef) bool {
	for i := range pl.refs {
		r, k := &pl.refs[i], &kept[i]
		if !r.flat {
			if !r.equal(unsafe.Add(p, r.off), k) {
				return false
			}
			continue
		}
		// The common cases, inline (see equal): a slice or pointer of flat values.
		data, n := *(*unsafe.Pointer)(unsafe.Add(p, r.off)), 1
		if r.kind == reflect.Slice {
			n = (*sliceHeader)(unsafe.Add(p, r.off)).len
		}
		if data == nil || k.n < 0 {
			if data != nil || k.n >= 0 {
				return false
			}
			continue
		}
		if n != k.n || !memEqual(data, k.ptr, uintptr(n)*r.elem.size) {
			return false
		}
	}
	return true
}

// manyEqual reports whether the n values at live equal the n copies at kept, memory and
// refs (kids: n × len(pl.refs)).
func (pl *elemPlan) manyEqual(live, kept unsafe.Pointer, n int, kids []keptRef) bool {
	if !memEqual(live, kept, uintptr(n)*pl.size) {
		return false
	}
	if nr := len(pl.refs); nr > 0 {
		for i := range n {
			if !pl.refsEqual(unsafe.Add(live, uintptr(i)*pl.size), kids[i*nr:(i+1)*nr]) {
				return false
			}
		}
	}
	return true
}

// equal reports whether the reference at p refers to a value equal to k.
func (r *refSite) equal(p unsafe.Pointer, k *keptRef) bool {
	switch r.kind {
	case reflect.Slice:
		h := (*sliceHeader)(p)
		if h.data == nil || k.n < 0 {
			return h.data == nil && k.n < 0
		}
		if r.flat {
			return h.len == k.n && memEqual(h.data, k.ptr, uintptr(h.len)*r.elem.size)
		}
		return h.len == k.n && r.elem.manyEqual(h.data, k.ptr, h.len, k.kids())
	case reflect.Pointer:
		q := *(*unsafe.Pointer)(p)
		if q == nil || k.n < 0 {
			return q == nil && k.n < 0
		}
		return r.elem.manyEqual(q, k.ptr, 1, k.kids())
	}
	if r.fastMap != nil {
		return r.fastMap(p, k)
	}
	return r.mapEqual(p, k)
}

// fastMapEqual holds mapEqual for the common unnamed map types, by type.
var fastMapEqual = map[reflect.Type]func(unsafe.Pointer, *keptRef) bool{
	reflect.TypeFor[map[string]string]():  flatMapEqual[string],
	reflect.TypeFor[map[string]int]():     flatMapEqual[int],
	reflect.TypeFor[map[string]int64]():   flatMapEqual[int64],
	reflect.TypeFor[map[string]bool]():    flatMapEqual[bool],
	reflect.TypeFor[map[string]float64](): flatMapEqual[float64],
}

// flatMapEqual is mapEqual for a map[string]V of a flat V: values compared by memory (so
// -0 differs from 0), keys found in the kept sorted keys.
func flatMapEqual[V any](p unsafe.Pointer, k *keptRef) bool {
	m := *(*map[string]V)(p)
	if m == nil || k.n < 0 {
		return m == nil && k.n < 0
	}
	if len(m) != k.n {
		return false
	}
	if k.n == 0 {
		return true
	}
	keys, vals := k.more.keys, unsafe.Slice((*V)(k.ptr), k.n)
	var (
		key string
		v   V
	)
	for key, v = range m {
		i, found := slices.BinarySearch(keys, key)
		if !found || !memEqual(unsafe.Pointer(&v), unsafe.Pointer(&vals[i]), unsafe.Sizeof(v)) {
			return false
		}
	}
	return true
}

// mapEqual reports whether the map at p has the keys of k, each with a value equal to its
// copy: equal lengths and every key found make equal key sets.
func (r *refSite) mapEqual(p unsafe.Pointer, k *keptRef) bool {
	mp := *(*unsafe.Pointer)(p) // a map is one pointer
	if mp == nil || k.n < 0 {
		return mp == nil && k.n < 0
	}
	*(*unsafe.Pointer)(r.m.Addr().UnsafePointer()) = mp
	defer func() { // let go of the user's map
		r.iter.Reset(reflect.Value{})
		*(*unsafe.Pointer)(r.m.Addr().UnsafePointer()) = nil
	}()
	if r.m.Len() != k.n {
		return false
	}
	nr, kids, keys := len(r.elem.refs), k.kids(), k.more.keys
	v := r.v.Addr().UnsafePointer()
	r.iter.Reset(r.m)
	for r.iter.Next() {
		r.k.SetIterKey(r.iter)
		i, found := slices.BinarySearch(keys, r.k.String())
		if !found {
			return false
		}
		r.v.SetIterValue(r.iter)
		if !r.elem.manyEqual(v, unsafe.Add(k.ptr, uintptr(i)*r.elem.size), 1, kids[i*nr:(i+1)*nr]) {
			return false
		}
	}
	return true
}

// keepRefs fills kept (one per ref) with copies of what the refs of the value at p refer
// to, and returns the bytes kept.
func (pl *elemPlan) keepRefs(p unsafe.Pointer, kept []keptRef) int {
	n := 0
	for i := range pl.refs {
		n += pl.refs[i].keep(unsafe.Add(p, pl.refs[i].off), &kept[i])
	}
	return n
}

// keepMany copies the n values at src into memory of the plan's type, with the copies of
// what they refer to, and returns the copy, their kept refs and the bytes kept.
func (pl *elemPlan) keepMany(src unsafe.Pointer, n int) (unsafe.Pointer, []keptRef, int) {
	if n == 0 {
		return nil, nil, 0
	}
	if n == 1 && len(pl.refs) == 0 { // a flat pointer target: no slice header to build
		dst := reflect.New(pl.typ)
		dst.Elem().Set(reflect.NewAt(pl.typ, src).Elem())
		return dst.UnsafePointer(), nil, int(pl.size)
	}
	dst := reflect.MakeSlice(pl.slice, n, n)
	reflect.Copy(dst, reflect.NewAt(pl.slice, unsafe.Pointer(&sliceHeader{src, n, n})).Elem())
	ptr := dst.UnsafePointer()
	size := n * int(pl.size)
	var kids []keptRef
	if nr := len(pl.refs); nr > 0 {
		kids = make([]keptRef, n*nr)
		size += len(kids) * keptRefSize
		for i := range n {
			size += pl.keepRefs(unsafe.Add(ptr, uintptr(i)*pl.size), kids[i*nr:(i+1)*nr])
		}
	}
	return ptr, kids, size
}

// keep sets k to a copy of what the reference at p refers to, and returns the bytes kept.
func (r *refSite) keep(p unsafe.Pointer, k *keptRef) int {
	*k = keptRef{n: -1}
	var kids []keptRef
	switch r.kind {
	case reflect.Slice:
		if h := (*sliceHeader)(p); h.data != nil {
			k.n = h.len
			k.ptr, kids, k.size = r.elem.keepMany(h.data, h.len)
		}
	case reflect.Pointer:
		if q := *(*unsafe.Pointer)(p); q != nil {
			k.n = 1
			k.ptr, kids, k.size = r.elem.keepMany(q, 1)
		}
	default:
		r.keepMap(p, k)
		return k.size
	}
	if kids != nil {
		k.more = &keptMore{kids: kids}
	}
	return k.size
}

// keepMap sets k to a copy of the map at p: its keys sorted, its values in their order.
func (r *refSite) keepMap(p unsafe.Pointer, k *keptRef) {
	m := reflect.NewAt(r.typ, p).Elem()
	if m.IsNil() {
		return
	}
	n := m.Len()
	keys := make([]string, 0, n)
	vals := reflect.MakeSlice(r.elem.slice, n, n)
	for it := m.MapRange(); it.Next(); {
		vals.Index(len(keys)).SetIterValue(it)
		keys = append(keys, it.Key().String())
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(keys[a], keys[b]) })
	sorted := make([]string, n)
	inOrder := reflect.MakeSlice(r.elem.slice, n, n)
	for i, j := range order {
		sorted[i] = keys[j]
		inOrder.Index(i).Set(vals.Index(j))
	}
	k.n, k.more = n, &keptMore{keys: sorted}
	k.ptr, k.more.kids, k.size = r.elem.keepMany(inOrder.UnsafePointer(), n)
	k.size += 16*n + int(unsafe.Sizeof(keptMore{})) // the key headers
}
