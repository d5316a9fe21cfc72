package wssync

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// SchemaProvider is implemented by a type that describes its own JSON encoding, typically
// one with a custom MarshalJSON: Schema uses what JSONSchema returns instead of reflecting
// on the type. Without it, a type with its own MarshalJSON is described as any JSON value.
type SchemaProvider interface {
	JSONSchema() *JSONSchema
}

var (
	timeType           = reflect.TypeFor[time.Time]()
	rawMessageType     = reflect.TypeFor[json.RawMessage]()
	jsonNumberType     = reflect.TypeFor[json.Number]()
	schemaProviderType = reflect.TypeFor[SchemaProvider]()
)

// schemaBuilder reflects Go types into one schema document, collecting named struct types
// in its $defs.
type schemaBuilder struct {
	defs  map[string]*JSONSchema
	names map[reflect.Type]string // def name of each named struct type seen
	taken map[string]reflect.Type
}

func newSchemaBuilder() *schemaBuilder {
	return &schemaBuilder{defs: map[string]*JSONSchema{}, names: map[reflect.Type]string{}, taken: map[string]reflect.Type{}}
}

// document finishes root as a standalone schema document.
func (b *schemaBuilder) document(root *JSONSchema) *JSONSchema {
	root.Schema = JSONSchemaDraft
	if len(b.defs) > 0 {
		root.Defs = b.defs
	}
	return root
}

// typeSchema describes how encoding/json encodes a value of type t.
func (b *schemaBuilder) typeSchema(t reflect.Type) *JSONSchema {
	if isList(t) { // an array, never null (list.go)
		return &JSONSchema{Type: TypeList{"array"}, Items: b.typeSchema(listElemType(t))}
	}
	if t.Kind() == reflect.Pointer && isList(t.Elem()) {
		return orNull(b.typeSchema(t.Elem()))
	}
	if s := specialSchema(t); s != nil {
		return s
	}
	switch t.Kind() {
	case reflect.Pointer:
		return orNull(b.typeSchema(t.Elem()))
	case reflect.Interface:
		return &JSONSchema{}
	case reflect.Bool:
		return &JSONSchema{Type: TypeList{"boolean"}}
	case reflect.String:
		return &JSONSchema{Type: TypeList{"string"}}
	case reflect.Float32, reflect.Float64:
		return &JSONSchema{Type: TypeList{"number"}}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return integerSchema(t)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 && !implementsMarshaler(t.Elem()) {
			return orNull(&JSONSchema{Type: TypeList{"string"}, ContentEncoding: "base64"})
		}
		return orNull(&JSONSchema{Type: TypeList{"array"}, Items: b.typeSchema(t.Elem())})
	case reflect.Array:
		n := t.Len()
		return &JSONSchema{Type: TypeList{"array"}, Items: b.typeSchema(t.Elem()), MinItems: &n, MaxItems: &n}
	case reflect.Map:
		s := &JSONSchema{Type: TypeList{"object"}, AdditionalProperties: b.typeSchema(t.Elem())}
		if k := t.Key().Kind(); k >= reflect.Int && k <= reflect.Uintptr && !implementsText(t.Key()) {
			s.PropertyNames = &JSONSchema{Pattern: `^-?[0-9]+$`}
		}
		return orNull(s)
	case reflect.Struct:
		if t.Name() == "" {
			return b.structSchema(t)
		}
		return &JSONSchema{Ref: "#/$defs/" + b.defName(t)}
	}
	return &JSONSchema{} // not reached: Register refuses types JSON cannot carry
}

// specialSchema covers types whose encoding is not their kind's: well-known types, types
// that describe themselves, and custom marshalers.
func specialSchema(t reflect.Type) *JSONSchema {
	switch t {
	case timeType:
		return &JSONSchema{Type: TypeList{"string"}, Format: "date-time"}
	case rawMessageType:
		return &JSONSchema{Comment: "json.RawMessage: any JSON value"}
	case jsonNumberType:
		return &JSONSchema{Type: TypeList{"number"}}
	}
	if t.Implements(schemaProviderType) {
		if s := callSchemaProvider(reflect.Zero(t)); s != nil {
			return s
		}
	} else if reflect.PointerTo(t).Implements(schemaProviderType) {
		if s := callSchemaProvider(reflect.New(t)); s != nil {
			return s
		}
	}
	if implementsMarshaler(t) {
		return &JSONSchema{GoType: t.String(), Comment: "custom MarshalJSON: any JSON value"}
	}
	if implementsText(t) {
		return &JSONSchema{Type: TypeList{"string"}, GoType: t.String()}
	}
	return nil
}

// callSchemaProvider calls JSONSchema on v, on a copy of what it returns; a nil pointer
// whose method panics describes nothing.
func callSchemaProvider(v reflect.Value) (s *JSONSchema) {
	defer func() {
		if recover() != nil {
			s = nil
		}
	}()
	out := v.Interface().(SchemaProvider).JSONSchema()
	if out == nil {
		return nil
	}
	c := *out
	return &c
}

