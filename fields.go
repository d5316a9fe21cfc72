package wssync

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// fieldSpec is one synced field of a struct type, as its tags declare it. The wire name is
// decided per registration (the naming rule may differ), so only explicit names live here.
type fieldSpec struct {
	index    []int        // path for reflect.Value.FieldByIndex (embedded structs flatten)
	goName   string       // Go field name, input of the naming rule
	tagName  string       // name from the sync or json tag; "" means "apply the naming rule"
	writable bool         // `sync:",write"`: clients may change it
	roles    []string     // `sync:",write=a|b"`: only writers with one of these roles may change it
	owner    *ownerRule   // `sync:",write,owner=m"`: each element only by the user its member m names
	optional bool         // `json:",omitempty"` or `json:",omitzero"`: a param that may be left out
	typ      reflect.Type // the field's type, for decoding client writes
}

// typeSpec is the parsed tag metadata of one struct type.
type typeSpec struct {
	fields []fieldSpec
}

// specCache holds one *typeSpec (or error) per reflect.Type: tags are parsed once per type.
var specCache sync.Map // reflect.Type -> specResult

type specResult struct {
	spec *typeSpec
	err  error
}

// typeSpecOf returns the cached field metadata of struct type t.
func typeSpecOf(t reflect.Type) (*typeSpec, error) {
	if r, ok := specCache.Load(t); ok {
		res := r.(specResult)
		return res.spec, res.err
	}
	spec := &typeSpec{}
	err := collectFields(t, nil, spec, map[reflect.Type]bool{t: true})
	if err != nil {
		spec = nil
	}
	specCache.Store(t, specResult{spec, err})
	return spec, err
}

// collectFields walks t's exported fields. Embedded structs without a name of their own are
// flattened, as encoding/json does.
func collectFields(t reflect.Type, index []int, spec *typeSpec, embedding map[reflect.Type]bool) error {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		idx := append(append([]int(nil), index...), i)
		tag, hasSync := f.Tag.Lookup("sync")
		var name string
		var opts syncTagOptions
		if hasSync {
			var err error
			if name, opts, err = parseSyncTag(t, f, tag); err != nil {
				return err
			}
			if name == "-" {
				continue
			}
		} else if jt, ok := f.Tag.Lookup("json"); ok {
			if jt == "-" {
				continue
			}
			name, _, _ = strings.Cut(jt, ",")
		}
		jsonOpts := ","
		if jt, ok := f.Tag.Lookup("json"); ok {
			_, o, _ := strings.Cut(jt, ",")
			jsonOpts += o + ","
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				return fmt.Errorf("%w: %s.%s: embedded pointer fields are not supported; embed the struct value", ErrUnsupportedType, t, f.Name)
			}
			if ft.Kind() == reflect.Struct {
				if embedding[ft] {
					continue
				}
				embedding[ft] = true
				if err := collectFields(ft, idx, spec, embedding); err != nil {
					return err
				}
				continue
			}
		}
		if !f.IsExported() {
			if hasSync {
				return fmt.Errorf("%w: %s.%s: unexported fields cannot be synced", ErrBadTag, t, f.Name)
			}
			continue
		}
		if err := checkJSONType(f.Type, map[reflect.Type]bool{}); err != nil {
			return fmt.Errorf("%w: %s.%s: %v", ErrUnsupportedType, t, f.Name, err)
		}
		var owner *ownerRule
		if opts.owner != "" {
			var err error
			if owner, err = newOwnerRule(f.Type, opts.owner); err != nil {
				return fmt.Errorf("%w: %s.%s: `sync:%q`: %v", ErrBadTag, t, f.Name, tag, err)
			}
		}
		spec.fields = append(spec.fields, fieldSpec{
			index:    idx,
			goName:   f.Name,
			tagName:  name,
			writable: opts.write,
			roles:    opts.roles,
			owner:    owner,
			optional: strings.Contains(jsonOpts, ",omitempty,") || strings.Contains(jsonOpts, ",omitzero,"),
			typ:      f.Type,
		})
	}
	return nil
}

