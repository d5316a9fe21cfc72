package wssync

import (
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/wssync/wssync/internal/patch"
)

// A shape is what client JSON may be for one Go type, beyond what encoding/json checks:
// where null is allowed, and how many bytes the decoder adds for members the JSON leaves
// out. Shapes are built once per type and cached; a client value is checked against its
// shape in one pass over its bytes (walkShape) before it is decoded.
type shape struct {
	kind     shapeKind
	nullable bool              // null is a value of the type (pointer, slice, map, interface, or an UnmarshalJSON of its own)
	elem     *shape            // pointer, slice, array and map element
	arrayLen int               // Go arrays: the decoder zero-fills missing elements
	fields   map[string]*field // struct members by wire name
	folded   map[string]*field // the same by folded name (foldName), the first in field order
	members  []*field          // the same, in order: field.n indexes it
	zero     int               // bytes the zero value of the type takes when encoded
}

type shapeKind uint8

const (
	shapeLeaf   shapeKind = iota // scalars and types that decode themselves: nothing to walk
	shapePtr                     // a pointer: walk the element unless null
	shapeList                    // slice or array
	shapeMap                     // map: walk every value
	shapeStruct                  // struct: walk members by name
)

// field is one member of a struct shape.
type field struct {
	shape  *shape
	size   int  // bytes the member adds to its struct's encoding when left at its zero value
	n      int  // position in the struct shape's members
	quoted bool // a ",string" scalar: the string "null" is a null to encoding/json
}

var shapeCache sync.Map // reflect.Type -> *shape

var textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()

// shapeOf returns the cached shape of t.
func shapeOf(t reflect.Type) *shape {
	if s, ok := shapeCache.Load(t); ok {
		return s.(*shape)
	}
	s := buildShape(t, map[reflect.Type]*shape{})
	actual, _ := shapeCache.LoadOrStore(t, s)
	return actual.(*shape)
}

// buildShape builds t's shape; building holds the shapes under construction, so a
// recursive type points at itself.
func buildShape(t reflect.Type, building map[reflect.Type]*shape) *shape {
	if s, ok := building[t]; ok {
		return s
	}
	if s, ok := shapeCache.Load(t); ok {
		return s.(*shape)
	}
	s := &shape{}
	building[t] = s
	s.zero = zeroSize(t)
	switch {
	case isList(t): // an array of its elements, never null (as its schema says)
		s.kind, s.elem = shapeList, buildShape(listElemType(t), building)
		return s
	case t.Implements(jsonUnmarshalerType) || reflect.PointerTo(t).Implements(jsonUnmarshalerType):
		s.nullable = true // its UnmarshalJSON receives the null and decides
		return s
	case t.Implements(textUnmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType):
		s.nullable = t.Kind() == reflect.Pointer || t.Kind() == reflect.Interface
		return s
	}
	switch t.Kind() {
	case reflect.Pointer:
		s.kind, s.nullable, s.elem = shapePtr, true, buildShape(t.Elem(), building)
	case reflect.Interface:
		s.nullable = true
	case reflect.Slice:
		s.kind, s.nullable = shapeList, true
		if t.Elem().Kind() != reflect.Uint8 { // []byte is a base64 string
			s.elem = buildShape(t.Elem(), building)
		}
	case reflect.Array:
		s.kind, s.elem, s.arrayLen = shapeList, buildShape(t.Elem(), building), t.Len()
	case reflect.Map:
		s.kind, s.nullable, s.elem = shapeMap, true, buildShape(t.Elem(), building)
	case reflect.Struct:
		s.kind, s.fields, s.folded = shapeStruct, map[string]*field{}, map[string]*field{}
		structFields(t, func(jm jsonMember) {
			name := jm.name
			m := &field{shape: buildShape(jm.sf.Type, building), n: len(s.members), quoted: jm.quoted}
			if !jm.omit {
				m.size = len(appendJSONString(nil, name)) + 2 + m.shape.zero // "name":zero,
			}
			s.fields[name] = m
			if k := foldName(name); s.folded[k] == nil {
				s.folded[k] = m // the first in field order, as encoding/json picks
			}
			s.members = append(s.members, m)
		})
	}
	return s
}

