package wssync

import (
	"bytes"
	"encoding/json"
	"fmt"
	"iter"
	"reflect"
	"slices"
	"unsafe"
)

// List is a slice that records its own changes, for a synced field of many elements: Sync
// then re-encodes only the elements changed since the last Sync and sends one op per
// change, without comparing the list with a copy. A plain slice field gets the same patch
// through the list cache (docs/architecture.md, "The list cache"), which compares every
// element with a kept copy on each Sync; a List skips that compare and keeps no copy, which
// matters most for elements that hold slices, maps or pointers.
//
// A List encodes as a JSON array of its elements ([] when empty, never null) and decodes
// from one (null decodes as empty; unknown members of elements are errors), so a client
// sees it as any other array, and client writes to it work as to a slice field's, but
// for null, which a client write may not put in a List (its schema says array). To
// `validate` tags it is the slice of its elements, nil when empty: `required` asks for at
// least one element and `omitempty` skips an empty List. Its zero value is an empty list
// ready to use.
//
// Change the elements only through List's methods (Set, Update, Append, Insert, Delete,
// Reset): a change made through what At returns (an element's slice or map, shared with
// the list) is not recorded, and a Sync would miss it. Like any field, a List is changed
// under the object's lock (in Synced.Update, or between Synced.Lock and Unlock) and read
// under it.
//
// A copy of a List shares its elements until the copy is changed: its first change copies
// them, so that setting, adding or removing elements of a copy never changes the list it
// came from (a change of that list shows in a copy that has not changed yet, as with
// slices). The copy is of the elements, not of what they refer to: where copies exist,
// change an element's slices and maps by giving it new ones in Update, not in place.
// Assigning a List (a copy, another List, one decoded from JSON) to the field is seen as a
// change of the whole list.
//
// Sync encodes only the elements that changed: an element type's MarshalJSON runs when its
// element is set, added or updated, or when the list is encoded whole, and its error is
// Sync's then; an element whose MarshalJSON would now give other bytes without a recorded
// change (it reads a clock, a global) keeps its old encoding.
type List[T any] struct {
	items []T
	h     *listHistory // shared by copies; nil for the zero List until its first change
	gen   uint64       // h.gen as of this value's last change: a copy older than h's head differs
}

// listHistory is a List's latest changes. Copies of a List share it, so that a copy put
// back after the List changed is seen to be behind (its gen is not h.gen).
type listHistory struct {
	self unsafe.Pointer // the List whose changes these are
	gen  uint64         // changes recorded
	log  [listLogSize]listChange
}

// listLogSize is how many of its latest changes a List remembers. A Sync more changes
// behind re-encodes the whole list and diffs it.
const listLogSize = 32

// listChange is one recorded change of a List: element at set, n elements inserted at at,
// elements [at, at+n) deleted, or the whole list replaced.
type listChange struct {
	kind byte // 's', 'i', 'd' or 'r'
	at   int
	n    int
}

// NewList returns a List of items. The list keeps items until its first change, which
// copies them: the caller should not change items afterwards.
func NewList[T any](items ...T) List[T] {
	// Clipped, so that no append of the caller's writes into what the list holds; a history
	// without changes, which a Sync can follow.
	return List[T]{items: slices.Clip(items), h: &listHistory{}}
}

// Len returns the number of elements.
func (l *List[T]) Len() int { return len(l.items) }

// At returns element i; it panics if i is out of range, as indexing a slice does.
func (l *List[T]) At(i int) T { return l.items[i] }

// All returns an iterator over the indexes and elements, in order.
func (l *List[T]) All() iter.Seq2[int, T] { return slices.All(l.items) }

// Values returns a copy of the elements: changing it does not change the list.
func (l *List[T]) Values() []T { return slices.Clone(l.items) }

// Set replaces element i with v; it panics if i is out of range.
func (l *List[T]) Set(i int, v T) {
	_ = l.items[i] // the panic before anything is recorded
	l.own()
	l.items[i] = v
	l.record('s', i, 1)
}

// Update calls f with a pointer to element i, to change it in place; it panics if i is out
// of range. The element is recorded as changed whatever f does; f must not keep the
// pointer nor call the list's methods.
func (l *List[T]) Update(i int, f func(*T)) {
	_ = l.items[i]
	l.own()
	l.record('s', i, 1) // before f, which may panic half-way
	f(&l.items[i])
}

// Append adds vs at the end.
func (l *List[T]) Append(vs ...T) {
	if len(vs) == 0 {
		return
	}
	l.own()
	at := len(l.items)
	l.items = append(l.items, vs...)
	l.record('i', at, len(vs))
}

// Insert inserts vs before element i (at the end when i is Len()); it panics if i is out
// of range, as slices.Insert does.
func (l *List[T]) Insert(i int, vs ...T) {
	if i < 0 || i > len(l.items) {
		panic(fmt.Sprintf("wssync: List.Insert: index %d out of range [0:%d]", i, len(l.items)))
	}
	if len(vs) == 0 {
		return
	}
	l.own()
	l.items = slices.Insert(l.items, i, vs...)
	l.record('i', i, len(vs))
}

// Delete removes elements [i, j); it panics if the range is invalid, as slices.Delete does.
func (l *List[T]) Delete(i, j int) {
	if i < 0 || j > len(l.items) || i > j {
		panic(fmt.Sprintf("wssync: List.Delete: range [%d:%d] out of range [0:%d]", i, j, len(l.items)))
	}
	if i == j {
		return
	}
	l.own()
	l.items = slices.Delete(l.items, i, j) // zeroes the vacated tail
	l.record('d', i, j-i)
}

