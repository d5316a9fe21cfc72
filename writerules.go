package wssync

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/wssync/wssync/internal/patch"
)

// Declarative write rules, from the `sync` tag, checked on every client write against the
// writer's identity (the session that sent the frame):
//
//	Title string `sync:"title,write=admin|editor"` // only writers with one of the roles
//	Notes []Note `sync:"notes,write,owner=author"` // each note only by the user in its "author"
//
// A role rule refuses a write that changes the field, by a writer with none of the roles,
// with CodeReadOnly and the field's path. An owner rule is checked on the field's value
// before and after the write, not on the ops, so _SET, a whole-field replace and every
// _PATCH op (add, remove, replace, move, copy, at any depth) obey the same rule: the
// elements the writer does not own (their owner member is not the writer's User) must come
// out byte-for-byte unchanged and, in a list, in the same relative order. So the writer
// may add elements that name itself as owner, and change, reorder or remove its own;
// adding an element that names another owner, changing, removing or reordering another's,
// or changing the owner of one, is refused with CodeReadOnly and the element's path. A
// writer without a User owns nothing; an element whose owner member is empty belongs to
// nobody, so no client may change it. The server's own Update is not checked.

// ownerRule is a compiled `owner=member` option: where each element of a list, array or
// map field holds the user id of its owner.
type ownerRule struct {
	member string // the element member's JSON name, for messages
	index  []int  // the member's index path in the element struct
	isMap  bool   // elements keyed by a map key rather than by position
}

// newOwnerRule checks that t (the field's type) is a slice, array or string-keyed map of
// structs (or pointers to structs) with a string member named member, as encoding/json
// names it.
func newOwnerRule(t reflect.Type, member string) (*ownerRule, error) {
	r := &ownerRule{member: member}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("owner= needs a map with string keys, not %s", t)
		}
		r.isMap = true
	default:
		return nil, fmt.Errorf("owner= applies to a slice, array or map of structs, not %s", t)
	}
	elem := indirect(t.Elem())
	if elem.Kind() != reflect.Struct {
		return nil, fmt.Errorf("owner= needs struct elements, not %s", t.Elem())
	}
	for _, sf := range reflect.VisibleFields(elem) {
		if !sf.IsExported() || sf.Anonymous && sf.Tag.Get("json") == "" {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		if name != member {
			continue
		}
		if sf.Type.Kind() != reflect.String {
			return nil, fmt.Errorf("owner member %q of %s must be a string (the owner's user id), not %s", member, elem, sf.Type)
		}
		for i := range sf.Index[:len(sf.Index)-1] {
			if elem.FieldByIndex(sf.Index[:i+1]).Type.Kind() == reflect.Pointer {
				return nil, fmt.Errorf("owner member %q of %s is inside an embedded pointer", member, elem)
			}
		}
		r.index = sf.Index
		return r, nil
	}
	return nil, fmt.Errorf("%s has no member %q for owner=", elem, member)
}

// ownedElem is one element of an owned field that the writer does not own.
type ownedElem struct {
	index    int    // its index in a list
	key      string // its key in a map
	from, to int    // its encoding in the others' buffer
}

// owned is the elements of a field a writer does not own, encoded one after another in
// buf, so listing them costs no allocation per element.
type owned struct {
	elems []ownedElem
	buf   bytes.Buffer
}

func (w *owned) enc(k int) []byte { return w.buf.Bytes()[w.elems[k].from:w.elems[k].to] }

// token is the JSON Pointer token of element k: its index or its key.
func (w *owned) token(k int, isMap bool) string {
	if isMap {
		return patch.EscapeToken(w.elems[k].key)
	}
	return strconv.Itoa(w.elems[k].index)
}

// owner returns the user id an element names ("" for a nil pointer).
func (r *ownerRule) owner(elem reflect.Value) string {
	for elem.Kind() == reflect.Pointer {
		if elem.IsNil() {
			return ""
		}
		elem = elem.Elem()
	}
	return elem.FieldByIndex(r.index).String()
}

