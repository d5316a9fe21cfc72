package wssync

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
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
	at  string // its JSON Pointer token: the index or the map key
	enc []byte // its encoding
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
func (r *ownerRule) others(v reflect.Value, user string) ([]ownedElem, error) {
	var out []ownedElem
	add := func(at string, elem reflect.Value) error {
		if user != "" && r.owner(elem) == user {
			return nil
		}
		enc, err := json.Marshal(elem.Interface())
		if err != nil {
			return err
		}
		out = append(out, ownedElem{at: at, enc: enc})
		return nil
	}
	if r.isMap {
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			if err := add(k.String(), v.MapIndex(k)); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	for i := range v.Len() {
		if err := add(fmt.Sprint(i), v.Index(i)); err != nil {
			return nil, err
		}
	}
	return out, nil
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
	for k := 0; k < max(len(before), len(after)); k++ {
		switch {
		case k >= len(after):
			return r.refuse(pointer, before[k].at, "removes")
		case k >= len(before):
			return r.refuse(pointer, after[k].at, "adds")
		case before[k].at != after[k].at && r.isMap:
			// keys are sorted: the smaller key is the one missing on the other side
			if before[k].at < after[k].at {
				return r.refuse(pointer, before[k].at, "removes")
			}
			return r.refuse(pointer, after[k].at, "adds")
		case !bytes.Equal(before[k].enc, after[k].enc):
			// Point at the element as the writer saw it when it is gone (changed or
			// removed), else at the one that took its place (added or moved there).
			if !slices.ContainsFunc(after[k:], func(e ownedElem) bool { return bytes.Equal(e.enc, before[k].enc) }) {
				return r.refuse(pointer, before[k].at, "changes or removes")
			}
			return r.refuse(pointer, after[k].at, "adds or moves")
		}
	}
	return nil
}

func (r *ownerRule) refuse(pointer, at, what string) *Error {
	return errorf(CodeReadOnly, pointer+"/"+patch.EscapeToken(at),
		"the write %s an element owned by another user: only the user its %q names may write it", what, r.member)
}

// checkWriteRules applies the fields' role and owner rules to changes, made by user with
// roles. The caller holds the state lock.
func (o *object) checkWriteRules(id Identity, changes map[int]reflect.Value) *Error {
	for _, i := range sortedKeys(changes) {
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

// sortedKeys returns m's keys in order, so the first refusal of a write is deterministic.
func sortedKeys[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