// Reset replaces every element with items, which the list keeps (the caller should not
// change them afterwards).
func (l *List[T]) Reset(items ...T) {
	if l.h == nil || l.h.self != unsafe.Pointer(l) || l.gen != l.h.gen {
		l.h, l.gen = &listHistory{self: unsafe.Pointer(l)}, 0 // no elements to copy
	}
	l.items = slices.Clip(items) // so that the caller's appends do not write into the list
	l.record('r', 0, len(items))
}

// MarshalJSON encodes the list as a JSON array, [] when it is empty.
func (l List[T]) MarshalJSON() ([]byte, error) {
	if len(l.items) == 0 {
		return []byte("[]"), nil
	}
	if reflect.TypeFor[T]().Kind() == reflect.Uint8 {
		return marshalEach(l.items) // encoding/json would write a []byte-like slice as base64
	}
	return json.Marshal(l.items)
}

// marshalEach encodes items as a JSON array element by element.
func marshalEach[T any](items []T) ([]byte, error) {
	b := []byte{'['}
	for i := range items {
		e, err := json.Marshal(&items[i])
		if err != nil {
			return nil, err
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e...)
	}
	return append(b, ']'), nil
}

// UnmarshalJSON replaces the elements with those of the JSON array b (null: none). It
// decodes strictly: an object member an element's struct type does not have is an error,
// as it is for every client write and action params, which decode through it.
func (l *List[T]) UnmarshalJSON(b []byte) error {
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) > 0 && t[0] != '[' && t[0] != 'n' {
		// encoding/json would take a base64 string for a []byte-like slice: not a List's encoding
		return &json.UnmarshalTypeError{Value: "non-array", Type: reflect.TypeFor[List[T]]()}
	}
	var items []T
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields() // as client writes and params decode: see the godoc
	if err := dec.Decode(&items); err != nil {
		return err
	}
	l.Reset(items...)
	return nil
}

// own makes the list's history its own before a change: a copy of another List starts a
// history of its own, on elements of its own, so that it never changes the original's
// (whose Sync would not know).
func (l *List[T]) own() {
	if l.h != nil && l.h.self == unsafe.Pointer(l) && l.gen == l.h.gen {
		return
	}
	// The elements may be shared with the List this one was copied from (or NewList's
	// caller), their spare capacity too: a copy of its own (an empty one has no capacity).
	l.items = slices.Clone(l.items)
	l.h, l.gen = &listHistory{self: unsafe.Pointer(l)}, 0
}

// record appends a change to the history; the caller called own.
func (l *List[T]) record(kind byte, at, n int) {
	h := l.h
	h.gen++
	h.log[h.gen%listLogSize] = listChange{kind: kind, at: at, n: n}
	l.gen = h.gen
}

// recordedList is what the field cache of a List (listlog.go) reads of it, whatever T is.
type recordedList interface {
	history() (h *listHistory, head bool, gen uint64, n int)
	change(gen uint64) listChange
	encodeElem(enc *fieldEncoder, i int) ([]byte, error)
	encodeAll(enc *fieldEncoder) ([]byte, error)
	listElem() reflect.Type
	claim()
}

// history returns the List's history, whether this value is its latest (not a copy put
// back after the List changed), its gen and its length.
//
// A history that another List started (this one is a copy, at another address) is not
// followed, and its gen is not read: that List may be changing it under another object's
// lock. A history of NewList's (self nil) is never written, so it is read freely.
func (l *List[T]) history() (*listHistory, bool, uint64, int) {
	if l.h == nil {
		return nil, false, 0, len(l.items)
	}
	if l.h.self != nil && l.h.self != unsafe.Pointer(l) {
		return l.h, false, l.gen, len(l.items)
	}
	return l.h, l.gen == l.h.gen, l.gen, len(l.items)
}

func (l *List[T]) change(gen uint64) listChange { return l.h.log[gen%listLogSize] }

func (l *List[T]) encodeElem(enc *fieldEncoder, i int) ([]byte, error) {
	return enc.encode(&l.items[i])
}

// encodeAll encodes the list whole as MarshalJSON does, without encoding/json's check and
// copy of what a MarshalJSON returns (a third of the cost).
func (l *List[T]) encodeAll(enc *fieldEncoder) ([]byte, error) {
	switch {
	case len(l.items) == 0:
		return []byte("[]"), nil
	case reflect.TypeFor[T]().Kind() == reflect.Uint8:
		return marshalEach(l.items)
	}
	return enc.encode(&l.items)
}

func (l *List[T]) listElem() reflect.Type { return reflect.TypeFor[T]() }

// claim gives a List just decoded by the library, and assigned to a field, a history of
// its own at that address: it was decoded elsewhere (its history names that place), so
// without it every Sync would encode it whole until its first change. Its elements are
// fresh from the decoder, shared with no other List. The caller holds the state lock.
func (l *List[T]) claim() { l.h, l.gen = &listHistory{self: unsafe.Pointer(l)}, 0 }

// claimDecoded claims the List held by the field f (addressable), if it is one.
func claimDecoded(f reflect.Value) {
	if l, ok := f.Addr().Interface().(recordedList); ok {
		l.claim()
	}
}

// listValues returns the elements, for the validator (validation.go).
// An empty List is a nil slice to the validator, so that `required` asks for an element
// and `omitempty` skips an empty List: it has no null of its own.
func (l List[T]) listValues() any {
	if len(l.items) == 0 {
		return []T(nil)
	}
	return l.items
}

// listElemType returns the element type of List type t.
func listElemType(t reflect.Type) reflect.Type {
	return reflect.New(t).Interface().(recordedList).listElem()
}

var recordedListType = reflect.TypeFor[recordedList]()