// jsonMember is one member encoding/json writes and reads for a struct: its wire name, the
// Go field, whether an omitempty/omitzero tag leaves it out when zero, whether a ",string"
// tag makes it a quoted scalar, and whether it sits inside an embedded pointer (so it is
// absent when that pointer is nil).
type jsonMember struct {
	name                     string
	sf                       reflect.StructField
	index                    []int
	omit, quoted, viaPointer bool
	tagged                   bool
}

// structFields calls fn, in Go field order, for every member encoding/json decodes into
// struct t. Embedded structs are flattened by encoding/json's rules: members are found
// level by level, and of several members with one name the shallowest wins, a tagged one
// over an untagged one at the same depth; two at the same depth and equally tagged cancel
// out.
func structFields(t reflect.Type, fn func(jsonMember)) {
	type embed struct {
		typ        reflect.Type
		index      []int
		viaPointer bool
	}
	var all []jsonMember
	next := []embed{{typ: t}}
	visited := map[reflect.Type]bool{}
	for len(next) > 0 {
		current := next
		next = nil
		seenNext := map[reflect.Type]bool{}
		for _, e := range current {
			if visited[e.typ] {
				continue
			}
			visited[e.typ] = true
			for i := 0; i < e.typ.NumField(); i++ {
				sf := e.typ.Field(i)
				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if sf.Anonymous {
					if !sf.IsExported() && ft.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				if !validTagName(name) {
					name = ""
				}
				index := append(append([]int(nil), e.index...), i)
				if name == "" && sf.Anonymous && ft.Kind() == reflect.Struct {
					if !seenNext[ft] {
						seenNext[ft] = true
						next = append(next, embed{ft, index, e.viaPointer || sf.Type.Kind() == reflect.Pointer})
					}
					continue
				}
				opts = "," + opts + ","
				quoted := false
				if strings.Contains(opts, ",string,") {
					switch ft.Kind() {
					case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
						reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
						reflect.Float32, reflect.Float64, reflect.String:
						quoted = true
					}
				}
				f := jsonMember{name: name, tagged: name != "", index: index, sf: sf, quoted: quoted, viaPointer: e.viaPointer,
					omit: strings.Contains(opts, ",omitempty,") || strings.Contains(opts, ",omitzero,")}
				if f.name == "" {
					f.name = sf.Name
				}
				all = append(all, f)
			}
		}
	}
	// Of the members sharing a name, keep the dominant one, if any.
	byName := map[string][]int{}
	for i, f := range all {
		byName[f.name] = append(byName[f.name], i)
	}
	keep := make([]bool, len(all))
	for _, group := range byName {
		best := group[0]
		ambiguous := false
		for _, i := range group[1:] {
			a, b := all[best], all[i]
			switch {
			case len(b.index) < len(a.index) || len(b.index) == len(a.index) && b.tagged && !a.tagged:
				best, ambiguous = i, false
			case len(b.index) == len(a.index) && b.tagged == a.tagged:
				ambiguous = true
			}
		}
		keep[best] = !ambiguous
	}
	var out []jsonMember
	for i, f := range all {
		if keep[i] {
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b jsonMember) int { return slices.Compare(a.index, b.index) })
	for _, f := range out {
		fn(f)
	}
}

// validTagName reports whether encoding/json takes name, from a json tag, as a member name.
func validTagName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range name {
		if !strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c) && !unicode.IsLetter(c) && !unicode.IsDigit(c) {
			return false
		}
	}
	return true
}

// foldName folds a member name so that two names fold alike exactly when strings.EqualFold
// (and encoding/json's case-insensitive match) takes them as equal: each rune becomes the
// smallest of its case-folding orbit.
func foldName(name string) string {
	var b strings.Builder
	for _, r := range name {
		for {
			n := unicode.SimpleFold(r)
			if n <= r {
				r = n
				break
			}
			r = n
		}
		b.WriteRune(r)
	}
	return b.String()
}

// zeroSize is the length of the encoding of t's zero value (0 when it does not encode).
func zeroSize(t reflect.Type) (n int) {
	defer func() {
		if recover() != nil {
			n = 0
		}
	}()
	b, err := json.Marshal(reflect.New(t).Interface())
	if err != nil {
		return 0
	}
	return len(b)
}

