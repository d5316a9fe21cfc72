package wssync

import (
	"reflect"
	"strconv"
	"unicode/utf8"
)

// scalarParam reports whether a param of type t can take the fast path of decodeScalar:
// a bool, integer, float or string kind (named or not) without an UnmarshalJSON or
// UnmarshalText of its own, which encoding/json would call instead.
func scalarParam(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
	default:
		return false
	}
	for _, u := range []reflect.Type{jsonUnmarshalerType, textUnmarshalerType} {
		if t.Implements(u) || reflect.PointerTo(t).Implements(u) {
			return false
		}
	}
	return true
}

// decodeScalar stores the JSON literal raw in dst, of a kind scalarParam accepts, when raw
// is a literal that kind holds exactly (true or false for a bool, a number in range for a
// number, an integer for an integer kind, a string without escapes for a string), and
// reports whether it did. Otherwise it leaves
// dst alone and the caller decodes with encoding/json, which then reports the error: a
// param that decodes here gets the value encoding/json gives it, without the reflection,
// the second scan and the allocation of json.Unmarshal.
func decodeScalar(raw []byte, dst reflect.Value) bool {
	switch dst.Kind() {
	case reflect.String:
		s, ok := plainString(raw)
		if ok {
			dst.SetString(s)
		}
		return ok
	case reflect.Bool:
		switch string(raw) {
		case "true":
			dst.SetBool(true)
		case "false":
			dst.SetBool(false)
		default:
			return false
		}
		return true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if !jsonInteger(raw) {
			return false
		}
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil || dst.OverflowInt(n) {
			return false
		}
		dst.SetInt(n)
		return true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if !jsonInteger(raw) || raw[0] == '-' {
			return false
		}
		n, err := strconv.ParseUint(string(raw), 10, 64)
		if err != nil || dst.OverflowUint(n) {
			return false
		}
		dst.SetUint(n)
		return true
	case reflect.Float32, reflect.Float64:
		if !jsonNumber(raw) {
			return false
		}
		f, err := strconv.ParseFloat(string(raw), dst.Type().Bits())
		if err != nil || dst.OverflowFloat(f) {
			return false
		}
		dst.SetFloat(f)
		return true
	}
	return false
}

// plainString decodes a JSON string literal that needs no decoding: no escapes, no control
// characters, valid UTF-8 (encoding/json would replace invalid bytes).
func plainString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	for _, c := range inner {
		if c < 0x20 || c == '\\' || c == '"' {
			return "", false
		}
	}
	if !utf8.Valid(inner) {
		return "", false
	}
	return string(inner), true
}

// jsonInteger reports whether b is a JSON number without fraction or exponent:
// -?(0|[1-9][0-9]*).
func jsonInteger(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	n := digits(b[i:])
	return n > 0 && i+n == len(b) && (n == 1 || b[i] != '0')
}

// jsonNumber reports whether b is a JSON number (RFC 8259 §6).
func jsonNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	n := digits(b[i:])
	if n == 0 || (n > 1 && b[i] == '0') {
		return false
	}
	i += n
	if i < len(b) && b[i] == '.' {
		i++
		if n = digits(b[i:]); n == 0 {
			return false
		}
		i += n
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if n = digits(b[i:]); n == 0 {
			return false
		}
		i += n
	}
	return i == len(b)
}

// digits counts the ASCII digits b starts with.
func digits(b []byte) int {
	n := 0
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		n++
	}
	return n
}
