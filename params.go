package wssync

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/wssync/wssync/internal/patch"
)

// Validator is implemented by action, task and event params that check themselves after
// decoding. A non-nil error refuses the call with CodeBadParams; the handler is not called.
type Validator interface {
	Validate() error
}

// paramField is one field of a params struct with its wire name fixed.
type paramField struct {
	spec     *fieldSpec
	wire     string
	required bool
	strict   bool // the type holds a struct: decode refusing unknown members
	scalar   bool // a bool or number kind that decodeScalar may decode (scalarParam)
}

// paramDecoder decodes `{"type": NAME, ...params}` objects into a struct type with type
// checks, unknown-member and required-member checks. Built once per registration.
type paramDecoder struct {
	typ      reflect.Type
	fields   []paramField
	byWire   map[string]int
	isStruct bool // P is a struct; otherwise data decodes as plain JSON
}

// newParamDecoder prepares decoding into P's type t, naming untagged fields with naming.
// A field is required unless its type is a pointer, slice, map or interface, or its json
// tag says omitempty or omitzero; a type with its own UnmarshalJSON (an enum, time.Time)
// is required like any other.
func newParamDecoder(t reflect.Type, naming func(string) string) (*paramDecoder, error) {
	d := &paramDecoder{typ: t, byWire: map[string]int{}}
	if t.Kind() != reflect.Struct {
		if err := checkJSONType(t, map[reflect.Type]bool{}); err != nil {
			return nil, fmt.Errorf("%w: params type %s: %v", ErrUnsupportedType, t, err)
		}
		return d, nil
	}
	d.isStruct = true
	spec, err := typeSpecOf(t)
	if err != nil {
		return nil, err
	}
	for i := range spec.fields {
		fs := &spec.fields[i]
		name := fs.tagName
		if name == "" {
			name = naming(fs.goName)
		}
		if name == "type" {
			return nil, fmt.Errorf("%w: params type %s: field %s takes the wire name \"type\", which names the action", ErrDuplicateName, t, fs.goName)
		}
		if _, dup := d.byWire[name]; dup {
			return nil, fmt.Errorf("%w: params type %s: %q", ErrDuplicateName, t, name)
		}
		d.byWire[name] = len(d.fields)
		d.fields = append(d.fields, paramField{spec: fs, wire: name, required: !fs.optional && !nilable(fs.typ), strict: holdsStruct(fs.typ, map[reflect.Type]bool{}), scalar: scalarParam(fs.typ)})
	}
	return d, nil
}

// rawMember is one member of a params object, its value undecoded.
type rawMember struct {
	key   string
	value []byte
}

// readMembers lists the members of a JSON object, skipping skip.
func readMembers(data []byte, skip string) ([]rawMember, []byte, error) {
	var members []rawMember
	var skipped []byte
	err := patch.ObjectMembers(data, func(key string, value []byte) error {
		if key == skip {
			skipped = value
		} else {
			members = append(members, rawMember{key, value})
		}
		return nil
	})
	return members, skipped, err
}

// parseCall splits the data of an action or task frame, {"type": NAME, ...params}, into
// the name and the params' members.
func parseCall(data json.RawMessage, event string) (string, []rawMember, *Error) {
	members, typ, err := readMembers(data, "type")
	name, ok := patch.String(typ)
	if err != nil || !ok || name == "" {
		return "", nil, errorf(CodeBadData, "", "%s data must be an object with a string \"type\" naming the call", event)
	}
	return name, members, nil
}

// decodeObject decodes a params object given as raw JSON (custom events).
func (d *paramDecoder) decodeObject(data json.RawMessage, bin []byte) (reflect.Value, *Error) {
	var members []rawMember
	if len(data) > 0 {
		var err error
		if members, _, err = readMembers(data, ""); err != nil {
			return reflect.New(d.typ), errorf(CodeBadParams, "", "params must be a JSON object")
		}
	}
	return d.decodeMembers(members, bin)
}

