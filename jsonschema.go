package wssync

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// JSONSchemaDraft is the dialect of every JSONSchema that Schema emits.
const JSONSchemaDraft = "https://json-schema.org/draft/2020-12/schema"

// JSONSchema is one JSON Schema (draft 2020-12) node, with the keywords Schema emits. The
// zero value is the schema that accepts any JSON value. Keywords named x-wssync-… are ours
// (validators ignore unknown keywords): x-go-type names the Go type, x-wssync-computed
// marks a computed value, x-wssync-validate keeps a field's `validate` tag as written,
// x-wssync-write the write rule of the field's `sync` tag.
//
// The fields are the specification's keywords, spelled as Go names (Ref is "$ref", Defs
// "$defs"); a nil or empty field is a keyword left out.
type JSONSchema struct {
	Schema      string `json:"$schema,omitempty"`
	Ref         string `json:"$ref,omitempty"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	Comment     string `json:"$comment,omitempty"`

	// Type is "string", "integer", … or, for a value that may also be null, a list such as
	// ["array", "null"].
	Type            TypeList `json:"type,omitempty"`
	Format          string   `json:"format,omitempty"`
	ContentEncoding string   `json:"contentEncoding,omitempty"`
	Enum            []any    `json:"enum,omitempty"`
	Const           *any     `json:"const,omitempty"`

	Properties           Properties  `json:"properties,omitempty"`
	Required             []string    `json:"required,omitempty"`
	AdditionalProperties *JSONSchema `json:"additionalProperties,omitempty"`
	PropertyNames        *JSONSchema `json:"propertyNames,omitempty"`
	MinProperties        *int        `json:"minProperties,omitempty"`
	MaxProperties        *int        `json:"maxProperties,omitempty"`

	Items    *JSONSchema `json:"items,omitempty"`
	MinItems *int        `json:"minItems,omitempty"`
	MaxItems *int        `json:"maxItems,omitempty"`

	MinLength *int   `json:"minLength,omitempty"`
	MaxLength *int   `json:"maxLength,omitempty"`
	Pattern   string `json:"pattern,omitempty"`

	Minimum          *float64 `json:"minimum,omitempty"`
	Maximum          *float64 `json:"maximum,omitempty"`
	ExclusiveMinimum *float64 `json:"exclusiveMinimum,omitempty"`
	ExclusiveMaximum *float64 `json:"exclusiveMaximum,omitempty"`

	AnyOf []*JSONSchema `json:"anyOf,omitempty"`

	ReadOnly bool                   `json:"readOnly,omitempty"`
	Defs     map[string]*JSONSchema `json:"$defs,omitempty"`

	GoType   string `json:"x-go-type,omitempty"`
	Computed bool   `json:"x-wssync-computed,omitempty"`
	Validate string `json:"x-wssync-validate,omitempty"`
	// Write is the write rule of a writable field that not every client may write.
	Write *WriteRule `json:"x-wssync-write,omitempty"`
	// HiddenIn names the views of a shared object (WithViews) that leave this field out,
	// or hide parts of it: a client in one of them may not receive it, or all of it.
	HiddenIn []string `json:"x-wssync-hidden-in,omitempty"`

	// False makes this the schema that accepts nothing (JSON false), as in
	// "additionalProperties": false.
	False bool `json:"-"`
}

// jsonSchemaFields is JSONSchema without its methods, for encoding/json.
type jsonSchemaFields JSONSchema

// MarshalJSON writes false for the schema that accepts nothing.
func (s *JSONSchema) MarshalJSON() ([]byte, error) {
	if s.False {
		return []byte("false"), nil
	}
	return json.Marshal((*jsonSchemaFields)(s))
}

// UnmarshalJSON reads a schema object or a boolean schema.
func (s *JSONSchema) UnmarshalJSON(data []byte) error {
	switch string(bytes.TrimSpace(data)) {
	case "true":
		*s = JSONSchema{}
		return nil
	case "false":
		*s = JSONSchema{False: true}
		return nil
	}
	return json.Unmarshal(data, (*jsonSchemaFields)(s))
}

// WriteRule is who may write a writable field, as its `sync` tag restricts it: Roles for
// `write=a|b` (a writer needs one of them), Owner for `owner=member` (each element only by
// the user its member names). A field with a rule is still not readOnly: some client may
// write it.
type WriteRule struct {
	Roles []string `json:"roles,omitempty"`
	Owner string   `json:"owner,omitempty"`
}

// TypeList is the "type" keyword: one type name, or several.
type TypeList []string

// MarshalJSON writes one type as a string, several as an array.
func (t TypeList) MarshalJSON() ([]byte, error) {
	if len(t) == 1 {
		return json.Marshal(t[0])
	}
	return json.Marshal([]string(t))
}

// UnmarshalJSON reads a string or an array of strings.
func (t *TypeList) UnmarshalJSON(data []byte) error {
	var one string
	if json.Unmarshal(data, &one) == nil {
		*t = TypeList{one}
		return nil
	}
	return json.Unmarshal(data, (*[]string)(t))
}

// Has reports whether name is one of the types.
func (t TypeList) Has(name string) bool {
	for _, n := range t {
		if n == name {
			return true
		}
	}
	return false
}

// Property is one member of Properties.
type Property struct {
	Name   string
	Schema *JSONSchema
}

// Properties is the "properties" keyword in the order of the Go fields, which is the order
// of the members encoding/json writes.
type Properties []Property

// MarshalJSON writes the properties as one JSON object, in order.
func (p Properties) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, prop := range p {
		if i > 0 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(prop.Name)
		b.Write(name)
		b.WriteByte(':')
		v, err := json.Marshal(prop.Schema)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads a JSON object keeping its members' order.
func (p *Properties) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("wssync: properties must be a JSON object")
	}
	*p = nil
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		s := &JSONSchema{}
		if err := dec.Decode(s); err != nil {
			return err
		}
		*p = append(*p, Property{Name: name, Schema: s})
	}
	_, err := dec.Token()
	return err
}

// Get returns the schema of property name, or nil.
func (p Properties) Get(name string) *JSONSchema {
	for _, prop := range p {
		if prop.Name == name {
			return prop.Schema
		}
	}
	return nil
}