func implementsMarshaler(t reflect.Type) bool {
	return t.Implements(jsonMarshalerType) || reflect.PointerTo(t).Implements(jsonMarshalerType)
}

func implementsText(t reflect.Type) bool {
	return t.Implements(textMarshalerType) || reflect.PointerTo(t).Implements(textMarshalerType)
}

// integerSchema bounds the integer kinds that are small enough to be exact in JSON numbers.
func integerSchema(t reflect.Type) *JSONSchema {
	s := &JSONSchema{Type: TypeList{"integer"}}
	bits := t.Bits()
	switch t.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		s.Minimum = ptr(0.0)
		if bits <= 32 {
			s.Maximum = ptr(float64(uint64(1)<<bits - 1))
		}
	default:
		if bits <= 32 {
			s.Minimum, s.Maximum = ptr(float64(int64(-1)<<(bits-1))), ptr(float64(int64(1)<<(bits-1)-1))
		}
	}
	return s
}

func ptr[V any](v V) *V { return &v }

// orNull widens s to accept null too (a nil pointer, slice or map).
func orNull(s *JSONSchema) *JSONSchema {
	switch {
	case len(s.Type) > 0:
		if !s.Type.Has("null") {
			s.Type = append(s.Type, "null")
		}
		return s
	case s.Ref == "" && s.AnyOf == nil && !s.False:
		return s // already accepts anything
	}
	return &JSONSchema{AnyOf: []*JSONSchema{s, {Type: TypeList{"null"}}}}
}

// withoutNull narrows s back to refuse null (a `validate:"required"` on a nilable field).
func withoutNull(s *JSONSchema) *JSONSchema {
	if len(s.AnyOf) == 2 && len(s.AnyOf[1].Type) == 1 && s.AnyOf[1].Type[0] == "null" && s.Ref == "" {
		return s.AnyOf[0]
	}
	if s.Type.Has("null") && len(s.Type) > 1 {
		kept := TypeList{}
		for _, t := range s.Type {
			if t != "null" {
				kept = append(kept, t)
			}
		}
		s.Type = kept
	}
	return s
}

// defName names the $defs entry of a named struct type, building it on first use.
func (b *schemaBuilder) defName(t reflect.Type) string {
	if name, ok := b.names[t]; ok {
		return name
	}
	base := defBaseName(t.Name())
	name := base
	for i := 2; b.taken[name] != nil; i++ {
		name = base + strconv.Itoa(i)
	}
	b.names[t], b.taken[name] = name, t
	s := b.structSchema(t) // after naming, so a recursive type refers to itself
	s.GoType = t.String()
	b.defs[name] = s
	return name
}

// defBaseName keeps the letters and digits of a Go type name ("Page[main.Note]" → "PageMainNote").
func defBaseName(goName string) string {
	var sb strings.Builder
	up := false
	for _, r := range goName {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' {
			if up {
				r = unicode.ToUpper(r)
			}
			sb.WriteRune(r)
			up = false
		} else {
			up = true
		}
	}
	if sb.Len() == 0 {
		return "Type"
	}
	return sb.String()
}

// structSchema describes a struct as encoding/json encodes it: its visible fields, named by
// their json tag or Go name; omitempty and omitzero members may be absent.
func (b *schemaBuilder) structSchema(t reflect.Type) *JSONSchema {
	s := &JSONSchema{Type: TypeList{"object"}, AdditionalProperties: &JSONSchema{False: true}}
	structFields(t, func(f jsonMember) {
		fs := b.fieldSchema(f.sf.Type, f.sf)
		if f.quoted {
			fs = quotedSchema(fs)
		}
		s.Properties = append(s.Properties, Property{Name: f.name, Schema: fs})
		if !f.omit && !f.viaPointer {
			s.Required = append(s.Required, f.name)
		}
	})
	if s.Properties == nil {
		s.Properties = Properties{}
	}
	return s
}

// fieldSchema is the schema of one struct field: its type, its `doc` tag as description and
// its `validate` tag as constraints. typeSchema returns fresh nodes (a named struct as a
// $ref), so the field's keywords never leak into a shared definition.
func (b *schemaBuilder) fieldSchema(t reflect.Type, f reflect.StructField) *JSONSchema {
	rules := parseValidateTag(f.Tag.Get("validate"))
	s := b.typeSchema(t)
	if rules.required {
		s = withoutNull(s)
	}
	applyValidate(s, t, rules)
	s.Validate = f.Tag.Get("validate")
	if doc := f.Tag.Get("doc"); doc != "" {
		s.Description = doc
	}
	return s
}

// quotedSchema is the schema of a `json:",string"` field: a number or boolean written as a
// JSON string.
func quotedSchema(s *JSONSchema) *JSONSchema {
	if s.Type.Has("integer") || s.Type.Has("number") || s.Type.Has("boolean") {
		return &JSONSchema{Type: TypeList{"string"}, Description: s.Description, Validate: s.Validate}
	}
	return s
}
