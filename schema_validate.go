package wssync

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
)

// validateRules is the part of a `validate` tag (go-playground/validator) that JSON Schema
// can say: the rules for the value itself, and those after "dive" for its elements.
type validateRules struct {
	required  bool
	omitempty bool
	rules     []validateRule
	dive      *validateRules
}

type validateRule struct{ name, param string }

// parseValidateTag splits a validate tag. Alternatives ("a|b") and rules we do not
// translate are left to the tag itself, which the schema keeps in x-wssync-validate.
func parseValidateTag(tag string) validateRules {
	var r validateRules
	if tag == "" || tag == "-" {
		return r
	}
	parts := strings.Split(tag, ",")
	for i, p := range parts {
		name, param, _ := strings.Cut(p, "=")
		switch {
		case name == "dive":
			d := parseValidateTag(strings.Join(parts[i+1:], ","))
			r.dive = &d
			return r
		case strings.Contains(p, "|"):
		case name == "required":
			r.required = true
		case name == "omitempty":
			r.omitempty = true
		default:
			r.rules = append(r.rules, validateRule{name, param})
		}
	}
	return r
}

// Formats and patterns of validator's string rules that JSON Schema has a word for.
var (
	validateFormats = map[string]string{
		"email": "email", "url": "uri", "uri": "uri", "http_url": "uri", "uuid": "uuid", "uuid4": "uuid",
		"hostname": "hostname", "hostname_rfc1123": "hostname", "ipv4": "ipv4", "ipv6": "ipv6",
	}
	validatePatterns = map[string]string{
		"alpha": `^[a-zA-Z]+$`, "alphanum": `^[a-zA-Z0-9]+$`, "numeric": `^[-+]?[0-9]+(?:\.[0-9]+)?$`,
		"number": `^[0-9]+$`, "hexadecimal": `^(0[xX])?[0-9a-fA-F]+$`, "lowercase": `^[^A-Z]*$`, "uppercase": `^[^a-z]*$`,
	}
)

// applyValidate adds the constraints of rules to s, the schema of a value of type t. With
// omitempty, they bind only values other than the zero one, as validator skips those.
func applyValidate(s *JSONSchema, t reflect.Type, rules validateRules) {
	declared := t
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	list := isList(t)
	if list {
		t = reflect.SliceOf(listElemType(t)) // its rules are a slice's (validation.go)
	}
	if rules.required && t.Kind() == reflect.String {
		s.MinLength = ptr(1)
	}
	if rules.required && list {
		s.MinItems = ptr(1) // an empty List is nil to the validator
	}
	c := &JSONSchema{}
	for _, rule := range rules.rules {
		constrain(c, t, rule)
	}
	if b, _ := json.Marshal(c); string(b) != "{}" {
		if rules.omitempty {
			zero := zeroJSON(declared)
			s.AnyOf = append(s.AnyOf, &JSONSchema{Const: &zero}, c)
		} else {
			mergeConstraints(s, c)
		}
	}
	if rules.dive != nil {
		switch {
		case s.Items != nil:
			applyValidate(s.Items, t.Elem(), *rules.dive)
		case s.AdditionalProperties != nil && !s.AdditionalProperties.False:
			applyValidate(s.AdditionalProperties, t.Elem(), *rules.dive)
		}
	}
}

// constrain translates one rule for a value of kind t into c.
func constrain(c *JSONSchema, t reflect.Type, rule validateRule) {
	k := t.Kind()
	numeric := k >= reflect.Int && k <= reflect.Float64
	if f, ok := validateFormats[rule.name]; ok && k == reflect.String {
		c.Format = f
		return
	}
	if p, ok := validatePatterns[rule.name]; ok && k == reflect.String {
		c.Pattern = p
		return
	}
	if rule.name == "oneof" {
		for _, v := range oneofValues(rule.param) {
			if numeric {
				if n, err := strconv.ParseFloat(v, 64); err == nil {
					c.Enum = append(c.Enum, n)
				}
			} else if k == reflect.String {
				c.Enum = append(c.Enum, v)
			}
		}
		return
	}
	n, err := strconv.ParseFloat(rule.param, 64)
	if err != nil {
		return
	}
	switch {
	case numeric:
		switch rule.name {
		case "min", "gte":
			c.Minimum = &n
		case "max", "lte":
			c.Maximum = &n
		case "gt":
			c.ExclusiveMinimum = &n
		case "lt":
			c.ExclusiveMaximum = &n
		case "eq", "len":
			var v any = n
			c.Const = &v
		}
	case k == reflect.String || k == reflect.Slice || k == reflect.Array || k == reflect.Map:
		minp, maxp := &c.MinItems, &c.MaxItems
		switch k {
		case reflect.String: // validator counts runes, as JSON Schema counts code points
			minp, maxp = &c.MinLength, &c.MaxLength
		case reflect.Map:
			minp, maxp = &c.MinProperties, &c.MaxProperties
		}
		lo, hi := lengthBounds(rule.name, int(n))
		if lo != nil {
			*minp = lo
		}
		if hi != nil {
			*maxp = hi
		}
	}
}

// lengthBounds turns a length rule into inclusive bounds.
func lengthBounds(rule string, n int) (lo, hi *int) {
	switch rule {
	case "min", "gte":
		return ptr(n), nil
	case "gt":
		return ptr(n + 1), nil
	case "max", "lte":
		return nil, ptr(n)
	case "lt":
		return nil, ptr(max(n-1, 0))
	case "len", "eq":
		return ptr(n), ptr(n)
	}
	return nil, nil
}

// oneofValues splits oneof's parameter: space-separated, 'single quotes' around values
// with spaces.
func oneofValues(param string) []string {
	var out []string
	for param = strings.TrimSpace(param); param != ""; param = strings.TrimSpace(param) {
		if param[0] == '\'' {
			if end := strings.IndexByte(param[1:], '\''); end >= 0 {
				out = append(out, param[1:end+1])
				param = param[end+2:]
				continue
			}
		}
		v, rest, _ := strings.Cut(param, " ")
		out = append(out, v)
		param = rest
	}
	return out
}

// mergeConstraints copies the constraint keywords of c into s.
func mergeConstraints(s, c *JSONSchema) {
	if c.Format != "" {
		s.Format = c.Format
	}
	if c.Pattern != "" {
		s.Pattern = c.Pattern
	}
	if c.Enum != nil {
		s.Enum = c.Enum
	}
	if c.Const != nil {
		s.Const = c.Const
	}
	for _, p := range []struct{ dst, src **int }{
		{&s.MinLength, &c.MinLength}, {&s.MaxLength, &c.MaxLength}, {&s.MinItems, &c.MinItems},
		{&s.MaxItems, &c.MaxItems}, {&s.MinProperties, &c.MinProperties}, {&s.MaxProperties, &c.MaxProperties},
	} {
		if *p.src != nil {
			*p.dst = *p.src
		}
	}
	for _, p := range []struct{ dst, src **float64 }{
		{&s.Minimum, &c.Minimum}, {&s.Maximum, &c.Maximum},
		{&s.ExclusiveMinimum, &c.ExclusiveMinimum}, {&s.ExclusiveMaximum, &c.ExclusiveMaximum},
	} {
		if *p.src != nil {
			*p.dst = *p.src
		}
	}
}

// zeroJSON is the JSON encoding of t's zero value, as a decoded JSON value.
func zeroJSON(t reflect.Type) any {
	b, err := json.Marshal(reflect.Zero(t).Interface())
	if err != nil {
		return nil
	}
	var v any
	_ = json.Unmarshal(b, &v)
	return v
}
