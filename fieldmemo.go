package wssync

import (
	"bytes"
	"reflect"
	"strconv"
	"unsafe"
)

// fieldMemo lets a snapshot skip the encode of a top-level field whose value has not
// changed since it was last encoded. It keeps a copy of that value and its encoding; a
// snapshot compares the live value with the copy, the way the list cache compares
// elements (listdeep.go: memory, then what slices, maps and pointers refer to, compared
// with kept copies of theirs), and on a match the encoding is the kept one. It applies to
// a field whose type has an element plan, so that its encoding is a function of its value
// alone: no MarshalJSON or MarshalText anywhere in it, no interfaces. A miss costs the
// encode it saves plus the copy; the comparison is conservative (a new string of the same
// text, a new slice of the same elements, a struct's padding: a miss, never a wrong hit).
//
// What a memo keeps is a pure function of the value, not of what was published: a publish
// that fails, a catch-up or a restore that replaces the published encodings leave it
// right. It is used under the object's pub lock and the state (read) lock only.
type fieldMemo struct {
	plan *elemPlan      // the field type's, this memo's own (a plan's map compare has scratch space)
	off  uintptr        // where the field lies in the registered struct
	kind reflect.Kind   // the field type's kind
	copy unsafe.Pointer // the kept value, for a kind whose memory is compared; else nil
	kept []keptRef      // what the kept value's references referred to, one per plan.refs
	enc  []byte         // the encoding of the kept value, never modified; nil: nothing kept
	skip int            // snapshots left that keep nothing, after a value too dear to keep
	size int            // the bytes the last keep copied of what the value refers to
	miss int            // snapshots in a row that found the value changed

	// A slice of numbers, booleans or strings (not bytes: those encode as base64) is
	// encoded directly, element by element: elem is their kind, Invalid for other types.
	elem     reflect.Kind
	elemSize uintptr
	// A slice of flat elements keeps their copy in one array, reused while it is large
	// enough: flatCap is its length (0: none to reuse). hdr views it as a slice.
	flatCap int
	hdr     sliceHeader
}

const (
	// memoMaxSize is the largest field (its own memory, not what it refers to) a memo
	// keeps: past it comparing memory may cost more than an encode saves.
	memoMaxSize = 4 << 10
	// memoKeepSlack with listKeepRatio bounds what a memo keeps of what a value refers to:
	// at most listKeepRatio times its encoding plus memoKeepSlack. Past it the memo keeps
	// nothing for listBackoff snapshots. Long slices go through the list cache instead.
	memoKeepSlack = 4 << 10
	// memoCheapKeep is what a memo may copy of what a value refers to on every snapshot
	// that finds it changed. A larger value that changes memoMisses snapshots in a row
	// (a counter map, say) is not kept for listBackoff snapshots: its copy would cost
	// about what its encode costs, on every Sync, and never save one.
	memoCheapKeep = 1 << 10
	memoMisses    = 3
)

// newFieldMemos returns the memo of each field (nil for one without: a computed value, a
// type without a plan), or nil when no field has one.
func newFieldMemos(t reflect.Type, fields []boundField) []*fieldMemo {
	var out []*fieldMemo
	for i := range fields {
		fs := fields[i].spec
		if fs == nil {
			continue
		}
		if m := newFieldMemo(t, fs); m != nil {
			if out == nil {
				out = make([]*fieldMemo, len(fields))
			}
			out[i] = m
		}
	}
	return out
}

// newFieldMemo returns the memo of field fs of struct type t, nil if its type has no plan.
func newFieldMemo(t reflect.Type, fs *fieldSpec) *fieldMemo {
	pl := newElemPlan(fs.typ)
	if pl == nil || pl.size > memoMaxSize {
		return nil
	}
	m := &fieldMemo{plan: pl, kind: fs.typ.Kind()}
	for _, k := range fs.index { // embedded structs are values (collectFields refuses pointers)
		f := t.Field(k)
		m.off += f.Offset
		t = f.Type
	}
	if len(pl.refs) > 0 {
		m.kept = make([]keptRef, len(pl.refs))
	}
	if !m.oneRef() {
		m.copy = reflect.New(fs.typ).UnsafePointer()
	}
	if et := fs.typ; m.kind == reflect.Slice && et.Elem().Kind() != reflect.Uint8 {
		if _, ok := appendScalar(nil, et.Elem().Kind(), reflect.New(et.Elem()).UnsafePointer()); ok {
			m.elem, m.elemSize = et.Elem().Kind(), et.Elem().Size()
		}
	}
	return m
}

