package patch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"

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
	decoded, err := jsonpatch.DecodePatch(p)
	if err != nil {
		return fmt.Errorf("decode patch: %v\n%s", err, p)
	}
	got, err := decoded.Apply(doc)
	if err != nil {
		return fmt.Errorf("apply: %v\npatch: %s\ndoc: %s", err, p, doc)
	}
	if err := jsonEqual(got, want); err != nil {
		return fmt.Errorf("%v\npatch: %s\ndoc:  %s", err, p, doc)
	}
	return nil
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
