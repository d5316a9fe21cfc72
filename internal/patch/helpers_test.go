package patch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"
)

// diffAndApply diffs old and new at pointer "/r", applies the patch to
// {"r":old} with evanphx/json-patch and checks that the result equals
// {"r":new}. It returns the ops and their count. Wrapping lets scalars be
// tested too: evanphx only patches documents whose root is a container.
func diffAndApply(old, new []byte, opts *Options) (ops []byte, n int, err error) {
	ops, n, err = AppendDiff(nil, 0, "/r", old, new, opts)
	if err != nil {
		return ops, n, fmt.Errorf("AppendDiff: %w", err)
	}
	doc := append(append([]byte(`{"r":`), old...), '}')
	want := append(append([]byte(`{"r":`), new...), '}')
	return ops, n, checkApply(doc, want, ops, n)
}

// checkApply applies ops to doc and compares the result with want.
func checkApply(doc, want, ops []byte, n int) error {
	p := append(append([]byte{'['}, ops...), ']')
	var list []json.RawMessage
	if err := json.Unmarshal(p, &list); err != nil {
		return fmt.Errorf("patch is not a JSON array: %v\n%s", err, p)
	}
	if len(list) != n {
		return fmt.Errorf("op count %d, AppendDiff said %d", len(list), n)
	}
	if n == 0 {
		// Nothing to apply: old and new must already be equal.
		return jsonEqual(doc, want)
	}
	// The strict reference applier always runs. evanphx/json-patch runs too,
	// except where it is known to go wrong: paths through an empty key
	// (taken for the container itself) and documents with duplicate keys
	// (removing one leaves a null behind).
	got, err := refApply(doc, p)
	if err != nil {
		return fmt.Errorf("reference apply: %v\npatch: %s\ndoc: %s", err, p, doc)
	}
	if err := jsonEqual(got, want); err != nil {
		return fmt.Errorf("reference apply: %v\npatch: %s\ndoc:  %s", err, p, doc)
	}
	if bytes.Contains(p, []byte(`//`)) || bytes.Contains(p, []byte(`/","value"`)) || bytes.Contains(p, []byte(`/"}`)) ||
		hasDuplicateKeys(doc) {
		return nil
	}
	decoded, err := jsonpatch.DecodePatch(p)
	if err != nil {
		return fmt.Errorf("decode patch: %v\n%s", err, p)
	}
	got, err = decoded.Apply(doc)
	if err != nil {
		return fmt.Errorf("apply: %v\npatch: %s\ndoc: %s", err, p, doc)
	}
	if err := jsonEqual(got, want); err != nil {
		return fmt.Errorf("%v\npatch: %s\ndoc:  %s", err, p, doc)
	}
	return nil
}

// refApply is a small, strict RFC 6902 applier (add, remove, replace) on
// decoded documents, used as a second opinion next to evanphx/json-patch.
func refApply(doc, patch []byte) ([]byte, error) {
	var ops []struct {
		Op    string          `json:"op"`
		Path  *string         `json:"path"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(patch, &ops); err != nil {
		return nil, err
	}
	v, err := decodeAny(doc)
	if err != nil {
		return nil, err
	}
	for i, op := range ops {
		if op.Path == nil {
			return nil, fmt.Errorf("op %d: no path", i)
		}
		var val any
		if op.Op != "remove" {
			if op.Value == nil {
				return nil, fmt.Errorf("op %d: no value", i)
			}
			if val, err = decodeAny(op.Value); err != nil {
				return nil, err
			}
		}
		var toks []string
		if *op.Path != "" {
			if !strings.HasPrefix(*op.Path, "/") {
				return nil, fmt.Errorf("op %d: bad path %q", i, *op.Path)
			}
			for _, t := range strings.Split((*op.Path)[1:], "/") {
				toks = append(toks, strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~"))
			}
		}
		if v, err = refOp(v, toks, op.Op, val); err != nil {
			return nil, fmt.Errorf("op %d (%s %q): %v", i, op.Op, *op.Path, err)
		}
	}
	return json.Marshal(v)
}

func refOp(v any, toks []string, op string, val any) (any, error) {
	if len(toks) == 0 {
		if op == "remove" {
			return nil, fmt.Errorf("cannot remove the root")
		}
		return val, nil
	}
	tok, last := toks[0], len(toks) == 1
	switch c := v.(type) {
	case map[string]any:
		child, ok := c[tok]
		switch {
		case last && op == "add":
			c[tok] = val
		case !ok:
			return nil, fmt.Errorf("missing key %q", tok)
		case last && op == "replace":
			c[tok] = val
		case last && op == "remove":
			delete(c, tok)
		default:
			nc, err := refOp(child, toks[1:], op, val)
			c[tok] = nc
			return c, err
		}
		return c, nil
	case []any:
		i, err := strconv.Atoi(tok)
		if err != nil || i < 0 || strconv.Itoa(i) != tok {
			if tok == "-" && last && op == "add" {
				return append(c, val), nil
			}
			return nil, fmt.Errorf("bad index %q", tok)
		}
		switch {
		case last && op == "add":
			if i > len(c) {
				return nil, fmt.Errorf("index %d out of range %d", i, len(c))
			}
			return slices.Insert(c, i, val), nil
		case i >= len(c):
			return nil, fmt.Errorf("index %d out of range %d", i, len(c))
		case last && op == "replace":
			c[i] = val
		case last && op == "remove":
			return slices.Delete(c, i, i+1), nil
		default:
			c[i], err = refOp(c[i], toks[1:], op, val)
			return c, err
		}
		return c, nil
	default:
		return nil, fmt.Errorf("cannot index %T with %q", v, tok)
	}
}

// jsonEqual compares two documents as encoding/json sees them. Numbers are
// compared as written (UseNumber), which is exact because patches copy the
// new value's bytes.
func jsonEqual(a, b []byte) error {
	va, err := decodeAny(a)
	if err != nil {
		return fmt.Errorf("decode result: %v", err)
	}
	vb, err := decodeAny(b)
	if err != nil {
		return fmt.Errorf("decode want: %v", err)
	}
	if !reflect.DeepEqual(va, vb) {
		return fmt.Errorf("result differs\ngot:  %s\nwant: %s", a, b)
	}
	return nil
}

func decodeAny(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// hasDuplicateKeys reports whether some object in the valid document b has
// a key twice (after decoding escapes).
func hasDuplicateKeys(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	type frame struct {
		keys     map[string]bool
		isObject bool
		wantKey  bool
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		top := len(stack) - 1
		isKey := top >= 0 && stack[top].isObject && stack[top].wantKey
		if top >= 0 && stack[top].isObject {
			stack[top].wantKey = !stack[top].wantKey
		}
		switch tok := tok.(type) {
		case json.Delim:
			switch tok {
			case '{':
				stack = append(stack, frame{keys: map[string]bool{}, isObject: true, wantKey: true})
			case '[':
				stack = append(stack, frame{})
			default:
				stack = stack[:top]
				if top > 0 && stack[top-1].isObject {
					// the closed container was a value: next is a key
					stack[top-1].wantKey = true
				}
			}
		case string:
			if isKey {
				if stack[top].keys[tok] {
					return true
				}
				stack[top].keys[tok] = true
			}
		}
	}
}
