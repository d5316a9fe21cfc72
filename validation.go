package wssync

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/go-playground/validator/v10"

	"github.com/wssync/wssync/internal/patch"
)

// Declarative validation: `validate` struct tags, as github.com/go-playground/validator/v10
// reads them (`validate:"required,oneof=low high,min=1"`), on action, task and event params
// and on the fields of a registered struct. Nested structs are validated too (their members'
// tags apply; slices and maps of structs need `dive`). A failing tag refuses the call with
// CodeBadParams, or the client write with CodeRejected, with the JSON Pointer (wire names)
// of the offending member.

// validate is the package's validator; it caches what it reads per type and is safe for
// concurrent use.
var validate = sync.OnceValue(func() *validator.Validate {
	return validator.New(validator.WithRequiredStructEnabled())
})

var tagCache sync.Map // reflect.Type -> bool

// listValidators holds, per root type, its validator: the package's for a type without a
// List, else one that sees each List as the slice of its elements (so `max=2`, `dive` and
// the rest apply as to a slice). One is built whole before it is used: the validator's
// registration is not safe for concurrent use.
var listValidators sync.Map // reflect.Type -> *validator.Validate

// validatorFor returns the validator of root type t.
func validatorFor(t reflect.Type) *validator.Validate {
	if v, ok := listValidators.Load(t); ok {
		return v.(*validator.Validate)
	}
	lists := map[reflect.Type]bool{}
	findLists(t, lists, map[reflect.Type]bool{})
	if len(lists) == 0 {
		actual, _ := listValidators.LoadOrStore(t, validate()) // remembered: no walk next time
		return actual.(*validator.Validate)
	}
	v := validator.New(validator.WithRequiredStructEnabled())
	for lt := range lists {
		v.RegisterCustomTypeFunc(func(f reflect.Value) any {
			return f.Interface().(interface{ listValues() any }).listValues()
		}, reflect.Zero(lt).Interface())
	}
	actual, _ := listValidators.LoadOrStore(t, v)
	return actual.(*validator.Validate)
}

// findLists adds to lists every List type inside t.
func findLists(t reflect.Type, lists, seen map[reflect.Type]bool) {
	if seen[t] {
		return
	}
	seen[t] = true
	if isList(t) {
		lists[t] = true
		findLists(listElemType(t), lists, seen)
		return
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		findLists(t.Elem(), lists, seen)
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if f := t.Field(i); f.IsExported() || f.Anonymous {
				findLists(f.Type, lists, seen)
			}
		}
	}
}

// hasValidateTags reports whether struct type t has a `validate` tag anywhere inside it,
// so types without one cost nothing.
func hasValidateTags(t reflect.Type) bool {
	if v, ok := tagCache.Load(t); ok {
		return v.(bool)
	}
	has := findValidateTag(t, map[reflect.Type]bool{})
	tagCache.Store(t, has)
	return has
}

func findValidateTag(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return false
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		return findValidateTag(t.Elem(), seen)
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if _, ok := f.Tag.Lookup("validate"); ok || findValidateTag(f.Type, seen) {
				return true
			}
		}
	}
	return false
}

// checkTags validates ptr (a pointer to a struct of type root) against its `validate`
// tags. only, when not nil, limits the check to the top-level fields at those Go index
// paths (and everything inside them). wire names a top-level field by its index path.
// It returns the JSON Pointer of the first failing member and a message, or ok.
// A rule that panics on the value (go-playground/validator panics on a kind its rule does
// not handle, such as min on a bool a client put in an interface field) fails the check.
func checkTags(ptr reflect.Value, only [][]int, wire func(index []int) string) (path, msg string, ok bool) {
	root := ptr.Type().Elem()
	var err error
	defer func() {
		if r := recover(); r != nil {
			path, msg, ok = "", "the value cannot be validated: its type does not suit the validate tags", false
			if len(only) == 1 {
				path = "/" + patch.EscapeToken(wire(only[0]))
			}
		}
	}()
	if only == nil {
		err = validatorFor(root).Struct(ptr.Interface())
	} else {
		prefixes := make([]string, len(only))
		for i, idx := range only {
			prefixes[i] = goNamespace(root, idx)
		}
		err = validatorFor(root).StructFiltered(ptr.Interface(), func(ns []byte) bool {
			return !keepNamespace(string(ns), prefixes)
		})
	}
	if err == nil {
		return "", "", true
	}
	var ves validator.ValidationErrors
	if !errors.As(err, &ves) || len(ves) == 0 {
		return "", err.Error(), false
	}
	fe := ves[0]
	path = validationPointer(root, fe.StructNamespace(), wire)
	rule := fe.Tag()
	if fe.Param() != "" {
		rule += "=" + fe.Param()
	}
	name := path
	if name == "" {
		name = "the value"
	}
	return path, fmt.Sprintf("%s fails the rule %q", name, rule), false
}