// decodeMembers decodes params members into a new *P. bin, when not nil, is the payload
// of a binary frame: it fills the []byte param named "data", as ws-sync merges
// {"data": bytes, ...metadata}.
func (d *paramDecoder) decodeMembers(members []rawMember, bin []byte) (reflect.Value, *Error) {
	v := reflect.New(d.typ)
	seen := make([]bool, len(d.fields))
	for _, m := range members {
		name, raw := m.key, json.RawMessage(m.value)
		i, ok := d.byWire[name]
		if !ok {
			return v, errorf(CodeBadParams, "/"+patch.EscapeToken(name), "unknown param %q", name)
		}
		seen[i] = true
		f := &d.fields[i]
		if e := nullAt(raw, f.spec.typ, "/"+patch.EscapeToken(f.wire)); e != nil {
			e.Code = CodeBadParams
			return v, e
		}
		dst := v.Elem().FieldByIndex(f.spec.index)
		dst.SetZero() // a repeated member replaces the earlier one
		if f.scalar && decodeScalar(raw, dst) {
			continue
		}
		if !f.strict && !bytes.Equal(raw, []byte("null")) {
			if err := json.Unmarshal(raw, dst.Addr().Interface()); err != nil {
				e := decodeError("/"+patch.EscapeToken(f.wire), err)
				e.Code = CodeBadParams
				return v, e
			}
			continue
		}
		if err := decodeStrict(raw, dst, "/"+patch.EscapeToken(f.wire)); err != nil {
			return v, err
		}
	}
	if bin != nil {
		i, ok := d.byWire["data"]
		if !ok || d.fields[i].spec.typ != reflect.TypeFor[[]byte]() {
			return v, errorf(CodeBadParams, "/data", "this handler takes no binary data (it needs a []byte param named \"data\")")
		}
		v.Elem().FieldByIndex(d.fields[i].spec.index).SetBytes(bin)
		seen[i] = true
	}
	for i, f := range d.fields {
		if f.required && !seen[i] {
			return v, errorf(CodeBadParams, "/"+patch.EscapeToken(f.wire), "missing required param %q", f.wire)
		}
	}
	if e := d.checkTags(v); e != nil {
		return v, e
	}
	return v, validateParams(v)
}

// wireAt names the param at Go index path index.
func (d *paramDecoder) wireAt(index []int) string {
	for i := range d.fields {
		if slices.Equal(d.fields[i].spec.index, index) {
			return d.fields[i].wire
		}
	}
	return ""
}

// checkTags runs the `validate` tags of the params, if their type has any. v is a pointer.
func (d *paramDecoder) checkTags(v reflect.Value) *Error {
	if d.typ.Kind() != reflect.Struct || !hasValidateTags(d.typ) {
		return nil
	}
	if path, msg, ok := checkTags(v, nil, d.wireAt); !ok {
		return errorf(CodeBadParams, path, "%s", msg)
	}
	return nil
}

// decodeValue decodes data as a whole (custom events with non-struct payloads).
func (d *paramDecoder) decodeValue(data json.RawMessage) (reflect.Value, *Error) {
	v := reflect.New(d.typ)
	if data == nil {
		data = json.RawMessage("null")
	}
	if e := nullAt(data, d.typ, ""); e != nil {
		e.Code = CodeBadParams
		return v, e
	}
	if err := decodeStrict(data, v.Elem(), ""); err != nil {
		return v, err
	}
	return v, validateParams(v)
}

// holdsStruct reports whether t contains a struct type, where unknown members matter.
func holdsStruct(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return false
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Struct:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		return holdsStruct(t.Elem(), seen)
	}
	return false
}

// decodeStrict decodes raw into dst with type checks and no unknown members.
func decodeStrict(raw json.RawMessage, dst reflect.Value, path string) *Error {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		if !nullable(dst.Type()) {
			return errorf(CodeBadParams, path, "must not be null")
		}
		dst.SetZero()
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst.Addr().Interface()); err != nil {
		e := decodeError(path, err)
		e.Code = CodeBadParams
		return e
	}
	return nil
}

// validateParams runs the params' Validate method, if any. v is a pointer.
func validateParams(v reflect.Value) *Error {
	val, ok := v.Interface().(Validator)
	if !ok {
		if val, ok = v.Elem().Interface().(Validator); !ok {
			return nil
		}
	}
	if err := val.Validate(); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			return errorf(CodeBadParams, fe.Path, "%s", fe.Message)
		}
		return errorf(CodeBadParams, "", "%v", err)
	}
	return nil
}