// oneRef reports whether the value is one slice, map or pointer: then what it refers to is
// all that its encoding depends on (a slice's capacity, or which array holds its elements,
// do not matter), and only that is compared.
func (m *fieldMemo) oneRef() bool {
	return m.kind == reflect.Slice || m.kind == reflect.Map || m.kind == reflect.Pointer
}

// snapshot returns the encoding of the field at p (the field in the registered struct):
// last itself when it encodes as last, else a slice the caller may keep.
func (m *fieldMemo) snapshot(p unsafe.Pointer, enc *fieldEncoder, last []byte) ([]byte, error) {
	if m.enc != nil && m.same(p) {
		m.miss = 0
		if last != nil && !reused(m.enc, last) && bytes.Equal(m.enc, last) {
			m.enc = last // the published slice: later compares stop at its identity
		}
		return m.enc, nil
	}
	m.miss++
	b, err := m.encode(p, enc)
	if err != nil {
		m.forget()
		return nil, err
	}
	if last != nil && bytes.Equal(b, last) {
		b = last
	} else {
		b = bytes.Clone(b)
	}
	m.keep(p, b)
	return b, nil
}

// same reports whether the value at p encodes as the kept one.
func (m *fieldMemo) same(p unsafe.Pointer) bool {
	switch {
	case m.kind == reflect.String:
		return *(*string)(p) == *(*string)(m.copy) // the text, not the header: strings are immutable
	case m.oneRef():
		return m.plan.refsEqual(p, m.kept)
	}
	return memEqual(p, m.copy, m.plan.size) && (m.kept == nil || m.plan.refsEqual(p, m.kept))
}

// encode encodes the value at p: numbers, booleans and strings directly, other values (and
// a NaN or an infinity, for encoding/json's error) with enc. The result is enc's buffer.
func (m *fieldMemo) encode(p unsafe.Pointer, enc *fieldEncoder) ([]byte, error) {
	var b []byte
	var ok bool
	if m.elem != reflect.Invalid {
		b, ok = m.appendSlice(enc.scratch[:0], p)
	} else {
		b, ok = appendScalar(enc.scratch[:0], m.kind, p)
	}
	if ok {
		if cap(b) <= maxScratch {
			enc.scratch = b[:0]
		}
		return b, nil
	}
	return enc.encode(reflect.NewAt(m.plan.typ, p).Interface())
}

// appendSlice appends the encoding of the slice of scalars at p, as encoding/json writes
// it: null for a nil slice, else its elements in brackets. ok is false when an element
// is not encoded directly (a NaN or an infinity).
func (m *fieldMemo) appendSlice(buf []byte, p unsafe.Pointer) (_ []byte, ok bool) {
	h := (*sliceHeader)(p)
	if h.data == nil {
		return append(buf, "null"...), true
	}
	buf = append(buf, '[')
	for i := range h.len {
		if i > 0 {
			buf = append(buf, ',')
		}
		if buf, ok = appendScalar(buf, m.elem, unsafe.Add(h.data, uintptr(i)*m.elemSize)); !ok {
			return buf, false
		}
	}
	return append(buf, ']'), true
}