// syncTagOptions are the options of a `sync` tag after its name.
type syncTagOptions struct {
	write bool     // "write", or "write=roles"
	roles []string // "write=admin|editor": the roles that may write; nil: any writer
	owner string   // "owner=member": the element member that names each element's owner
}

// parseSyncTag checks and splits `sync:"name,opt,..."`. The options are "write" (clients
// may change the field), "write=r1|r2" (only writers with one of those roles may), and
// "owner=member" (with write: each element of the list or map may be changed only by the
// user its member names). Each option appears at most once.
func parseSyncTag(t reflect.Type, f reflect.StructField, raw string) (string, syncTagOptions, error) {
	var opts syncTagOptions
	bad := func(format string, args ...any) (string, syncTagOptions, error) {
		return "", syncTagOptions{}, fmt.Errorf("%w: %s.%s: `sync:%q`: %s", ErrBadTag, t, f.Name, raw, fmt.Sprintf(format, args...))
	}
	parts := strings.Split(raw, ",")
	name := parts[0]
	if name == "-" && len(parts) > 1 {
		return bad("\"-\" takes no options")
	}
	if name != "" && name != "-" && !validWireName(name) {
		return bad("invalid name %q", name)
	}
	seen := make(map[string]bool)
	for _, opt := range parts[1:] {
		key, val, hasVal := strings.Cut(opt, "=")
		if seen[key] {
			return bad("option %q repeated", key)
		}
		seen[key] = true
		switch {
		case key == "write" && !hasVal:
			opts.write = true
		case key == "write":
			opts.write = true
			for _, role := range strings.Split(val, "|") {
				if role == "" || !validWireName(role) {
					return bad("write= needs role names separated by |, got %q", val)
				}
				opts.roles = append(opts.roles, role)
			}
		case key == "owner" && hasVal:
			if !validWireName(val) {
				return bad("owner= needs the name of the element member that holds the owner's user id")
			}
			opts.owner = val
		default:
			return bad("unknown option %q (known: write, write=role|role, owner=member)", opt)
		}
	}
	if opts.owner != "" && !opts.write {
		return bad("owner= applies to a writable field: add write")
	}
	return name, opts, nil
}

// validWireName accepts any non-empty valid UTF-8 name without control characters; JSON
// Pointer escaping takes care of '/' and '~'.
func validWireName(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

var (
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// checkJSONType reports types encoding/json cannot marshal, found anywhere inside t.
func checkJSONType(t reflect.Type, seen map[reflect.Type]bool) error {
	if seen[t] {
		return nil
	}
	seen[t] = true
	if t.Implements(jsonMarshalerType) || reflect.PointerTo(t).Implements(jsonMarshalerType) {
		return nil
	}
	switch t.Kind() {
	case reflect.Chan, reflect.Func, reflect.Complex64, reflect.Complex128, reflect.UnsafePointer:
		return fmt.Errorf("type %s cannot be encoded as JSON", t)
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return checkJSONType(t.Elem(), seen)
	case reflect.Map:
		k := t.Key()
		switch {
		case k.Kind() == reflect.String,
			k.Kind() >= reflect.Int && k.Kind() <= reflect.Uintptr,
			k.Implements(textMarshalerType) || reflect.PointerTo(k).Implements(textMarshalerType):
		default:
			return fmt.Errorf("map key type %s cannot be encoded as JSON", k)
		}
		return checkJSONType(t.Elem(), seen)
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() && !f.Anonymous {
				continue
			}
			if f.Tag.Get("json") == "-" {
				continue
			}
			if err := checkJSONType(f.Type, seen); err != nil {
				return err
			}
		}
	}
	return nil
}

// lowerCamel is the default naming rule for untagged fields: "NoteCount" → "noteCount",
// "ID" → "id", "URLPath" → "urlPath".
func lowerCamel(goName string) string {
	runes := []rune(goName)
	n := 0
	for n < len(runes) && unicode.IsUpper(runes[n]) {
		n++
	}
	// In "URLPath" the run of capitals is "URLP"; its last one starts the next word.
	if n > 1 && n < len(runes) && unicode.IsLower(runes[n]) {
		n--
	}
	for i := 0; i < n; i++ {
		runes[i] = unicode.ToLower(runes[i])
	}
	return string(runes)
}
