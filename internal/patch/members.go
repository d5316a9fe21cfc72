package patch

import (
	"encoding/json"
	"unicode/utf8"
)

// ObjectMembers validates b as one JSON object and calls fn for each member, in order,
// with the decoded key and the raw value (a sub-slice of b). It is the fast path for
// reading client frames without building maps. It returns an error, without calling fn
// again, when b is not valid JSON, is not an object, or fn fails.
func ObjectMembers(b []byte, fn func(key string, value []byte) error) error {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errSyntax("not an object")
	}
	it := memberIter{b: b, pos: i + 1, depth: 1}
	err := it.eachKey(func(key string) error {
		start, end, err := it.value()
		if err != nil {
			return err
		}
		return fn(key, b[start:end])
	})
	if err != nil {
		return err
	}
	if skipSpace(b, it.pos) != len(b) {
		return errSyntax("data after the object")
	}
	return nil
}

// eachKey calls fn with the decoded key of each member until the object ends; fn must
// consume the member's value (the iterator stands at it).
func (it *memberIter) eachKey(fn func(key string) error) error {
	for {
		raw, flags, more, err := it.key()
		if err != nil || !more {
			return err
		}
		m, err := decodeKey(raw, flags)
		if err != nil {
			return err
		}
		if err := fn(string(m.key)); err != nil {
			return err
		}
	}
}

// String decodes a raw JSON string value (with its quotes). It reports false when raw is
// not a string.
func String(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	plain := utf8.Valid(inner)
	for _, c := range inner {
		if c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		return string(inner), true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}