// others lists the elements of v not owned by user (all of them when user is ""), in list
// order, or, for a map, in key order.
func (r *ownerRule) others(v reflect.Value, user string) (*owned, error) {
	w := &owned{}
	enc := json.NewEncoder(&w.buf)
	enc.SetEscapeHTML(false)
	add := func(e ownedElem, elem reflect.Value) error {
		if user != "" && r.owner(elem) == user {
			return nil
		}
		if elem.CanAddr() {
			elem = elem.Addr() // as the element encodes inside the published state
		}
		e.from = w.buf.Len()
		if err := enc.Encode(elem.Interface()); err != nil {
			return err
		}
		e.to = w.buf.Len()
		w.elems = append(w.elems, e)
		return nil
	}
	if r.isMap {
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			if err := add(ownedElem{key: k.String()}, v.MapIndex(k)); err != nil {
				return nil, err
			}
		}
		return w, nil
	}
	for i := range v.Len() {
		if err := add(ownedElem{index: i}, v.Index(i)); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// check refuses the change of the field at pointer from cur to next when it changes,
// removes, reorders or adds an element user does not own.
func (r *ownerRule) check(pointer string, cur, next reflect.Value, user string) *Error {
	before, err := r.others(cur, user)
	if err != nil {
		return errorf(CodeRejected, pointer, "the current value cannot be encoded: %v", err)
	}
	after, err := r.others(next, user)
	if err != nil {
		return errorf(CodeRejected, pointer, "the written value cannot be encoded: %v", err)
	}
	nb, na := len(before.elems), len(after.elems)
	for k := 0; k < max(nb, na); k++ {
		switch {
		case k >= na:
			return r.refuse(pointer, before.token(k, r.isMap), "removes")
		case k >= nb:
			return r.refuse(pointer, after.token(k, r.isMap), "adds")
		case r.isMap && before.elems[k].key != after.elems[k].key:
			// keys are sorted: the smaller key is the one missing on the other side
			if before.elems[k].key < after.elems[k].key {
				return r.refuse(pointer, before.token(k, true), "removes")
			}
			return r.refuse(pointer, after.token(k, true), "adds")
		case !bytes.Equal(before.enc(k), after.enc(k)):
			// Point at the element as the writer saw it when it is gone (changed or
			// removed), else at the one that took its place (added or moved there).
			gone := true
			for j := k; j < na && gone; j++ {
				gone = !bytes.Equal(after.enc(j), before.enc(k))
			}
			if gone {
				return r.refuse(pointer, before.token(k, r.isMap), "changes or removes")
			}
			return r.refuse(pointer, after.token(k, r.isMap), "adds or moves")
		}
	}
	return nil
}

func (r *ownerRule) refuse(pointer, token, what string) *Error {
	return errorf(CodeReadOnly, pointer+"/"+token,
		"the write %s an element owned by another user: only the user its %q names may write it", what, r.member)
}

// checkWriteRules applies the fields' role and owner rules to changes, made by user with
// roles. The caller holds the state lock.
func (o *object) checkWriteRules(id Identity, changes map[int]reflect.Value) *Error {
	for _, i := range slices.Sorted(maps.Keys(changes)) {
		f := &o.fields[i]
		if f.spec == nil {
			continue
		}
		if len(f.spec.roles) > 0 && !slices.ContainsFunc(f.spec.roles, id.HasRole) {
			return errorf(CodeReadOnly, f.pointer, "field %q is writable only by the roles %s", f.wire, strings.Join(f.spec.roles, ", "))
		}
		if r := f.spec.owner; r != nil {
			if err := r.check(f.pointer, o.val.FieldByIndex(f.spec.index), changes[i], id.User); err != nil {
				return err
			}
		}
	}
	return nil
}