// goNamespace is the validator's namespace of the field at index in root: "Doc.Base.Title"
// ("Base.Title" when root has no name).
func goNamespace(root reflect.Type, index []int) string {
	ns := root.Name()
	t := root
	for _, i := range index {
		f := t.Field(i)
		if ns != "" {
			ns += "."
		}
		ns += f.Name
		t = f.Type
	}
	return ns
}

// keepNamespace reports whether the validator's namespace ns lies inside one of prefixes or
// on the way to one.
func keepNamespace(ns string, prefixes []string) bool {
	for _, p := range prefixes {
		if ns == p || strings.HasPrefix(ns, p+".") || strings.HasPrefix(ns, p+"[") || strings.HasPrefix(p, ns+".") {
			return true
		}
	}
	return false
}

// validationPointer turns a validator StructNamespace ("Doc.Items[2].Name", Go names)
// into a JSON Pointer of wire names ("/items/2/name"): wire names the top-level fields,
// encoding/json's rules the members below. It stops at the first part it cannot follow.
func validationPointer(root reflect.Type, ns string, wire func(index []int) string) string {
	rest := ns // the validator starts a namespace with the type's name, if it has one
	if name := root.Name(); name != "" {
		var ok bool
		if rest, ok = strings.CutPrefix(ns, name+"."); !ok {
			return ""
		}
	}
	var b strings.Builder
	t, top := root, true
	var index []int
	for rest != "" {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch rest[0] {
		case '.':
			rest = rest[1:]
			continue
		case '[':
			key, after, ok := cutKey(rest[1:])
			list := isList(t)
			if !ok || (!list && t.Kind() != reflect.Map && t.Kind() != reflect.Slice && t.Kind() != reflect.Array) {
				return b.String()
			}
			b.WriteByte('/')
			b.WriteString(patch.EscapeToken(key))
			if list {
				t, top, rest = listElemType(t), false, after
			} else {
				t, top, rest = t.Elem(), false, after
			}
			continue
		}
		end := strings.IndexAny(rest, ".[")
		if end < 0 {
			end = len(rest)
		}
		name := rest[:end]
		rest = rest[end:]
		if t.Kind() != reflect.Struct {
			return b.String()
		}
		sf, ok := t.FieldByName(name)
		if !ok || len(sf.Index) != 1 {
			return b.String()
		}
		if top {
			index = append(index, sf.Index[0])
		}
		tagName, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if top {
			if s, _, _ := strings.Cut(sf.Tag.Get("sync"), ","); s != "" {
				tagName = s
			}
		}
		if sf.Anonymous && tagName == "" && indirect(sf.Type).Kind() == reflect.Struct {
			t = sf.Type // flattened, as encoding/json does: no token of its own
			continue
		}
		member := tagName
		switch {
		case top:
			member = wire(index)
		case member == "":
			member = sf.Name
		}
		b.WriteByte('/')
		b.WriteString(patch.EscapeToken(member))
		t, top = sf.Type, false
	}
	return b.String()
}

// cutKey splits "key].rest" at the ']' that ends a map key or index: the first one followed
// by '.', '[' or the end.
func cutKey(s string) (key, rest string, ok bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == ']' && (i+1 == len(s) || s[i+1] == '.' || s[i+1] == '[') {
			return s[:i], s[i+1:], true
		}
	}
	return "", "", false
}

func indirect(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}