// keepFlat keeps the elements of the slice of flat elements at p in the array kept for
// the previous value, when that is large enough, and reports the bytes kept; ok is false
// when it is not (nothing kept yet, a nil slice, a longer one).
func (m *fieldMemo) keepFlat(p unsafe.Pointer) (size int, ok bool) {
	h, k := (*sliceHeader)(p), &m.kept[0]
	if h.data == nil || k.ptr == nil || h.len > m.flatCap {
		return 0, false
	}
	t := m.plan.refs[0].typ
	m.hdr = sliceHeader{k.ptr, h.len, h.len}
	reflect.Copy(reflect.NewAt(t, unsafe.Pointer(&m.hdr)).Elem(), reflect.NewAt(t, p).Elem())
	m.hdr = sliceHeader{}
	k.n, k.size = h.len, h.len*int(t.Elem().Size())
	return k.size, true
}

// keep makes the value at p, encoded as b, the kept one.
func (m *fieldMemo) keep(p unsafe.Pointer, b []byte) {
	if m.skip > 0 {
		m.skip--
		m.forget()
		return
	}
	if m.miss >= memoMisses && m.size > memoCheapKeep {
		m.forget()
		m.skip, m.miss, m.size = listBackoff, 0, 0
		return
	}
	switch {
	case m.kind == reflect.String:
		*(*string)(m.copy) = *(*string)(p)
	case m.copy != nil:
		reflect.NewAt(m.plan.typ, m.copy).Elem().Set(reflect.NewAt(m.plan.typ, p).Elem())
	}
	if m.kept != nil {
		flat := m.kind == reflect.Slice && m.plan.refs[0].flat
		var reused bool
		if flat {
			m.size, reused = m.keepFlat(p)
		}
		if !reused {
			m.size = m.plan.keepRefs(p, m.kept)
			if m.flatCap = 0; flat && m.kept[0].ptr != nil {
				m.flatCap = m.kept[0].n
			}
		}
		if m.size > listKeepRatio*len(b)+memoKeepSlack {
			m.forget()
			m.skip, m.size = listBackoff, 0
			return
		}
	}
	m.enc = b
}

// forget drops the kept value and what it refers to.
func (m *fieldMemo) forget() {
	m.enc, m.flatCap = nil, 0
	clear(m.kept)
	if m.copy != nil && m.plan.typ.Size() > 0 {
		reflect.NewAt(m.plan.typ, m.copy).Elem().SetZero()
	}
}

// appendScalar appends the JSON encoding of the number, boolean or string of kind k at p,
// as encoding/json writes it (for a type without encoding methods); ok is false for any
// other kind, and for a float that is NaN or infinite.
func appendScalar(buf []byte, k reflect.Kind, p unsafe.Pointer) (_ []byte, ok bool) {
	switch k {
	case reflect.String:
		return appendJSONString(buf, *(*string)(p)), true
	case reflect.Bool:
		return strconv.AppendBool(buf, *(*bool)(p)), true
	case reflect.Int:
		return strconv.AppendInt(buf, int64(*(*int)(p)), 10), true
	case reflect.Int8:
		return strconv.AppendInt(buf, int64(*(*int8)(p)), 10), true
	case reflect.Int16:
		return strconv.AppendInt(buf, int64(*(*int16)(p)), 10), true
	case reflect.Int32:
		return strconv.AppendInt(buf, int64(*(*int32)(p)), 10), true
	case reflect.Int64:
		return strconv.AppendInt(buf, *(*int64)(p), 10), true
	case reflect.Uint:
		return strconv.AppendUint(buf, uint64(*(*uint)(p)), 10), true
	case reflect.Uint8:
		return strconv.AppendUint(buf, uint64(*(*uint8)(p)), 10), true
	case reflect.Uint16:
		return strconv.AppendUint(buf, uint64(*(*uint16)(p)), 10), true
	case reflect.Uint32:
		return strconv.AppendUint(buf, uint64(*(*uint32)(p)), 10), true
	case reflect.Uint64:
		return strconv.AppendUint(buf, *(*uint64)(p), 10), true
	case reflect.Uintptr:
		return strconv.AppendUint(buf, uint64(*(*uintptr)(p)), 10), true
	case reflect.Float32:
		return appendJSONFloat(buf, float64(*(*float32)(p)), 32)
	case reflect.Float64:
		return appendJSONFloat(buf, *(*float64)(p), 64)
	}
	return buf, false
}