// member finds a struct member as encoding/json does: the exact name, else the first
// member, in field order, whose name matches case-insensitively.
func (s *shape) member(key string) *field {
	if f, ok := s.fields[key]; ok {
		return f
	}
	return s.folded[foldName(key)]
}

// isQuotedNull reports whether raw is a JSON string whose content is null, which
// encoding/json reads as null into a ",string" member.
func isQuotedNull(raw []byte) bool {
	var s string
	return len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil && s == "null"
}

// walkResult is what walkShape found: the JSON Pointer (relative to the walked value) of
// the first null the Go type cannot hold, and the bytes of zero values the decoder will
// add for members and elements the JSON leaves out.
type walkResult struct {
	nullAt  string
	hasNull bool
	filled  int64
}

// walkShape checks raw against s in one pass. Values of the wrong JSON type are skipped:
// the decoder refuses them with their own message.
func walkShape(raw []byte, s *shape) (walkResult, error) {
	var res walkResult
	r := patch.NewReader(raw)
	err := walkValue(r, s, nil, &res)
	if err == errNullFound {
		err = nil
	}
	return res, err
}

type walkStop struct{}

func (walkStop) Error() string { return "null found" }

var errNullFound error = walkStop{}

// walkValue walks the value at r. path holds the tokens leading to it, escaped.
func walkValue(r *patch.Reader, s *shape, path []string, res *walkResult) error {
	c := r.Peek()
	if c == 'n' {
		if !s.nullable {
			res.hasNull = true
			res.nullAt = joinPointer(path)
			return errNullFound
		}
		_, err := r.Skip()
		return err
	}
	switch {
	case s.kind == shapePtr:
		return walkValue(r, s.elem, path, res)
	case s.kind == shapeList && c == '[' && s.elem != nil:
		n := 0
		err := r.Array(func(i int) error {
			n = i + 1
			if s.arrayLen > 0 && i >= s.arrayLen {
				_, err := r.Skip() // the decoder drops extra elements
				return err
			}
			return walkValue(r, s.elem, append(path, strconv.Itoa(i)), res)
		})
		if err == nil && n < s.arrayLen {
			res.filled += int64(s.arrayLen-n) * int64(s.elem.zero+1)
		}
		return err
	case s.kind == shapeMap && c == '{':
		return r.Object(func(key string) error {
			return walkValue(r, s.elem, append(path, patch.EscapeToken(key)), res)
		})
	case s.kind == shapeStruct && c == '{':
		var small uint64 // members seen, for structs of up to 64 members
		var large []bool // for larger ones
		if len(s.members) > 64 {
			large = make([]bool, len(s.members))
		}
		err := r.Object(func(key string) error {
			f := s.member(key)
			if f == nil {
				_, err := r.Skip() // an unknown member: the decoder refuses it
				return err
			}
			if large != nil {
				large[f.n] = true
			} else {
				small |= 1 << f.n
			}
			if f.quoted && !f.shape.nullable && r.Peek() == '"' {
				raw, err := r.Skip()
				if err == nil && isQuotedNull(raw) {
					res.hasNull = true
					res.nullAt = joinPointer(append(path, patch.EscapeToken(key)))
					return errNullFound
				}
				return err
			}
			return walkValue(r, f.shape, append(path, patch.EscapeToken(key)), res)
		})
		if err == nil {
			for _, f := range s.members {
				if (large != nil && !large[f.n]) || (large == nil && small&(1<<f.n) == 0) {
					res.filled += int64(f.size)
				}
			}
		}
		return err
	}
	_, err := r.Skip()
	return err
}

// joinPointer builds a JSON Pointer from escaped tokens.
func joinPointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(t)
	}
	return b.String()
}

// nullAt refuses, with CodeTypeMismatch and the member's JSON Pointer under base, a null
// anywhere in raw where type t cannot hold it. Malformed JSON is left to the decoder.
func nullAt(raw []byte, t reflect.Type, base string) *Error {
	res, err := walkShape(raw, shapeOf(t))
	if err != nil || !res.hasNull {
		return nil
	}
	return errorf(CodeTypeMismatch, base+res.nullAt, "%s cannot be null", base+res.nullAt)
}

// nilable reports whether null decodes to a value of t's kind: nil.
func nilable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice:
		return true
	}
	return false
}
